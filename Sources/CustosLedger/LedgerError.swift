import CustosSQLite

/// An error of the ledger: it names the ledger file and the reason.
public struct LedgerError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case missing, corrupt, wrongLedger, database, notFound, checkpointRace, invalid
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The ledger file does not exist (it is never recreated silently).
        public static let missing = Code(.missing)
        /// The file is not a sound ledger database.
        public static let corrupt = Code(.corrupt)
        /// The ledger belongs to another log origin.
        public static let wrongLedger = Code(.wrongLedger)
        /// SQLite failed.
        public static let database = Code(.database)
        /// No such entry, item or checkpoint.
        public static let notFound = Code(.notFound)
        /// The latest checkpoint changed between read and write (compare-and-swap failed).
        public static let checkpointRace = Code(.checkpointRace)
        /// A request that cannot be answered (a size beyond the tree, say).
        public static let invalid = Code(.invalid)

        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { "\(message): \(cause)" } else { message }
    }

    /// True when the ledger could not be written because its disk is full.
    public var isDiskFull: Bool { (cause as? SQLiteError)?.isDiskFull ?? false }
    /// A write or sync of the ledger failed (not a full disk, not a busy lock).
    public var isStorageFailure: Bool { (cause as? SQLiteError)?.isStorageFailure ?? false }

    /// Wraps an SQLite error, recognising a damaged file.
    static func database(_ error: SQLiteError, path: String) -> LedgerError {
        if error.isCorruption {
            return LedgerError(.corrupt, "\(path): the ledger database is damaged or not a ledger", cause: error)
        }
        return LedgerError(.database, "\(path): ledger database error", cause: error)
    }
}
