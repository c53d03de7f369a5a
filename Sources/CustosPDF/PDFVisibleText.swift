import CustosFormats

/// Text as the PDF shows it: control characters and invisible format characters (C0 and C1
/// controls, DEL, bidi marks, embeddings, overrides and isolates, zero-width characters, line and
/// paragraph separators) become visible escapes, so hostile text can neither reorder what
/// follows it nor hide anything. The same characters as `DisplayName` escapes in names.
public enum PDFVisibleText {
    /// `text` with every such character escaped: `\n`, `\t`, `\r`, or `\u{hex}`. A newline is
    /// kept as a line break when `keepNewlines` is true.
    public static func make(_ text: String, keepNewlines: Bool) -> String {
        guard needsEscapes(text) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += keepNewlines ? "\n" : "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if DisplayName.isInvisibleOrControl(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Whether `make` would change `text`: printable ASCII needs no look-up of its scalars'
    /// properties, which is most of a report's text.
    private static func needsEscapes(_ text: String) -> Bool {
        var ascii = true
        for byte in text.utf8 {
            if byte < 0x20 || byte == 0x7F { return true }
            if byte >= 0x80 { ascii = false }
        }
        if ascii { return false }
        return text.unicodeScalars.contains { $0.value >= 0x80 && DisplayName.isInvisibleOrControl($0) }
    }
}
