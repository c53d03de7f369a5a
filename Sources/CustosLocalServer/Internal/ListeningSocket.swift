import CLinux
import Glibc
import Synchronization

/// The bound, listening socket and the folder that holds it. Owns both descriptors (closed in
/// `deinit`) and the socket file (removed by `removeFile()` if it is still the one bound here).
///
/// Every step is relative to the folder's descriptor, held open from the first check: the bind
/// goes through `/proc/self/fd/<folder>/<name>`, and the mode and group are set with `fchmodat`
/// and `fchownat`. So a folder renamed or replaced after the checks changes nothing.
final class ListeningSocket: Sendable {
    let path: String
    let descriptor: Int32
    private let folder: Int32
    private let name: String
    /// The socket file as bound: a file in its place with another identity is not ours to remove.
    private let identity: FileIdentity
    private let removed = Mutex(false)

    private init(path: String, descriptor: Int32, folder: Int32, name: String, identity: FileIdentity) {
        self.path = path
        self.descriptor = descriptor
        self.folder = folder
        self.name = name
        self.identity = identity
    }

    deinit {
        close(descriptor)
        close(folder)
    }

    /// Removes the socket file if it is still the one bound here: a socket of the same device,
    /// inode and change time (an inode number is reused once freed; its change time is not).
    func removeFile() {
        let first = removed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        var status = stat()
        guard fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0, FileIdentity(status) == identity else { return }
        unlinkat(folder, name, 0)
    }

    /// Checks the folder and the path, binds under a name of its own, sets the mode and group,
    /// listens, and only then moves the socket to its path: a client that finds the socket file
    /// finds it listening (bound at its path, it would be refused until `listen`, as a stale socket is).
    static func open(_ settings: LocalSocketSettings, backlog: Int32) throws(LocalServerError) -> ListeningSocket {
        let path = settings.path
        let (folderPath, name) = try split(path)
        // A name of its own beside the path, random: two servers starting at once (even of one
        // process number, in two PID namespaces) never share it, and a bind finds it free.
        let setupName = ".\(name).\(String(UInt64.random(in: 0...UInt64.max), radix: 16)).new"
        let group = try groupID(settings.group, path: path)
        let folder = try openFolder(folderPath, group: group, socketMode: settings.mode)
        let fd: Int32
        do throws(LocalServerError) {
            try clearPath(folder: folder, name: name, path: path)
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw LocalServerError.system("socket", path: path, errno: errno) }
        } catch {
            close(folder)
            throw error
        }
        var bound = false
        var placed = false
        do throws(LocalServerError) {
            try bind(fd, folder: folder, name: setupName, path: path)
            bound = true
            // Before listen and before it takes its path: the umask's mode is never open to anyone.
            guard fchmodat(folder, setupName, mode_t(settings.mode), 0) == 0 else {
                throw LocalServerError.system("fchmodat", path: path, errno: errno)
            }
            guard fchownat(folder, setupName, uid_t.max, group, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw LocalServerError.system("fchownat", path: path, errno: errno)
            }
            var bare = stat()
            guard fstatat(folder, setupName, &bare, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw LocalServerError.system("fstatat", path: path, errno: errno)
            }
            let flags = fcntl(fd, F_GETFL)
            guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
                throw LocalServerError.system("fcntl(O_NONBLOCK)", path: path, errno: errno)
            }
            guard listen(fd, backlog) == 0 else { throw LocalServerError.system("listen", path: path, errno: errno) }
            guard custos_renameat_noreplace(folder, setupName, folder, name) == 0 else {
                if errno == EEXIST {
                    throw LocalServerError(
                        .anotherServer, path: path, "another process bound this socket while it was being set up")
                }
                throw LocalServerError.system("renameat2 (the socket to its path)", path: path, errno: errno)
            }
            placed = true
            // The rename changed its change time: the identity is read again, of the same inode.
            var status = stat()
            guard fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw LocalServerError.system("fstatat", path: path, errno: errno)
            }
            guard status.st_ino == bare.st_ino, status.st_dev == bare.st_dev else {
                throw LocalServerError(.pathOccupied, path: path, "the socket's path changed while it was set up")
            }
            // From here the object owns both descriptors, and the socket file.
            return ListeningSocket(
                path: path, descriptor: fd, folder: folder, name: name, identity: FileIdentity(status))
        } catch {
            // Only a file this bind made is removed (a failed bind made none). One already at its
            // path stays: closed below, it is a stale socket that the next start replaces.
            if bound && !placed { unlinkat(folder, setupName, 0) }
            close(fd)
            close(folder)
            throw error
        }
    }

    private static func split(_ path: String) throws(LocalServerError) -> (folder: String, name: String) {
        let bytes = Array(path.utf8)
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else {
            return (".", path)
        }
        let name = String(decoding: bytes[(slash + 1)...], as: UTF8.self)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw LocalServerError(.invalidSettings, path: path, "the socket's path must end in a file name")
        }
        return (slash == 0 ? "/" : String(decoding: bytes[..<slash], as: UTF8.self), name)
    }

    private static func groupID(_ name: String?, path: String) throws(LocalServerError) -> gid_t {
        guard let name else { return getegid() }
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, let result else {
            throw LocalServerError(
                .unknownGroup, path: path, "the socket's group \(name) does not exist",
                errno: status == 0 ? nil : status)
        }
        return result.pointee.gr_gid
    }

    /// Opens the socket's folder (O_NOFOLLOW), creating it if missing: the socket's group may enter
    /// it (0750) when the socket is open to its group, nobody else (0700) when it is not.
    private static func openFolder(_ path: String, group: gid_t, socketMode: UInt32) throws(LocalServerError)
        -> Int32
    {
        let folderMode: mode_t = socketMode & 0o070 != 0 ? 0o750 : 0o700
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var fd = Glibc.open(path, flags)
        if fd < 0, errno == ENOENT {
            guard mkdir(path, folderMode) == 0 || errno == EEXIST else {
                throw LocalServerError.system("mkdir (creating the socket's folder)", path: path, errno: errno)
            }
            fd = Glibc.open(path, flags)
            if fd >= 0 {
                guard fchown(fd, uid_t.max, group) == 0, fchmod(fd, folderMode) == 0 else {
                    let error = errno
                    close(fd)
                    throw LocalServerError.system("fchown/fchmod (the socket's folder)", path: path, errno: error)
                }
            }
        }
        guard fd >= 0 else {
            let error = errno
            var status = stat()
            if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFLNK {
                throw LocalServerError(
                    .unsafeFolder, path: path,
                    "the socket's folder is a symbolic link: refused (it must be a real folder)")
            }
            if error == ENOTDIR {
                throw LocalServerError(.unsafeFolder, path: path, "the socket's folder is not a folder")
            }
            throw LocalServerError.system("open (the socket's folder)", path: path, errno: error)
        }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let error = errno
            close(fd)
            throw LocalServerError.system("fstat", path: path, errno: error)
        }
        if status.st_uid == geteuid() {
            // Our own folder (systemd's RuntimeDirectory, one left by an earlier start): given the
            // socket's group and the mode for it, whatever it had.
            guard fchown(fd, uid_t.max, group) == 0, fchmod(fd, folderMode) == 0 else {
                let error = errno
                close(fd)
                throw LocalServerError.system("fchown/fchmod (the socket's folder)", path: path, errno: error)
            }
        } else if status.st_mode & (S_IWOTH | S_IWGRP) != 0 {
            // Another account's folder that others may write into: anyone of them could put
            // their own socket in its place.
            close(fd)
            throw LocalServerError(
                .unsafeFolder, path: path,
                "the socket's folder is writable by \(status.st_mode & S_IWOTH != 0 ? "others" : "its group") (mode \(String(status.st_mode & 0o7777, radix: 8))): "
                    + "anyone could put their own socket in its place; use a folder of mode 0750")
        }
        return fd
    }

    /// Leaves the path free: nothing there, or a stale socket (removed). Anything else is refused
    /// and left as it is.
    private static func clearPath(folder: Int32, name: String, path: String) throws(LocalServerError) {
        var status = stat()
        guard fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw LocalServerError.system("fstatat", path: path, errno: errno)
        }
        let kind = status.st_mode & S_IFMT
        guard kind == S_IFSOCK else {
            throw LocalServerError(
                .pathOccupied, path: path,
                "the socket's path holds \(describe(kind)), not a socket: left as it is, not replaced")
        }
        let probe = socket(
            AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard probe >= 0 else { throw LocalServerError.system("socket", path: path, errno: errno) }
        defer { close(probe) }
        let connected = withAddress(folder: folder, name: name) { address, length in
            connect(probe, address, length) == 0 ? 0 : errno
        }
        switch connected {
        case 0, EAGAIN, EINPROGRESS:
            throw LocalServerError(
                .anotherServer, path: path, "another daemon serves this socket (it accepts connections)")
        case ECONNREFUSED:
            // Stale: no one listens. Remove it only if it is still the file just looked at.
            var again = stat()
            guard fstatat(folder, name, &again, AT_SYMLINK_NOFOLLOW) == 0, again.st_ino == status.st_ino,
                again.st_dev == status.st_dev
            else {
                throw LocalServerError(.pathOccupied, path: path, "the socket's path changed while it was checked")
            }
            guard unlinkat(folder, name, 0) == 0 else {
                throw LocalServerError.system("unlinkat (a stale socket)", path: path, errno: errno)
            }
        default:
            throw LocalServerError(
                .pathOccupied, path: path,
                "a socket is at this path and cannot be probed (connect: \(String(cString: strerror(connected)))): left as it is",
                errno: connected)
        }
    }

    private static func bind(_ fd: Int32, folder: Int32, name: String, path: String) throws(LocalServerError) {
        let result = withAddress(folder: folder, name: name) { address, length in
            Glibc.bind(fd, address, length) == 0 ? 0 : errno
        }
        switch result {
        case 0: return
        case EADDRINUSE:
            throw LocalServerError(
                .anotherServer, path: path, "another process bound this socket while it was being set up")
        case -1:
            throw LocalServerError(
                .invalidSettings, path: path, "the socket's file name is too long for a Unix socket address")
        default:
            throw LocalServerError.system("bind", path: path, errno: result)
        }
    }

    /// The address `/proc/self/fd/<folder>/<name>`: the name inside the held folder, whatever
    /// the folder's path now leads to. Gives -1 when it does not fit in sockaddr_un.
    private static func withAddress(
        folder: Int32, name: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array("/proc/self/fd/\(folder)/\(name)".utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }

    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFREG: "a regular file"
        case S_IFLNK: "a symbolic link"
        case S_IFDIR: "a folder"
        case S_IFIFO: "a FIFO"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "a file of unknown kind"
        }
    }
}

/// What tells one file from another that later takes its name.
struct FileIdentity: Equatable, Sendable {
    var kind: UInt32
    var device: UInt64
    var inode: UInt64
    var changeSeconds: Int
    var changeNanoseconds: Int

    init(_ status: stat) {
        kind = UInt32(status.st_mode & S_IFMT)
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        changeSeconds = status.st_ctim.tv_sec
        changeNanoseconds = status.st_ctim.tv_nsec
    }
}
