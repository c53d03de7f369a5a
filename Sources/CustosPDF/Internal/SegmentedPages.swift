/// A document's pages, laid out segment by segment.
///
/// A page break starts a new page unless the page is still empty, so the blocks between two
/// page breaks (a segment) lay out alike wherever they start: each segment is laid out on its
/// own from the top of a page, and the segments' pages are put end to end, a segment after one
/// that left its last page empty beginning on that page. The pages are those one composer
/// would give over all the blocks; so a document can be laid out in parts, in any order (a
/// report's items as their facts are gathered), each part beginning after a page break.
struct SegmentedPages {
    /// A segment's pages, and whether its last page was left empty.
    private struct Segment {
        var pages: [[DrawOp]]
        var endsOnEmptyPage: Bool
    }

    let context: OpaquePointer
    let title: String
    let body: FontSpec
    let mono: FontSpec
    let bodyTop: Double
    /// The boxes laid out so far, for all the parts.
    private let cache = LayoutCache()
    /// Each part's segments, by the part's index.
    private var parts = [Int: [Segment]]()

    init(context: OpaquePointer, title: String, body: FontSpec, mono: FontSpec, bodyTop: Double) {
        self.context = context
        self.title = title
        self.body = body
        self.mono = mono
        self.bodyTop = bodyTop
    }

    /// Lays out part `index`: part 0 begins with the title; any other begins after a page break.
    mutating func layOut(part index: Int, _ blocks: [PDFBlock]) {
        var segments = [Segment]()
        var composer = PageComposer(context: context, cache: cache, body: body, mono: mono, bodyTop: bodyTop)
        if index == 0 { composer.title(title) }
        for block in blocks {
            switch block {
            case .heading(let text, let level): composer.heading(text, level: level)
            case .paragraph(let text): composer.paragraph(text)
            case .keyValues(let pairs): composer.keyValues(pairs)
            case .table(let columns, let rows): composer.table(columns: columns, rows: rows)
            case .monospace(let text): composer.monospace(text)
            case .verdict(let pass, let text): composer.verdict(pass: pass, text: text)
            case .signatureBlock(let labels): composer.signatureBlock(labels)
            case .pageBreak:
                segments.append(Segment(pages: composer.pages, endsOnEmptyPage: composer.pageIsEmpty))
                composer = PageComposer(context: context, cache: cache, body: body, mono: mono, bodyTop: bodyTop)
            }
        }
        segments.append(Segment(pages: composer.pages, endsOnEmptyPage: composer.pageIsEmpty))
        parts[index] = segments
    }

    /// The pages of the parts laid out, in the parts' order.
    func pages() -> [[DrawOp]] {
        var pages = [[DrawOp]]()
        var onEmptyPage = false
        for index in parts.keys.sorted() {
            for segment in parts[index]! {
                var rest = segment.pages[...]
                if onEmptyPage, !pages.isEmpty, let first = rest.popFirst() {
                    pages[pages.count - 1] += first
                }
                pages += rest
                onEmptyPage = segment.endsOnEmptyPage
            }
        }
        return pages
    }
}
