import CSQLite

/// An error from SQLite: the database file, what was being done, and SQLite's code and message.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// SQLite's extended result code (`SQLITE_BUSY`, `SQLITE_CORRUPT`, …).
    public let code: Int32
    public let message: String
    /// The database file.
    public let path: String

    public init(code: Int32, message: String, path: String) {
        self.code = code
        self.message = message
        self.path = path
    }

    /// The primary result code (the low byte of the extended one).
    public var primaryCode: Int32 { code & 0xff }

    /// True for the codes that mean the file is not a sound database.
    /// The disk (or quota) is full: SQLITE_FULL, or an I/O error whose cause is ENOSPC.
    public var isDiskFull: Bool { primaryCode == SQLITE_FULL }
    /// A write or sync of the database failed (I/O error, a read-only medium): sealing stops.
    public var isStorageFailure: Bool { primaryCode == SQLITE_IOERR || primaryCode == SQLITE_READONLY }

    public var isCorruption: Bool {
        primaryCode == SQLITE_CORRUPT || primaryCode == SQLITE_NOTADB
    }

    public var description: String {
        "\(path): \(message) (SQLite code \(code): \(String(cString: sqlite3_errstr(code))))"
    }
}
