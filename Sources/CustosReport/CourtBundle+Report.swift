import CustosCustody
import CustosFileSystem
import CustosFormats

extension CustodySession {
    /// A court bundle's workflow, written once for both paths (`custos export` on a vault of
    /// one's own, the daemon's `bundle` call): `exportBundle` with the report of the same
    /// subject made, signed and recorded (`reported`) as `custos report` makes it (PDF and JSON,
    /// each with its `.p7s`), its files kept in memory for the bundle alone. `output` is where
    /// the bundle is written; `recordedAs` the file the `exported` event names when that is not
    /// `output` (the daemon builds the bundle in the vault's `tmp/` for the file its client
    /// declared).
    ///
    /// The report is recorded before the bundle is written. When the bundle fails after that (a
    /// full disk, an archive changed since its re-check), the error says the `reported` entries
    /// stand, so no one takes the ledger's record of a report for a bundle that was given.
    public func exportCourtBundle(
        _ subject: ReportRequest.Subject, caseID: String?, reason: String, output: RawPath, recordedAs: RawPath? = nil
    ) throws -> ExportedBundle {
        var reported: [UInt64] = []
        do {
            return try exportBundle(
                subject.records, caseID: caseID, reason: reason, output: output, recordedAs: recordedAs
            ) {
                let sink = BundleReportSink()
                let made = try makeReport(
                    ReportRequest(subject: subject, reason: reason), output: Array("report.json".utf8), into: sink)
                reported = made.event.entries.map(\.sequence)
                return BundleReport(files: sink.files, entry: made.event.entries[0].sequence, passed: made.facts.passed)
            }
        } catch {
            guard let first = reported.first, let last = reported.last else { throw error }
            let entries = first == last ? "entry \(first)" : "entries \(first)-\(last)"
            let note =
                "the bundle's report was made and recorded before the bundle failed (`reported`, \(entries)): "
                + "that record stands, and the report's files were written into this bundle alone"
            if let error = error as? CustodyError {
                throw CustodyError(error.code, "\(error.message) (\(note))", cause: error.cause)
            }
            throw CustodyError(.failed, note, cause: error)
        }
    }
}

/// Keeps a report's files for its bundle: nothing is written beside the bundle.
final class BundleReportSink: ExportSink {
    var files = [ExportFile]()
    func prepare(_ files: [ExportFile]) throws { self.files = files }
    func recorded(entry: UInt64) throws {}
    func abandon() { files = [] }
}
