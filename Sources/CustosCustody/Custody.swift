import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosVault
import Logging

/// The one way to act on evidence: every command and the daemon's services drive it, none
/// writes its own copy of a workflow. It hands out the two things that do the work:
///
/// - a `SealingStation` per sealing thread: one pass over a file and the node's time stamp, on
///   the caller's thread, with nothing recorded yet (the daemon runs one per worker);
/// - a `CustodySession` per ledger connection: records what was sealed (one file, or a batch
///   made durable with one sync), signs and stamps checkpoints, and records every other custody
///   event (verified, extracted, exported, annotated, transferred, received).
///
/// The daemon's batching is a parameter of that one path: `SealingStation.seal(_:durability:)`
/// with `.batch`, then `CustodySession.record(_:sync:)` over the batch.
public struct Custody: Sendable {
    public let vault: Vault
    /// Who acts: recorded in every entry (the account) and in the details and manifests.
    public let actor: CustodyActor
    /// The host and tool recorded in manifests.
    public let context: SealingContext
    public let logger: Logger

    public init(vault: Vault, actor: CustodyActor, tool: String, logger: Logger = Logger(label: "custos.custody")) {
        self.vault = vault
        self.logger = logger
        self.actor = actor
        self.context = SealingContext(
            host: ThisProcess.hostName, operatorName: actor.account, operatorUID: actor.uid, tool: tool,
            verifiedActor: actor.verification == .kernel ? actor.json : nil)
    }

    /// A station for the calling thread (each holds its own signing context of the node's TSA).
    public func station() throws -> SealingStation {
        try SealingStation(custody: self)
    }

    /// A station that seals without stamps: the daemon's workers, when the node's TSA cannot be
    /// loaded, go on sealing (the items await their stamps) rather than stop.
    public func unstampedStation() -> SealingStation {
        SealingStation(custody: self, stamper: nil)
    }

    /// A session over a ledger connection of its own; read-only for commands that record nothing.
    public func session(readOnly: Bool = false, cacheKiB: Int = 65536) throws -> CustodySession {
        try CustodySession(custody: self, ledger: try vault.openLedger(readOnly: readOnly, cacheKiB: cacheKiB))
    }

    /// A session over a ledger connection the caller keeps between sessions (the daemon's
    /// read-only connections, reused from call to call).
    public func session(on ledger: Ledger) throws -> CustodySession {
        try CustodySession(custody: self, ledger: ledger)
    }
}

/// How the account that acted is known: from the kernel (the peer credentials of the daemon's
/// socket: the caller cannot choose them), or as the process that recorded the event runs
/// (a command on a vault its account owns, the daemon's own seals).
public enum ActorVerification: String, Sendable, Equatable {
    /// The daemon read the caller's uid, gid and groups from its socket (`SO_PEERCRED`,
    /// `SO_PEERGROUPS`).
    case kernel
    /// The recording process's own account.
    case process
}

/// Who acts on evidence. `account` is the operating-system account the kernel names for the
/// process or the socket's caller (never a name the caller supplies); `examiner` is the name a
/// handler gives with `--examiner`, kept in details documents, never in entries (entries are
/// mirrored).
public struct CustodyActor: Sendable, Equatable {
    public var account: String
    public var uid: UInt32
    public var examiner: String?
    /// How `account` and `uid` are known.
    public var verification: ActorVerification
    /// The groups whose role granted the action (a socket caller's), kept in details documents.
    public var grantingGroups: [String]
    /// The caller's process, as the kernel named it when it connected (a socket caller's).
    public var pid: Int32?

    public init(
        account: String, uid: UInt32, examiner: String? = nil, verification: ActorVerification = .process,
        grantingGroups: [String] = [], pid: Int32? = nil
    ) {
        self.account = account
        self.uid = uid
        self.examiner = examiner
        self.verification = verification
        self.grantingGroups = grantingGroups
        self.pid = pid
    }

    /// The account this process runs as.
    public static func current(examiner: String? = nil) -> CustodyActor {
        let uid = ThisProcess.effectiveUserID
        return CustodyActor(
            account: ThisProcess.accountName(userID: uid) ?? "uid \(uid)", uid: uid,
            examiner: examiner.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The actor as a details document keeps it.
    public var json: JSONObject {
        var actor: JSONObject = [
            "account": .string(account), "uid": .integer(Int64(uid)), "verifiedBy": .string(verification.rawValue),
        ]
        if let examiner { actor["examiner"] = .string(examiner) }
        if !grantingGroups.isEmpty { actor["groups"] = .array(grantingGroups.map { .string($0) }) }
        if let pid { actor["pid"] = .integer(Int64(pid)) }
        return actor
    }
}
