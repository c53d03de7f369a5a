/// What a PDF shows, as plain values: a title, a running header, and blocks in reading order.
///
/// Every string in a layout is shown as text, never read as markup: `<b>` stays `<b>`. Control
/// characters and invisible format characters (bidi overrides and isolates, zero-width marks)
/// are shown as visible escapes such as `\u{202e}`, so nothing is reordered or hidden
/// (``PDFVisibleText``). Backslashes are left as they are: a byte-exact name should be passed
/// through `DisplayName.escape` first, which doubles them.
public struct PDFDocumentLayout: Sendable, Equatable {
    /// Shown in large bold type at the top of the first page, and the PDF's title metadata.
    public var title: String
    /// Repeated at the top of every page (a report's identifier and the checkpoint it was built
    /// on); its newlines start new lines; at most ``PDFDocumentLayout/runningHeaderLines`` lines,
    /// the rest ellipsized.
    public var runningHeader: String
    public var blocks: [PDFBlock]
    /// The font family for text (fontconfig's name); rendering fails when it is not installed,
    /// rather than falling back silently to a font without Chinese glyphs.
    public var fontFamily: String
    /// The font family for ``PDFBlock/monospace(_:)``.
    public var monospaceFamily: String
    /// The PDF's creation date metadata, ISO 8601 (`2026-11-25T14:03:00+08:00`). With a date the
    /// same layout gives the same bytes; without one cairo writes the time of rendering.
    public var creationDate: String?
    /// The PDF's creator metadata.
    public var creator: String

    public static let runningHeaderLines = 4

    public init(
        title: String, runningHeader: String, blocks: [PDFBlock], fontFamily: String = "Noto Sans CJK TC",
        monospaceFamily: String = "Noto Sans Mono CJK TC", creationDate: String? = nil, creator: String = "Custos"
    ) {
        self.title = title
        self.runningHeader = runningHeader
        self.blocks = blocks
        self.fontFamily = fontFamily
        self.monospaceFamily = monospaceFamily
        self.creationDate = creationDate
        self.creator = creator
    }
}

/// One label and its value, shown side by side.
public struct PDFKeyValue: Sendable, Equatable {
    public var label: String
    public var value: String

    public init(_ label: String, _ value: String) {
        self.label = label
        self.value = value
    }
}

/// A block of a document. Long text wraps (at word boundaries, or anywhere in an unbroken
/// string such as a hash) and continues on the next page; a block never overflows a page.
public enum PDFBlock: Sendable, Equatable {
    /// Bold; level 1 is the largest. Kept on the same page as the start of what follows.
    case heading(String, level: Int)
    /// Body text; newlines start new lines.
    case paragraph(String)
    /// Labels and values in two columns.
    case keyValues([PDFKeyValue])
    /// A table with ruled cells; its header row is repeated at the top of each page it spans.
    /// A cell whose text starts with `FAIL` or `驗證失敗` is bold and boxed (never told by
    /// color alone).
    case table(columns: [String], rows: [[String]])
    /// Hashes, proofs, commands: a monospace font on a light background; newlines kept.
    case monospace(String)
    /// A verdict in a box; a failure is bold in a heavy box.
    case verdict(pass: Bool, text: String)
    /// Continues on a new page.
    case pageBreak
    /// Ruled lines to fill in by hand on the printed copy, one per label (name, title, date,
    /// 簽名或蓋章); a label that names a seal (`蓋章`, `seal`) gets 25 mm of room for one. Kept
    /// together on one page.
    case signatureBlock([String])
}
