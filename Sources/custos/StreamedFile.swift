import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosHTTP
import CustosOpenSSL
import CustosService

/// One file streamed by the daemon's socket (`extract`, `transfer`, `bundle`; Docs/Protocol.md),
/// received once for all three: the request sent, the header checked (`accept`), the bytes
/// written as they arrive into a new temporary in the caller's folder (`OutputFolder`:
/// `O_EXCL | O_NOFOLLOW`, 0600) and hashed, the temporary fsynced at the end frame when its size
/// and SHA-256 are the header's, the trailer read. Nothing here names the file: the caller
/// decides from the trailer whether to `place` it or `discard` its temporary.
struct StreamedFile<Header: StreamedFileHeader> {
    /// Whether the daemon began the stream (its header was sent).
    var streamed = false
    /// The daemon's reply: the trailer, or its answer when it sent no stream.
    var reply: ServiceReply?
    /// The header, once accepted.
    var header: Header?
    /// The temporary, synced, when its bytes are the size and SHA-256 the header named.
    var written: OutputFolder.WrittenFile?
    /// The temporary, while it exists (whether or not its bytes are whole).
    var temporary: [UInt8]?
    /// The bytes received, and their SHA-256 once they ended.
    var count: UInt64 = 0
    var found: Hash?
    /// Why the request or the stream failed (a sentence without the file's name).
    var problem: String?
    /// Whether the daemon sent more bytes than its header named.
    var tooMany = false

    /// Sends `operation` with `arguments` and receives its stream of content type `contentType`
    /// into `directory` (the temporary's name holds `label`). `accept` refuses a header that is
    /// not of the file asked for (by throwing).
    static func receive(
        socket: String, operation: ServiceOperation, arguments: JSONObject, contentType: String, timeout: Double,
        into directory: OutputFolder, label: String, accept: (Header) throws -> Void
    ) -> StreamedFile {
        var received = StreamedFile()
        var reader = ExtractionWire.StreamReader<Header>()
        var body = [UInt8]()
        var file: FileDescriptor?
        let digest = MessageDigest(.sha256)
        do {
            _ = try LocalSocketClient.send(
                socket: socket, method: "POST", path: "/v\(serviceProtocolVersion)/\(operation.name)",
                headers: [("Content-Type", "application/json")], body: CanonicalJSON.encode(.object(arguments)),
                timeout: timeout,
                head: { response in
                    received.streamed =
                        response.status == 200 && response.headers["content-type"] == contentType
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
                            try accept(header)
                            received.header = header
                            let (opened, temporary) = try directory.createTemporary(label)
                            file = opened
                            received.temporary = temporary
                        },
                        data: { chunk in
                            received.count += UInt64(chunk.count)
                            guard let header = received.header, received.count <= header.size, let file else {
                                received.tooMany = true
                                throw CLIError(message: "the daemon sent more bytes than its header named")
                            }
                            digest.update(chunk)
                            try file.write(chunk)
                        },
                        end: {
                            let sha256 = digest.finishHash()
                            received.found = sha256
                            if let header = received.header, received.count == header.size, sha256 == header.sha256,
                                let file, let temporary = received.temporary
                            {
                                received.written = try directory.written(file, temporary: temporary)
                            }
                            file = nil
                        },
                        trailer: { received.reply = $0 })
                })
            if received.streamed { try reader.finish() }
        } catch {
            received.problem = "\(error)"
        }
        file = nil
        if !received.streamed, received.problem == nil {
            if let value = try? CanonicalJSON.parse(body), let reply = try? ServiceReply(json: value) {
                received.reply = reply
            } else {
                received.problem =
                    "\(socket): the daemon's reply is not JSON: " + DisplayName.escape(Array(body.prefix(200)))
            }
        }
        return received
    }

    /// What the bytes received were, against what the header named (for messages).
    var bytesText: String {
        "the \(count) bytes received " + (found.map { "have the SHA-256 \($0.hex)" } ?? "did not end")
    }
}

/// A file the daemon builds and records before it streams it (`transfer`, `bundle`), as the
/// command's messages name it.
struct RecordedFileKind {
    var operation: ServiceOperation
    var contentType: String
    /// The temporary's label.
    var label: String
    /// "transferred", "exported".
    var done: String
    /// "the transfer", "the export".
    var recorded: String
    /// "the handover file", "the bundle".
    var file: String
    /// "a new custos transfer makes a new handover".
    var again: String

    static let handover = RecordedFileKind(
        operation: .transfer, contentType: ExtractionWire.transferContentType, label: "transfer",
        done: "transferred", recorded: "the transfer", file: "the handover file",
        again: "a new custos transfer makes a new handover")
    static let bundle = RecordedFileKind(
        operation: .bundle, contentType: ExtractionWire.bundleContentType, label: "bundle", done: "exported",
        recorded: "the export", file: "the bundle", again: "a new custos export makes a new bundle")
}

extension StreamedFile where Header == BuiltFileHeader {
    /// Asks the daemon for a file it builds and records (`kind`), declared as `declared` (an
    /// absolute path; `shown` is the path as the command was given it), and names it `name` in
    /// `directory` only when the trailer says it is recorded (`outcome` reads the trailer's
    /// result) and the bytes are those the header named; otherwise its temporary is removed and
    /// the error names the file and says what stands (exit 1 when the bytes were not those
    /// named, else 2, or the daemon's exit). Returns the outcome and the trailer.
    static func receiveRecorded<Outcome>(
        _ kind: RecordedFileKind, socket: String, arguments: JSONObject, declared: RawPath, shown: RawPath,
        into directory: OutputFolder, outcome read: (JSONValue?) -> Outcome?, entries: (Outcome) -> String
    ) throws -> (outcome: Outcome, reply: ServiceReply) {
        let received = receive(
            socket: socket, operation: kind.operation, arguments: arguments, contentType: kind.contentType,
            // The daemon re-hashes every archive before its first byte: as long a wait as a call
            // of the gateway.
            timeout: 24 * 3600, into: directory, label: kind.label
        ) { header in
            guard header.file == declared.bytes else {
                throw CLIError(message: "\(shown): the daemon's stream is not of the file declared")
            }
        }
        for note in received.reply?.notes ?? [] { Output.error("custos: \(note)") }
        let outcome = read(received.reply?.result)
        guard received.streamed else {
            // Refused before anything was recorded: the daemon's answer says why.
            if let problem = received.problem {
                throw CLIError(message: "\(shown): not \(kind.done): \(problem)", exitCode: 2)
            }
            let failure = received.reply?.failure ?? ServiceFailure(.failed, "the daemon sent no file")
            throw CLIError(message: failure.message, exitCode: failure.exitCode == 1 ? 1 : 2)
        }
        // The daemon records the file before it sends a byte: from here on it is recorded, and a
        // file that is not kept is said to be missing from a recorded one.
        let recorded =
            outcome.map { "\(kind.recorded) is recorded (entries \(entries($0)))" }
            ?? "\(kind.recorded) is recorded (the daemon records it before it sends the file)"
        var altered = false
        let why: String?
        if let failure = received.reply?.failure, failure.code != .uncovered {
            why = failure.message
        } else if received.reply == nil {
            why = "the daemon's stream ended before its outcome (\(received.problem ?? "cut"))"
        } else if let problem = received.problem {
            why = problem
            altered = received.tooMany
        } else if let header = received.header,
            received.written == nil || received.reply?.result?["sha256"]?.stringValue != header.sha256.hex
        {
            altered = true
            why = received.bytesText + ", not the \(header.size) bytes of SHA-256 \(header.sha256.hex) the daemon named"
        } else if received.header == nil {
            why = "the daemon's stream named no file"
        } else if outcome == nil {
            why = "the daemon's outcome cannot be read"
        } else {
            why = nil
        }
        guard why == nil, let outcome, let written = received.written, let reply = received.reply else {
            if let temporary = received.temporary { directory.discard(temporary) }
            throw CLIError(
                message: "\(shown): \(recorded), but \(kind.file) could not be written: "
                    + "\(why ?? "it did not arrive whole"); nothing was kept. The record stands; \(kind.again)",
                exitCode: altered ? 1 : 2)
        }
        try directory.place(
            written, as: declared.lastComponent, recorded: "\(kind.recorded) (entries \(entries(outcome)))")
        return (outcome, reply)
    }
}
