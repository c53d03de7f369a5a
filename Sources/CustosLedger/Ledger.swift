import CustosFormats
import CustosOpenSSL
import CustosSQLite
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
                try db.run("INSERT INTO checkpoints (size, note, signed_at) VALUES (0, ?, ?)", [.text(note), .text(now)])
                try db.run("INSERT INTO latest_checkpoint (id, size, note) VALUES (1, 0, ?)", [.text(note)])
            }
        } catch let error as SQLiteError {
            throw LedgerError.database(error, path: path)
        }
    }

    /// Opens an existing ledger of `origin`. A missing file is an error: it is never recreated.
    public init(path: String, origin: String, readOnly: Bool = false) throws {
        self.path = path
        self.origin = origin
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.missing, "\(path): the ledger is missing; it is never recreated on its own")
        }
        do {
            db = try SQLiteConnection(path: path, mode: readOnly ? .readOnly : .readWrite)
            if !readOnly {
                try db.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;")
            }
            let stored = try db.firstRow("SELECT value FROM meta WHERE key = 'origin'") { $0.text(0) } ?? nil
            guard let stored else { throw LedgerError(.corrupt, "\(path): the ledger has no origin") }
            guard stored == origin else {
                throw LedgerError(.wrongLedger, "\(path): the ledger is of \(stored), not of \(origin)")
            }
            let schema = try db.firstRow("SELECT value FROM meta WHERE key = 'schema'") { $0.text(0) } ?? nil
            guard schema == LedgerSchema.version else {
                throw LedgerError(
                    .wrongLedger,
                    "\(path): the ledger has schema \(schema ?? "none"); this custos reads schema \(LedgerSchema.version)")
            }
        } catch let error as SQLiteError {
            throw LedgerError.database(error, path: path)
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
    public func append(_ events: [NewCustodyEvent]) throws -> [CustodyEntry] {
        guard !events.isEmpty else { return [] }
        return try sql {
            try db.writeTransaction {
                var (size, previous) = try tip()
                var appended = [CustodyEntry]()
                appended.reserveCapacity(events.count)
                // The hashes this batch stores are kept at hand: appending a leaf combines it with
                // the last subtrees stored, which are nearly always from the same batch.
                var reader = CachingHashReader(stored: SQLiteHashReader(db: db))
                let insert = try db.statement(
                    """
                    INSERT INTO entries (seq, body, tree, item, case_id, exhibit, name, content_key)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for event in events {
                    let entry = CustodyEntry(
                        sequence: UInt64(size), type: event.type, item: event.item, time: event.time, node: origin,
                        actor: event.actor, previous: previous, details: event.details)
                    let body = entry.canonicalBytes
                    let entryHash = digester.sha256(body)
                    let neighbours = try reader.readHashes(at: StoredHashes.indexesNeededToAppend(leaf: size))
                    let added = StoredHashes.hashesToAppend(
                        leaf: size, leafHash: hasher.hashLeaf(body), neighbours: neighbours, hasher: hasher)
                    var tree = [UInt8]()
                    tree.reserveCapacity(added.count * Hash.byteCount)
                    var id = StoredHashes.index(level: 0, n: size)
                    for hash in added {
                        hash.withUnsafeBytes { tree.append(contentsOf: $0) }
                        reader.remember(hash, at: id)
                        id += 1
                    }
                    try insert.bind(size, at: 1)
                    try insert.bind(body, at: 2)
                    try insert.bind(tree, at: 3)
                    if let record = event.record {
                        try insert.bind(record.item, at: 4)
                        try insert.bind(record.caseID, at: 5)
                        try insert.bind(record.exhibit, at: 6)
                        try insert.bind(record.name, at: 7)
                        try insert.bind(Self.contentKey(record.sha256), at: 8)
                    } else {
                        for index in Int32(4)...8 { try insert.bindNull(at: index) }
                    }
                    try insert.execute()
                    appended.append(entry)
                    previous = entryHash
                    size += 1
                }
                return appended
            }
        }
    }

    /// The top 63 bits of a SHA-256, as the non-negative integer the item index is searched by;
    /// its order is the order of the hex digits.
    static func contentKey(_ hash: Hash) -> Int64 {
        hash.withUnsafeBytes { Int64(bitPattern: UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) >> 1) }
    }

    /// The range of content keys of the SHA-256 values whose hex starts with `prefix` (1 to 15 digits).
    static func contentKeyRange(hexPrefix prefix: String) -> ClosedRange<Int64>? {
        guard (1...15).contains(prefix.count), let value = UInt64(prefix, radix: 16) else { return nil }
        let shift = UInt64(4 * (16 - prefix.count))
        let low = value << shift
        let high = low | ((UInt64(1) << shift) - 1)
        return Int64(bitPattern: low >> 1)...Int64(bitPattern: high >> 1)
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
    @discardableResult
    public func checkpoint(signer: any NoteSigner, now: String) throws -> SignedNote {
        try sql {
            try db.writeTransaction {
                let (size, _) = try tip()
                guard let (latestSize, latestNote) = try db.firstRow("SELECT size, note FROM latest_checkpoint", [], {
                    ($0.int64(0), $0.text(1) ?? "")
                }) else {
                    throw LedgerError(.corrupt, "\(path): the latest checkpoint is missing")
                }
                if latestSize == size { return try SignedNote(parsing: latestNote) }
                guard latestSize < size else {
                    throw LedgerError(
                        .corrupt, "\(path): the latest checkpoint is of size \(latestSize), but the log has \(size) entries")
                }
                let root = try StoredHashes.treeHash(size: size, reader: SQLiteHashReader(db: db), hasher: hasher)
                let note = try SignedNote.sign(
                    text: Checkpoint(origin: origin, size: UInt64(size), root: root).text, signers: [signer])
                try db.run(
                    "INSERT INTO checkpoints (size, note, signed_at) VALUES (?, ?, ?)",
                    [.integer(size), .text(note.serialized), .text(now)])
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
            guard let body = try db.firstRow("SELECT body FROM entries WHERE seq = ?", [.integer(Int64(sequence))], {
                $0.blob(0)
            }) else {
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

    /// The items whose id starts with `prefix`, or whose SHA-256 (hex) does; both searches use
    /// an index.
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
            if let range = Self.contentKeyRange(hexPrefix: String(lowered.prefix(15))), !lowered.contains("-") {
                try db.forEachRow(
                    "SELECT \(Self.itemColumns) FROM items WHERE content_key BETWEEN ? AND ? ORDER BY seq",
                    [.integer(range.lowerBound), .integer(range.upperBound)]
                ) { row in
                    if let record = record(row), record.sha256.hex.hasPrefix(lowered) { found[record.sequence] = record }
                }
            }
            return found.keys.sorted().map { found[$0]! }
        }
    }

    /// An item already sealed with this SHA-256, whose archive can be shared.
    public func firstItem(withSHA256 sha256: Hash) throws -> ItemRecord? {
        try sql {
            var first: ItemRecord?
            try db.forEachRow(
                "SELECT \(Self.itemColumns) FROM items WHERE content_key = ? ORDER BY seq",
                [.integer(Self.contentKey(sha256))]
            ) { row in
                if first == nil, let record = record(row), record.sha256 == sha256 { first = record }
            }
            return first
        }
    }
}

/// Answers from the hashes stored in this transaction first, then from the table.
struct CachingHashReader: StoredHashReader {
    let stored: SQLiteHashReader
    private var recent: [Int64: Hash] = [:]

    init(stored: SQLiteHashReader) { self.stored = stored }

    mutating func remember(_ hash: Hash, at index: Int64) { recent[index] = hash }

    func readHashes(at indexes: [Int64]) throws -> [Hash] {
        try indexes.map { index in
            if let hash = recent[index] { return hash }
            return try stored.readHashes(at: [index])[0]
        }
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
                throw LedgerError(.corrupt, "\(db.path): the tree hash at index \(index) (entry \(leaf)) is missing or damaged")
            }
            return hash
        }
    }
}
