import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault
import Logging

/// Where the daemon sends the bytes of a file it built and recorded (a handover, a court
/// bundle): its socket's stream, whose client writes them into the file it declared.
public protocol BuiltFileSink: AnyObject {
    /// The next bytes of the file. An error stops the sending (the client went away).
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

/// A file the daemon builds, records and streams, as its messages name it.
struct BuiltFileKind: Sendable {
    var operation: ServiceOperation
    /// The file, in messages ("the handover file").
    var file: String
    /// What is recorded, in messages ("the transfer").
    var recorded: String
    /// What makes another ("a new custos transfer makes a new handover").
    var again: String
    /// What the daemon's log says when the file was not sent whole.
    var undelivered: String

    static let handover = BuiltFileKind(
        operation: .transfer, file: "the handover file", recorded: "the transfer",
        again: "a new custos transfer makes a new handover", undelivered: "a recorded handover was not delivered")
    static let bundle = BuiltFileKind(
        operation: .bundle, file: "the bundle", recorded: "the export",
        again: "a new custos export makes a new bundle", undelivered: "a recorded bundle was not delivered")
}

/// What the shared workflow built and recorded: the event, the items, the session it was
/// recorded in, and what the reply says besides.
struct BuiltFile {
    var event: RecordedEvent
    var items: [ItemRecord]
    var session: CustodySession
    var extra: JSONObject
}

extension CustodyService {
    /// A call whose file the daemon builds, records and streams (`transfer`, `bundle`), written
    /// once: `output` (the absolute path of the file the client writes, as bytes) checked; the
    /// role check and the checks of the call `perform`'s (`plan: true`; a refusal is recorded
    /// there); then `build` (the shared workflow) writes the file, as the service account, to a
    /// new temporary in the vault's `tmp/` (the daemon never writes into the caller's folder)
    /// and records the event for the caller, naming `output` as its file. Only then is `open`
    /// given the file's header and returns the sink its bytes go to (the daemon: its socket's
    /// stream); the temporary is removed in every case.
    ///
    /// The reply is the call's: before `open`, why nothing was recorded; after, the recorded
    /// event (`{items, entries, event, file, size, sha256, …extra}`, the stream's trailer), with
    /// a failure when the bytes could not all be sent: the record stands.
    func streamBuiltFile<Sink: BuiltFileSink>(
        _ call: ServiceCall, as caller: Caller, kind: BuiltFileKind, open: (BuiltFileHeader) throws -> Sink,
        build: (Custody, Arguments, _ temporary: RawPath, _ output: [UInt8]) throws -> BuiltFile
    ) -> ServiceReply {
        let operation = kind.operation
        let arguments = Arguments(call.arguments, operation: operation)
        guard let output = call.arguments["output"]?.byteStringValue, output.first == UInt8(ascii: "/"),
            output.count <= 4096, !output.contains(0)
        else {
            return ServiceReply(
                failure: ServiceFailure(
                    .badRequest,
                    "\(operation): output (the absolute path of the file the client writes, at most 4096 bytes, no NUL) is missing or not absolute"
                ))
        }
        var planning = call.arguments
        planning["plan"] = .bool(true)
        let planned = perform(ServiceCall(operation, planning), as: caller)
        if planned.failure != nil { return planned }

        let temporary: RawPath
        do {
            try FileSystem.makeDirectory(vault.temporaryPath)
            // Calls run side by side on the daemon's threads: each temporary has a name of its own.
            temporary = vault.temporaryPath.appending(
                Vault.temporaryName("\(operation)-\(Hex.encode(try SecureRandom.bytes(8))).tar"))
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
        // The workflow writes `temporary` as a file of its own beside it (`.NAME.<writer>-part`),
        // recorded, then renamed to `temporary`. It removes that file itself when it fails before
        // recording; once recorded it keeps it when the rename fails (a file the caller named is
        // then still there, named in the message). In the daemon's `tmp/` no caller can reach it:
        // it goes too, on every path, or it would stay until the daemon restarts (a live writer's
        // temporaries are kept).
        defer {
            FileSystem.remove(temporary)
            _ = Self.removeRecordedPartials(of: temporary)
        }

        let built: BuiltFile
        do {
            let custody = Custody(
                vault: vault,
                actor: caller.actor(
                    examiner: try arguments.optionalString("examiner"),
                    grantingGroups: grantingGroups(operation, caller: caller)),
                tool: tool, logger: logger)
            built = try build(custody, arguments, temporary, output)
        } catch {
            // A partial file left means the event was recorded and the file could not take its
            // name in `tmp/` (the workflow removes it on every failure before recording).
            guard Self.removeRecordedPartials(of: temporary) else {
                return ServiceReply(failure: Self.failure(for: error))
            }
            logger.warning("\(kind.undelivered)", metadata: ["account": "\(caller.account)", "error": "\(error)"])
            return ServiceReply(
                failure: ServiceFailure(
                    .failed,
                    "\(DisplayName.escape(output)): \(kind.recorded) is recorded, but \(kind.file) could not be made "
                        + "ready to send in the daemon's tmp/ (\(error)); it was removed, nothing was sent; "
                        + "the record stands, \(kind.again)"))
        }

        // Recorded: from here on the reply says so, whatever becomes of the bytes.
        let entries = built.event.entries
        let items = entries.compactMap { entry in built.items.first { $0.item == entry.item } }
        var extra = built.extra
        extra["file"] = .byteString(output)
        do {
            let header = try sendBuiltFile(temporary, declared: output, open: open)
            extra["size"] = .integer(Int64(clamping: header.size))
            extra["sha256"] = .string(header.sha256.hex)
            return recorded(built.event, items: items, session: built.session, extra: extra)
        } catch {
            let numbers = entries.map { "\($0.sequence)" }.joined(separator: ", ")
            logger.warning(
                "\(kind.undelivered)",
                metadata: ["entries": "\(numbers)", "account": "\(caller.account)", "error": "\(error)"])
            var reply = recorded(built.event, items: items, session: built.session, extra: extra)
            reply.failure = ServiceFailure(
                .failed,
                "\(DisplayName.escape(output)): \(kind.recorded) is recorded (entries \(numbers)), but \(kind.file) "
                    + "was not sent whole: \(error); the record stands, \(kind.again)")
            return reply
        }
    }

    /// Removes the files in `temporary`'s folder that the workflow made for it (named
    /// `.NAME.…`: `HeldDirectory.createTemporary`); whether there was one. Its name is this call's
    /// alone (a random part), so no other call's file is touched.
    static func removeRecordedPartials(of temporary: RawPath) -> Bool {
        let prefix = Array(".".utf8) + temporary.lastComponent + Array(".".utf8)
        var removed = false
        for name in (try? FileSystem.listDirectory(temporary.parent)) ?? [] where name.starts(with: prefix) {
            FileSystem.remove(temporary.parent.appending(component: name))
            removed = true
        }
        return removed
    }

    /// Sends the file `temporary` to the sink `open` gives for its header: the file is hashed
    /// first (the header names its size and SHA-256), then read again in chunks, at most 1 MiB
    /// held at once whatever its size, and re-hashed as it is sent: bytes that changed in
    /// between are not passed off as those named. Returns the header sent.
    private func sendBuiltFile<Sink: BuiltFileSink>(
        _ temporary: RawPath, declared: [UInt8], open: (BuiltFileHeader) throws -> Sink
    ) throws -> BuiltFileHeader {
        let file = try FileSystem.openForReading(temporary)
        file.adviseSequential()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        func eachChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> (size: UInt64, sha256: Hash) {
            try file.rewind()
            let digest = MessageDigest(.sha256)
            var size: UInt64 = 0
            while true {
                let count = try file.read(into: buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                digest.update(chunk)
                size += UInt64(count)
                try body(chunk)
            }
            return (size, digest.finishHash())
        }
        let (size, sha256) = try eachChunk { _ in }
        let header = BuiltFileHeader(file: declared, size: size, sha256: sha256)
        let sink = try open(header)
        let sent = try eachChunk { chunk in try sink.write(chunk) }
        guard sent == (size, sha256) else {
            throw ServiceFailure(
                .faultFound, "the file changed while it was sent (\(sent.size) bytes, \(sent.sha256.hex))")
        }
        return header
    }
}
