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
        var received = Received()
        var reader = ExtractionWire.Reader()
        var body = [UInt8]()
        var file: FileDescriptor?
        var written: OutputFolder.WrittenFile?
        let digest = MessageDigest(.sha256)
        var count: UInt64 = 0
        var found: Hash?
        do {
            _ = try LocalSocketClient.send(
                socket: socket, method: "POST", path: "/v\(serviceProtocolVersion)/extract",
                headers: [("Content-Type", "application/json")], body: CanonicalJSON.encode(.object(arguments)),
                timeout: 600,
                head: { response in
                    received.streamed =
                        response.status == 200 && response.headers["content-type"] == ExtractionWire.contentType
                },
                receive: { bytes in
                    guard received.streamed else {
                        guard body.count + bytes.count <= 1 << 20 else {
                            throw CLIError(message: "\(socket): the daemon's reply is larger than 1 MiB")
                        }
                        body += bytes
                        return
                    }
                    try reader.consume(
                        bytes,
                        header: { header in
                            guard header == plan else {
                                throw CLIError(
                                    message: "item \(plan.item): the daemon's stream is not of the item it planned")
                            }
                            let (opened, temporary) = try directory.createTemporary("extract-\(plan.item)")
                            file = opened
                            received.temporary = temporary
                        },
                        data: { chunk in
                            count += UInt64(chunk.count)
                            guard count <= plan.size, let file else {
                                throw CLIError(message: "item \(plan.item): the daemon sent more than the sealed size")
                            }
                            digest.update(chunk)
                            try file.write(chunk)
                        },
                        end: {
                            let sha256 = digest.finishHash()
                            found = sha256
                            if count == plan.size, sha256 == plan.sha256, let file, let temporary = received.temporary {
                                written = try directory.written(file, temporary: temporary)
                            }
                            file = nil
                        },
                        trailer: { received.reply = $0 })
                })
            if received.streamed { try reader.finish() }
        } catch {
            received.problem = "item \(plan.item): not extracted: \(error)"
        }
        file = nil
        if !received.streamed {
            guard received.problem == nil else { return received }
            if let value = try? CanonicalJSON.parse(body), let reply = try? ServiceReply(json: value) {
                received.reply = reply
            } else {
                received.problem =
                    "\(socket): the daemon's reply is not JSON: " + String(decoding: body.prefix(200), as: UTF8.self)
            }
            return received
        }
        guard let reply = received.reply else {
            // Without the trailer, the file is never kept; the daemon records what it sent.
            received.problem =
                (received.problem ?? "item \(plan.item): not extracted: the daemon's stream ended before its outcome")
                + "; nothing was kept; see custos history \(plan.item)"
            return received
        }
        let outcome = reply.result
        if outcome?["result"]?.stringValue != "ok" {
            received.problem = reply.failure?.message ?? "item \(plan.item): not extracted"
            return received
        }
        let entry = outcome?["entries"]?.arrayValue?.first?.integerValue.map { UInt64($0) }
        guard let written, received.problem == nil, outcome?["sha256"]?.stringValue == plan.sha256.hex, let entry else {
            received.problem =
                "item \(plan.item): the daemon recorded the extraction (entry "
                + "\(entry.map { "\($0)" } ?? "?")), but the \(count) bytes received "
                + (found.map { "have the SHA-256 \($0.hex)" } ?? "did not end")
                + " (sealed: \(plan.size) bytes, \(plan.sha256.hex)); the file is not kept"
            return received
        }
        received.written = written
        received.temporary = nil
        received.entry = entry
        return received
    }
}
