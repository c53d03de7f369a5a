import CustosFormats
import CustosPDF

/// A report's PDF laid out while its facts are gathered: the renderer's thread lays out each
/// item's pages (``ReportFacts/pdfItemPart(_:number:of:languages:)``) as soon as the item's facts
/// are known, while the calling thread reads the ledger and re-hashes the next; the first part
/// (verdict, summary), the last item's (the report's own checks follow it) and the signatures
/// come once every item is known. The bytes are those of ``ReportFacts/pdfBytes()``: at the end
/// each part given early is compared with the report's own (``ReportFacts/pdfParts``), and on
/// any difference the PDF is made whole instead.
///
/// Used from one thread, the one gathering the facts.
final class ReportPDFPipeline {
    private let languages: [String]
    private let count: Int
    private var renderer: PDFStreamingRenderer?
    private var shell: PDFDocumentLayout?
    private var given = [Int: [PDFBlock]]()

    init(_ request: ReportRequest) {
        languages = request.languages
        count = request.records.count
    }

    /// The report's id, time and checkpoint are known: its title and running header too.
    func start(report: String, made: ReportTime, checkpoint: CheckpointFacts) {
        let layout = ReportFacts.pdfShell(report: report, made: made, checkpoint: checkpoint, languages: languages)
        shell = layout
        renderer = try? PDFStreamingRenderer(layout)
    }

    /// Item `index`'s facts are known (from 0, in the report's order).
    func add(item: ItemFacts, index: Int) {
        guard let renderer, index < count - 1 else { return }
        let part = ReportFacts.pdfItemPart(item, number: index + 1, of: count, languages: languages)
        given[index + 1] = part
        renderer.add(part: index + 1, part)
    }

    /// The PDF of `facts`; nil when it was not laid out here (the caller makes it whole).
    func finish(_ facts: ReportFacts) throws(PDFError) -> [UInt8]? {
        guard let renderer else { return nil }
        self.renderer = nil
        let parts = facts.pdfParts
        let layout = ReportFacts.pdfShell(
            report: facts.report, made: facts.made, checkpoint: facts.checkpoint, languages: facts.languages)
        guard layout == shell, parts.count == count + 2, given.allSatisfy({ parts[$0.key] == $0.value }) else {
            renderer.cancel()
            return nil
        }
        for (index, part) in parts.enumerated() where given[index] == nil {
            renderer.add(part: index, part)
        }
        return try renderer.finish()
    }

    /// Stops the renderer when the report failed before its PDF was finished.
    func cancel() {
        renderer?.cancel()
        renderer = nil
    }
}
