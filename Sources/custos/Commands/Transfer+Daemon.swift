import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosHTTP
import CustosOpenSSL
import CustosService

/// `transfer` through the daemon's socket (Docs/Protocol.md): the daemon, as the service
/// account, re-hashes the archives, builds the handover file in its vault, and records the
/// `transferred` event for the caller the kernel names, naming the file this process declared;
/// then it streams the file's bytes. This process, as the caller, writes them by the rules of
/// `OutputFolder`: the output checked free and its folder checked before anything is asked
/// for (a plan first), the file a new temporary beside it (`O_EXCL | O_NOFOLLOW`, 0600) hashed
/// as it is written and fsynced, and named without replacing anything only when the daemon's
/// trailer says the transfer is recorded and the bytes are those its header named.
extension Transfer {
    func runThroughDaemon(_ gateway: Gateway, socket: String) throws {
        let output = RawArguments.raw(self.output)
        // The daemon records the file by the name it is declared under: a whole path, since the
        // daemon's working folder is not this process's.
        let declared = output.absolute
        let name = declared.lastComponent
        guard declared.bytes.last != UInt8(ascii: "/"), RawPath.isSafeComponent(name) else {
            throw CLIError(message: "\(output): not a file's name; give the handover file to write", exitCode: 2)
        }
        let directory = try OutputFolder(declared.parent)
        guard !directory.contains(name) else {
            throw CLIError(message: "\(output): already exists; a handover file is never overwritten", exitCode: 2)
        }
        var arguments: JSONObject = [
            "items": .array(items.map { .string($0) }), "to": .string(to), "reason": .string(reason),
        ]
        if let examiner { arguments["examiner"] = .string(examiner) }
        var planning = arguments
        planning["plan"] = .bool(true)
        let (plan, _) = try gateway.perform(.transfer, planning)
        let planned = (plan["items"]?.arrayValue ?? []).compactMap { $0["item"]?.stringValue }
        guard !planned.isEmpty else {
            throw CLIError(message: "\(socket): the daemon's plan of the transfer cannot be read")
        }
        // The items as the plan resolved them: the handover is of exactly those checked.
        arguments["items"] = .array(planned.map { .string($0) })
        arguments["output"] = .byteString(declared.bytes)

        let outcome: RecordedTransfer
        let reply: ServiceReply
        do {
            (outcome, reply) = try StreamedFile.receiveRecorded(
                .handover, socket: socket, arguments: arguments, declared: declared, shown: output, into: directory,
                outcome: RecordedTransfer.init, entries: \.entryList)
        } catch let error as CustodyError {
            throw handoverFailure(error)
        }
        for (item, entry) in zip(outcome.items, outcome.entries) {
            Output.line("transferred \(item) entry \(entry)")
        }
        Output.line(
            "handover \(output) sha256 \(outcome.document) checkpoint \(outcome.checkpoint) "
                + "(\(outcome.entries.count) items)")
        if let failure = reply.failure { throw failure.cliError }
    }

    /// What the trailer says of a recorded transfer.
    private struct RecordedTransfer {
        var items: [String]
        var entries: [Int64]
        /// The SHA-256 of `handover.json`.
        var document: String
        var checkpoint: Int64

        var entryList: String { entries.map { "\($0)" }.joined(separator: ", ") }

        init?(_ result: JSONValue?) {
            guard let items = result?["items"]?.arrayValue?.compactMap({ $0["item"]?.stringValue }),
                let entries = result?["entries"]?.arrayValue?.compactMap(\.integerValue),
                !entries.isEmpty, entries.count == items.count,
                let document = result?["handover"]?.stringValue, let checkpoint = result?["checkpoint"]?.integerValue
            else { return nil }
            self.items = items
            self.entries = entries
            self.document = document
            self.checkpoint = checkpoint
        }
    }
}
