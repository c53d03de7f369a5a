/// Shows byte-exact names safely: printable UTF-8 as it is, everything else escaped, so a name with
/// a newline, a control character or invalid UTF-8 can neither break a log line nor hide.
public enum DisplayName {
    public static func escape(_ bytes: [UInt8]) -> String {
        var out = ""
        var index = 0
        while index < bytes.count {
            let length = utf8SequenceLength(bytes, at: index)
            if length == 0 {
                out += "\\x" + Hex.encode([bytes[index]])
                index += 1
                continue
            }
            let scalarText = String(decoding: bytes[index..<index + length], as: UTF8.self)
            let scalar = scalarText.unicodeScalars.first!
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if isInvisibleOrControl(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out += scalarText
                }
            }
            index += length
        }
        return out
    }

    /// True for characters that must never appear raw in a name shown or stored as a path:
    /// C0 and C1 controls, DEL, and invisible format and line or paragraph separators.
    public static func isInvisibleOrControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value)
            || scalar.properties.generalCategory == .format
            || scalar.properties.generalCategory == .lineSeparator
            || scalar.properties.generalCategory == .paragraphSeparator
    }

    /// The length of the valid UTF-8 sequence at `index`, or 0 if there is none.
    public static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let first = bytes[index]
        let length: Int
        switch first {
        case 0x00..<0x80: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        let slice = Array(bytes[index..<index + length])
        return String(validating: slice, as: UTF8.self) == nil ? 0 : length
    }

    /// True when the bytes are valid UTF-8.
    public static func isUTF8(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }
}
