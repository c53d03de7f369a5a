import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault
import Logging

extension ServiceOperation {
    /// Handing items over to another node: `plan: true` checks the call (nothing recorded);
    /// otherwise the handover file is built, recorded and its bytes streamed
    /// (`CustodyService.transfer(_:as:open:)`, the daemon's socket only).
    public static let transfer = ServiceOperation(name: "transfer", action: .transfer, records: true)
}

/// Where the daemon sends a handover file's bytes once its transfer is recorded: its socket's
/// stream, whose client writes them into the file it declared.
public protocol HandoverSink: AnyObject {
    /// The next bytes of the file. An error stops the sending (the client went away).
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension CustodyService {
    /// `transfer` with `plan: true` (`items`, `to`, `reason`, `examiner?`): the items resolved,
    /// the recipient, the reason and the examiner checked (`CustodySession.checkTransfer`), the
    /// node's key at hand, nothing built or recorded: `{"items": [item]}`. The client checks its
    /// output before it asks for the handover.
    func transferPlan(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        guard try arguments.bool("plan") == true else {
            throw ServiceFailure(
                .badRequest,
                "transfer: the handover file is streamed by the daemon's socket (give plan: true to check the call)")
        }
        let session = try custody.session(readOnly: true)
        let records = try session.checkTransfer(
            try transferredItems(arguments, session: session), to: try arguments.string("to"),
            reason: try arguments.string("reason"))
        _ = try vault.signer()  // a missing or exposed key refuses the transfer before anything is built
        return ServiceReply(result: .object(["items": .array(records.map(\.json))]))
    }

    private func transferredItems(_ arguments: Arguments, session: CustodySession) throws -> [ItemRecord] {
        let texts = try arguments.strings("items")
        guard !texts.isEmpty else { throw ServiceFailure(.badRequest, "transfer: items is missing") }
        return try texts.map { try session.resolveItem($0) }
    }

    /// `transfer` with its handover file streamed (`items`, `to`, `reason`, `output`: the
    /// absolute path of the file the client writes, as bytes; `examiner?`). The role check and
    /// the checks of the call are `perform`'s (`plan: true`; a refusal is recorded there). Then
    /// the shared workflow (`CustodySession.transfer`) builds the handover, as the service
    /// account, into a temporary in the vault's `tmp/` (the daemon never writes into the
    /// caller's folder), re-hashing every archive before anything is recorded, and records the
    /// `transferred` event for the caller, naming `output` as its file. Only then is `open`
    /// given the file's header and returns the sink its bytes go to (the daemon: its socket's
    /// stream); the temporary is removed in every case.
    ///
    /// The reply is the call's: before `open`, why nothing was recorded; after, the recorded
    /// transfer (`{items, entries, event, handover, checkpoint, file, size, sha256}`, the
    /// stream's trailer), with a failure when the bytes could not all be sent: the record
    /// stands, and a new `transfer` makes a new handover.
    public func transfer<Sink: HandoverSink>(
        _ call: ServiceCall, as caller: Caller, open: (TransferHeader) throws -> Sink
    ) -> ServiceReply {
        let arguments = Arguments(call.arguments, operation: .transfer)
        guard let output = call.arguments["output"]?.byteStringValue, output.first == UInt8(ascii: "/"),
            output.count <= 4096, !output.contains(0)
        else {
            return ServiceReply(
                failure: ServiceFailure(
                    .badRequest,
                    "transfer: output (the absolute path of the file the client writes, at most 4096 bytes, no NUL) is missing or not absolute"
                ))
        }
        var planning = call.arguments
        planning["plan"] = .bool(true)
        let planned = perform(ServiceCall(.transfer, planning), as: caller)
        if planned.failure != nil { return planned }

        let granting = grantingGroups(.transfer, caller: caller) ?? []
        let temporary: RawPath
        do {
            try FileSystem.makeDirectory(vault.temporaryPath)
            // Calls run side by side on the daemon's threads: each temporary has a name of its own.
            temporary = vault.temporaryPath.appending(
                Vault.temporaryName("transfer-\(Hex.encode(try SecureRandom.bytes(8))).tar"))
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
        defer { FileSystem.remove(temporary) }

        let session: CustodySession
        let receipt: TransferReceipt
        let records: [ItemRecord]
        do {
            let custody = Custody(
                vault: vault,
                actor: caller.actor(examiner: try arguments.optionalString("examiner"), grantingGroups: granting),
                tool: tool, logger: logger)
            session = try custody.session()
            records = try transferredItems(arguments, session: session)
            receipt = try session.transfer(
                records, to: try arguments.string("to"), reason: try arguments.string("reason"), output: temporary,
                recordedAs: RawPath(bytes: output))
        } catch let error as CustodyError {
            // As the command in process (`handoverFailure`): exit 1 only when bytes are not those
            // recorded or signed; an archive missing from the vault is the vault's failure (exit 2).
            let code: ServiceFailure.Code =
                switch error.code {
                case .altered: .faultFound
                case .missing: .failed
                default: Self.failure(for: error).code
                }
            return ServiceReply(failure: ServiceFailure(code, error.description))
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }

        // Recorded: from here on the reply says so, whatever becomes of the bytes.
        let entries = receipt.event.entries
        let recordedItems = entries.compactMap { entry in records.first { $0.item == entry.item } }
        var extra: JSONObject = [
            "handover": .string(receipt.document.hex), "checkpoint": .integer(Int64(receipt.checkpointSize)),
            "file": .byteString(output),
        ]
        do {
            let header = try sendHandover(temporary, declared: output, open: open)
            extra["size"] = .integer(Int64(clamping: header.size))
            extra["sha256"] = .string(header.sha256.hex)
            return recorded(receipt.event, items: recordedItems, session: session, extra: extra)
        } catch {
            let numbers = entries.map { "\($0.sequence)" }.joined(separator: ", ")
            logger.warning(
                "a recorded handover was not delivered",
                metadata: ["entries": "\(numbers)", "account": "\(caller.account)", "error": "\(error)"])
            var reply = recorded(receipt.event, items: recordedItems, session: session, extra: extra)
            reply.failure = ServiceFailure(
                .failed,
                "\(DisplayName.escape(output)): the transfer is recorded (entries \(numbers)), but the handover file "
                    + "was not sent whole: \(error); the record stands, a new custos transfer makes a new handover")
            return reply
        }
    }

    /// Sends the handover file `temporary` to the sink `open` gives for its header: the file is
    /// hashed first (the header names its size and SHA-256), then read again in chunks, at most
    /// 1 MiB held at once whatever its size, and re-hashed as it is sent: bytes that changed in
    /// between are not passed off as those named. Returns the header sent.
    private func sendHandover<Sink: HandoverSink>(
        _ temporary: RawPath, declared: [UInt8], open: (TransferHeader) throws -> Sink
    ) throws -> TransferHeader {
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
        let header = TransferHeader(file: declared, size: size, sha256: sha256)
        let sink = try open(header)
        let sent = try eachChunk { chunk in try sink.write(chunk) }
        guard sent == (size, sha256) else {
            throw ServiceFailure(
                .faultFound, "the handover file changed while it was sent (\(sent.size) bytes, \(sent.sha256.hex))")
        }
        return header
    }
}
