import CustosFormats

/// Where a ledger keeps its rows: the one interface between the log's logic (`Ledger`: the hash
/// chain, the Merkle tree and its proofs, checkpoint signing and compare-and-swap, the audit) and
/// a database. A driver stores and returns rows as it was given them and knows nothing of hashes,
/// proofs or signatures; every check of what it returns is the ledger's, made on the bytes.
///
/// SQLite is the driver a vault uses (`SQLiteLedgerStore`, in CustosLedgerSQLite). A second
/// driver (PostgreSQL, say) implements this protocol and nothing else: the log, its audit and
/// every use case above it stay as they are.
///
/// What a driver owes:
/// - **Append-only.** Entries, their index rows, checkpoints and checkpoint stamps are never
///   changed or removed once written (the SQLite driver refuses it with triggers); the release
///   journal and the latest-checkpoint pointer are the only rows that change.
/// - **Transactions.** Everything written inside `writeTransaction` commits together or not at
///   all, durably before it returns, and writers are serialised (one writer at a time, across
///   processes); every read inside `readTransaction` sees one snapshot. Transactions do not nest.
/// - **Byte-exact.** An entry's body, its stored tree hashes, names and tokens are returned with
///   the very bytes they were written with.
/// - **Errors** are `LedgerError`s naming `location`, with the storage condition (a full disk, a
///   failed write) when there is one, so that callers can tell a full disk from a damaged file.
///
/// A store is used from one thread at a time, as the `Ledger` that holds it.
public protocol LedgerStore: AnyObject {
    /// Where the store is, for messages: a file's path, a database's name.
    var location: String { get }
    /// Whether the store keeps the events index (`entryBodies(about:wholeVaultAfter:)` uses it). An
    /// older store opened read-only may not: an item's events are then found by reading every entry.
    var hasEventsIndex: Bool { get }

    func readTransaction<T>(_ body: () throws -> T) throws -> T
    func writeTransaction<T>(_ body: () throws -> T) throws -> T

    /// A value of the store's own description of the log (`origin`, `created`), or nil.
    func metadata(_ key: String) throws -> String?
    /// Sets a value of `metadata`, when the ledger is created.
    func setMetadata(_ key: String, _ value: String) throws

    // MARK: The log

    /// The last entry's sequence number and exact bytes; nil for an empty log.
    func lastEntry() throws -> (sequence: UInt64, body: [UInt8])?
    /// The exact bytes of entry `sequence`, or nil when there is none.
    func entryBody(_ sequence: UInt64) throws -> [UInt8]?
    /// Hash `position` of those entry `sequence` stored when it was appended (0: its leaf hash,
    /// then the hash of each subtree it completed, 32 bytes each); nil when there is no such
    /// entry or it stored fewer. Proofs read O(log n) of these.
    func storedHash(_ sequence: UInt64, position: Int) throws -> Hash?
    /// Every entry in sequence order, with its stored tree hashes (the audit's one pass).
    func forEachEntry(_ body: (_ sequence: UInt64, _ body: [UInt8], _ tree: [UInt8]) throws -> Void) throws
    /// The bodies of the entries whose bytes contain `bytes`, in sequence order (a driver may
    /// return more: the ledger parses and filters each).
    func entryBodies(containing bytes: [UInt8]) throws -> [[UInt8]]
    /// Appends entries through an appender valid only inside `body`, inside the caller's
    /// `writeTransaction`. Rows come in sequence order, each one after the last entry.
    func withAppender<T>(_ body: (any LedgerEntryAppender) throws -> T) throws -> T

    // MARK: Indexes (each written with its entry, checked against the entries by the audit)

    /// The items (index rows of `sealed` entries) that `filter` selects, in sequence order.
    func items(_ filter: ItemFilter) throws -> [IndexedItem]
    /// The whole item index, sequence to item id.
    func itemIndex() throws -> [UInt64: String]
    /// The bodies of every entry about `item`: its seal, its stamps and its other events; with
    /// `wholeVaultAfter`, also the events about the whole vault (item `""`) after that sequence.
    /// Only for a store that `hasEventsIndex`.
    func entryBodies(about item: String, wholeVaultAfter: UInt64?) throws -> [[UInt8]]
    /// The whole events index, sequence to item.
    func eventIndex() throws -> [UInt64: String]
    /// The bodies of the `timestamped` entries about `subject`, in sequence order.
    func entryBodies(stamping subject: String) throws -> [[UInt8]]
    /// The token kept beside `timestamped` entry `sequence`, as stored; nil when there is none.
    func stampToken(at sequence: UInt64) throws -> [UInt8]?
    /// Each distinct (subject, source) of the stamps index.
    func stampSources() throws -> [(subject: String, source: String)]
    /// The whole stamps index, without the tokens.
    func stampIndex() throws -> [UInt64: StampIndexRow]

    // MARK: Checkpoints

    /// Keeps a signed checkpoint of `size` entries (one per size).
    func insertCheckpoint(size: UInt64, note: String, signedAt: String) throws
    /// The checkpoint the node signed for `size` entries, verbatim; nil when there is none.
    func checkpoint(size: UInt64) throws -> String?
    /// Every kept checkpoint, by size.
    func checkpoints() throws -> [(size: UInt64, note: String, signedAt: String)]
    /// The latest checkpoint, verbatim, with its size; nil when none was ever set.
    func latestCheckpoint() throws -> (size: UInt64, note: String)?
    /// Compare-and-swap of the latest checkpoint: sets it to `note` only when it is still
    /// `previous` (nil: when there is none yet). Returns whether it did.
    func replaceLatestCheckpoint(size: UInt64, note: String, ifStill previous: String?) throws -> Bool
    func insertCheckpointStamp(_ stamp: CheckpointStamp) throws
    /// The tokens over checkpoints of `size`, or all when nil; by size, then source.
    func checkpointStamps(size: UInt64?) throws -> [CheckpointStamp]

    // MARK: The release journal (not part of the log)

    /// Journals originals whose seal commits in the same transaction (replacing a row of the same item).
    func journal(_ releases: [PendingRelease]) throws
    /// Removes the journal rows of these items.
    func removeReleases(_ items: [String]) throws
    /// The journal, by item.
    func pendingReleases() throws -> [PendingRelease]
}

/// Writes entry rows during one append; valid only inside `LedgerStore.withAppender`.
public protocol LedgerEntryAppender {
    func append(_ row: EntryRow) throws
}

/// One entry as a store keeps it, with the index rows written with it: a seal's (or a receipt's)
/// item row, a time stamp's stamp row and token, and any other event's row in the events index
/// (a `received` entry has both an item row and an event row).
public struct EntryRow {
    public var sequence: UInt64
    /// The entry's exact bytes, as hashed into the log.
    public var body: [UInt8]
    /// The tree hashes the entry stores (its leaf hash, then each subtree it completes).
    public var tree: [UInt8]
    /// The item index row of an entry that records content (`sealed`, `received`).
    public var item: ItemIndexRow?
    /// The stamps index row of a `timestamped` entry, with the token it names.
    public var stamp: (row: StampIndexRow, token: [UInt8])?
    /// The item an event other than `sealed` and `timestamped` is about (`""`: the whole vault).
    public var eventItem: String?

    public init(
        sequence: UInt64, body: [UInt8], tree: [UInt8], item: ItemIndexRow? = nil,
        stamp: (row: StampIndexRow, token: [UInt8])? = nil, eventItem: String? = nil
    ) {
        self.sequence = sequence
        self.body = body
        self.tree = tree
        self.item = item
        self.stamp = stamp
        self.eventItem = eventItem
    }

    /// Whether an entry of this type has a row in the events index: every type but those indexed
    /// elsewhere (`sealed` by the item index, `timestamped` by the stamps index).
    public static func isIndexedAsEvent(_ type: CustodyEventType) -> Bool { type != .sealed && type != .timestamped }
}

/// What the item index keeps of a `sealed` entry, for `list` without opening the manifest.
public struct ItemIndexRow: Hashable, Sendable {
    public var item: String
    public var caseID: String
    public var exhibit: String
    /// The original's name, byte-exact.
    public var name: [UInt8]

    public init(item: String, caseID: String, exhibit: String, name: [UInt8]) {
        self.item = item
        self.caseID = caseID
        self.exhibit = exhibit
        self.name = name
    }
}

/// An item's index row with its entry's sequence number and exact bytes.
public struct IndexedItem {
    public var sequence: UInt64
    public var body: [UInt8]
    public var row: ItemIndexRow

    public init(sequence: UInt64, body: [UInt8], row: ItemIndexRow) {
        self.sequence = sequence
        self.body = body
        self.row = row
    }
}

/// Which items `LedgerStore.items(_:)` returns.
public enum ItemFilter {
    case all
    case inCase(String)
    /// Those sealed at or after this sequence number.
    case from(UInt64)
    /// Those whose id starts with this (lower-case) prefix.
    case idPrefix(String)
    /// Those whose entry's bytes contain these (a driver may return more).
    case bodyContaining([UInt8])
}

/// A row of the stamps index: the subject a `timestamped` entry stamps, its source and the SHA-256
/// of its token.
public struct StampIndexRow: Hashable, Sendable {
    public var subject: String
    public var source: String
    public var tokenDigest: [UInt8]

    public init(subject: String, source: String, tokenDigest: [UInt8]) {
        self.subject = subject
        self.source = source
        self.tokenDigest = tokenDigest
    }
}
