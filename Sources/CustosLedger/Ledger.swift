import CustosFormats
import CustosOpenSSL
import CustosSQLite
import Dispatch
import Foundation

/// The node's tamper-evident ledger in SQLite: custody-event entries in a hash chain and an
/// RFC 6962 Merkle tree, and the signed checkpoints over it.
///
/// The tree is stored as Go's `sumdb/tlog` stores it (every leaf hash and every complete subtree
/// hash, by stored-hash index), so an inclusion or consistency proof reads O(log n) rows.
/// A `Ledger` holds one SQLite connection and is used from one thread at a time.
public final class Ledger {
    public let path: String
    public let origin: String
    let db: SQLiteConnection
    let hasher = MerkleHasher.openSSL
    let digester = OpenSSLSHA256()
    /// Whether the ledger has the `events` index (schema 10); a schema-9 ledger opened read-only
    /// has none, and an item's events are then found by reading every entry.
    public let hasEventsIndex: Bool

    /// Creates a new ledger file with its first checkpoint, of the empty tree. Refuses an existing file.
    public static func create(path: String, origin: String, signer: any NoteSigner, now: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.invalid, "\(path): a ledger already exists")
        }
        do {
            let db = try SQLiteConnection(path: path, mode: .create)
            try db.execute(LedgerSchema.create)
            try db.writeTransaction {
                try db.run("INSERT INTO meta (key, value) VALUES ('origin', ?)", [.text(origin)])
                try db.run("INSERT INTO meta (key, value) VALUES ('schema', ?)", [.text(LedgerSchema.version)])
                try db.run("INSERT INTO meta (key, value) VALUES ('created', ?)", [.text(now)])
                let empty = Checkpoint(origin: origin, size: 0, root: MerkleHasher.openSSL.emptyRoot)
                let note = try SignedNote.sign(text: empty.text, signers: [signer]).serialized
                try db.run(
                    "INSERT INTO checkpoints (size, note, signed_at) VALUES (0, ?, ?)", [.text(note), .text(now)])
                try db.run("INSERT INTO latest_checkpoint (id, size, note) VALUES (1, 0, ?)", [.text(note)])
            }
        } catch let error as SQLiteError {
            throw LedgerError.database(error, path: path)
        }
    }

    /// Opens an existing ledger of `origin`. A missing file is an error: it is never recreated.
    /// `cacheKiB` bounds SQLite's page cache for this connection: large for big batch appends,
    /// small for a long-running daemon whose appends touch only the end of the tables.
    public init(path: String, origin: String, readOnly: Bool = false, cacheKiB: Int = 65536) throws {
        self.path = path
        self.origin = origin
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.missing, "\(path): the ledger is missing; it is never recreated on its own")
        }
        do {
            db = try SQLiteConnection(path: path, mode: readOnly ? .readOnly : .readWrite)
            if !readOnly {
                // Every commit reaches the disk (synchronous=FULL); a 64 MiB page cache and a
                // WAL checkpointed every 8,192 pages keep large appends fast.
                try db.execute(
                    "PRAGMA synchronous = FULL; PRAGMA cache_size = -\(cacheKiB); PRAGMA wal_autocheckpoint = 8192;")
            }
            let stored = try db.firstRow("SELECT value FROM meta WHERE key = 'origin'") { $0.text(0) } ?? nil
            guard let stored else { throw LedgerError(.corrupt, "\(path): the ledger has no origin") }
            guard stored == origin else {
                throw LedgerError(.wrongLedger, "\(path): the ledger is of \(stored), not of \(origin)")
            }
            var schema = try db.firstRow("SELECT value FROM meta WHERE key = 'schema'") { $0.text(0) } ?? nil
            if schema == LedgerSchema.previousVersion, !readOnly {
                try Self.upgradeFrom9(db)
                schema = LedgerSchema.version
            }
            hasEventsIndex = schema == LedgerSchema.version
            guard schema == LedgerSchema.version || schema == LedgerSchema.previousVersion else {
                throw LedgerError(
                    .wrongLedger,
                    "\(path): the ledger has schema \(schema ?? "none"); this custos reads schema \(LedgerSchema.version)"
                )
            }
        } catch let error as SQLiteError {
            throw LedgerError.database(error, path: path)
        }
    }

    /// Schema 9 to 10, in one transaction: the events index is created and filled from the
    /// entries (every entry that is neither `sealed` nor `timestamped`), and the schema set.
    private static func upgradeFrom9(_ db: SQLiteConnection) throws {
        try db.writeTransaction {
            // Another process may have upgraded it between our read and this transaction.
            let schema = try db.firstRow("SELECT value FROM meta WHERE key = 'schema'") { $0.text(0) } ?? nil
            guard schema == LedgerSchema.previousVersion else { return }
            try db.execute(LedgerSchema.events)
            try db.withStatement("INSERT INTO events (seq, item) VALUES (?, ?)") { insert in
                try db.forEachRow("SELECT seq, body FROM entries WHERE item IS NULL ORDER BY seq") { row in
                    guard let entry = try? CustodyEntry(parsing: row.blob(1)),
                        LedgerSchema.isIndexedAsEvent(entry.type)
                    else { return }
                    try insert.bind(row.int64(0), at: 1)
                    try insert.bind(entry.item, at: 2)
                    try insert.execute()
                }
            }
            try db.run("UPDATE meta SET value = ? WHERE key = 'schema'", [.text(LedgerSchema.version)])
        }
    }

    func sql<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw LedgerError.database(error, path: path)
        }
    }

    // MARK: - Appending

    /// Appends the events in one transaction (synchronous=FULL): entries, tree hashes and index
    /// rows commit together or not at all. Returns the entries as recorded.
    ///
    /// The entries' JSON is encoded on a second thread a chunk ahead of the writer, `prev` left
    /// blank; the writer fills `prev` in, hashes, extends the tree from its frontier and inserts,
    /// in log order.
    public func append(_ events: [NewCustodyEvent]) throws -> [CustodyEntry] {
        guard !events.isEmpty else { return [] }
        return try sql { try db.writeTransaction { try appendInTransaction(events) } }
    }

    /// The body of `append`, inside a write transaction the caller holds.
    func appendInTransaction(_ events: [NewCustodyEvent]) throws -> [CustodyEntry] {
        guard !events.isEmpty else { return [] }
        var (size, previous) = try tip()
        var frontier = try loadFrontier(size: size)
        var appended = [CustodyEntry]()
        appended.reserveCapacity(events.count)
        let insertSQL = """
            INSERT INTO entries (seq, body, tree, item, case_id, exhibit, name)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """
        let stampSQL = "INSERT INTO stamps (seq, subject, source, token, der) VALUES (?, ?, ?, ?, ?)"
        guard hasEventsIndex || events.allSatisfy({ !LedgerSchema.isIndexedAsEvent($0.type) }) else {
            throw LedgerError(.invalid, "\(path): the ledger was opened read-only (schema \(LedgerSchema.previousVersion))")
        }
        // Prepared only when the batch holds an event for it: sealing pays nothing for the index.
        let eventSQL =
            events.contains { LedgerSchema.isIndexedAsEvent($0.type) }
            ? "INSERT INTO events (seq, item) VALUES (?, ?)" : nil
        try db.withStatement(insertSQL) { insert in
            try db.withStatement(stampSQL) { stampInsert in
                try withOptionalStatement(eventSQL) { eventInsert in
                    let drafts = DraftEncoder(events: events, firstSequence: UInt64(size), origin: origin)
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
                            let tree = frontier.append(leafHash: sha256.finishHash(), at: size, hasher: hasher)
                            let record = events[appended.count].record
                            try insert.bind(size, at: 1)
                            try insert.bind(body, at: 2)
                            try insert.bind(tree, at: 3)
                            if let record {
                                try insert.bind(record.item, at: 4)
                                try insert.bind(record.caseID, at: 5)
                                try insert.bind(record.exhibit, at: 6)
                                try insert.bind(record.name, at: 7)
                            } else {
                                for index in Int32(4)...7 { try insert.bindNull(at: index) }
                            }
                            try insert.execute()
                            if let stamp = TimeStampRecord(entry: draft.entry) {
                                // The token itself, kept beside its entry: it must be the one the entry names.
                                guard let token = events[appended.count].token, digester.sha256(token) == stamp.token else {
                                    throw LedgerError(.invalid, "a timestamped event without the token it names")
                                }
                                try stampInsert.bind(token, at: 5)
                                try stampInsert.bind(size, at: 1)
                                try stampInsert.bind(stamp.indexKey(item: draft.entry.item), at: 2)
                                try stampInsert.bind(stamp.source, at: 3)
                                try stampInsert.bind(stamp.token.bytes, at: 4)
                                try stampInsert.execute()
                            } else if let eventInsert, LedgerSchema.isIndexedAsEvent(draft.entry.type) {
                                try eventInsert.bind(size, at: 1)
                                try eventInsert.bind(draft.entry.item, at: 2)
                                try eventInsert.execute()
                            }
                            appended.append(draft.entry)
                            previous = entryHash
                            size += 1
                        }
                    }
                }
            }
        }
        return appended
    }

    /// Runs `body` with a statement for `sql`, or with nil when there is no `sql`.
    private func withOptionalStatement<T>(_ sql: String?, _ body: (SQLiteStatement?) throws -> T) throws -> T {
        guard let sql else { return try body(nil) }
        return try db.withStatement(sql) { try body($0) }
    }

    /// The complete subtrees that the next leaf builds on: one per set bit of the tree size.
    private func loadFrontier(size: Int64) throws -> TreeFrontier {
        var frontier = TreeFrontier()
        let reader = SQLiteHashReader(db: db)
        for level in 0..<63 where (size >> Int64(level)) & 1 == 1 {
            let index = StoredHashes.index(level: level, n: (size >> Int64(level)) - 1)
            frontier.set(try reader.readHashes(at: [index])[0], level: level)
        }
        return frontier
    }

    /// The tree size and the hash of the last entry (zero for an empty log).
    private func tip() throws -> (Int64, Hash) {
        let last = try db.firstRow("SELECT seq, body FROM entries ORDER BY seq DESC LIMIT 1") { row in
            (row.int64(0), row.withBlob(1) { digester.sha256($0) })
        }
        guard let last else { return (0, .zero) }
        return (last.0 + 1, last.1)
    }

    // MARK: - Checkpoints

    /// Signs a checkpoint of the current tree and makes it the latest, by compare-and-swap on the
    /// previous latest. Returns the latest checkpoint unchanged when the tree has not grown.
    ///
    /// `stamp`, when given, makes the node's RFC 3161 token over the new checkpoint (over the
    /// SHA-256 of its signed text); the token is kept in `checkpoint_stamps` in the same
    /// transaction, so a checkpoint of a node with a TSA never exists without its token, and no
    /// entry follows the checkpoint: it covers the whole log.
    @discardableResult
    public func checkpoint(
        signer: any NoteSigner, now: String, stamp: ((SignedNote) throws -> [UInt8])? = nil
    ) throws -> SignedNote {
        try sql {
            try db.writeTransaction {
                let (size, _) = try tip()
                guard
                    let (latestSize, latestNote) = try db.firstRow(
                        "SELECT size, note FROM latest_checkpoint", [],
                        {
                            ($0.int64(0), $0.text(1) ?? "")
                        })
                else {
                    throw LedgerError(.corrupt, "\(path): the latest checkpoint is missing")
                }
                if latestSize == size { return try SignedNote(parsing: latestNote) }
                guard latestSize < size else {
                    throw LedgerError(
                        .corrupt,
                        "\(path): the latest checkpoint is of size \(latestSize), but the log has \(size) entries")
                }
                let root = try StoredHashes.treeHash(size: size, reader: SQLiteHashReader(db: db), hasher: hasher)
                let note = try SignedNote.sign(
                    text: Checkpoint(origin: origin, size: UInt64(size), root: root).text, signers: [signer])
                try db.run(
                    "INSERT INTO checkpoints (size, note, signed_at) VALUES (?, ?, ?)",
                    [.integer(size), .text(note.serialized), .text(now)])
                if let stamp {
                    try insertCheckpointStamp(
                        size: UInt64(size), root: root, source: TimeStampRecord.nodeSource, anchors: nil,
                        token: try stamp(note))
                }
                try db.run(
                    "UPDATE latest_checkpoint SET size = ?, note = ? WHERE id = 1 AND note = ?",
                    [.integer(size), .text(note.serialized), .text(latestNote)])
                guard db.changes == 1 else {
                    throw LedgerError(.checkpointRace, "\(path): the latest checkpoint changed while signing")
                }
                return note
            }
        }
    }

    /// The signed checkpoint of `size` entries, verbatim: every checkpoint the node signed is kept.
    public func checkpoint(size: UInt64) throws -> String {
        try sql {
            if let note = try db.firstRow(
                "SELECT note FROM checkpoints WHERE size = ?", [.integer(Int64(size))], { $0.text(0) }), let note
            {
                return note
            }
            var sizes = [UInt64]()
            try db.forEachRow("SELECT size FROM checkpoints ORDER BY size") { row in
                sizes.append(UInt64(max(0, row.int64(0))))
            }
            let before = sizes.last { $0 < size }.map { "\($0)" } ?? "none"
            let after = sizes.first { $0 > size }.map { "\($0)" } ?? "none"
            throw LedgerError(
                .notFound,
                "the node signed no checkpoint of size \(size); the nearest sizes signed are \(before) below and \(after) above"
            )
        }
    }

    /// The latest signed checkpoint, verbatim.
    public func latestCheckpoint() throws -> String {
        try sql {
            guard let note = try db.firstRow("SELECT note FROM latest_checkpoint WHERE id = 1", [], { $0.text(0) }),
                let note
            else {
                throw LedgerError(.corrupt, "\(path): the latest checkpoint is missing")
            }
            return note
        }
    }

    /// Every checkpoint the node signed, oldest first.
    public func checkpoints() throws -> [(size: UInt64, note: String, signedAt: String)] {
        try sql {
            var all = [(size: UInt64, note: String, signedAt: String)]()
            try db.forEachRow("SELECT size, note, signed_at FROM checkpoints ORDER BY size") {
                all.append((UInt64(max(0, $0.int64(0))), $0.text(1) ?? "", $0.text(2) ?? ""))
            }
            return all
        }
    }

    // MARK: - Reading and proving

    /// The number of entries.
    public func size() throws -> UInt64 {
        try sql { UInt64(try tip().0) }
    }

    /// The exact bytes of entry `sequence`, as hashed into the log.
    public func entryBytes(_ sequence: UInt64) throws -> [UInt8] {
        try sql {
            guard
                let body = try db.firstRow(
                    "SELECT body FROM entries WHERE seq = ?", [.integer(Int64(sequence))],
                    {
                        $0.blob(0)
                    })
            else {
                throw LedgerError(.notFound, "the ledger has no entry \(sequence)")
            }
            return body
        }
    }

    /// The RFC 6962 inclusion proof of entry `index` in the tree of `size` entries.
    public func inclusionProof(index: UInt64, size: UInt64) throws -> [Hash] {
        try sql {
            guard index < size, size <= UInt64(try tip().0) else {
                throw LedgerError(.invalid, "no inclusion proof of entry \(index) in a tree of \(size)")
            }
            return try StoredHashes.inclusionProof(
                index: Int64(index), size: Int64(size), reader: SQLiteHashReader(db: db), hasher: hasher)
        }
    }

    /// The RFC 6962 consistency proof from the tree of `from` entries to that of `to`.
    public func consistencyProof(from: UInt64, to: UInt64) throws -> [Hash] {
        try sql {
            guard from >= 1, from <= to, to <= UInt64(try tip().0) else {
                throw LedgerError(
                    .invalid, "no consistency proof from size \(from) to size \(to) (the log has \(try tip().0))")
            }
            return try StoredHashes.consistencyProof(
                from: Int64(from), to: Int64(to), reader: SQLiteHashReader(db: db), hasher: hasher)
        }
    }

    /// The root of the tree of `size` entries, from the stored hashes.
    public func root(size: UInt64) throws -> Hash {
        try sql { try StoredHashes.treeHash(size: Int64(size), reader: SQLiteHashReader(db: db), hasher: hasher) }
    }

    /// A C2SP tlog-proof of entry `index` against the latest checkpoint, with the entry as `extra`.
    public func tlogProof(index: UInt64) throws -> TLogProof {
        try sql {
            try db.readTransaction {
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
    }

    // MARK: - Items

    static let itemColumns = "seq, body, item, case_id, exhibit, name"

    /// An index row with what its entry says: the digests, size, archive and manifest come from
    /// the entry's bytes, never from a second copy. Nil for an entry that does not parse as a
    /// sealing event (`verify` reports those).
    func record(_ row: SQLiteStatement) -> ItemRecord? {
        let sequence = row.int64(0)
        guard let entry = try? CustodyEntry(parsing: row.blob(1)), let digests = entry.digests,
            let size = entry.size, let archive = entry.archive, let manifest = entry.manifest
        else { return nil }
        return ItemRecord(
            item: row.text(2) ?? "", sequence: UInt64(max(0, sequence)), caseID: row.text(3) ?? "",
            exhibit: row.text(4) ?? "", name: row.blob(5), sha256: digests.sha256, size: size, archive: archive,
            manifest: manifest, sealedAt: entry.time)
    }

    /// Every item, in ledger order; optionally of one case.
    public func items(caseID: String? = nil) throws -> [ItemRecord] {
        try sql {
            var all = [ItemRecord]()
            if let caseID {
                try db.forEachRow(
                    "SELECT \(Self.itemColumns) FROM items WHERE case_id = ? ORDER BY seq", [.text(caseID)]
                ) { row in record(row).map { all.append($0) } }
            } else {
                try db.forEachRow("SELECT \(Self.itemColumns) FROM items ORDER BY seq") { row in
                    record(row).map { all.append($0) }
                }
            }
            return all
        }
    }

    /// The items recorded at or after entry `sequence`, in ledger order.
    public func items(from sequence: UInt64) throws -> [ItemRecord] {
        try sql {
            var all = [ItemRecord]()
            try db.forEachRow(
                "SELECT \(Self.itemColumns) FROM items WHERE seq >= ? ORDER BY seq", [.integer(Int64(sequence))]
            ) { row in record(row).map { all.append($0) } }
            return all
        }
    }

    /// The items whose id starts with `prefix` (through the index of ids), or whose SHA-256 does
    /// (a scan of the entry bytes for `"sha256":"<prefix>`, done inside SQLite).
    public func items(matching prefix: String) throws -> [ItemRecord] {
        let lowered = prefix.lowercased()
        guard !lowered.isEmpty, lowered.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return [] }
        return try sql {
            var found = [UInt64: ItemRecord]()
            try db.forEachRow(
                "SELECT \(Self.itemColumns) FROM items WHERE item GLOB ? ORDER BY seq", [.text(lowered + "*")]
            ) { row in
                if let record = record(row) { found[record.sequence] = record }
            }
            if !lowered.contains("-") {
                try db.forEachRow(
                    "SELECT \(Self.itemColumns) FROM items WHERE instr(body, ?) > 0 ORDER BY seq",
                    [.blob(Array("\"sha256\":\"\(lowered)".utf8))]
                ) { row in
                    if let record = record(row), record.sha256.hex.hasPrefix(lowered) {
                        found[record.sequence] = record
                    }
                }
            }
            return found.keys.sorted().map { found[$0]! }
        }
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

/// Reads stored tree hashes from the entry rows that stored them, one primary-key look-up each.
struct SQLiteHashReader: StoredHashReader {
    let db: SQLiteConnection

    func readHashes(at indexes: [Int64]) throws -> [Hash] {
        try indexes.map { index in
            let (leaf, offset) = StoredHashes.storingLeaf(ofIndex: index)
            let hash = try db.firstRow("SELECT tree FROM entries WHERE seq = ?", [.integer(leaf)]) { row in
                row.withBlob(0) { blob -> Hash? in
                    let start = offset * Hash.byteCount
                    guard blob.count >= start + Hash.byteCount else { return nil }
                    return Hash(bytes: UnsafeRawBufferPointer(rebasing: blob[start..<start + Hash.byteCount]))
                }
            }
            guard let hash, let hash else {
                throw LedgerError(
                    .corrupt, "\(db.path): the tree hash at index \(index) (entry \(leaf)) is missing or damaged")
            }
            return hash
        }
    }
}
