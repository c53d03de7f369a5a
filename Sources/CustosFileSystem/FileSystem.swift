import CustosFormats
import Glibc

/// The file operations Custos needs, each one checked, with durable variants: a durable write is
/// write, fsync, close, rename, then fsync of the directory (as SQLite and sunlight do it), so a
/// crash leaves either the old state or the whole new file under its final name.
public enum FileSystem {
    /// `lstat`: the file itself, never what a link points to. Nil when it does not exist.
    public static func linkStatus(_ path: RawPath) throws -> FileStatus? {
        var s = stat()
        let result = path.withCString { lstat($0, &s) }
        if result != 0 {
            if errno == ENOENT { return nil }
            throw FileSystemError.syscall("lstat", path: path.description)
        }
        return FileStatus(s)
    }

    /// Opens a file of evidence for reading: no symlink is followed, a FIFO does not block, and
    /// anything that is not a regular file is refused with the reason.
    public static func openEvidence(_ path: RawPath) throws -> (FileDescriptor, FileStatus) {
        guard let before = try linkStatus(path) else {
            throw FileSystemError(.notFound, path: path.description, message: "no such file")
        }
        try refuseUnlessRegularFile(before, path: path)
        let fd = path.withCString { open($0, evidenceOpenFlags) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        return try confirmOpened(FileDescriptor(rawValue: fd, path: path), as: before)
    }

    /// How a file of evidence is opened once looked at: read-only, no link followed, no waiting
    /// on a FIFO, never as a controlling terminal.
    static let evidenceOpenFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY

    /// Refuses what `lstat` found unless it is a regular file: a link by its kind (never
    /// followed), anything else by what it is.
    static func refuseUnlessRegularFile(_ status: FileStatus, path: RawPath) throws {
        if status.mode & S_IFMT == S_IFLNK {
            throw FileSystemError(
                .symlink, path: path.description, message: "is a symbolic link; refused, not followed")
        }
        guard status.isRegularFile else {
            throw FileSystemError(
                .notRegularFile, path: path.description, message: "is a \(status.kind), not a regular file")
        }
    }

    /// The opened file must be the regular file looked at (same device and inode).
    static func confirmOpened(_ descriptor: FileDescriptor, as before: FileStatus) throws -> (
        FileDescriptor, FileStatus
    ) {
        let status = try descriptor.status()
        guard status.isRegularFile, status.device == before.device, status.inode == before.inode else {
            throw FileSystemError(
                .changedWhileReading, path: descriptor.path.description,
                message: "was replaced while it was being opened")
        }
        return (descriptor, status)
    }

    /// Opens an existing file for reading (vault files: archives, manifests, keys).
    public static func openForReading(_ path: RawPath) throws -> FileDescriptor {
        let fd = path.withCString { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        return FileDescriptor(rawValue: fd, path: path)
    }

    public static func readFile(_ path: RawPath) throws -> [UInt8] {
        try openForReading(path).readAll()
    }

    /// Creates a new file that must not exist yet, with `mode`.
    public static func createExclusive(_ path: RawPath, mode: mode_t = 0o600) throws -> FileDescriptor {
        let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        // The umask may have narrowed the mode; keys must be exactly 0600, others as asked.
        guard fchmod(fd, mode) == 0 else { throw FileSystemError.syscall("fchmod", path: path.description) }
        return FileDescriptor(rawValue: fd, path: path)
    }

    /// Makes a directory (and its parents) with `mode` (0700 unless said: nothing in a vault is
    /// open to other users); fine if it exists as a directory.
    public static func makeDirectory(_ path: RawPath, mode: mode_t = 0o700) throws {
        if let status = try linkStatus(path) {
            guard status.isDirectory else {
                throw FileSystemError(.exists, path: path.description, message: "exists and is a \(status.kind)")
            }
            return
        }
        let parent = path.parent
        if parent != path, try linkStatus(parent) == nil { try makeDirectory(parent, mode: mode) }
        let result = path.withCString { mkdir($0, mode) }
        if result != 0 && errno != EEXIST { throw FileSystemError.syscall("mkdir", path: path.description) }
    }

    /// Whether the process `pid` is alive (it may belong to another account).
    public static func processIsAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// Whether the process `pid` that started at `startTime` (clock ticks since boot, as
    /// `ThisProcess.startTime`) still runs: a live process that has the pid but started at
    /// another time is another process. Without a start time (names of older versions), or where
    /// /proc will not say, whether any process has the pid.
    public static func processIsAlive(_ pid: Int32, startedAt startTime: UInt64?) -> Bool {
        guard let startTime, startTime != 0, let current = ThisProcess.startTime(of: pid) else {
            return processIsAlive(pid)
        }
        return current == startTime
    }

    /// The writer of a temporary named after `prefix` with `ThisProcess.temporaryTag`
    /// (`<pid>.<start time>-…`, or `<pid>-…` from an older version): nil when the name is not one.
    public static func temporaryWriter(of name: [UInt8], after prefix: String) -> (pid: Int32, startTime: UInt64?)? {
        guard name.starts(with: Array(prefix.utf8)) else { return nil }
        let rest = name.dropFirst(prefix.utf8.count)
        let digits = rest.prefix { (0x30...0x39).contains($0) }
        guard let pid = Int32(String(decoding: digits, as: UTF8.self)) else { return nil }
        let after = rest.dropFirst(digits.count)
        guard after.first == UInt8(ascii: ".") else { return (pid, nil) }
        let start = after.dropFirst().prefix { (0x30...0x39).contains($0) }
        return (pid, UInt64(String(decoding: start, as: UTF8.self)))
    }

    /// Gives the folder `path` (just made, not a link) the group `group` (nil: keeps its own) and
    /// exactly `mode`, whatever the umask: setgid and group bits are what sharing an inbox takes.
    public static func setFolderAccess(_ path: RawPath, group: UInt32?, mode: mode_t) throws {
        let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        defer { close(fd) }
        if let group, fchown(fd, uid_t.max, group) != 0 {
            throw FileSystemError.syscall("chown", path: path.description)
        }
        guard fchmod(fd, mode) == 0 else { throw FileSystemError.syscall("chmod", path: path.description) }
    }

    /// The id of the group named `name` (the system's group database), nil when there is none.
    public static func groupID(named name: String) -> UInt32? {
        var group = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getgrnam_r(name, &group, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return group.gr_gid
    }

    /// fsyncs a directory, so that the names created, renamed or removed in it are durable.
    public static func syncDirectory(_ path: RawPath) throws {
        let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileSystemError.syscall("fsync", path: path.description) }
    }

    /// Renames `from` to `to` and makes the rename durable (fsync of the target directory, and of
    /// the source directory when it differs).
    public static func renameDurably(_ from: RawPath, to: RawPath) throws {
        let result = from.withCString { source in to.withCString { Glibc.rename(source, $0) } }
        guard result == 0 else { throw FileSystemError.syscall("rename", path: "\(from) -> \(to)") }
        try syncDirectory(to.parent)
        if from.parent != to.parent { try syncDirectory(from.parent) }
    }

    /// Gives `from` the new name `to`, which must not exist yet, and removes the old name, durably
    /// (fsync of the directory). Fails with `.exists`, changing nothing, when `to` exists.
    public static func linkDurably(_ from: RawPath, to: RawPath) throws {
        let result = from.withCString { source in to.withCString { link(source, $0) } }
        guard result == 0 else { throw FileSystemError.syscall("link", path: "\(from) -> \(to)") }
        remove(from)
        try syncDirectory(to.parent)
        if from.parent != to.parent { try syncDirectory(from.parent) }
    }

    /// Writes a whole file durably: a temporary in the same directory, fsync, rename, directory fsync.
    public static func writeDurably(_ bytes: [UInt8], to path: RawPath, mode: mode_t = 0o600) throws {
        try writeWhole(bytes, to: path, mode: mode, durable: true)
    }

    /// Writes a whole file the same way, temporary then rename, but syncs nothing: for a batch
    /// that the caller makes durable at once (`FileSystemSync`). Readers see the old state or the
    /// whole new file, never a part.
    public static func writeForBatch(_ bytes: [UInt8], to path: RawPath, mode: mode_t = 0o600) throws {
        try writeWhole(bytes, to: path, mode: mode, durable: false)
    }

    private static func writeWhole(_ bytes: [UInt8], to path: RawPath, mode: mode_t, durable: Bool) throws {
        let temporary = path.parent.appending(
            component: Array(".tmp-\(ThisProcess.temporaryTag)-".utf8) + path.lastComponent)
        do {
            let fd = try createExclusive(temporary, mode: mode)
            try fd.write(bytes)
            if durable { try fd.sync() }
        } catch {
            remove(temporary)
            throw error
        }
        if durable {
            try renameDurably(temporary, to: path)
        } else {
            try rename(temporary, to: path)
        }
    }

    /// Removes a file, ignoring one that is already gone.
    public static func remove(_ path: RawPath) {
        _ = path.withCString { unlink($0) }
    }

    public static func exists(_ path: RawPath) -> Bool {
        (try? linkStatus(path)) != nil
    }

    /// Whether `path` itself (not what a link there points to) is a Unix domain socket.
    public static func isSocket(_ path: RawPath) -> Bool {
        guard let status = try? linkStatus(path) else { return false }
        return status.mode & S_IFMT == S_IFSOCK
    }

    /// Takes the group and other permission bits off `path`, but those in `keep` (0o050: the
    /// group may still read and enter). A link is left as it is; so is a file whose owner is
    /// another account, or on read-only media (the change is refused, and that is no error).
    public static func closeToOthers(_ path: RawPath, keeping keep: UInt32 = 0) {
        guard let status = try? linkStatus(path), !status.isSymbolicLink else { return }
        let mode = mode_t(status.mode & 0o7777)
        let narrowed = mode & ~(0o077 & ~mode_t(keep))
        if narrowed != mode { _ = path.withCString { chmod($0, narrowed) } }
    }

    /// `path` with every link, `.` and `..` resolved by the kernel (`realpath`); nil when some
    /// part of it does not exist or cannot be searched.
    public static func realPath(_ path: RawPath) -> RawPath? {
        guard let real = path.withCString({ realpath($0, nil) }) else { return nil }
        defer { free(real) }
        // Byte-exact: a name that is not UTF-8 keeps its bytes.
        return RawPath(bytes: UnsafeRawBufferPointer(start: real, count: strlen(real)).map { $0 })
    }

    /// Whether `path` lies on a file system mounted read-only (false when that cannot be told).
    public static func isOnReadOnlyFileSystem(_ path: RawPath) -> Bool {
        var info = statvfs()
        return path.withCString { statvfs($0, &info) } == 0 && info.f_flag & UInt(ST_RDONLY) != 0
    }

    /// The bytes a process of this account may still write on the file system of `path`
    /// (`statvfs`: `f_bavail` blocks); nil when that cannot be told.
    public static func availableBytes(_ path: RawPath) -> Int64? {
        var info = statvfs()
        guard path.withCString({ statvfs($0, &info) }) == 0 else { return nil }
        let bytes = UInt64(info.f_bavail).multipliedReportingOverflow(by: UInt64(info.f_frsize))
        return bytes.overflow ? .max : Int64(clamping: bytes.partialValue)
    }

    /// True when this process may write `path` (`access(W_OK)`, by its real user and group).
    public static func mayWrite(_ path: RawPath) -> Bool { path.withCString { access($0, W_OK) } == 0 }

    /// True when this process may read `path` (`access(R_OK)`).
    public static func mayRead(_ path: RawPath) -> Bool { path.withCString { access($0, R_OK) } == 0 }

    /// The names in a directory (not `.` and `..`), byte-exact, sorted by bytes. The directory
    /// itself is not a link (its last component is opened with `O_NOFOLLOW`).
    public static func listDirectory(_ path: RawPath) throws -> [[UInt8]] {
        let fd = path.withCString { open($0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw FileSystemError.syscall("open", path: path.description) }
        return try listDirectory(descriptor: fd, path: path)
    }

    /// The names in the open directory `descriptor`, which this call takes over and closes.
    static func listDirectory(descriptor fd: Int32, path: RawPath) throws -> [[UInt8]] {
        guard let dir = fdopendir(fd) else {
            let failure = errno
            close(fd)
            throw FileSystemError.syscall("opendir", path: path.description, errno: failure)
        }
        defer { closedir(dir) }
        var names = [[UInt8]]()
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw FileSystemError.syscall("readdir", path: path.description) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Every path under `directory` that is not itself a directory (regular files, and the
    /// symbolic links, FIFOs, sockets and devices a caller must refuse), depth first, sorted.
    /// Symbolic links are listed, never followed.
    public static func walk(_ directory: RawPath) throws -> [RawPath] {
        var found = [RawPath]()
        for name in try listDirectory(directory) {
            let path = directory.appending(component: name)
            if let status = try linkStatus(path), status.isDirectory {
                found.append(contentsOf: try walk(path))
            } else {
                found.append(path)
            }
        }
        return found
    }
}
