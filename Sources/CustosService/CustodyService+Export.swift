import CustosCustody
import CustosFormats
import CustosLedger

extension ServiceOperation {
    /// An item's time stamps out of the vault (`custos timestamp export`): `plan: true` names the
    /// files (nothing recorded); otherwise the `exported` event is recorded and the reply carries
    /// the files (they are small: tokens, anchors, `VERIFY.txt`).
    public static let export = ServiceOperation(name: "export", action: .export, records: true)
}

extension CustodyService {
    /// `export` (`item`, `reason`, `examiner?`, Docs/Protocol.md), through `perform`: the role
    /// check (a refusal recorded there) and the recording gate are its.
    ///
    /// - `plan: true`: the item resolved, the reason checked, the export's files named
    ///   (`CustodySession.planTimeStampExport`), nothing recorded: `{item, files: [{name,
    ///   size}]}`. The client checks the names in its folder before it asks for the files.
    /// - otherwise (`folder`, the client's folder as it named it; `names?`, the names it found
    ///   free there): the shared workflow (`CustodySession.exportTimeStamps(of:reason:folder:
    ///   expected:into:)`) records the `exported` event for the caller, and the reply, sent only
    ///   then, carries the files: `{items, entries, event, files: [{name, bytes}], verify}`. An
    ///   export holding a name not among `names` (a token came meanwhile) is refused, nothing
    ///   recorded.
    func export(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let text = try arguments.string("item")
        let reason = try arguments.string("reason")
        if try arguments.bool("plan") == true {
            let session = try custody.session(readOnly: true)
            let export = try session.planTimeStampExport(of: try session.resolveItem(text), reason: reason)
            return ServiceReply(
                result: .object([
                    "item": export.record.json,
                    "files": .array(
                        export.files.map { file in
                            .object([
                                "name": .byteString(Array(file.name.utf8)), "size": .integer(Int64(file.bytes.count)),
                            ])
                        }),
                ]))
        }
        guard let folder = arguments.object["folder"]?.byteStringValue, !folder.isEmpty else {
            throw ServiceFailure(.badRequest, "export: folder (the folder the client writes into) is missing")
        }
        let names = try arguments.strings("names")
        let session = try custody.session()
        let record = try session.resolveItem(text)
        let exported = try session.exportTimeStamps(
            of: record, reason: reason, folder: folder, expected: names.isEmpty ? nil : Set(names),
            into: ExportReplySink())
        return recorded(
            exported.event, items: [record], session: session,
            extra: [
                "files": .array(
                    exported.files.map { file in
                        .object([
                            "name": .byteString(Array(file.name.utf8)), "bytes": .string(Base64.encode(file.bytes)),
                        ])
                    }),
                "verify": .string(exported.text),
            ])
    }
}

/// The daemon's export sink: the files go in the reply, which is sent once the event is
/// recorded; there is nothing to keep or drop here.
final class ExportReplySink: ExportSink {
    func prepare(_ files: [ExportFile]) throws {}
    func recorded(entry: UInt64) throws {}
    func abandon() {}
}
