import CArchive

/// An error from libarchive: the archive file, what was being done, and libarchive's message.
public struct ArchiveError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    /// `archive_errno`, when libarchive set one.
    public let errno: Int32

    public init(path: String, message: String, errno: Int32 = 0) {
        self.path = path
        self.message = message
        self.errno = errno
    }

    static func from(_ archive: OpaquePointer, path: String, doing what: String) -> ArchiveError {
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
        return ArchiveError(path: path, message: "\(what): \(detail)", errno: archive_errno(archive))
    }

    public var description: String { "\(path): \(message)" }
}
