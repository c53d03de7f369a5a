import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault

/// What recording a seal gave: the seal's entry and, when stamped, its stamp's.
public struct SealReceipt: Sendable {
    public var sealed: SealedEvidence
    public var entry: CustodyEntry
    public var stampEntry: CustodyEntry?
}

/// One ledger connection and the workflows that write it: the second half of sealing (record),
/// checkpoints, and every other custody event. Confined to the thread that uses it (a SQLite
/// connection is), so it is not `Sendable`: each of the daemon's threads opens its own.
public final class CustodySession {
    public let custody: Custody
    public let ledger: Ledger
    private var signing: CheckpointSigning?
    private var oneShotStation: SealingStation?
    /// The first entry this session recorded that no checkpoint covered when it was recorded
    /// (signing failed after the append); nil when every checkpoint was signed.
    public internal(set) var uncoveredSince: UInt64?

    init(custody: Custody, ledger: Ledger) throws {
        self.custody = custody
        self.ledger = ledger
    }

    public var vault: Vault { custody.vault }

    // MARK: - Sealing

    /// Seals one file durably, stamps it and records both in one transaction: `ingest`'s path.
    /// Throws `SealingError` when the file is not sealed (nothing recorded), and the ledger's
    /// error when recording failed (the archive stays unrecorded; `verify` lists it).
    public func seal(_ request: SealRequest) throws -> SealReceipt {
        // One TSA context for the session's seals and its checkpoints: loaded once.
        let station = try oneShotStation ?? SealingStation(custody: custody, stamper: prepareSigning().stamper)
        oneShotStation = station
        let sealed = try station.seal(request, durability: .immediate, now: SystemClock.now)
        return try record([sealed])[0]
    }

    /// Records sealed files, each seal followed by its stamp, in one transaction. `sync`, when
    /// given, makes a batch sealed with `.batch` durability durable first, with one sync of the
    /// vault's file system (invariant 1: nothing is recorded, so nothing released, before its
    /// archive is durable). `releases` and `released` are the daemon's release journal, written
    /// in the same transaction.
    public func record(
        _ batch: [SealedEvidence], sync: FileSystemSync? = nil, releases: [PendingRelease] = [],
        released: [String] = []
    ) throws -> [SealReceipt] {
        try sync?.sync()
        var events = [NewCustodyEvent]()
        var sealIndexes = [Int]()
        events.reserveCapacity(batch.count * 2)
        for sealed in batch {
            sealIndexes.append(events.count)
            events.append(sealed.pending.event)
            if let stamp = sealed.stamp { events.append(stamp) }
        }
        let appended =
            releases.isEmpty && released.isEmpty
            ? try ledger.append(events) : try ledger.append(events, releases: releases, released: released)
        return zip(batch, sealIndexes).map { sealed, index in
            SealReceipt(
                sealed: sealed, entry: appended[index],
                stampEntry: sealed.stamp == nil ? nil : appended[index + 1])
        }
    }

    // MARK: - Checkpoints

    /// Signs a checkpoint of the whole tree, has the node's TSA stamp it, and makes it the latest
    /// by compare-and-swap, in one transaction; the latest one, unchanged, when the tree has not
    /// grown. Every command and the daemon's checkpointer sign through here.
    @discardableResult
    public func checkpoint(now: String = SystemClock.now()) throws -> SignedNote {
        try prepareSigning().sign(ledger, now: now)
    }

    /// Loads the node's key and TSA for signing checkpoints (once per session). A workflow that
    /// appends entries calls it first, so a vault whose key or TSA cannot be loaded records
    /// nothing, rather than entries that no checkpoint then covers; a command calls it before it
    /// starts, to refuse a missing or exposed key before anything is done.
    @discardableResult
    func prepareSigning() throws -> CheckpointSigning {
        let signing = try self.signing ?? CheckpointSigning(vault: vault)
        self.signing = signing
        return signing
    }

    /// Loads the node's key and TSA now (see `prepareSigning`): a missing or exposed key refuses
    /// the command before anything is sealed or recorded.
    public func prepareToRecord() throws {
        try prepareSigning()
    }

    /// The size of the latest checkpoint.
    public func checkpointedSize() throws -> UInt64 {
        try Checkpoint(parsing: SignedNote(parsing: ledger.latestCheckpoint()).text).size
    }

    // MARK: - Time stamps from external authorities

    /// Records `timestamped` events (with their tokens) from an external authority, in one
    /// transaction.
    public func recordStamps(_ events: [NewCustodyEvent]) throws -> [CustodyEntry] {
        precondition(events.allSatisfy { $0.type == .timestamped && $0.token != nil })
        return try ledger.append(events)
    }

    /// Keeps an external authority's token over a checkpoint beside it (not as an entry: the
    /// checkpoint still covers the whole log).
    public func recordCheckpointStamp(size: UInt64, root: Hash, source: String, anchors: Hash?, token: [UInt8])
        throws
    {
        try ledger.recordCheckpointStamp(size: size, root: root, source: source, anchors: anchors, token: token)
    }
}
