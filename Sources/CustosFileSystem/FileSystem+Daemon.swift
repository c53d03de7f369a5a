import CLinux
import CustosFormats
import Glibc

extension FileSystem {
    /// Renames `from` to `to` only if `to` does not exist (`renameat2` with `RENAME_NOREPLACE`):
    /// never replaces a file. Fails with `.exists` when `to` exists, changing nothing. Not durable
    /// by itself: sync the directories (or the file system) after a batch of renames.
    public static func renameNoReplace(_ from: RawPath, to: RawPath) throws {
        let result = from.withCString { source in to.withCString { custos_rename_noreplace(source, $0) } }
        guard result == 0 else { throw FileSystemError.syscall("rename", path: "\(from) -> \(to)") }
    }

    /// Renames `from` to `to` (replacing it), not durable by itself: for a batch made durable later.
    public static func rename(_ from: RawPath, to: RawPath) throws {
        let result = from.withCString { source in to.withCString { Glibc.rename(source, $0) } }
        guard result == 0 else { throw FileSystemError.syscall("rename", path: "\(from) -> \(to)") }
    }
}

/// Flushes a whole file system with `syncfs(2)` through a descriptor held open from the start,
/// so that every write-back error since the previous sync is reported (the kernel samples the
/// error state when a descriptor is opened: a new descriptor each time could miss an error that
/// happened in between). One journal commit makes a batch of files and names durable.
public final class FileSystemSync: Sendable {
    private let fd: Int32
    public let path: RawPath

    public init(_ path: RawPath) throws {
        let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    public func sync() throws {
        guard custos_syncfs(fd) == 0 else { throw FileSystemError.syscall("syncfs", path: path.description) }
    }
}

extension FileDescriptor {
    /// Whether another process holds this file open for writing (a writer still copying it). Nil
    /// when the kernel cannot tell here (no lease rights on this file, a network file system).
    public func isOpenForWritingElsewhere() -> Bool? {
        switch custos_open_for_writing(rawValue) {
        case 0: false
        case 1: true
        default: nil
        }
    }
}

/// An advisory lock on a file (`flock(2)`), released when this value is deinitialised or when the
/// process ends, even by SIGKILL: a crashed daemon never leaves a stale lock.
public final class FileLock: Sendable {
    private let fd: Int32
    public let path: RawPath

    /// Takes the lock on `path` (created, mode 0600, if missing). `wait: false` fails at once with
    /// `.exists` when another process holds a conflicting lock.
    public init(_ path: RawPath, exclusive: Bool, wait: Bool) throws {
        let fd = path.withCString { open($0, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        var operation = exclusive ? LOCK_EX : LOCK_SH
        if !wait { operation |= LOCK_NB }
        while flock(fd, operation) != 0 {
            if errno == EINTR { continue }
            let failure = errno
            close(fd)
            if failure == EWOULDBLOCK {
                throw FileSystemError(
                    .exists, path: path.description, message: "is locked by another process", call: "flock",
                    errno: failure)
            }
            throw FileSystemError.syscall("flock", path: path.description, errno: failure)
        }
        self.fd = fd
        self.path = path
    }

    /// Replaces the lock's content with `text` (who holds it, in what state), for operators and
    /// commands: written over the old one, then cut to its length, so that a reader never finds
    /// it empty once written.
    public func record(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = ftruncate(fd, off_t(bytes.count))
    }

    /// Whether another process holds an exclusive lock on `path` (a running daemon), asked
    /// without writing: the file is opened read-only, so this works on a read-only copy too.
    public static func isHeldExclusively(_ path: RawPath) -> Bool {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return errno == EWOULDBLOCK
    }

    /// Whether another open of `path` holds a lock on it, shared or exclusive (a process that
    /// seals), asked without waiting: an exclusive lock is tried and at once let go (a taker that
    /// waits is held up for that instant; none is refused). Another such probe at the same
    /// instant also conflicts: it is held only when five tries over 40 ms all conflict.
    public static func isHeld(_ path: RawPath) -> Bool {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        for attempt in 0..<5 {
            if attempt > 0 { usleep(10_000) }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                flock(fd, LOCK_UN)
                return false
            }
            guard errno == EWOULDBLOCK else { return false }
        }
        return true
    }

    /// What the holder wrote with `record`.
    public static func holder(of path: RawPath) -> String {
        (try? String(decoding: FileSystem.readFile(path), as: UTF8.self)) ?? ""
    }

    deinit { close(fd) }
}
