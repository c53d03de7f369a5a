import CSQLite

/// A value bound to, or read from, a statement.
public enum SQLiteValue: Hashable, Sendable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

/// One SQLite connection. Owns the `sqlite3` handle and its cached statements, and closes them in
/// `deinit`. A connection is used by one thread at a time, so it is not `Sendable`.
public final class SQLiteConnection {
    /// How to open the file.
    public enum OpenMode: Sendable {
        /// The file must exist: a missing ledger is an error, never silently recreated.
        case readWrite
        case readOnly
        /// Create the file; only `custos init` does this.
        case create
    }

    public let path: String
    private let handle: OpaquePointer
    private var cache: [String: SQLiteStatement] = [:]

    public init(path: String, mode: OpenMode, busyTimeoutMilliseconds: Int32 = 60_000) throws {
        self.path = path
        var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOFOLLOW
        switch mode {
        case .readWrite: flags |= SQLITE_OPEN_READWRITE
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .create: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        var db = try Self.open(path, flags: flags)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        if mode == .readOnly, sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", nil, nil, nil) == SQLITE_CANTOPEN {
            // A WAL database on read-only media (a vault copied to a DVD for the court) cannot
            // create its -shm file; opened as immutable it can still be read and verified.
            sqlite3_close_v2(db)
            let uri = "file:" + path.addingPercentEncodingForURI() + "?immutable=1"
            db = try Self.open(uri, flags: flags | SQLITE_OPEN_URI)
        }
        self.handle = db
    }

    private static func open(_ name: String, flags: Int32) throws -> OpaquePointer {
        var db: OpaquePointer?
        let result = sqlite3_open_v2(name, &db, flags, nil)
        guard result == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            throw SQLiteError(code: result, message: message, path: name)
        }
        return db
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ code: Int32, _ what: String) -> SQLiteError {
        SQLiteError(code: code, message: "\(what): \(String(cString: sqlite3_errmsg(handle)))", path: path)
    }

    /// Runs one or more statements without results.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &message)
        if result != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: text, path: path)
        }
    }

    /// Runs `body` with a prepared statement for `sql`, taken out of the cache for as long as
    /// `body` runs and put back, reset, after it: a user nested inside (the same text in a loop
    /// over its rows) gets a statement of its own, never this one reset in the middle of its use.
    public func withStatement<T>(_ sql: String, _ body: (SQLiteStatement) throws -> T) throws -> T {
        let statement: SQLiteStatement
        if let cached = cache.removeValue(forKey: sql) {
            statement = cached
        } else {
            var raw: OpaquePointer?
            let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
            guard result == SQLITE_OK, let raw else { throw error(result, "preparing \(sql)") }
            statement = SQLiteStatement(raw, connection: self)
        }
        defer {
            statement.reset()
            cache[sql] = statement
        }
        return try body(statement)
    }

    /// Runs a statement with arguments, for its effect.
    public func run(_ sql: String, _ arguments: [SQLiteValue] = []) throws {
        try withStatement(sql) { statement in
            try statement.bind(arguments)
            while try statement.step() {}
        }
    }

    /// Runs a query and hands each row to `body`.
    public func forEachRow(_ sql: String, _ arguments: [SQLiteValue] = [], _ body: (SQLiteStatement) throws -> Void)
        throws
    {
        try withStatement(sql) { statement in
            try statement.bind(arguments)
            while try statement.step() { try body(statement) }
        }
    }

    /// The first row of a query, mapped by `body`, or nil when there is none.
    public func firstRow<T>(_ sql: String, _ arguments: [SQLiteValue] = [], _ body: (SQLiteStatement) throws -> T)
        throws -> T?
    {
        try withStatement(sql) { statement in
            try statement.bind(arguments)
            return try statement.step() ? body(statement) : nil
        }
    }

    /// Runs `body` in a transaction: `BEGIN IMMEDIATE` takes the write lock at once, so two writers
    /// (two `custos ingest` processes) queue on the busy timeout rather than fail mid-way.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` in a read transaction: every read sees one snapshot. Transactions do not nest
    /// (SQLite refuses a BEGIN inside one). The transaction always ends: a COMMIT that fails is
    /// followed by a ROLLBACK (what was read stands: it was one snapshot), and a connection left
    /// inside it all the same is an error, never kept silently for the next caller.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN DEFERRED")
        let result: T
        do {
            result = try body()
        } catch {
            try? endReadTransaction()
            throw error
        }
        try endReadTransaction()
        return result
    }

    private func endReadTransaction() throws {
        do {
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            guard sqlite3_get_autocommit(handle) != 0 else { throw error }
        }
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A prepared statement, owned by its connection's cache and finalized in `deinit`.
public final class SQLiteStatement {
    private let raw: OpaquePointer
    private unowned let connection: SQLiteConnection

    init(_ raw: OpaquePointer, connection: SQLiteConnection) {
        self.raw = raw
        self.connection = connection
    }

    deinit { sqlite3_finalize(raw) }

    public func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    public func bind(_ arguments: [SQLiteValue]) throws {
        for (offset, value) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .null: result = sqlite3_bind_null(raw, index)
            case .integer(let v): result = sqlite3_bind_int64(raw, index, v)
            case .text(let v): result = sqlite3_bind_text(raw, index, v, -1, custos_sqlite_transient())
            case .blob(let v):
                result = v.withUnsafeBytes {
                    sqlite3_bind_blob(
                        raw, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count),
                        custos_sqlite_transient())
                }
            }
            guard result == SQLITE_OK else { throw connection.error(result, "binding argument \(index)") }
        }
    }

    /// Binds one integer (parameters count from 1).
    public func bind(_ value: Int64, at index: Int32) throws {
        try check(sqlite3_bind_int64(raw, index, value), index)
    }

    /// Binds one text, copied by SQLite.
    public func bind(_ value: String, at index: Int32) throws {
        try check(sqlite3_bind_text(raw, index, value, -1, custos_sqlite_transient()), index)
    }

    /// Binds one blob, copied by SQLite.
    public func bind(_ value: [UInt8], at index: Int32) throws {
        let result = value.withUnsafeBytes {
            sqlite3_bind_blob(
                raw, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count),
                custos_sqlite_transient())
        }
        try check(result, index)
    }

    public func bindNull(at index: Int32) throws {
        try check(sqlite3_bind_null(raw, index), index)
    }

    private func check(_ result: Int32, _ index: Int32) throws {
        guard result == SQLITE_OK else { throw connection.error(result, "binding argument \(index)") }
    }

    /// Runs a statement that returns no rows, then resets it for the next use.
    public func execute() throws {
        defer { reset() }
        while try step() {}
    }

    /// Advances to the next row; false when done.
    public func step() throws -> Bool {
        let result = sqlite3_step(raw)
        switch result {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(result, "running \(String(cString: sqlite3_sql(raw)))")
        }
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    public func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(raw, column) else { return nil }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(raw, column))
        guard count > 0, let pointer = sqlite3_column_blob(raw, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The column's bytes without a copy, valid only inside `body`.
    public func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let count = Int(sqlite3_column_bytes(raw, column))
        let pointer = sqlite3_column_blob(raw, column)
        return try body(UnsafeRawBufferPointer(start: count > 0 ? pointer : nil, count: count))
    }
}

extension String {
    /// Percent-escapes what an SQLite URI filename cannot hold literally.
    func addingPercentEncodingForURI() -> String {
        var out = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "%"), UInt8(ascii: "?"), UInt8(ascii: "#"), 0..<0x21, 0x7f...:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            default:
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    fileprivate func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
