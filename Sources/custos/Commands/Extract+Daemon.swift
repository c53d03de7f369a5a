import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosHTTP
import CustosOpenSSL
import CustosService

/// `extract` through the daemon's socket (Docs/Protocol.md): the daemon, as the service
/// account, reads and re-hashes each original and records the `extracted` event for the caller
/// the kernel names; this process, as the caller, writes the bytes into the caller's folder by
/// the rules of the direct path (`OutputFolder`): the folder checked, every name checked before
/// a byte is asked for, each file a new temporary (`O_EXCL | O_NOFOLLOW`, 0600) hashed as it
/// is written, fsynced, and named without replacing anything, only once the daemon has
/// recorded it and only when its SHA-256 and size are the sealed ones.
extension Extract {
    func runThroughDaemon(_ gateway: Gateway, socket: String) throws {
        let folder = RawArguments.raw(output)
        let directory = try OutputFolder(folder)
        var planning: JSONObject = [
            "items": .array(items.map { .string($0) }), "reason": .string(reason), "plan": .bool(true),
        ]
        if let examiner { planning["examiner"] = .string(examiner) }
        let (result, _) = try gateway.perform(.extract, planning)
        let plans = try (result["items"]?.arrayValue ?? []).map { value in
            guard let plan = ExtractionHeader(json: value) else {
                throw CLIError(message: "\(socket): the daemon's plan of the extraction cannot be read")
            }
            return plan
        }
        // Every name first: nothing is asked for, written or recorded when one is taken.
        try directory.refuseExtractionNames(plans.map { (item: $0.item, name: $0.name) })

        var failures = [String]()
        var uncovered: ServiceFailure?
        for plan in plans {
            var arguments: JSONObject = [
                "item": .string(plan.item), "reason": .string(reason), "folder": .byteString(folder.absolute.bytes),
            ]
            if let examiner { arguments["examiner"] = .string(examiner) }
            let received = receive(plan, arguments: arguments, socket: socket, into: directory)
            for note in received.reply?.notes ?? [] { Output.error("custos: \(note)") }
            guard let written = received.written, let entry = received.entry else {
                if let temporary = received.temporary { directory.discard(temporary) }
                if received.streamed {
                    failures.append(received.problem ?? "item \(plan.item): not extracted")
                    continue
                }
                // Refused before a byte was sent (nothing written, nothing recorded by it).
                let failure = received.reply?.failure ?? ServiceFailure(.failed, received.problem ?? "not extracted")
                throw CLIError(message: failure.message, exitCode: failure.exitCode)
            }
            try directory.place(written, as: plan.name, recorded: "the extraction (entry \(entry))")
            let name = DisplayName.escape(plan.name)
            Output.line("extracted item \(plan.item) as \(name): sha256 \(plan.sha256.hex) (entry \(entry))")
            if let note = plan.nameNote { Output.line("  note: \(note)") }
            if let failure = received.reply?.failure, failure.code == .uncovered { uncovered = failure }
        }
        if !failures.isEmpty { throw CLIError(message: failures.joined(separator: "\ncustos: "), exitCode: 1) }
        if let uncovered { throw uncovered.cliError }
    }

    /// What one streamed request gave.
    private struct Received {
        /// Whether the daemon began the stream (its header was sent: the attempt is recorded).
        var streamed = false
        /// The daemon's reply: the trailer, or the error before the stream.
        var reply: ServiceReply?
        /// The temporary, synced, when the bytes are the sealed ones and the daemon recorded them.
        var written: OutputFolder.WrittenFile?
        /// The temporary while it is not to be kept.
        var temporary: [UInt8]?
        /// The `extracted` entry, when the daemon recorded the extraction as ok.
        var entry: UInt64?
        var problem: String?
    }

    private func receive(
        _ plan: ExtractionHeader, arguments: JSONObject, socket: String, into directory: OutputFolder
    ) -> Received {
        let download = StreamedFile<ExtractionHeader>.receive(
            socket: socket, operation: .extract, arguments: arguments, contentType: ExtractionWire.contentType,
            timeout: 600, into: directory, label: "extract-\(plan.item)"
        ) { header in
            guard header == plan else {
                throw CLIError(message: "item \(plan.item): the daemon's stream is not of the item it planned")
            }
        }
        var received = Received(streamed: download.streamed, reply: download.reply, temporary: download.temporary)
        let problem = download.problem.map { "item \(plan.item): not extracted: \($0)" }
        guard received.streamed else {
            received.problem = problem
            return received
        }
        guard let reply = download.reply else {
            // Without the trailer, the file is never kept; the daemon records what it sent.
            received.problem =
                (problem ?? "item \(plan.item): not extracted: the daemon's stream ended before its outcome")
                + "; nothing was kept; see custos history \(plan.item)"
            return received
        }
        let outcome = reply.result
        if outcome?["result"]?.stringValue != "ok" {
            received.problem = reply.failure?.message ?? "item \(plan.item): not extracted"
            return received
        }
        let entry = outcome?["entries"]?.arrayValue?.first?.integerValue.map { UInt64($0) }
        guard let written = download.written, problem == nil, outcome?["sha256"]?.stringValue == plan.sha256.hex,
            let entry
        else {
            received.problem =
                "item \(plan.item): the daemon recorded the extraction (entry "
                + "\(entry.map { "\($0)" } ?? "?")), but \(download.bytesText)"
                + " (sealed: \(plan.size) bytes, \(plan.sha256.hex)); the file is not kept"
            return received
        }
        received.written = written
        received.temporary = nil
        received.entry = entry
        return received
    }
}
