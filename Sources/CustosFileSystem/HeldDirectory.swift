import CLinux
import CustosFormats
import Glibc

/// A folder held by a descriptor opened with `O_DIRECTORY | O_NOFOLLOW`: every file in it is
/// created, renamed and removed relative to that descriptor, by a single name, so a link put in
/// place of the folder (or of a name in it) meanwhile leads nowhere else. What `extract` writes
/// into. Closed in `deinit`.
public final class HeldDirectory {
    public let path: RawPath
    private let fd: Int32

    /// Opens the folder `path` (made, mode 0700, with any missing parents, when it does not exist
    /// and `create` is set). A symbolic link as the folder is refused (`.symlink`), never followed;
    /// anything but a folder is refused (`.notRegularFile`).
    public init(_ path: RawPath, create: Bool) throws {
        self.path = path
        if create, try FileSystem.linkStatus(path) == nil { try FileSystem.makeDirectory(path) }
        let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            let code = errno
            if let status = try? FileSystem.linkStatus(path) {
                if status.mode & S_IFMT == S_IFLNK {
                    throw FileSystemError(
                        .symlink, path: path.description, message: "is a symbolic link; refused, not followed")
                }
                if !status.isDirectory {
                    throw FileSystemError(
                        .notRegularFile, path: path.description, message: "is a \(status.kind), not a folder")
                }
            }
            throw FileSystemError.syscall("open", path: path.description, errno: code)
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The status of the folder held (fstat of the descriptor, not of its path).
    public func status() throws -> FileStatus {
        var s = stat()
        guard fstat(fd, &s) == 0 else { throw FileSystemError.syscall("fstat", path: path.description) }
        return FileStatus(s)
    }

    /// The path of `name` in the folder, for messages only.
    public func path(of name: [UInt8]) -> RawPath { path.appending(component: name) }

    private func checkName(_ name: [UInt8]) throws {
        guard RawPath.isSafeComponent(name) else {
            throw FileSystemError(
                .notFound, path: path.description,
                message: "the name \(RawPath(bytes: name)) is not a single component; refused")
        }
    }

    /// Whether the folder holds an entry of that name (of any kind, a dangling link included).
    public func contains(_ name: [UInt8]) -> Bool {
        var s = stat()
        return RawPath(bytes: name).withCString { fstatat(fd, $0, &s, AT_SYMLINK_NOFOLLOW) } == 0
    }

    /// The device and inode of the entry `name` (not followed), or nil when there is none.
    public func identity(of name: [UInt8]) -> (device: UInt64, inode: UInt64)? {
        var s = stat()
        guard RawPath(bytes: name).withCString({ fstatat(fd, $0, &s, AT_SYMLINK_NOFOLLOW) }) == 0 else { return nil }
        return (UInt64(s.st_dev), UInt64(s.st_ino))
    }

    /// Creates a new file `name` for writing (`O_CREAT | O_EXCL | O_NOFOLLOW`), exactly `mode`:
    /// fails (`.exists`) when anything of that name is there.
    public func createExclusive(_ name: [UInt8], mode: mode_t = 0o600) throws -> FileDescriptor {
        try checkName(name)
        let shown = path(of: name)
        let created = RawPath(bytes: name).withCString {
            openat(fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        guard created >= 0 else { throw FileSystemError.syscall("open", path: shown.description) }
        let file = FileDescriptor(rawValue: created, path: shown)
        guard fchmod(created, mode) == 0 else { throw FileSystemError.syscall("fchmod", path: shown.description) }
        return file
    }

    /// Renames `from` to `to` in the folder without replacing anything (`renameat2` with
    /// `RENAME_NOREPLACE`): fails (`.exists`) when `to` exists. Not durable until `sync()`.
    public func renameNoReplace(_ from: [UInt8], to: [UInt8]) throws {
        try checkName(from)
        try checkName(to)
        let result = RawPath(bytes: from).withCString { source in
            RawPath(bytes: to).withCString { custos_renameat_noreplace(fd, source, fd, $0) }
        }
        guard result == 0 else { throw FileSystemError.syscall("rename", path: path(of: to).description) }
    }

    /// Removes the file `name`; one already gone is not an error.
    public func remove(_ name: [UInt8]) {
        _ = RawPath(bytes: name).withCString { unlinkat(fd, $0, 0) }
    }

    /// Makes the folder's names durable (fsync of the folder).
    public func sync() throws {
        guard fsync(fd) == 0 else { throw FileSystemError.syscall("fsync", path: path.description) }
    }
}
