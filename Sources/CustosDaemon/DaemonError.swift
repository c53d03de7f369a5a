/// Why the daemon stopped or would not start: a code, a message and the underlying cause.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case sealingStopped, inboxUnusable, authorityUnusable
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A write or fsync of the vault failed: sealing stopped until an operator has looked.
        public static let sealingStopped = Code(.sealingStopped)
        /// The inbox, `sealed` or `rejected` cannot be used (missing, not a folder, other file systems).
        public static let inboxUnusable = Code(.inboxUnusable)
        /// An external time-stamping authority's trust anchors cannot be read.
        public static let authorityUnusable = Code(.authorityUnusable)

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

    public var description: String { message }
}
