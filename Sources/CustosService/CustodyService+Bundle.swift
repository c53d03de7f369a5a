import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosReport

extension ServiceOperation {
    /// A court bundle (`custos export ITEM…|--case ID -o BUNDLE.tar`): `plan: true` checks the
    /// call (nothing recorded); otherwise the bundle is built, recorded and its bytes streamed
    /// (`CustodyService.exportBundle(_:as:open:)`, the daemon's socket only).
    ///
    /// Its role: `export` (the event is `exported`), and `extract` and `report` as well: a
    /// bundle holds every original (what `extract` takes out) and a signed report recorded as
    /// `reported` (what `report` makes), so a role that may not take an original out, or make a
    /// report, may not have them by way of a bundle. The standard policy grants the three to
    /// `evidence`.
    public static let bundle = ServiceOperation(
        name: "bundle", action: .export, alsoRequires: [.extract, .report], records: true)
}

extension CustodyService {
    /// `bundle` with `plan: true` (`items` or `case`, `reason`, `examiner?`): the subject
    /// resolved (`ReportRequest.Subject.resolve`, as the command in process does), the reason and
    /// the examiner checked (`CustodySession.checkBundle`), nothing built or recorded:
    /// `{"items": [item]}`. The client checks its output before it asks for the bundle.
    func bundlePlan(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        guard try arguments.bool("plan") == true else {
            throw ServiceFailure(
                .badRequest, "bundle: the bundle is streamed by the daemon's socket (give plan: true to check the call)"
            )
        }
        let session = try custody.session(readOnly: true)
        let subject = try bundleSubject(arguments, session: session)
        let records = try session.checkBundle(subject.records, reason: try arguments.string("reason"))
        return ServiceReply(result: .object(["items": .array(records.map(\.json))]))
    }

    private func bundleSubject(_ arguments: Arguments, session: CustodySession) throws -> ReportRequest.Subject {
        let texts = try arguments.strings("items")
        let caseID = try arguments.optionalString("case")
        guard texts.isEmpty != (caseID == nil) else {
            throw ServiceFailure(.badRequest, "bundle: give items or case (not both)")
        }
        return try ReportRequest.Subject.resolve(items: texts, caseID: caseID, in: session)
    }

    /// `bundle` with the bundle streamed (`items` or `case`, `reason`, `output`: the absolute
    /// path of the file the client writes, as bytes; `examiner?`), through `streamBuiltFile`:
    /// the role check and the plan first (a refusal recorded there); then the shared workflow
    /// (`CustodySession.exportCourtBundle`, the one `custos export` runs in process) re-checks
    /// every item, makes, signs and records the report (`reported`), writes the bundle into a
    /// temporary in the vault's `tmp/` (0600) and records the `exported` event for the caller,
    /// naming `output`; then its bytes go to the sink `open` gives. The trailer: `{items,
    /// entries, event, file, size, sha256, members}` (`members`: the count of the bundle's
    /// members).
    public func exportBundle<Sink: BuiltFileSink>(
        _ call: ServiceCall, as caller: Caller, open: (BuiltFileHeader) throws -> Sink
    ) -> ServiceReply {
        streamBuiltFile(call, as: caller, kind: .bundle, open: open) { custody, arguments, temporary, output in
            let session = try custody.session()
            let subject = try bundleSubject(arguments, session: session)
            let bundle = try session.exportCourtBundle(
                subject, caseID: try arguments.optionalString("case"), reason: try arguments.string("reason"),
                output: temporary, recordedAs: RawPath(bytes: output))
            return BuiltFile(
                event: bundle.event, items: subject.records, session: session,
                extra: [
                    "members": .integer(Int64(bundle.members.count + 1)),
                    "report": .string(bundle.reportPassed ? "pass" : "fail"),
                ])
        }
    }
}
