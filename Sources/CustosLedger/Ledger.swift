import CustosFormats
import CustosOpenSSL
import Dispatch

/// The node's tamper-evident ledger: custody-event entries in a hash chain and an RFC 6962
/// Merkle tree, and the signed checkpoints over it, kept in a `LedgerStore` (SQLite for a vault).
///
/// The tree is stored as Go's `sumdb/tlog` stores it (every leaf hash and every complete subtree
/// hash, by stored-hash index, each kept with the entry that completed it), so an inclusion or
/// consistency proof reads O(log n) rows. All of the log's logic is here: the store keeps rows.
/// A `Ledger` holds one store and is used from one thread at a time.
public final class Ledger {
    public let origin: String
    let store: any LedgerStore
    let hasher = MerkleHasher.openSSL
    let digester = OpenSSLSHA256()

    /// Where the ledger is kept, for messages.
    public var location: String { store.location }
    /// Whether the ledger has the `events` index (schema 10); a schema-9 ledger opened read-only
    /// has none, and an item's events are then found by reading every entry.
    public var hasEventsIndex: Bool { store.hasEventsIndex }

    /// Writes a new ledger of `origin` into an empty store: its description and its first
    /// checkpoint, of the empty tree.
    public static func initialize(_ store: any LedgerStore, origin: String, signer: any NoteSigner, now: String) throws
    {
        try store.writeTransaction {
            if let held = try store.metadata("origin") {
                throw LedgerError(.invalid, "\(store.location): the store already holds the ledger of \(held)")
            }
            try store.setMetadata("origin", origin)
            try store.setMetadata("created", now)
            let empty = Checkpoint(origin: origin, size: 0, root: MerkleHasher.openSSL.emptyRoot)
            let note = try SignedNote.sign(text: empty.text, signers: [signer]).serialized
            try store.insertCheckpoint(size: 0, note: note, signedAt: now)
            guard try store.replaceLatestCheckpoint(size: 0, note: note, ifStill: nil) else {
                throw LedgerError(.invalid, "\(store.location): the store already holds a ledger")
            }
        }
    }

    /// The ledger of `origin` in `store`; refuses a store holding another origin's ledger.
    public init(store: any LedgerStore, origin: String) throws {
        self.store = store
        self.origin = origin
        guard let stored = try store.metadata("origin") else {
            throw LedgerError(.corrupt, "\(store.location): the ledger has no origin")
        }
        guard stored == origin else {
            throw LedgerError(.wrongLedger, "\(store.location): the ledger is of \(stored), not of \(origin)")
        }
    }

    // MARK: - Appending

    /// Appends the events in one transaction: entries, tree hashes and index rows commit together
    /// or not at all. Returns the entries as recorded.
    ///
    /// The entries' JSON is encoded on a second thread a chunk ahead of the writer, `prev` left
    /// blank; the writer fills `prev` in, hashes, extends the tree from its frontier and appends,
    /// in log order.
    public func append(_ events: [NewCustodyEvent]) throws -> [CustodyEntry] {
        guard !events.isEmpty else { return [] }
        return try store.writeTransaction { try appendInTransaction(events) }
    }

    /// The body of `append`, inside a write transaction the caller holds.
    func appendInTransaction(_ events: [NewCustodyEvent]) throws -> [CustodyEntry] {
        guard !events.isEmpty else { return [] }
        guard hasEventsIndex || events.allSatisfy({ !EntryRow.isIndexedAsEvent($0.type) }) else {
            throw LedgerError(.invalid, "\(location): the ledger was opened read-only (an older schema)")
        }
        var (size, previous) = try tip()
        var frontier = try loadFrontier(size: size)
        var appended = [CustodyEntry]()
        appended.reserveCapacity(events.count)
        try store.withAppender { appender in
            let drafts = DraftEncoder(events: events, firstSequence: size, origin: origin)
            // One reused context for the two hashes of every entry: its chain hash and its leaf hash.
            let sha256 = MessageDigest(.sha256)
            // The leaf hash as `MerkleHasher.hashLeaf` makes it, without copying the body.
            let leafPrefix: [UInt8] = [MerkleHasher.leafPrefix]
            for chunk in drafts {
                for var draft in chunk {
                    draft.entry.previous = previous
                    Hex.write(previous, into: &draft.body, at: draft.previousOffset)
                    let body = draft.body
                    sha256.update(body)
                    let entryHash = sha256.finishHash()
                    sha256.update(leafPrefix)
                    sha256.update(body)
                    let tree = frontier.append(leafHash: sha256.finishHash(), at: Int64(size), hasher: hasher)
                    try appender.append(
                        try row(of: draft.entry, events[appended.count], sequence: size, body: body, tree: tree))
                    appended.append(draft.entry)
                    previous = entryHash
                    size += 1
                }
            }
        }
        return appended
    }

    /// The entry's row with the index rows it is appended with: its item row (a seal, a
    /// receipt), its stamp row and token (which must be the one the entry names), its event row.
    private func row(
        of entry: CustodyEntry, _ event: NewCustodyEvent, sequence: UInt64, body: [UInt8], tree: [UInt8]
    ) throws -> EntryRow {
        var row = EntryRow(sequence: sequence, body: body, tree: tree)
        if let record = event.record {
            row.item = ItemIndexRow(
                item: record.item, caseID: record.caseID, exhibit: record.exhibit, name: record.name)
        }
        if let stamp = TimeStampRecord(entry: entry) {
            guard let token = event.token, digester.sha256(token) == stamp.token else {
                throw LedgerError(.invalid, "a timestamped event without the token it names")
            }
            row.stamp = (
                StampIndexRow(
                    subject: stamp.indexKey(item: entry.item), source: stamp.source, tokenDigest: stamp.token.bytes),
                token
            )
        } else if EntryRow.isIndexedAsEvent(entry.type) {
            row.eventItem = entry.item
        }
        return row
    }

    /// The complete subtrees that the next leaf builds on: one per set bit of the tree size.
    private func loadFrontier(size: UInt64) throws -> TreeFrontier {
        var frontier = TreeFrontier()
        let reader = StoreHashReader(store: store)
        let size = Int64(size)
        for level in 0..<63 where (size >> Int64(level)) & 1 == 1 {
            let index = StoredHashes.index(level: level, n: (size >> Int64(level)) - 1)
            frontier.set(try reader.readHashes(at: [index])[0], level: level)
        }
        return frontier
    }

    /// The tree size and the hash of the last entry (zero for an empty log).
    func tip() throws -> (UInt64, Hash) {
        guard let last = try store.lastEntry() else { return (0, .zero) }
        return (last.sequence + 1, digester.sha256(last.body))
    }

    // MARK: - Checkpoints

    /// Signs a checkpoint of the current tree and makes it the latest, by compare-and-swap on the
    /// previous latest. Returns the latest checkpoint unchanged when the tree has not grown.
    ///
    /// `stamp`, when given, makes the node's RFC 3161 token over the new checkpoint (over the
    /// SHA-256 of its signed text); the token is kept with the checkpoint in the same
    /// transaction, so a checkpoint of a node with a TSA never exists without its token, and no
    /// entry follows the checkpoint: it covers the whole log.
    @discardableResult
    public func checkpoint(
        signer: any NoteSigner, now: String, stamp: ((SignedNote) throws -> [UInt8])? = nil
    ) throws -> SignedNote {
        try store.writeTransaction {
            let (size, _) = try tip()
            guard let latest = try store.latestCheckpoint() else {
                throw LedgerError(.corrupt, "\(location): the latest checkpoint is missing")
            }
            if latest.size == size { return try SignedNote(parsing: latest.note) }
            guard latest.size < size else {
                throw LedgerError(
                    .corrupt,
                    "\(location): the latest checkpoint is of size \(latest.size), but the log has \(size) entries")
            }
            let root = try StoredHashes.treeHash(
                size: Int64(size), reader: StoreHashReader(store: store), hasher: hasher)
            let note = try SignedNote.sign(
                text: Checkpoint(origin: origin, size: size, root: root).text, signers: [signer])
            try store.insertCheckpoint(size: size, note: note.serialized, signedAt: now)
            if let stamp {
                try store.insertCheckpointStamp(
                    CheckpointStamp(
                        size: size, root: root.base64, source: TimeStampRecord.nodeSource, anchors: nil,
                        token: try stamp(note)))
            }
            guard try store.replaceLatestCheckpoint(size: size, note: note.serialized, ifStill: latest.note) else {
                throw LedgerError(.checkpointRace, "\(location): the latest checkpoint changed while signing")
            }
            return note
        }
    }

    /// The signed checkpoint of `size` entries, verbatim: every checkpoint the node signed is kept.
    public func checkpoint(size: UInt64) throws -> String {
        if let note = try store.checkpoint(size: size) { return note }
        let sizes = try store.checkpoints().map(\.size)
        let before = sizes.last { $0 < size }.map { "\($0)" } ?? "none"
        let after = sizes.first { $0 > size }.map { "\($0)" } ?? "none"
        throw LedgerError(
            .notFound,
            "the node signed no checkpoint of size \(size); the nearest sizes signed are \(before) below and \(after) above"
        )
    }

    /// The latest signed checkpoint, verbatim.
    public func latestCheckpoint() throws -> String {
        guard let latest = try store.latestCheckpoint() else {
            throw LedgerError(.corrupt, "\(location): the latest checkpoint is missing")
        }
        return latest.note
    }

    /// Every checkpoint the node signed, oldest first.
    public func checkpoints() throws -> [(size: UInt64, note: String, signedAt: String)] {
        try store.checkpoints()
    }

    // MARK: - Reading and proving

    /// The number of entries.
    public func size() throws -> UInt64 { try tip().0 }

    /// The exact bytes of entry `sequence`, as hashed into the log.
    public func entryBytes(_ sequence: UInt64) throws -> [UInt8] {
        guard let body = try store.entryBody(sequence) else {
            throw LedgerError(.notFound, "the ledger has no entry \(sequence)")
        }
        return body
    }

    /// The RFC 6962 inclusion proof of entry `index` in the tree of `size` entries.
    public func inclusionProof(index: UInt64, size: UInt64) throws -> [Hash] {
        guard index < size, size <= (try tip().0) else {
            throw LedgerError(.invalid, "no inclusion proof of entry \(index) in a tree of \(size)")
        }
        return try StoredHashes.inclusionProof(
            index: Int64(index), size: Int64(size), reader: StoreHashReader(store: store), hasher: hasher)
    }

    /// The RFC 6962 consistency proof from the tree of `from` entries to that of `to`.
    public func consistencyProof(from: UInt64, to: UInt64) throws -> [Hash] {
        let entries = try tip().0
        guard from >= 1, from <= to, to <= entries else {
            throw LedgerError(.invalid, "no consistency proof from size \(from) to size \(to) (the log has \(entries))")
        }
        return try StoredHashes.consistencyProof(
            from: Int64(from), to: Int64(to), reader: StoreHashReader(store: store), hasher: hasher)
    }

    /// The root of the tree of `size` entries, from the stored hashes.
    public func root(size: UInt64) throws -> Hash {
        try StoredHashes.treeHash(size: Int64(size), reader: StoreHashReader(store: store), hasher: hasher)
    }

    /// A C2SP tlog-proof of entry `index` against the latest checkpoint, with the entry as `extra`.
    public func tlogProof(index: UInt64) throws -> TLogProof {
        try store.readTransaction {
            let note = try SignedNote(parsing: try latestCheckpoint())
            let checkpoint = try Checkpoint(parsing: note.text)
            guard index < checkpoint.size else {
                throw LedgerError(
                    .invalid,
                    "entry \(index) is not yet covered by a checkpoint (latest size \(checkpoint.size)); run `custos checkpoint`"
                )
            }
            let proof = try inclusionProof(index: index, size: checkpoint.size)
            return TLogProof(extra: try entryBytes(index), index: index, proof: proof, checkpoint: note)
        }
    }

    // MARK: - Items

    /// An index row with what its entry says: the digests, size, archive and manifest come from
    /// the entry's bytes, never from a second copy. Nil for an entry that does not parse as a
    /// sealing event (`verify` reports those).
    func record(_ indexed: IndexedItem) -> ItemRecord? {
        guard let entry = try? CustodyEntry(parsing: indexed.body), let digests = entry.digests,
            let size = entry.size, let archive = entry.archive, let manifest = entry.manifest
        else { return nil }
        let row = indexed.row
        return ItemRecord(
            item: row.item, sequence: indexed.sequence, caseID: row.caseID, exhibit: row.exhibit, name: row.name,
            sha256: digests.sha256, size: size, archive: archive, manifest: manifest, sealedAt: entry.time)
    }

    /// Every item, in ledger order; optionally of one case.
    public func items(caseID: String? = nil) throws -> [ItemRecord] {
        try store.items(caseID.map { .inCase($0) } ?? .all).compactMap(record)
    }

    /// The items recorded at or after entry `sequence`, in ledger order.
    public func items(from sequence: UInt64) throws -> [ItemRecord] {
        try store.items(.from(sequence)).compactMap(record)
    }

    /// The items whose id starts with `prefix` (through the index of ids), or whose SHA-256 does
    /// (a search of the entry bytes for `"sha256":"<prefix>`).
    public func items(matching prefix: String) throws -> [ItemRecord] {
        let lowered = prefix.lowercased()
        guard !lowered.isEmpty, lowered.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return [] }
        var found = [UInt64: ItemRecord]()
        for record in try store.items(.idPrefix(lowered)).compactMap(record) where record.item.hasPrefix(lowered) {
            found[record.sequence] = record
        }
        if !lowered.contains("-") {
            let member = Array("\"sha256\":\"\(lowered)".utf8)
            for record in try store.items(.bodyContaining(member)).compactMap(record)
            where record.sha256.hex.hasPrefix(lowered) {
                found[record.sequence] = record
            }
        }
        return found.keys.sorted().map { found[$0]! }
    }
}

/// The right edge of the Merkle tree: at each level, the hash of the complete subtree that the
/// next leaves will be joined to. Appending a leaf costs no read.
struct TreeFrontier {
    private var hashes: [Hash?] = []

    mutating func set(_ hash: Hash, level: Int) {
        while hashes.count <= level { hashes.append(nil) }
        hashes[level] = hash
    }

    /// Appends leaf `index`; returns the hashes it stores (its leaf hash, then every subtree it
    /// completes), as the bytes of the entry's `tree` column.
    mutating func append(leafHash: Hash, at index: Int64, hasher: MerkleHasher) -> [UInt8] {
        var stored = [UInt8]()
        stored.reserveCapacity(2 * Hash.byteCount)
        var hash = leafHash
        hash.withUnsafeBytes { stored.append(contentsOf: $0) }
        var level = 0
        var n = index
        while n & 1 == 1 {
            hash = hasher.hashChildren(hashes[level]!, hash)
            hashes[level] = nil
            hash.withUnsafeBytes { stored.append(contentsOf: $0) }
            n >>= 1
            level += 1
        }
        set(hash, level: level)
        return stored
    }
}

/// An entry encoded ahead of the chain, `prev` still all zeros at `previousOffset`.
struct DraftEntry {
    var entry: CustodyEntry
    var body: [UInt8]
    var previousOffset: Int
}

/// Encodes the entries of a batch in chunks, each on a background thread while the caller
/// writes the chunk before it.
struct DraftEncoder: Sequence, IteratorProtocol {
    static let chunkSize = 256

    private let work: Work
    private var nextStart = 0
    private var pending: (DispatchGroup, Box)?

    /// What the background threads read: immutable once made.
    final class Work: Sendable {
        let events: [NewCustodyEvent]
        let firstSequence: UInt64
        let origin: String

        init(events: [NewCustodyEvent], firstSequence: UInt64, origin: String) {
            self.events = events
            self.firstSequence = firstSequence
            self.origin = origin
        }

        func encode(_ range: Range<Int>) -> [DraftEntry] {
            range.map { index in
                let event = events[index]
                let entry = CustodyEntry(
                    sequence: firstSequence + UInt64(index), type: event.type, item: event.item, time: event.time,
                    node: origin, actor: event.actor, previous: .zero, details: event.details)
                let (body, offset) = entry.canonicalBytesLocatingPrevious
                return DraftEntry(entry: entry, body: body, previousOffset: offset)
            }
        }
    }

    /// Hands a chunk from the thread that encoded it to the writer (after the group's wait).
    /// Sendable: written by the encoding thread, read by the writer only after the group's wait.
    final class Box: @unchecked Sendable {
        var drafts: [DraftEntry] = []
    }

    init(events: [NewCustodyEvent], firstSequence: UInt64, origin: String) {
        work = Work(events: events, firstSequence: firstSequence, origin: origin)
    }

    private mutating func start() -> (DispatchGroup, Box)? {
        guard nextStart < work.events.count else { return nil }
        let range = nextStart..<Swift.min(nextStart + Self.chunkSize, work.events.count)
        nextStart = range.upperBound
        let group = DispatchGroup()
        let box = Box()
        let work = self.work
        DispatchQueue.global().async(group: group) { box.drafts = work.encode(range) }
        return (group, box)
    }

    mutating func next() -> [DraftEntry]? {
        if pending == nil { pending = start() }
        guard let (group, box) = pending else { return nil }
        group.wait()
        pending = start()
        return box.drafts
    }
}

/// Reads stored tree hashes from the entries that stored them, one look-up each.
struct StoreHashReader: StoredHashReader {
    let store: any LedgerStore

    func readHashes(at indexes: [Int64]) throws -> [Hash] {
        try indexes.map { index in
            let (leaf, offset) = StoredHashes.storingLeaf(ofIndex: index)
            guard let hash = try store.storedHash(UInt64(leaf), position: offset) else {
                throw LedgerError(
                    .corrupt, "\(store.location): the tree hash at index \(index) (entry \(leaf)) is missing or damaged"
                )
            }
            return hash
        }
    }
}
