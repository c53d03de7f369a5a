import CustosCustody
import CustosFormats
import CustosLedger
import CustosReport

extension ServiceOperation {
    /// A chain-of-custody report (`custos report`): the `reported` event is recorded for the
    /// caller and the reply carries the report's files (its JSON and `.p7s`).
    public static let report = ServiceOperation(name: "report", action: .report, records: true)
}

extension CustodyService {
    /// `report` (`items` or `case`, `reason`, `languages?`, `output`, `examiner?`;
    /// Docs/Protocol.md), through `perform`: the role check and the recording gate are its.
    /// `output` is the report file's path as the client named it (its last component names the
    /// files; the client checked both names free in its folder first). The shared workflow
    /// (`CustodySession.makeReport(_:output:into:now:)`) records the `reported` event, and the
    /// reply, sent only then, carries the files: `{items, entries, event, report, result, files:
    /// [{name, bytes}]}`.
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
        let session = try custody.session()
        let subject: ReportRequest.Subject
        if let caseID {
            subject = .caseID(caseID, try session.items(ofCase: caseID))
        } else {
            var records = [ItemRecord]()
            for text in texts {
                let record = try session.resolveItem(text)
                if !records.contains(where: { $0.item == record.item }) { records.append(record) }
            }
            subject = .items(records)
        }
        let made = try session.makeReport(
            ReportRequest(subject: subject, reason: reason, languages: languages), output: output,
            into: ExportReplySink())
        return recorded(
            made.event, items: subject.records, session: session,
            extra: [
                "report": .string(made.facts.report), "result": .string(made.facts.passed ? "pass" : "fail"),
                "files": .array(
                    made.files.map { file in
                        .object([
                            "name": .byteString(Array(file.name.utf8)), "bytes": .string(Base64.encode(file.bytes)),
                        ])
                    }),
            ])
    }
}
