import Glibc

/// Why the server could not start, or could not name a caller.
public struct LocalServerError: Error, CustomStringConvertible, Sendable, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case invalidSettings, unsafeFolder, pathOccupied, anotherServer, unknownGroup, systemCall, credentials,
                incompleteBody
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The settings or limits cannot be used (a path without a file name, a limit not positive).
        public static let invalidSettings = Code(.invalidSettings)
        /// The socket's folder is a symbolic link, not a folder, or writable by others.
        public static let unsafeFolder = Code(.unsafeFolder)
        /// Something that is not a socket is at the socket's path (left as it is).
        public static let pathOccupied = Code(.pathOccupied)
        /// A live server answers at the socket's path.
        public static let anotherServer = Code(.anotherServer)
        /// The configured group does not exist.
        public static let unknownGroup = Code(.unknownGroup)
        /// A system call failed (the message names it and the path).
        public static let systemCall = Code(.systemCall)
        /// The kernel did not say who the peer is.
        public static let credentials = Code(.credentials)
        /// A streamed request body ended before the length its head declared.
        public static let incompleteBody = Code(.incompleteBody)

        public var description: String { "\(value)" }
    }

    public let code: Code
    /// The path concerned (the socket or its folder); empty for a connection's credentials.
    public let path: String
    public let message: String
    /// The errno of the failed call, if one failed.
    public let errno: Int32?

    public init(_ code: Code, path: String, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.errno = errno
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }

    public static func == (lhs: LocalServerError, rhs: LocalServerError) -> Bool { lhs.code == rhs.code }

    static func system(_ call: String, path: String, errno: Int32) -> LocalServerError {
        LocalServerError(.systemCall, path: path, "\(call) failed: \(String(cString: strerror(errno)))", errno: errno)
    }

    static func credentials(_ option: String, errno: Int32) -> LocalServerError {
        LocalServerError(
            .credentials, path: "",
            "the kernel did not name the peer (\(option): \(String(cString: strerror(errno))))", errno: errno)
    }
}
