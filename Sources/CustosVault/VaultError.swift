/// An error of the vault: it names the vault path and the reason.
public struct VaultError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case notFound, notInitialised, alreadyExists, badConfiguration, keyProblem, storage, locked, badLayout
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// No vault at the path.
        public static let notFound = Code(.notFound)
        /// A folder that is not a Custos vault.
        public static let notInitialised = Code(.notInitialised)
        /// `init` on an existing vault.
        public static let alreadyExists = Code(.alreadyExists)
        public static let badConfiguration = Code(.badConfiguration)
        /// The signing key is missing, unreadable, of the wrong mode, or does not match.
        public static let keyProblem = Code(.keyProblem)
        /// Writing to the vault failed (read-only, full, fsync error).
        public static let storage = Code(.storage)
        /// Another process holds the lock (a second daemon for the same vault).
        public static let locked = Code(.locked)
        /// A symbolic link (or a file of the wrong kind) where the vault keeps a file or folder:
        /// refused, never followed.
        public static let badLayout = Code(.badLayout)

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
