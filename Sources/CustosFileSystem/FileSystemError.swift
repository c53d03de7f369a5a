import Glibc

/// An error of a file-system call: the call, the path it was about, and errno.
public struct FileSystemError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case notFound, notRegularFile, symlink, permissionDenied, noSpace, readOnly, changedWhileReading,
                io, exists
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let notFound = Code(.notFound)
        /// A directory, FIFO, socket or device where a regular file was needed.
        public static let notRegularFile = Code(.notRegularFile)
        /// A symbolic link: refused, never followed.
        public static let symlink = Code(.symlink)
        public static let permissionDenied = Code(.permissionDenied)
        /// The disk is full (or over quota).
        public static let noSpace = Code(.noSpace)
        public static let readOnly = Code(.readOnly)
        /// The file changed between the checks before and after it was read.
        public static let changedWhileReading = Code(.changedWhileReading)
        public static let exists = Code(.exists)
        /// Any other failure, fsync included.
        public static let io = Code(.io)

        public var description: String { "\(value)" }
    }

    public let code: Code
    /// The path, escaped for display.
    public let path: String
    public let message: String
    /// The system call that failed, if one did.
    public let call: String?
    public let errno: Int32?

    public init(_ code: Code, path: String, message: String, call: String? = nil, errno: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.call = call
        self.errno = errno
    }

    /// Maps errno after a failed `call` on `path`.
    public static func syscall(_ call: String, path: String, errno: Int32 = Glibc.errno) -> FileSystemError {
        let reason = String(cString: strerror(errno))
        return FileSystemError(
            code(forErrno: errno), path: path, message: "\(call) failed: \(reason)", call: call, errno: errno)
    }

    /// The code for an errno, for callers that meet errno through another library (libarchive).
    public static func code(forErrno errno: Int32) -> Code {
        switch errno {
        case ENOENT, ENOTDIR: .notFound
        case EACCES, EPERM: .permissionDenied
        case ENOSPC, EDQUOT, EFBIG: .noSpace
        case EROFS: .readOnly
        case ELOOP: .symlink
        case EEXIST: .exists
        default: .io
        }
    }

    /// Whether the file system itself failed (EIO, EROFS), not a name or a right: the failures
    /// that stop sealing (invariant 8).
    /// Whether a rename failed because its two names are on different file systems (EXDEV).
    public var isCrossDevice: Bool { errno == EXDEV }

    public var isFailureOfTheFileSystem: Bool { errno.map(Self.isFailureOfTheFileSystem(errno:)) ?? false }

    /// Whether `errno`, met through another library (libarchive), says the file system itself failed.
    public static func isFailureOfTheFileSystem(errno: Int32) -> Bool { errno == EIO || errno == EROFS }

    public var description: String { "\(path): \(message)" }
}
