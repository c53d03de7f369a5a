import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosService

/// `export` (a court bundle) through the daemon's socket (Docs/Protocol.md, `bundle`): the
/// daemon, as the service account, re-checks the items, makes, signs and records the report,
/// builds the bundle in its vault's `tmp/` and records the `exported` event for the caller the
/// kernel names, naming the file this process declared; then it streams the bundle's bytes.
/// This process, as the caller, writes them as `transfer` does (`StreamedFile.receiveRecorded`):
/// the output checked free and its folder checked before anything is asked for (a plan first),
/// the file a new temporary beside it (`O_EXCL | O_NOFOLLOW`, 0600) hashed as it is written and
/// fsynced, and named without replacing anything only when the trailer says the export is
/// recorded and the bytes are those its header named.
extension Export {
    func runThroughDaemon(_ gateway: Gateway, socket: String) throws {
        let output = RawArguments.raw(self.output)
        // The daemon records the bundle by the name it is declared under: a whole path, since the
        // daemon's working folder is not this process's.
        let declared = output.absolute
        let name = declared.lastComponent
        guard declared.bytes.last != UInt8(ascii: "/"), RawPath.isSafeComponent(name) else {
            throw CLIError(message: "\(output): not a file's name; give the bundle's file to write", exitCode: 2)
        }
        let directory = try OutputFolder(declared.parent)
        guard !directory.contains(name) else {
            throw CLIError(message: "\(output): already exists; a bundle is never written over", exitCode: 2)
        }
        var arguments: JSONObject = ["reason": .string(reason)]
        if let caseID {
            arguments["case"] = .string(caseID)
        } else {
            arguments["items"] = .array(items.map { .string($0) })
        }
        if let examiner { arguments["examiner"] = .string(examiner) }
        var planning = arguments
        planning["plan"] = .bool(true)
        let (plan, _) = try gateway.perform(.bundle, planning)
        guard let planned = plan["items"]?.arrayValue?.compactMap({ $0["item"]?.stringValue }), !planned.isEmpty
        else {
            throw CLIError(message: "\(socket): the daemon's plan of the bundle cannot be read")
        }
        arguments["output"] = .byteString(declared.bytes)

        let (outcome, reply) = try StreamedFile.receiveRecorded(
            .bundle, socket: socket, arguments: arguments, declared: declared, shown: output, into: directory,
            outcome: RecordedBundle.init, entries: \.entryList)
        Output.line(
            "bundle written to \(output): \(outcome.members) members, sha256 \(outcome.sha256); "
                + "recorded as `exported` (\(Report.entriesText(outcome.entries.map { UInt64($0) })))")
        if let failure = reply.failure { throw failure.cliError }
        if !outcome.reportPassed { throw Export.reportFailed }
    }

    /// What the trailer says of a recorded bundle.
    private struct RecordedBundle {
        var entries: [Int64]
        var members: Int64
        var sha256: String
        var reportPassed: Bool

        var entryList: String { entries.map { "\($0)" }.joined(separator: ", ") }

        init?(_ result: JSONValue?) {
            guard let entries = result?["entries"]?.arrayValue?.compactMap(\.integerValue), !entries.isEmpty,
                let members = result?["members"]?.integerValue, let sha256 = result?["sha256"]?.stringValue
            else { return nil }
            self.entries = entries
            self.members = members
            self.sha256 = sha256
            reportPassed = result?["report"]?.stringValue != "fail"
        }
    }
}
