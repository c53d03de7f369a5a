import CustosArchive
import CustosFileSystem

/// Why a file was not sealed. The message names the file and the reason; nothing was recorded.
public struct SealingError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case refused, changedWhileReading, stillBeingWritten, noSpace, storage, archive
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The input is not something to seal (missing, a symlink, a FIFO, unreadable, …).
        public static let refused = Code(.refused)
        /// The file grew, shrank or was replaced while it was read; try again once it is still.
        public static let changedWhileReading = Code(.changedWhileReading)
        /// Another process still holds the file open for writing; seal it once it is closed.
        public static let stillBeingWritten = Code(.stillBeingWritten)
        /// The vault's disk is full: nothing was recorded and no partial archive kept.
        public static let noSpace = Code(.noSpace)
        /// Writing or syncing the vault failed; sealing must stop until an operator looks.
        public static let storage = Code(.storage)
        /// libarchive failed.
        public static let archive = Code(.archive)

        public var description: String { "\(value)" }
    }

    public let code: Code
    /// The evidence file, escaped for display.
    public let file: String
    public let message: String
    public let cause: (any Error)?

    public init(_ code: Code, file: String, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.file = file
        self.message = message
        self.cause = cause
    }

    public var description: String { "\(file): \(message)" }

    /// Classifies an error met while writing the vault.
    static func storage(_ error: any Error, file: String) -> SealingError {
        if let error = error as? FileSystemError {
            if error.code == .noSpace {
                return SealingError(
                    .noSpace, file: file, "the vault's disk is full; nothing was recorded", cause: error)
            }
            return SealingError(.storage, file: file, "writing the vault failed: \(error)", cause: error)
        }
        if let error = error as? ArchiveError {
            if FileSystemError.code(forErrno: error.errno) == .noSpace {
                return SealingError(
                    .noSpace, file: file, "the vault's disk is full; nothing was recorded", cause: error)
            }
            if FileSystemError.isFailureOfTheFileSystem(errno: error.errno) {
                // The vault's file system failed under libarchive: a storage failure (invariant 8).
                return SealingError(.storage, file: file, "writing the archive failed: \(error)", cause: error)
            }
            return SealingError(.archive, file: file, "writing the archive failed: \(error)", cause: error)
        }
        return SealingError(.storage, file: file, "\(error)", cause: error)
    }
}
