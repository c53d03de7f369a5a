import CustosFileSystem
import CustosFormats
import CustosLocalServer
import CustosOpenSSL
import CustosService
import CustosVault
import Foundation
import Synchronization

/// `ingest` and `receive` on the daemon's socket (Docs/Protocol.md): the request's body is the
/// file's bytes, its arguments are in the `Custos-Arguments` header. In order:
///
/// 1. the arguments and the caller's role are checked before the body is taken (at most what
///    the server has buffered, a few chunks, has been read: `CustodyService.admit`; a refusal
///    is recorded and the rest of the body is never read);
/// 2. the body is written, as it arrives, into a new temporary in the vault's `tmp/` (0600,
///    `O_EXCL`), by a thread of the upload's own, never a cooperative one; a body cut short
///    (the client gone, a length not the one declared, a stalled or trickling body cut by the
///    server) leaves nothing: the temporary is removed and nothing is recorded;
/// 3. the shared workflow runs on that thread over the temporary (`CustodyService.ingest`,
///    `.receive`), which is removed after it, whatever happened.
///
/// At most `maximumAtOnce` uploads are taken at once, `maximumPerAccount` of one account; more
/// are answered 503 before their body. An upload must give its length (`Content-Length`); one
/// that would leave less than twice its size and `reserve` free in the vault's file system is
/// refused before its body (`too-large`, 413).
enum UploadStreaming {
    static let maximumAtOnce = 4
    static let maximumPerAccount = 2
    /// Free space an upload must leave in the vault's file system.
    static let reserve: Int64 = 256 << 20
    /// Chunks are gathered to about this size before each write.
    static let writeSize = 1 << 20

    static func respond(
        _ request: LocalRequest, operation: ServiceOperation, body: LocalRequestBody, peer: PeerCredentials,
        service: CustodyService, threads: RequestThreads, slots: UploadSlots
    ) async -> LocalResponse {
        guard request.method == "POST" else {
            return SocketService.reply(
                ServiceReply(
                    failure: ServiceFailure(.badRequest, "\(operation): use POST with the file's bytes as the body")))
        }
        let arguments: JSONObject
        do {
            guard let header = request.header(UploadArguments.header) else {
                throw ServiceFailure(
                    .badRequest,
                    "\(operation): the arguments go in the \(UploadArguments.header) header (a JSON object, base64-encoded)"
                )
            }
            arguments = try UploadArguments.decode(header, operation: operation)
        } catch {
            return SocketService.reply(ServiceReply(failure: failure(error)))
        }
        let call = ServiceCall(operation, arguments)
        guard slots.take(for: peer.uid) else {
            return LocalResponse.error(
                status: 503, code: "busy",
                message:
                    "the daemon takes \(maximumAtOnce) uploads at once, \(maximumPerAccount) of one account, and has as many under way; try again shortly"
            )
        }
        defer { slots.give(for: peer.uid) }

        // The upload's own thread, at the daemon's priority: sealing bytes sent to the socket is
        // sealing, as the inbox's is (the request threads yield to both). Its checks run there
        // too, so calls that hold the request threads long (a large extraction) do not keep an
        // upload waiting at its start.
        let lane = RequestThreads(count: 1, name: "custos-upload", nice: nil)
        defer { lane.close() }
        let (caller, refusal) = await lane.run {
            let caller = Caller.peer(pid: peer.pid, uid: peer.uid, gid: peer.gid, groups: peer.groups)
            return (caller, service.admit(call, as: caller))
        }
        if let refusal { return SocketService.reply(refusal) }
        let vault = service.vault
        let length = body.declaredLength ?? 0
        let temporary: TemporaryUpload
        do {
            temporary = try await lane.run {
                Result {
                    // Room for the upload, the archive sealed from it, and a reserve: the vault's
                    // own writes (the ledger, checkpoints, the inbox's seals) must not be the ones
                    // that find the disk full.
                    let needed = length.multipliedReportingOverflow(by: 2).partialValue + reserve
                    if let available = FileSystem.availableBytes(vault.temporaryPath), available < needed {
                        throw ServiceFailure(
                            .tooLarge,
                            "\(operation): the vault has \(available >> 20) MiB free; an upload of \(length >> 20) MiB needs \(needed >> 20) MiB (twice its size and a reserve of \(reserve >> 20) MiB); nothing was taken"
                        )
                    }
                    return try TemporaryUpload(in: vault)
                }
            }.get()
        } catch {
            return SocketService.reply(ServiceReply(failure: failure(error)))
        }
        let received: ReceivedUpload
        do {
            received = try await receive(body, into: temporary, lane: lane)
        } catch {
            await lane.run { temporary.remove() }
            return SocketService.reply(ServiceReply(failure: failure(error)))
        }
        let reply = await lane.run {
            defer { temporary.remove() }
            return operation == .ingest
                ? service.ingest(call, as: caller, upload: received)
                : service.receive(call, as: caller, upload: received)
        }
        return SocketService.reply(reply)
    }

    /// Writes the body into `temporary` as it arrives, gathered into writes of about
    /// `writeSize`, each on `lane`.
    private static func receive(
        _ body: LocalRequestBody, into temporary: TemporaryUpload, lane: RequestThreads
    ) async throws -> ReceivedUpload {
        var gathered = [UInt8]()
        gathered.reserveCapacity(writeSize + (64 << 10))
        var size: Int64 = 0
        do {
            for try await chunk in body {
                gathered += chunk
                size += Int64(chunk.count)
                if gathered.count >= writeSize {
                    let batch = gathered
                    try await lane.run { Result { try temporary.write(batch) } }.get()
                    gathered.removeAll(keepingCapacity: true)
                }
            }
        } catch let error as ServiceFailure {
            throw error
        } catch {
            throw ServiceFailure(.badRequest, "the upload did not arrive whole (nothing was recorded): \(error)")
        }
        let batch = gathered
        try await lane.run { Result { try temporary.write(batch) } }.get()
        return ReceivedUpload(name: temporary.name, size: size)
    }

    private static func failure(_ error: any Error) -> ServiceFailure {
        if let error = error as? ServiceFailure { return error }
        return ServiceFailure(.failed, "storage fault: the upload could not be kept (nothing was recorded): \(error)")
    }
}

/// An upload's temporary in the vault's `tmp/`: created new (`O_EXCL`, 0600), written by one
/// thread at a time. Its name is tagged with this process, so a daemon that dies leaves nothing
/// its next start does not remove. Sendable: its descriptor is used by the upload's own thread
/// alone.
final class TemporaryUpload: @unchecked Sendable {
    let path: RawPath
    let name: [UInt8]
    private let file: FileDescriptor

    init(in vault: Vault) throws {
        let random = Hex.encode(try SecureRandom.bytes(8))
        let name = Vault.temporaryName("upload-\(random)")
        self.name = Array(name.utf8)
        try FileSystem.makeDirectory(vault.temporaryPath)
        path = vault.temporaryPath.appending(name)
        file = try FileSystem.createExclusive(path, mode: 0o600)
    }

    func write(_ bytes: [UInt8]) throws {
        do {
            try file.write(bytes)
        } catch {
            throw ServiceFailure(.failed, "storage fault: the vault's tmp/ cannot take the upload: \(error)")
        }
    }

    func remove() { FileSystem.remove(path) }
}

/// How many uploads are under way: at most `UploadStreaming.maximumAtOnce`, and
/// `UploadStreaming.maximumPerAccount` of one account.
final class UploadSlots: Sendable {
    private struct Taken {
        var all = 0
        var byAccount = [UInt32: Int]()
    }
    private let taken = Mutex(Taken())

    func take(for uid: UInt32) -> Bool {
        taken.withLock { taken in
            let own = taken.byAccount[uid] ?? 0
            guard taken.all < UploadStreaming.maximumAtOnce, own < UploadStreaming.maximumPerAccount else {
                return false
            }
            taken.all += 1
            taken.byAccount[uid] = own + 1
            return true
        }
    }

    func give(for uid: UInt32) {
        taken.withLock { taken in
            taken.all -= 1
            let own = (taken.byAccount[uid] ?? 1) - 1
            taken.byAccount[uid] = own > 0 ? own : nil
        }
    }
}
