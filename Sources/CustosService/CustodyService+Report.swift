import CustosCustody
import CustosFormats
import CustosLedger
import CustosReport

extension ServiceOperation {
    /// A chain-of-custody report (`custos report`): the `reported` event is recorded for the
    /// caller and the reply carries the report's files (its PDF and JSON as asked, each with its `.p7s`).
    public static let report = ServiceOperation(name: "report", action: .report, records: true)
}

extension CustodyService {
    /// `report` (`items` or `case`, `reason`, `languages?`, `formats?` (`pdf`, `json`; `json`
    /// when absent, as before PDFs), `output`, `examiner?`;
    /// Docs/Protocol.md), through `perform`: the role check and the recording gate are its.
    /// `output` is the report file's path as the client named it (its last component names the
    /// files; the client checked both names free in its folder first). The shared workflow
    /// (`CustodySession.makeReport(_:output:into:now:)`) records the `reported` event, and the
    /// reply, sent only then, carries the files: `{items, entries, event, report, result, facts,
    /// files: [{name, bytes}]}` (`facts`: the report's JSON in base64 when no JSON file was asked
    /// for, so the client can say what it found; else null).
    func report(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let reason = try arguments.string("reason")
        let texts = try arguments.strings("items")
        let caseID = try arguments.optionalString("case")
        guard texts.isEmpty != (caseID == nil) else {
            throw ServiceFailure(.badRequest, "report: give items or case (not both)")
        }
        guard let output = arguments.object["output"]?.byteStringValue, !output.isEmpty else {
            throw ServiceFailure(.badRequest, "report: output (the report file as the client names it) is missing")
        }
        var languages = try arguments.strings("languages")
        if languages.isEmpty { languages = ["zh-TW", "en"] }
        guard languages.allSatisfy(["zh-TW", "en"].contains) else {
            throw ServiceFailure(.badRequest, "report: languages are zh-TW and en")
        }
        var formats = try arguments.strings("formats")
        if formats.isEmpty { formats = ["json"] }
        guard formats.allSatisfy(["pdf", "json"].contains), Set(formats).count == formats.count else {
            throw ServiceFailure(.badRequest, "report: formats are pdf and json")
        }
        let session = try custody.session()
        let subject = try ReportRequest.Subject.resolve(items: texts, caseID: caseID, in: session)
        let made = try session.makeReport(
            ReportRequest(subject: subject, reason: reason, languages: languages, formats: formats), output: output,
            into: ReportReplySink())
        return recorded(
            made.event, items: subject.records, session: session,
            extra: [
                "report": .string(made.facts.report), "result": .string(made.facts.passed ? "pass" : "fail"),
                "facts": formats.contains("json") ? .null : .string(Base64.encode(made.facts.jsonBytes)),
                "files": .array(
                    made.files.map { file in
                        .object([
                            "name": .byteString(Array(file.name.utf8)), "bytes": .string(Base64.encode(file.bytes)),
                        ])
                    }),
            ])
    }
}

/// The daemon's report sink: the files go in the reply, which is sent once the event is
/// recorded. A report too large for a reply the client accepts (`LocalSocketClient` reads at
/// most 64 MiB; base64 adds a third) is refused before anything is recorded.
final class ReportReplySink: ExportSink {
    static let maximumBytes = 40 << 20

    func prepare(_ files: [ExportFile]) throws {
        let total = files.reduce(0) { $0 + $1.bytes.count }
        guard total <= Self.maximumBytes else {
            throw ServiceFailure(
                .tooLarge,
                "report: the report is \(total) bytes, more than a reply of the socket carries (\(Self.maximumBytes)); "
                    + "report on fewer items at a time (nothing was recorded)")
        }
    }
    func recorded(entry: UInt64) throws {}
    func abandon() {}
}
