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
        /// The store failed (the database reported an error).
        public static let database = Code(.database)
        /// No such entry, item or checkpoint.
        public static let notFound = Code(.notFound)
        /// The latest checkpoint changed between read and write (compare-and-swap failed).
        public static let checkpointRace = Code(.checkpointRace)
        /// A request that cannot be answered (a size beyond the tree, say).
        public static let invalid = Code(.invalid)

        public var description: String { "\(value)" }
    }

    /// What the store says of its storage when it failed, so that callers can tell a full disk
    /// (pause, free space) from a failed write (stop, the disk is failing).
    public enum StorageCondition: Sendable {
        case diskFull
        case writeFailed
    }

    public let code: Code
    public let message: String
    public let cause: (any Error)?
    public let storageCondition: StorageCondition?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, storageCondition: StorageCondition? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
        self.storageCondition = storageCondition
    }

    public var description: String {
        if let cause { "\(message): \(cause)" } else { message }
    }

    /// True when the ledger could not be written because its disk is full.
    public var isDiskFull: Bool { storageCondition == .diskFull }
    /// A write or sync of the ledger failed (not a full disk, not a busy lock).
    public var isStorageFailure: Bool { storageCondition == .writeFailed }
}
