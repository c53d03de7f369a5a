import CLinux
import CustosFormats
import Glibc

/// A folder whose insides are reached only through a descriptor held on it: every path below it
/// is resolved with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` and every name is acted on
/// with an `*at` call relative to its parent's descriptor. No symbolic link, `..`, or folder
/// renamed and replaced by a link meanwhile ever leads outside it (invariant 9). Whoever can
/// write into it reaches nothing beyond it.
///
/// The root itself is the operator's (configuration, not input): it is opened by its path, without
/// following a link in its last component, once per operation, so a root that is replaced is
/// picked up at the next operation.
public struct ConfinedDirectory: Sendable, CustomStringConvertible {
    /// A path below the root, one component each (never empty, `.`, `..`, or holding `/`).
    public typealias Components = [[UInt8]]

    public let root: RawPath

    public init(_ root: RawPath) { self.root = root }

    public var description: String { root.description }

    /// The full path of `components`, for messages and logs only: never opened by it.
    public func path(_ components: Components) -> RawPath {
        components.reduce(root) { $0.appending(component: $1) }
    }

    // MARK: - Descriptors

    /// A descriptor on the root: a folder, not a link.
    private func openRoot(flags: Int32) throws -> Descriptor {
        let fd = root.withCString { open($0, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno == ELOOP || errno == ENOTDIR, let status = try? FileSystem.linkStatus(root),
                status.mode & S_IFMT == S_IFLNK
            {
                throw FileSystemError(
                    .symlink, path: root.description, message: "is a symbolic link; refused, not followed")
            }
            throw FileSystemError.syscall("open", path: root.description)
        }
        return Descriptor(fd)
    }

    /// Opens `components` below the root, never through a link and never outside it.
    private func openBeneath(_ components: Components, flags: Int32) throws -> Descriptor {
        try Self.check(components, under: root)
        let base = try openRoot(flags: oPath)
        if components.isEmpty {
            let fd = root.withCString { open($0, flags | O_NOFOLLOW | O_CLOEXEC) }
            guard fd >= 0 else { throw FileSystemError.syscall("open", path: root.description) }
            return Descriptor(fd)
        }
        let relative = RawPath(bytes: Array(components.joined(separator: [UInt8(ascii: "/")])))
        let fd = relative.withCString { custos_open_beneath(base.fd, $0, flags | O_CLOEXEC, 0) }
        guard fd >= 0 else { throw Self.resolutionError(errno, path: path(components)) }
        return Descriptor(fd)
    }

    /// The parent folder of `components` (held by a descriptor, `oPath`) and the last name.
    private func parent(of components: Components) throws -> (Descriptor, [UInt8]) {
        // The last name too: `..` or an absolute name would lead an `*at` call outside the folder.
        try Self.check(components, under: root)
        guard let name = components.last else {
            throw FileSystemError(.notFound, path: root.description, message: "names no file below the folder")
        }
        return (try openBeneath(Array(components.dropLast()), flags: oPath | O_DIRECTORY), name)
    }

    static func check(_ components: Components, under root: RawPath) throws {
        for component in components where !RawPath.isSafeComponent(component) {
            throw FileSystemError(
                .notFound, path: root.description,
                message: "the name \(RawPath(bytes: component)) is not a single component; refused")
        }
    }

    static func resolutionError(_ errno: Int32, path: RawPath) -> FileSystemError {
        switch errno {
        case ELOOP:
            FileSystemError(
                .symlink, path: path.description,
                message: "a symbolic link is on the way; refused, not followed", errno: errno)
        case EXDEV:
            FileSystemError(
                .symlink, path: path.description, message: "leads outside its folder; refused", errno: errno)
        default:
            FileSystemError.syscall("openat2", path: path.description, errno: errno)
        }
    }

    // MARK: - Operations

    /// `lstat` of `components`: the entry itself, never what a link points to. Nil when it (or a
    /// folder on the way) does not exist; a link on the way throws.
    public func status(_ components: Components) throws -> FileStatus? {
        try Self.check(components, under: root)
        if components.isEmpty {
            let fd = try openRoot(flags: oPath)
            return try fd.status(path: root)
        }
        let parentFolder: Descriptor
        let name: [UInt8]
        do {
            (parentFolder, name) = try parent(of: components)
        } catch let error as FileSystemError where error.code == .notFound {
            return nil
        }
        var s = stat()
        let result = RawPath(bytes: name).withCString { fstatat(parentFolder.fd, $0, &s, AT_SYMLINK_NOFOLLOW) }
        if result != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw FileSystemError.syscall("fstatat", path: path(components).description)
        }
        return FileStatus(s)
    }

    /// Opens a file of evidence for reading: the last name must be a regular file (a link, FIFO,
    /// socket or device is refused by its kind and never opened), and the file opened must be the
    /// one looked at.
    public func openEvidence(_ components: Components) throws -> (FileDescriptor, FileStatus) {
        let (parentFolder, name) = try parent(of: components)
        let shown = path(components)
        var s = stat()
        let looked = RawPath(bytes: name).withCString { fstatat(parentFolder.fd, $0, &s, AT_SYMLINK_NOFOLLOW) }
        guard looked == 0 else {
            if errno == ENOENT { throw FileSystemError(.notFound, path: shown.description, message: "no such file") }
            throw FileSystemError.syscall("fstatat", path: shown.description)
        }
        let before = FileStatus(s)
        try FileSystem.refuseUnlessRegularFile(before, path: shown)
        let fd = RawPath(bytes: name).withCString { openat(parentFolder.fd, $0, FileSystem.evidenceOpenFlags) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: shown.description) }
        return try FileSystem.confirmOpened(FileDescriptor(rawValue: fd, path: shown), as: before)
    }

    /// Calls `body` with a descriptor (`O_PATH`) on the folder `components` below the root,
    /// opened never through a link, and the folder's status: for calls that take a folder by
    /// descriptor (`inotify_add_watch` through /proc/self/fd). The descriptor is closed after.
    public func withFolder<T>(_ components: Components, _ body: (Int32, FileStatus) throws -> T) throws -> T {
        let folder = try openBeneath(components, flags: oPath | O_DIRECTORY)
        return try body(folder.fd, try folder.status(path: path(components)))
    }

    /// The names in a folder below the root (not `.` and `..`), byte-exact, sorted by bytes.
    public func list(_ components: Components) throws -> [[UInt8]] {
        let folder = try openBeneath(components, flags: O_RDONLY | O_DIRECTORY)
        return try FileSystem.listDirectory(descriptor: folder.take(), path: path(components))
    }

    /// Makes the folders of `components` that are missing, one at a time below the root, each
    /// with `mode`; a link or a file on the way is refused.
    public func makeDirectories(_ components: Components, mode: mode_t = 0o700) throws {
        try Self.check(components, under: root)
        var current = try openRoot(flags: oPath)
        for (index, component) in components.enumerated() {
            let shown = path(Array(components[...index]))
            let made = RawPath(bytes: component).withCString { mkdirat(current.fd, $0, mode) }
            if made != 0 && errno != EEXIST { throw FileSystemError.syscall("mkdir", path: shown.description) }
            let next = RawPath(bytes: component).withCString {
                openat(current.fd, $0, oPath | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            guard next >= 0 else {
                if errno == ELOOP || errno == ENOTDIR {
                    throw FileSystemError(
                        .symlink, path: shown.description,
                        message: "is not a folder (a symbolic link or a file is there); refused")
                }
                throw FileSystemError.syscall("open", path: shown.description)
            }
            current = Descriptor(next)
        }
    }

    /// Moves `from` (below this root) to `to` (below `destination`'s root), never replacing a
    /// file there. When `expected` is given, the entry moved must be that very file (device and
    /// inode): it is checked just before the rename and again after it, and a file swapped in
    /// meanwhile is put back where it was and refused (`.changedWhileReading`). Not durable by
    /// itself: sync the folders (or the file system) after a batch.
    public func moveNoReplace(
        _ from: Components, to destination: ConfinedDirectory, _ to: Components,
        expected: (device: UInt64, inode: UInt64)? = nil
    ) throws {
        let (sourceFolder, sourceName) = try parent(of: from)
        let (targetFolder, targetName) = try destination.parent(of: to)
        let shown = "\(path(from)) -> \(destination.path(to))"
        func identity(_ folder: Descriptor, _ name: [UInt8]) -> (UInt64, UInt64)? {
            var s = stat()
            let result = RawPath(bytes: name).withCString { fstatat(folder.fd, $0, &s, AT_SYMLINK_NOFOLLOW) }
            return result == 0 ? (UInt64(s.st_dev), UInt64(s.st_ino)) : nil
        }
        if let expected {
            guard let found = identity(sourceFolder, sourceName) else {
                throw FileSystemError(.notFound, path: path(from).description, message: "no such file")
            }
            guard found == (expected.device, expected.inode) else {
                throw FileSystemError(
                    .changedWhileReading, path: path(from).description, message: "is no longer the file that was sealed"
                )
            }
        }
        let result = RawPath(bytes: sourceName).withCString { source in
            RawPath(bytes: targetName).withCString {
                custos_renameat_noreplace(sourceFolder.fd, source, targetFolder.fd, $0)
            }
        }
        guard result == 0 else { throw FileSystemError.syscall("rename", path: shown) }
        if let expected, let moved = identity(targetFolder, targetName), moved != (expected.device, expected.inode) {
            // Swapped between the check and the rename: put it back, refuse.
            let putBack = RawPath(bytes: targetName).withCString { target in
                RawPath(bytes: sourceName).withCString {
                    custos_renameat_noreplace(targetFolder.fd, target, sourceFolder.fd, $0)
                }
            }
            throw FileSystemError(
                .changedWhileReading, path: path(from).description,
                message: putBack == 0
                    ? "was swapped for another file while it was moved; put back"
                    : "was swapped for another file while it was moved, and could not be put back: it is at \(destination.path(to)) (\(String(cString: strerror(errno))))"
            )
        }
    }

    /// Removes the file `components` (not a folder). When `expected` is given, only if it is that
    /// very file (device and inode). A file already gone is not an error.
    public func remove(_ components: Components, expected: (device: UInt64, inode: UInt64)? = nil) throws {
        let (folder, name) = try parent(of: components)
        if let expected {
            var s = stat()
            let looked = RawPath(bytes: name).withCString { fstatat(folder.fd, $0, &s, AT_SYMLINK_NOFOLLOW) }
            if looked != 0 {
                if errno == ENOENT { return }
                throw FileSystemError.syscall("fstatat", path: path(components).description)
            }
            guard UInt64(s.st_dev) == expected.device, UInt64(s.st_ino) == expected.inode else {
                throw FileSystemError(
                    .changedWhileReading, path: path(components).description,
                    message: "is no longer the file that was sealed")
            }
        }
        let result = RawPath(bytes: name).withCString { unlinkat(folder.fd, $0, 0) }
        if result != 0 && errno != ENOENT {
            throw FileSystemError.syscall("unlink", path: path(components).description)
        }
    }

    /// Sets the mode of the file `components` (never through a link, nor of a link). Fails with
    /// `.permissionDenied` when this account does not own it.
    public func setMode(_ components: Components, _ mode: mode_t) throws {
        let (folder, name) = try parent(of: components)
        let result = RawPath(bytes: name).withCString { fchmodat(folder.fd, $0, mode, AT_SYMLINK_NOFOLLOW) }
        guard result == 0 else { throw FileSystemError.syscall("chmod", path: path(components).description) }
    }

    /// Writes a whole new file below the root: a temporary beside it, fsync, rename. The caller
    /// makes the name durable (one sync of the file system for a batch of moves). The file is
    /// `mode`, whatever the umask. A failed fsync throws with `call` "fsync": a storage failure,
    /// not a refusal.
    public func writeSynced(_ bytes: [UInt8], to components: Components, mode: mode_t = 0o600) throws {
        let (folder, name) = try parent(of: components)
        let temporaryName = Array(".tmp-\(ThisProcess.temporaryTag)-".utf8) + name.prefix(200)
        let fd = RawPath(bytes: temporaryName).withCString {
            openat(folder.fd, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path(components).description) }
        let file = FileDescriptor(rawValue: fd, path: path(components))
        do {
            guard fchmod(fd, mode) == 0 else { throw FileSystemError.syscall("fchmod", path: file.path.description) }
            try file.write(bytes)
            try file.sync()
            let renamed = RawPath(bytes: temporaryName).withCString { source in
                RawPath(bytes: name).withCString { renameat(folder.fd, source, folder.fd, $0) }
            }
            guard renamed == 0 else { throw FileSystemError.syscall("rename", path: file.path.description) }
        } catch {
            _ = RawPath(bytes: temporaryName).withCString { unlinkat(folder.fd, $0, 0) }
            throw error
        }
    }
}

private let oPath = custos_o_path()

/// A descriptor closed when the value goes away.
private final class Descriptor {
    private(set) var fd: Int32

    init(_ fd: Int32) { self.fd = fd }

    deinit { if fd >= 0 { close(fd) } }

    func status(path: RawPath) throws -> FileStatus {
        var s = stat()
        guard fstat(fd, &s) == 0 else { throw FileSystemError.syscall("fstat", path: path.description) }
        return FileStatus(s)
    }

    /// Gives up ownership: the caller closes it.
    func take() -> Int32 {
        defer { fd = -1 }
        return fd
    }
}
