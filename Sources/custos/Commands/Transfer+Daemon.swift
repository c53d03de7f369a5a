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

        let received = receive(arguments, declared: declared, socket: socket, into: directory)
        for note in received.reply?.notes ?? [] { Output.error("custos: \(note)") }
        guard let written = received.written, let outcome = received.outcome else {
            if let temporary = received.temporary { directory.discard(temporary) }
            throw CLIError(
                message: received.problem ?? "\(output): not transferred", exitCode: received.altered ? 1 : 2)
        }
        do {
            try directory.place(written, as: name, recorded: "the transfer (entries \(outcome.entryList))")
        } catch let error as CustodyError {
            throw handoverFailure(error)
        }
        for (item, entry) in zip(outcome.items, outcome.entries) {
            Output.line("transferred \(item) entry \(entry)")
        }
        Output.line(
            "handover \(output) sha256 \(outcome.document) checkpoint \(outcome.checkpoint) "
                + "(\(outcome.entries.count) items)")
        if let failure = received.reply?.failure { throw failure.cliError }
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

    /// What the streamed request gave.
    private struct Received {
        /// The daemon's reply: the trailer, or its answer when it sent no file.
        var reply: ServiceReply?
        /// The recorded transfer, when the trailer says so.
        var outcome: RecordedTransfer?
        /// The temporary, synced, when its bytes are those the header named.
        var written: OutputFolder.WrittenFile?
        /// The temporary while it is not to be kept.
        var temporary: [UInt8]?
        var problem: String?
        /// Whether the bytes received are not those the daemon named (exit 1).
        var altered = false
    }

    private func receive(
        _ arguments: JSONObject, declared: RawPath, socket: String, into directory: OutputFolder
    ) -> Received {
        let output = RawArguments.raw(self.output)
        var received = Received()
        var streamed = false
        var reader = ExtractionWire.StreamReader<TransferHeader>()
        var body = [UInt8]()
        var header: TransferHeader?
        var file: FileDescriptor?
        var written: OutputFolder.WrittenFile?
        let digest = MessageDigest(.sha256)
        var count: UInt64 = 0
        var found: Hash?
        do {
            _ = try LocalSocketClient.send(
                socket: socket, method: "POST", path: "/v\(serviceProtocolVersion)/transfer",
                headers: [("Content-Type", "application/json")], body: CanonicalJSON.encode(.object(arguments)),
                // The daemon re-hashes every archive before its first byte: as long a wait as a
                // call of the gateway.
                timeout: 24 * 3600,
                head: { response in
                    streamed =
                        response.status == 200
                        && response.headers["content-type"] == ExtractionWire.transferContentType
                },
                receive: { bytes in
                    guard streamed else {
                        guard body.count + bytes.count <= 1 << 20 else {
                            throw CLIError(message: "\(socket): the daemon's reply is larger than 1 MiB")
                        }
                        body += bytes
                        return
                    }
                    try reader.consume(
                        bytes,
                        header: { named in
                            guard named.file == declared.bytes else {
                                throw CLIError(message: "\(output): the daemon's stream is not of the file declared")
                            }
                            header = named
                            let (opened, temporary) = try directory.createTemporary("transfer")
                            file = opened
                            received.temporary = temporary
                        },
                        data: { chunk in
                            count += UInt64(chunk.count)
                            guard let header, count <= header.size, let file else {
                                received.altered = true
                                throw CLIError(message: "the daemon sent more bytes than its header named")
                            }
                            digest.update(chunk)
                            try file.write(chunk)
                        },
                        end: {
                            let sha256 = digest.finishHash()
                            found = sha256
                            if let header, count == header.size, sha256 == header.sha256, let file,
                                let temporary = received.temporary
                            {
                                written = try directory.written(file, temporary: temporary)
                            }
                            file = nil
                        },
                        trailer: { received.reply = $0 })
                })
            if streamed { try reader.finish() }
        } catch {
            received.problem = "\(error)"
        }
        file = nil
        guard streamed else {
            // Refused before anything was recorded: the daemon's answer says why.
            if let problem = received.problem {
                received.problem = "\(output): not transferred: \(problem)"
            } else if let value = try? CanonicalJSON.parse(body), let reply = try? ServiceReply(json: value) {
                received.reply = reply
                let failure = reply.failure ?? ServiceFailure(.failed, "the daemon sent no handover file")
                received.problem = failure.message
                received.altered = failure.exitCode == 1
            } else {
                received.problem =
                    "\(socket): the daemon's reply is not JSON: " + String(decoding: body.prefix(200), as: UTF8.self)
            }
            return received
        }
        // The daemon records the transfer before it sends a byte: from here on it is recorded,
        // and a file that is not kept is said to be missing from a recorded handover.
        let outcome = RecordedTransfer(received.reply?.result)
        let recorded =
            outcome.map { "the transfer is recorded (entries \($0.entryList))" }
            ?? "the transfer is recorded (the daemon records it before it sends the file)"
        let why: String?
        if let failure = received.reply?.failure, failure.code != .uncovered {
            why = failure.message
        } else if received.reply == nil {
            why = "the daemon's stream ended before its outcome (\(received.problem ?? "cut"))"
        } else if let problem = received.problem {
            why = problem
        } else if let header, written == nil || received.reply?.result?["sha256"]?.stringValue != header.sha256.hex {
            received.altered = true
            why =
                "the \(count) bytes received "
                + (found.map { "have the SHA-256 \($0.hex)" } ?? "did not end")
                + ", not the \(header.size) bytes of SHA-256 \(header.sha256.hex) the daemon named"
        } else if header == nil {
            why = "the daemon's stream named no file"
        } else if outcome == nil {
            why = "the daemon's outcome cannot be read"
        } else {
            why = nil
        }
        if let why {
            received.problem =
                "\(output): \(recorded), but the handover file could not be written: \(why); nothing was kept. "
                + "The record stands; a new custos transfer makes a new handover"
            return received
        }
        received.outcome = outcome
        received.written = written
        received.temporary = nil
        return received
    }
}
