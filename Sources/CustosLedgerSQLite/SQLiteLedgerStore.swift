import CustosFormats
import CustosLedger
import CustosSQLite
import Foundation

/// The ledger's SQLite driver: a `LedgerStore` in one SQLite file (`LedgerSchema`), the store of
/// every vault. It keeps rows and answers queries; the log's logic is `Ledger`'s.
///
/// Every commit reaches the disk (`synchronous=FULL`, WAL); `BEGIN IMMEDIATE` serialises writers
/// across processes; triggers keep entries, their indexes, checkpoints and their stamps
/// append-only. One connection, used from one thread at a time.
public final class SQLiteLedgerStore: LedgerStore {
    public let location: String
    public let hasEventsIndex: Bool
    let db: SQLiteConnection

    /// Creates a new ledger file with its schema; refuses an existing file. The ledger itself is
    /// written by `Ledger.initialize`.
    public static func create(path: String) throws -> SQLiteLedgerStore {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.invalid, "\(path): a ledger already exists")
        }
        return try wrapping(path) {
            let db = try SQLiteConnection(path: path, mode: .create)
            try db.execute(LedgerSchema.create)
            try db.run("INSERT INTO meta (key, value) VALUES ('schema', ?)", [.text(LedgerSchema.version)])
            return SQLiteLedgerStore(db: db, path: path, hasEventsIndex: true)
        }
    }

    /// Opens an existing ledger file. A missing file is an error: it is never recreated.
    /// `cacheKiB` bounds SQLite's page cache for this connection: large for big batch appends,
    /// small for a long-running daemon whose appends touch only the end of the tables.
    /// A schema-9 file is upgraded in place when opened for writing, and read as it is otherwise;
    /// with `origin`, a ledger of another origin is refused before anything is written to it.
    public static func open(
        path: String, origin: String? = nil, readOnly: Bool = false, cacheKiB: Int = 65536
    ) throws -> SQLiteLedgerStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LedgerError(.missing, "\(path): the ledger is missing; it is never recreated on its own")
        }
        return try wrapping(path) {
            let db = try SQLiteConnection(path: path, mode: readOnly ? .readOnly : .readWrite)
            if !readOnly {
                // Every commit reaches the disk (synchronous=FULL); a 64 MiB page cache and a
                // WAL checkpointed every 8,192 pages keep large appends fast.
                try db.execute(
                    "PRAGMA synchronous = FULL; PRAGMA cache_size = -\(cacheKiB); PRAGMA wal_autocheckpoint = 8192;")
            }
            if let origin {
                let stored = try db.firstRow("SELECT value FROM meta WHERE key = 'origin'") { $0.text(0) } ?? nil
                guard let stored else { throw LedgerError(.corrupt, "\(path): the ledger has no origin") }
                guard stored == origin else {
                    throw LedgerError(.wrongLedger, "\(path): the ledger is of \(stored), not of \(origin)")
                }
            }
            var schema = try db.firstRow("SELECT value FROM meta WHERE key = 'schema'") { $0.text(0) } ?? nil
            if let older = schema, LedgerSchema.olderVersions.contains(older), !readOnly {
                try upgrade(db)
                schema = LedgerSchema.version
            }
            guard let schema, schema == LedgerSchema.version || LedgerSchema.olderVersions.contains(schema) else {
                throw LedgerError(
                    .wrongLedger,
                    "\(path): the ledger has schema \(schema ?? "none"); this custos reads schema \(LedgerSchema.version)"
                )
            }
            return SQLiteLedgerStore(
                db: db, path: path, hasEventsIndex: schema != "9", hasReleaseSidecars: schema == LedgerSchema.version)
        }
    }

    /// Whether the release journal keeps each original's sidecar as read (schema 11): an older
    /// ledger opened read-only reads its journal without it (every sidecar `.unknown`).
    let hasReleaseSidecars: Bool

    private init(db: SQLiteConnection, path: String, hasEventsIndex: Bool, hasReleaseSidecars: Bool = true) {
        self.db = db
        self.location = path
        self.hasEventsIndex = hasEventsIndex
        self.hasReleaseSidecars = hasReleaseSidecars
    }

    /// An older schema to the current one, in one transaction, step by step: 9 to 10 creates
    /// the events index and fills it from the entries (every entry that is neither `sealed` nor
    /// `timestamped`); 10 to 11 adds the release journal's sidecar columns (rows already
    /// journalled keep them NULL: not known). Then the schema is set.
    private static func upgrade(_ db: SQLiteConnection) throws {
        try db.writeTransaction {
            // Another process may have upgraded it between our read and this transaction.
            let schema = try db.firstRow("SELECT value FROM meta WHERE key = 'schema'") { $0.text(0) } ?? nil
            guard let schema, LedgerSchema.olderVersions.contains(schema) else { return }
            if schema == "9" { try addEventsIndex(db) }
            // Only where they are missing: each step makes what its schema lacks.
            var columns = Set<String>()
            try db.forEachRow("SELECT name FROM pragma_table_info('releases')") { columns.insert($0.text(0) ?? "") }
            if !columns.contains("sidecar_state") { try db.execute(LedgerSchema.releaseSidecarColumns) }
            try db.run("UPDATE meta SET value = ? WHERE key = 'schema'", [.text(LedgerSchema.version)])
        }
    }

    /// Schema 9 to 10: the events index, filled from the entries.
    private static func addEventsIndex(_ db: SQLiteConnection) throws {
        try db.execute(LedgerSchema.events)
        try db.withStatement("INSERT INTO events (seq, item) VALUES (?, ?)") { insert in
            try db.forEachRow("SELECT seq, body FROM entries WHERE item IS NULL ORDER BY seq") { row in
                guard let entry = try? CustodyEntry(parsing: row.blob(1)), EntryRow.isIndexedAsEvent(entry.type)
                else { return }
                try insert.bind(row.int64(0), at: 1)
                try insert.bind(entry.item, at: 2)
                try insert.execute()
            }
        }
    }

    /// Runs `body`, turning SQLite's errors into the ledger's, naming the file.
    private static func wrapping<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw ledgerError(error, path: path)
        }
    }

    private func sql<T>(_ body: () throws -> T) throws -> T { try Self.wrapping(location, body) }

    /// The ledger's error for an SQLite error: a damaged file, a full disk, a failed write.
    static func ledgerError(_ error: SQLiteError, path: String) -> LedgerError {
        if error.isCorruption {
            return LedgerError(.corrupt, "\(path): the ledger database is damaged or not a ledger", cause: error)
        }
        let condition: LedgerError.StorageCondition? =
            error.isDiskFull ? .diskFull : error.isStorageFailure ? .writeFailed : nil
        return LedgerError(.database, "\(path): ledger database error", cause: error, storageCondition: condition)
    }

    private static func sequence(_ value: Int64) -> UInt64 { UInt64(max(0, value)) }

    // MARK: - Transactions and metadata

    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try sql { try db.readTransaction(body) }
    }

    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try sql { try db.writeTransaction(body) }
    }

    public func metadata(_ key: String) throws -> String? {
        try sql { try db.firstRow("SELECT value FROM meta WHERE key = ?", [.text(key)]) { $0.text(0) } ?? nil }
    }

    public func setMetadata(_ key: String, _ value: String) throws {
        try sql { try db.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [.text(key), .text(value)]) }
    }

    // MARK: - The log

    public func lastEntry() throws -> (sequence: UInt64, body: [UInt8])? {
        try sql {
            try db.firstRow("SELECT seq, body FROM entries ORDER BY seq DESC LIMIT 1") {
                (Self.sequence($0.int64(0)), $0.blob(1))
            }
        }
    }

    public func entryBody(_ sequence: UInt64) throws -> [UInt8]? {
        try sql {
            try db.firstRow("SELECT body FROM entries WHERE seq = ?", [.integer(Int64(sequence))]) { $0.blob(0) }
        }
    }

    public func storedHash(_ sequence: UInt64, position: Int) throws -> Hash? {
        try sql {
            try db.withStatement("SELECT tree FROM entries WHERE seq = ?") { statement in
                try statement.bind(Int64(sequence), at: 1)
                guard try statement.step() else { return nil }
                return statement.withBlob(0) { blob -> Hash? in
                    let start = position * Hash.byteCount
                    guard position >= 0, blob.count >= start + Hash.byteCount else { return nil }
                    return Hash(bytes: UnsafeRawBufferPointer(rebasing: blob[start..<start + Hash.byteCount]))
                }
            }
        }
    }

    public func forEachEntry(_ body: (UInt64, [UInt8], [UInt8]) throws -> Void) throws {
        try sql {
            try db.forEachRow("SELECT seq, body, tree FROM entries ORDER BY seq") { row in
                try body(Self.sequence(row.int64(0)), row.blob(1), row.blob(2))
            }
        }
    }

    public func entryBodies(containing bytes: [UInt8]) throws -> [[UInt8]] {
        try bodies("SELECT body FROM entries WHERE instr(body, ?) > 0 ORDER BY seq", [.blob(bytes)])
    }

    private func bodies(_ query: String, _ arguments: [SQLiteValue]) throws -> [[UInt8]] {
        try sql {
            var found = [[UInt8]]()
            try db.forEachRow(query, arguments) { found.append($0.blob(0)) }
            return found
        }
    }

    public func withAppender<T>(_ body: (any LedgerEntryAppender) throws -> T) throws -> T {
        let insertSQL =
            "INSERT INTO entries (seq, body, tree, item, case_id, exhibit, name) VALUES (?, ?, ?, ?, ?, ?, ?)"
        let stampSQL = "INSERT INTO stamps (seq, subject, source, token, der) VALUES (?, ?, ?, ?, ?)"
        return try sql {
            try db.withStatement(insertSQL) { insert in
                try db.withStatement(stampSQL) { stampInsert in
                    try body(Appender(db: db, insert: insert, stampInsert: stampInsert, hasEventsIndex: hasEventsIndex))
                }
            }
        }
    }

    /// Binds each row to statements prepared once per append; an event's row (rare while
    /// sealing) goes through the connection's cached statement.
    private struct Appender: LedgerEntryAppender {
        let db: SQLiteConnection
        let insert: SQLiteStatement
        let stampInsert: SQLiteStatement
        let hasEventsIndex: Bool

        func append(_ row: EntryRow) throws {
            let sequence = Int64(row.sequence)
            try insert.bind(sequence, at: 1)
            try insert.bind(row.body, at: 2)
            try insert.bind(row.tree, at: 3)
            if let item = row.item {
                try insert.bind(item.item, at: 4)
                try insert.bind(item.caseID, at: 5)
                try insert.bind(item.exhibit, at: 6)
                try insert.bind(item.name, at: 7)
            } else {
                for index in Int32(4)...7 { try insert.bindNull(at: index) }
            }
            try insert.execute()
            if let (stamp, token) = row.stamp {
                try stampInsert.bind(sequence, at: 1)
                try stampInsert.bind(stamp.subject, at: 2)
                try stampInsert.bind(stamp.source, at: 3)
                try stampInsert.bind(stamp.tokenDigest, at: 4)
                try stampInsert.bind(token, at: 5)
                try stampInsert.execute()
            }
            if let item = row.eventItem {
                guard hasEventsIndex else {
                    throw LedgerError(.invalid, "\(db.path): the ledger has no events index (opened read-only)")
                }
                try db.run("INSERT INTO events (seq, item) VALUES (?, ?)", [.integer(sequence), .text(item)])
            }
        }
    }

    // MARK: - Indexes

    static let itemColumns = "seq, body, item, case_id, exhibit, name"

    public func items(_ filter: ItemFilter) throws -> [IndexedItem] {
        let (condition, arguments): (String, [SQLiteValue]) =
            switch filter {
            case .all: ("", [])
            case .inCase(let caseID): ("WHERE case_id = ?", [.text(caseID)])
            case .from(let sequence): ("WHERE seq >= ?", [.integer(Int64(clamping: sequence))])
            case .idPrefix(let prefix): ("WHERE item GLOB ?", [.text(Self.globEscaped(prefix) + "*")])
            case .bodyContaining(let bytes): ("WHERE instr(body, ?) > 0", [.blob(bytes)])
            }
        return try sql {
            var found = [IndexedItem]()
            try db.forEachRow("SELECT \(Self.itemColumns) FROM items \(condition) ORDER BY seq", arguments) { row in
                found.append(
                    IndexedItem(
                        sequence: Self.sequence(row.int64(0)), body: row.blob(1),
                        row: ItemIndexRow(
                            item: row.text(2) ?? "", caseID: row.text(3) ?? "", exhibit: row.text(4) ?? "",
                            name: row.blob(5))))
            }
            return found
        }
    }

    /// A prefix matched literally by GLOB: its special characters each in a class of their own.
    static func globEscaped(_ prefix: String) -> String {
        prefix.map { "*?[".contains($0) ? "[\($0)]" : String($0) }.joined()
    }

    public func itemIndex() throws -> [UInt64: String] {
        try keyed("SELECT seq, item FROM entries WHERE item IS NOT NULL")
    }

    public func eventIndex() throws -> [UInt64: String] {
        guard hasEventsIndex else { return [:] }
        return try keyed("SELECT seq, item FROM events")
    }

    private func keyed(_ query: String) throws -> [UInt64: String] {
        try sql {
            var rows = [UInt64: String]()
            try db.forEachRow(query) { rows[Self.sequence($0.int64(0))] = $0.text(1) ?? "" }
            return rows
        }
    }

    public func entryBodies(about item: String, wholeVaultAfter: UInt64?) throws -> [[UInt8]] {
        var arguments: [SQLiteValue] = [.text(item), .text(item), .text(item)]
        var wholeVault = ""
        if let wholeVaultAfter {
            wholeVault = " UNION SELECT seq FROM events WHERE item = '' AND seq > ?"
            arguments.append(.integer(Int64(clamping: wholeVaultAfter)))
        }
        return try bodies(
            """
            SELECT e.body FROM entries e WHERE e.seq IN (
                SELECT seq FROM entries WHERE item = ? UNION SELECT seq FROM stamps WHERE subject = ?
                UNION SELECT seq FROM events WHERE item = ?\(wholeVault))
            ORDER BY e.seq
            """, arguments)
    }

    public func entryBodies(stamping subject: String) throws -> [[UInt8]] {
        try bodies(
            "SELECT e.body FROM stamps s JOIN entries e ON e.seq = s.seq WHERE s.subject = ? ORDER BY s.seq",
            [.text(subject)])
    }

    public func stampToken(at sequence: UInt64) throws -> [UInt8]? {
        try sql { try db.firstRow("SELECT der FROM stamps WHERE seq = ?", [.integer(Int64(sequence))]) { $0.blob(0) } }
    }

    public func stampSources() throws -> [(subject: String, source: String)] {
        try sql {
            var found = [(subject: String, source: String)]()
            try db.forEachRow("SELECT DISTINCT subject, source FROM stamps") {
                found.append(($0.text(0) ?? "", $0.text(1) ?? ""))
            }
            return found
        }
    }

    public func stampIndex() throws -> [UInt64: StampIndexRow] {
        try sql {
            var rows = [UInt64: StampIndexRow]()
            try db.forEachRow("SELECT seq, subject, source, token FROM stamps") { row in
                rows[Self.sequence(row.int64(0))] = StampIndexRow(
                    subject: row.text(1) ?? "", source: row.text(2) ?? "", tokenDigest: row.blob(3))
            }
            return rows
        }
    }

    // MARK: - Checkpoints

    public func insertCheckpoint(size: UInt64, note: String, signedAt: String) throws {
        try sql {
            try db.run(
                "INSERT INTO checkpoints (size, note, signed_at) VALUES (?, ?, ?)",
                [.integer(Int64(size)), .text(note), .text(signedAt)])
        }
    }

    public func checkpoint(size: UInt64) throws -> String? {
        try sql {
            try db.firstRow("SELECT note FROM checkpoints WHERE size = ?", [.integer(Int64(size))]) { $0.text(0) }
                ?? nil
        }
    }

    public func checkpoints() throws -> [(size: UInt64, note: String, signedAt: String)] {
        try sql {
            var all = [(size: UInt64, note: String, signedAt: String)]()
            try db.forEachRow("SELECT size, note, signed_at FROM checkpoints ORDER BY size") {
                all.append((Self.sequence($0.int64(0)), $0.text(1) ?? "", $0.text(2) ?? ""))
            }
            return all
        }
    }

    public func latestCheckpoint() throws -> (size: UInt64, note: String)? {
        try sql {
            let row = try db.firstRow("SELECT size, note FROM latest_checkpoint WHERE id = 1") {
                (Self.sequence($0.int64(0)), $0.text(1))
            }
            guard let (size, note) = row, let note else { return nil }
            return (size, note)
        }
    }

    public func replaceLatestCheckpoint(size: UInt64, note: String, ifStill previous: String?) throws -> Bool {
        try sql {
            if let previous {
                try db.run(
                    "UPDATE latest_checkpoint SET size = ?, note = ? WHERE id = 1 AND note = ?",
                    [.integer(Int64(size)), .text(note), .text(previous)])
            } else {
                try db.run(
                    "INSERT OR IGNORE INTO latest_checkpoint (id, size, note) VALUES (1, ?, ?)",
                    [.integer(Int64(size)), .text(note)])
            }
            return db.changes == 1
        }
    }

    public func insertCheckpointStamp(_ stamp: CheckpointStamp) throws {
        try sql {
            try db.run(
                "INSERT INTO checkpoint_stamps (size, root, source, anchors, der) VALUES (?, ?, ?, ?, ?)",
                [
                    .integer(Int64(stamp.size)), .text(stamp.root), .text(stamp.source),
                    stamp.anchors.map { .text($0.hex) } ?? .null, .blob(stamp.token),
                ])
        }
    }

    public func checkpointStamps(size: UInt64?) throws -> [CheckpointStamp] {
        try sql {
            var found = [CheckpointStamp]()
            let (filter, arguments): (String, [SQLiteValue]) =
                size.map { ("WHERE size = ?", [.integer(Int64($0))]) } ?? ("", [])
            try db.forEachRow(
                "SELECT size, root, source, anchors, der FROM checkpoint_stamps \(filter) ORDER BY size, source",
                arguments
            ) { row in
                found.append(
                    CheckpointStamp(
                        size: Self.sequence(row.int64(0)), root: row.text(1) ?? "", source: row.text(2) ?? "",
                        anchors: row.text(3).flatMap { Hash(hex: $0) }, token: row.blob(4)))
            }
            return found
        }
    }

    // MARK: - The release journal

    public func journal(_ releases: [PendingRelease]) throws {
        let insertSQL = """
            INSERT OR REPLACE INTO releases (
                item, path, device, inode, size, mtime_ns, destination,
                sidecar_state, sidecar_device, sidecar_inode, sidecar_ctime_ns)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        try sql {
            try db.withStatement(insertSQL) { insert in
                for release in releases {
                    try insert.bind(release.item, at: 1)
                    try insert.bind(release.path, at: 2)
                    try insert.bind(Int64(bitPattern: release.device), at: 3)
                    try insert.bind(Int64(bitPattern: release.inode), at: 4)
                    try insert.bind(release.size, at: 5)
                    try insert.bind(release.modifiedNanoseconds, at: 6)
                    try insert.bind(release.destination, at: 7)
                    switch release.sidecar {
                    case .none:
                        try insert.bind(0, at: 8)
                        for index in Int32(9)...11 { try insert.bindNull(at: index) }
                    case .file(let device, let inode, let changed):
                        try insert.bind(1, at: 8)
                        try insert.bind(Int64(bitPattern: device), at: 9)
                        try insert.bind(Int64(bitPattern: inode), at: 10)
                        try insert.bind(changed, at: 11)
                    case .unknown:
                        for index in Int32(8)...11 { try insert.bindNull(at: index) }
                    }
                    try insert.execute()
                }
            }
        }
    }

    public func removeReleases(_ items: [String]) throws {
        try sql {
            try db.withStatement("DELETE FROM releases WHERE item = ?") { delete in
                for item in items {
                    try delete.bind(item, at: 1)
                    try delete.execute()
                }
            }
        }
    }

    public func pendingReleases() throws -> [PendingRelease] {
        try sql {
            var found = [PendingRelease]()
            let sidecarColumns =
                hasReleaseSidecars
                ? "sidecar_state, sidecar_device, sidecar_inode, sidecar_ctime_ns" : "NULL, NULL, NULL, NULL"
            try db.forEachRow(
                "SELECT item, path, device, inode, size, mtime_ns, destination, \(sidecarColumns) FROM releases ORDER BY item"
            ) { row in
                let sidecar: PendingRelease.SidecarAsRead =
                    switch row.isNull(7) ? nil : row.int64(7) {
                    case 0: .none
                    case 1:
                        .file(
                            device: UInt64(bitPattern: row.int64(8)), inode: UInt64(bitPattern: row.int64(9)),
                            changedNanoseconds: row.int64(10))
                    default: .unknown
                    }
                found.append(
                    PendingRelease(
                        item: row.text(0) ?? "", path: row.blob(1), device: UInt64(bitPattern: row.int64(2)),
                        inode: UInt64(bitPattern: row.int64(3)), size: row.int64(4),
                        modifiedNanoseconds: row.int64(5), destination: row.blob(6), sidecar: sidecar))
            }
            return found
        }
    }
}

extension Ledger {
    /// Creates a new ledger file in SQLite with its first checkpoint, of the empty tree. Refuses
    /// an existing file.
    public static func create(path: String, origin: String, signer: any NoteSigner, now: String) throws {
        try initialize(SQLiteLedgerStore.create(path: path), origin: origin, signer: signer, now: now)
    }

    /// Opens the SQLite ledger of `origin` at `path`. A missing file is an error: it is never recreated.
    public convenience init(path: String, origin: String, readOnly: Bool = false, cacheKiB: Int = 65536) throws {
        try self.init(
            store: SQLiteLedgerStore.open(path: path, origin: origin, readOnly: readOnly, cacheKiB: cacheKiB),
            origin: origin)
    }
}
