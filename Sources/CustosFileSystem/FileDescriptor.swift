import CustosFormats
import Glibc

extension timespec {
    /// Whole seconds since the Unix epoch.
    public var seconds: Int64 { Int64(tv_sec) }
    /// Nanoseconds past `seconds`.
    public var nanoseconds: Int64 { Int64(tv_nsec) }
}

/// What `fstat` says of a file, the parts Custos records and compares.
public struct FileStatus: Hashable, Sendable {
    /// A file time: read it with `seconds` and `nanoseconds` (since the Unix epoch).
    public typealias Time = timespec

    public var device: UInt64
    public var inode: UInt64
    public var mode: UInt32
    public var linkCount: UInt64
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var accessTime: Time
    public var modificationTime: Time
    public var changeTime: Time

    /// A status as another process declared it (an upload's original, as its sender's `fstat`
    /// saw it).
    public init(
        device: UInt64, inode: UInt64, mode: UInt32, linkCount: UInt64, uid: UInt32, gid: UInt32, size: Int64,
        accessTime: Time, modificationTime: Time, changeTime: Time
    ) {
        self.device = device
        self.inode = inode
        self.mode = mode
        self.linkCount = linkCount
        self.uid = uid
        self.gid = gid
        self.size = size
        self.accessTime = accessTime
        self.modificationTime = modificationTime
        self.changeTime = changeTime
    }

    init(_ s: stat) {
        device = UInt64(s.st_dev)
        inode = UInt64(s.st_ino)
        mode = s.st_mode
        linkCount = UInt64(s.st_nlink)
        uid = s.st_uid
        gid = s.st_gid
        size = Int64(s.st_size)
        accessTime = s.st_atim
        modificationTime = s.st_mtim
        changeTime = s.st_ctim
    }

    public var isRegularFile: Bool { mode & S_IFMT == S_IFREG }
    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    public var isSymbolicLink: Bool { mode & S_IFMT == S_IFLNK }

    /// A word for the kind of file, for messages: "directory", "FIFO", "socket", ….
    public var kind: String {
        switch mode & S_IFMT {
        case S_IFREG: "regular file"
        case S_IFDIR: "directory"
        case S_IFLNK: "symbolic link"
        case S_IFIFO: "FIFO"
        case S_IFSOCK: "socket"
        case S_IFCHR: "character device"
        case S_IFBLK: "block device"
        default: "unknown file type"
        }
    }

    /// True when the content and identity are unchanged: same file, size, mtime and ctime.
    public func isSameContent(as other: FileStatus) -> Bool {
        device == other.device && inode == other.inode && size == other.size
            && modificationTime.tv_sec == other.modificationTime.tv_sec
            && modificationTime.tv_nsec == other.modificationTime.tv_nsec
            && changeTime.tv_sec == other.changeTime.tv_sec && changeTime.tv_nsec == other.changeTime.tv_nsec
    }

    public static func == (lhs: FileStatus, rhs: FileStatus) -> Bool {
        lhs.isSameContent(as: rhs) && lhs.mode == rhs.mode && lhs.uid == rhs.uid && lhs.gid == rhs.gid
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(device)
        hasher.combine(inode)
        hasher.combine(size)
    }
}

/// An open file descriptor, closed in `deinit`. Use from one thread at a time.
public final class FileDescriptor {
    public let rawValue: Int32
    /// The path it was opened by, for messages.
    public let path: RawPath

    init(rawValue: Int32, path: RawPath) {
        self.rawValue = rawValue
        self.path = path
    }

    deinit { close(rawValue) }

    public func status() throws -> FileStatus {
        var s = stat()
        guard fstat(rawValue, &s) == 0 else { throw FileSystemError.syscall("fstat", path: path.description) }
        return FileStatus(s)
    }

    /// Reads up to `buffer.count` bytes; 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let count = Glibc.read(rawValue, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw FileSystemError.syscall("read", path: path.description)
        }
    }

    /// Reads up to `buffer.count` bytes of the file open as `rawValue` at `offset`, leaving its
    /// offset alone (`pread`): another thread may read beside whoever holds the descriptor,
    /// which must stay open until it is done. 0 at the end of the file.
    public static func read(
        _ rawValue: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64
    ) throws -> Int {
        while true {
            let count = pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset))
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw FileSystemError.syscall("pread", path: "descriptor \(rawValue)")
        }
    }

    /// Reads the whole file from the current offset.
    public func readAll() throws -> [UInt8] {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if count == 0 { return out }
            out.append(contentsOf: chunk[..<count])
        }
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(rawValue, bytes.baseAddress! + offset, bytes.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError.syscall("write", path: path.description)
            }
            offset += count
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Flushes the file to stable storage. A failure here means the data may be lost: callers stop.
    public func sync() throws {
        guard fsync(rawValue) == 0 else { throw FileSystemError.syscall("fsync", path: path.description) }
    }

    /// Moves back to the start of the file, to read it again through this same descriptor (the
    /// same file, whatever was done to its name meanwhile).
    public func rewind() throws {
        guard lseek(rawValue, 0, SEEK_SET) == 0 else { throw FileSystemError.syscall("lseek", path: path.description) }
    }

    /// Hints the kernel that the file is read once, front to back.
    public func adviseSequential() {
        _ = posix_fadvise(rawValue, 0, 0, POSIX_FADV_SEQUENTIAL)
    }
}
