import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosVault
import Foundation

extension ServiceOperation {
    /// Sealing a file whose bytes are the request's body (`custos ingest` through the daemon):
    /// the daemon's socket only.
    public static let ingest = ServiceOperation(name: "ingest", action: .drop, records: true)
    /// Receiving a handover file that is the request's body (`custos receive` through the
    /// daemon): the daemon's socket only.
    public static let receive = ServiceOperation(name: "receive", action: .transfer, records: true)

    /// The operations whose body is bytes (an upload), not arguments: their arguments travel in
    /// the `Custos-Arguments` header (`UploadArguments`).
    public static let uploads: [ServiceOperation] = [.ingest, .receive]
}

/// The arguments of an upload, which cannot be its body: a header holding the canonical JSON
/// object, base64-encoded (Docs/Protocol.md).
public enum UploadArguments {
    public static let header = "Custos-Arguments"
    /// The largest header value read (a description, a reason and a path fit with room to spare).
    public static let maximumLength = 64 << 10

    public static func encode(_ arguments: JSONObject) -> String {
        Data(CanonicalJSON.encode(.object(arguments))).base64EncodedString()
    }

    public static func decode(_ value: String, operation: ServiceOperation) throws -> JSONObject {
        guard value.utf8.count <= maximumLength, let bytes = Data(base64Encoded: value),
            let json = try? CanonicalJSON.parse(Array(bytes)), case .object(let object) = json
        else {
            throw ServiceFailure(
                .badRequest,
                "\(operation): the \(header) header must hold a JSON object, base64-encoded, of at most \(maximumLength) characters"
            )
        }
        return object
    }
}

/// What the sender of a file declares of it (its own `fstat`, taken on the descriptor it sends
/// from): the manifest records these facts as the original's, and says they are declared.
public struct DeclaredFile: Sendable {
    /// The file's absolute path on the sender's side.
    public var path: RawPath
    public var status: FileStatus

    public init(path: RawPath, status: FileStatus) {
        self.path = path
        self.status = status
    }

    public var json: JSONValue {
        func time(_ time: FileStatus.Time) -> JSONValue {
            .array([.integer(time.seconds), .integer(time.nanoseconds)])
        }
        let safe = UInt64(CanonicalJSON.maxSafeInteger)
        return .object([
            "path": .byteString(path.bytes), "size": .integer(status.size), "mode": .integer(Int64(status.mode)),
            "uid": .integer(Int64(status.uid)), "gid": .integer(Int64(status.gid)),
            "inode": .integer(Int64(min(status.inode, safe))), "device": .integer(Int64(min(status.device, safe))),
            "links": .integer(Int64(status.linkCount)), "mtime": time(status.modificationTime),
            "ctime": time(status.changeTime), "atime": time(status.accessTime),
        ])
    }

    /// Reads a declaration; a member missing, of the wrong type or out of range is a bad request.
    public init(json: JSONValue?, operation: ServiceOperation) throws {
        func bad(_ what: String) -> ServiceFailure {
            ServiceFailure(.badRequest, "\(operation): original: \(what)")
        }
        guard let object = json?.objectValue else { throw bad("missing (the file's path and status)") }
        func integer(_ key: String, _ range: ClosedRange<Int64>) throws -> Int64 {
            guard let value = object[key]?.integerValue, range.contains(value) else {
                throw bad("\(key) is missing or out of range")
            }
            return value
        }
        func time(_ key: String) throws -> FileStatus.Time {
            guard let parts = object[key]?.arrayValue, parts.count == 2, let seconds = parts[0].integerValue,
                let nanoseconds = parts[1].integerValue, (0..<1_000_000_000).contains(nanoseconds),
                seconds > -(1 << 40), seconds < 1 << 40
            else { throw bad("\(key) must be [seconds, nanoseconds]") }
            return timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds))
        }
        // An absolute path of named components: no `.`, `..` or empty component (a path that
        // says where the file is, not one that walks about).
        guard let path = object["path"]?.byteStringValue, path.first == UInt8(ascii: "/"), path.count <= 4096,
            !path.contains(0),
            path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst().allSatisfy({
                !$0.isEmpty && Array($0) != [UInt8(ascii: ".")] && Array($0) != Array("..".utf8)
            })
        else {
            throw bad(
                "path must be the file's absolute path (at most 4096 bytes, no NUL, no empty, . or .. component)")
        }
        let maximum = CanonicalJSON.maxSafeInteger
        let mode = try integer("mode", 0...0o177777)
        guard UInt32(mode) & UInt32(S_IFMT) == UInt32(S_IFREG) else { throw bad("mode is not a regular file's") }
        self.init(
            path: RawPath(bytes: path),
            status: FileStatus(
                device: UInt64(try integer("device", 0...maximum)), inode: UInt64(try integer("inode", 0...maximum)),
                mode: UInt32(mode), linkCount: UInt64(try integer("links", 0...maximum)),
                uid: UInt32(try integer("uid", 0...Int64(UInt32.max))),
                gid: UInt32(try integer("gid", 0...Int64(UInt32.max))), size: try integer("size", 0...maximum),
                accessTime: try time("atime"), modificationTime: try time("mtime"), changeTime: try time("ctime")))
    }
}

/// An upload's bytes as the daemon received them: a temporary in the vault's `tmp/`, which the
/// daemon removes after the call.
public struct ReceivedUpload: Sendable {
    /// The temporary's name in `Vault.temporaryPath`.
    public var name: [UInt8]
    public var size: Int64

    public init(name: [UInt8], size: Int64) {
        self.name = name
        self.size = size
    }
}

extension CustodyService {
    /// The checks of an upload's call before a byte of its body is taken: its arguments, then
    /// the caller's role (a refusal recorded as any other). Nil when the body may come.
    public func admit(_ call: ServiceCall, as caller: Caller) -> ServiceReply? {
        do {
            try checkUploadArguments(call)
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
        guard grantingGroups(call.operation.action, caller: caller) != nil else { return refuse(call, caller: caller) }
        return nil
    }

    private func checkUploadArguments(_ call: ServiceCall) throws {
        let arguments = Arguments(call.arguments, operation: call.operation)
        _ = try arguments.optionalString("examiner")
        switch call.operation {
        case .ingest:
            _ = try DeclaredFile(json: call.arguments["original"], operation: .ingest)
            for key in ["case", "exhibit", "description"] { _ = try arguments.optionalString(key) }
            _ = try arguments.bool("checkpoint")
        case .receive:
            _ = try arguments.optionalString("reason")
            guard let file = call.arguments["file"]?.byteStringValue, !file.isEmpty, file.count <= 4096 else {
                throw ServiceFailure(
                    .badRequest, "receive: file (the handover file's name, as the sender has it) is missing")
            }
        default:
            throw ServiceFailure(.badRequest, "\(call.operation): not an upload")
        }
    }

    /// `ingest`: seals the upload's bytes (the shared workflow: one pass, the archive and the
    /// manifest placed durably, the `sealed` entry and its stamp, then a signed checkpoint,
    /// unless `checkpoint: false` says the seal is one of a batch whose last one signs) for
    /// the caller the kernel named. The manifest records the declared file (`DeclaredFile`) as
    /// the original and the sender in its `upload` member; the entry names the caller. The
    /// sealing runs outside the recording gate (only the append is behind it), so a large file
    /// does not hold up others' calls.
    public func ingest(_ call: ServiceCall, as caller: Caller, upload: ReceivedUpload) -> ServiceReply {
        guard let granting = grantingGroups(.drop, caller: caller) else { return refuse(call, caller: caller) }
        do {
            try checkUploadArguments(call)
            let arguments = Arguments(call.arguments, operation: .ingest)
            let declared = try DeclaredFile(json: call.arguments["original"], operation: .ingest)
            let custody = Custody(
                vault: vault,
                actor: caller.actor(examiner: try arguments.optionalString("examiner"), grantingGroups: granting),
                tool: tool, logger: logger)
            let session = try custody.session()
            try session.prepareToRecord()
            var request = SealRequest(
                path: declared.path, caseID: try arguments.optionalString("case") ?? "",
                exhibit: try arguments.optionalString("exhibit") ?? "",
                examiner: try arguments.optionalString("examiner") ?? "",
                description: try arguments.optionalString("description") ?? "")
            request.confined = (ConfinedDirectory(vault.temporaryPath), [upload.name])
            request.upload = UploadSource(
                original: declared.status, account: caller.account, uid: caller.uid, pid: caller.pid ?? 0)
            let sealed: SealedEvidence
            do {
                sealed = try custody.station().seal(request)
            } catch let error as SealingError {
                throw Self.failure(for: error, file: declared.path)
            }
            var notes = [String]()
            if let failure = sealed.stampFailure {
                notes.append("\(declared.path): sealed, but not time-stamped: \(failure)")
            }
            return try recording.run {
                let receipt = try session.record([sealed])[0]
                var result: JSONObject = [
                    "item": .string(sealed.item), "entry": .integer(Int64(receipt.entry.sequence)),
                    "sha256": .string(sealed.pending.digests.sha256.hex), "size": .integer(Int64(sealed.pending.size)),
                    "shared": .bool(sealed.pending.deduplicated), "name": .byteString(declared.path.bytes),
                ]
                if let stamp = receipt.stampEntry { result["stampEntry"] = .integer(Int64(stamp.sequence)) }
                var failure: ServiceFailure?
                // One of a batch (`checkpoint: false`): the batch's last seal, or the daemon's
                // next checkpoint, covers it.
                if try arguments.bool("checkpoint") == false {
                    return ServiceReply(result: .object(result), notes: notes)
                }
                do {
                    let checkpoint = try Checkpoint(parsing: try session.checkpoint().text)
                    result["checkpoint"] = .object([
                        "size": .integer(Int64(checkpoint.size)), "root": .string(checkpoint.root.base64),
                    ])
                } catch {
                    failure = ServiceFailure(
                        .uncovered,
                        "\(declared.path): sealed (entry \(receipt.entry.sequence)), but signing the checkpoint failed; `custos checkpoint --sign` covers it: \(error)",
                        exitCode: 2)
                }
                return ServiceReply(result: .object(result), failure: failure, notes: notes)
            }
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
    }

    /// `receive`: the shared workflow (`CustodySession.receive`) over the upload's bytes, for
    /// the caller the kernel named; messages and the details document name the file as its
    /// sender does. Behind the recording gate: its checks and its entries are one step.
    public func receive(_ call: ServiceCall, as caller: Caller, upload: ReceivedUpload) -> ServiceReply {
        guard let granting = grantingGroups(.transfer, caller: caller) else { return refuse(call, caller: caller) }
        do {
            try checkUploadArguments(call)
            let arguments = Arguments(call.arguments, operation: .receive)
            let shown = RawPath(bytes: call.arguments["file"]?.byteStringValue ?? [])
            let custody = Custody(
                vault: vault,
                actor: caller.actor(examiner: try arguments.optionalString("examiner"), grantingGroups: granting),
                tool: tool, logger: logger)
            return try recording.run {
                let session = try custody.session()
                _ = try vault.signer()
                let receipt = try session.receive(
                    vault.temporaryPath.appending(component: upload.name), shown: shown,
                    reason: try arguments.optionalString("reason"))
                var notes = [String]()
                if let failure = receipt.stampFailure {
                    notes.append("\(shown): received, but not time-stamped by this node: \(failure)")
                }
                let entries: [JSONValue] = receipt.event.entries.map { entry in
                    var object: JSONObject = [
                        "item": .string(entry.item), "entry": .integer(Int64(entry.sequence)),
                        "shared": .bool(receipt.shared.contains(entry.item)),
                    ]
                    if let sha256 = entry.digests?.sha256 { object["sha256"] = .string(sha256.hex) }
                    if let from = entry.details["fromIndex"]?.integerValue { object["fromIndex"] = .integer(from) }
                    return .object(object)
                }
                var failure: ServiceFailure?
                if let first = session.uncoveredSince {
                    failure = ServiceFailure.uncovered(since: first)
                }
                return ServiceReply(
                    result: .object(["origin": .string(receipt.origin), "entries": .array(entries)]), failure: failure,
                    notes: notes)
            }
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
    }

    /// The failure a seal that did not happen gives: the file's fault (exit 2) or the vault's.
    static func failure(for error: SealingError, file: RawPath) -> ServiceFailure {
        switch error.code {
        case .storage, .noSpace: ServiceFailure(.failed, "storage fault: \(error)")
        default: ServiceFailure(.refused, "\(error)")
        }
    }
}
