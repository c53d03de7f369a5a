/// An error of a custody workflow (extract, annotate, history, transfer, receive): it names the
/// item or file and the reason.
public struct CustodyError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case refused, unknownItem, missing, altered, exists, untrusted, duplicate, forbiddenByLifecycle, fourEyes,
                unknownRequest, failed
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Bad input: a missing reason, a note with control characters or too long, a bad name.
        public static let refused = Code(.refused)
        /// No item of that id (or prefix) in the ledger.
        public static let unknownItem = Code(.unknownItem)
        /// Something the ledger records is not in the vault (an archive, a details document).
        public static let missing = Code(.missing)
        /// Bytes do not match what the ledger records (an archive, a details document, a handover).
        public static let altered = Code(.altered)
        /// The target already exists; nothing is overwritten.
        public static let exists = Code(.exists)
        /// Signed by a node this vault does not know.
        public static let untrusted = Code(.untrusted)
        /// Already recorded (an item already received).
        public static let duplicate = Code(.duplicate)
        /// Refused by the item's lifecycle: a legal hold, a retention date not yet passed, an item
        /// already disposed of or with a disposal request pending, an archive destroyed.
        public static let forbiddenByLifecycle = Code(.forbiddenByLifecycle)
        /// A disposal approved by the account that requested it (four eyes: a second account must).
        public static let fourEyes = Code(.fourEyes)
        /// No disposal request of that id in the ledger.
        public static let unknownRequest = Code(.unknownRequest)
        /// Something other than the input failed (the disk, the ledger, a library): the input was
        /// not refused.
        public static let failed = Code(.failed)

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
}

extension CustodyError {
    /// The CLI's exit status for this error: 1 when something recorded failed its check (a
    /// document or archive missing or altered), 2 for a refused input.
    public var exitCode: Int32 { code == .missing || code == .altered ? 1 : 2 }
}
