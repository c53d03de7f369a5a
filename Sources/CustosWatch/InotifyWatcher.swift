import CustosFileSystem
import CustosFormats
import Glibc

/// One event from the kernel about a watched directory.
public struct WatchEvent: Hashable, Sendable {
    /// What happened, in words the watcher's users need.
    public struct Kind: OptionSet, Hashable, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// A file opened for writing was closed (IN_CLOSE_WRITE).
        public static let closedAfterWriting = Kind(rawValue: 1 << 0)
        /// A name was moved into the directory (IN_MOVED_TO): a file written "atomically" by rename.
        public static let movedIn = Kind(rawValue: 1 << 1)
        /// A name was created (IN_CREATE); for a directory, it must be watched too.
        public static let created = Kind(rawValue: 1 << 2)
        /// The name is a directory (IN_ISDIR).
        public static let isDirectory = Kind(rawValue: 1 << 3)
        /// The watched directory itself was deleted or moved away (IN_DELETE_SELF, IN_MOVE_SELF, IN_IGNORED).
        public static let watchEnded = Kind(rawValue: 1 << 4)
        /// The kernel's queue overflowed: events were lost, a full rescan is needed (IN_Q_OVERFLOW).
        public static let overflow = Kind(rawValue: 1 << 5)
    }

    public var kind: Kind
    /// The watched directory the event is about (nil for an overflow): the path it had when it
    /// was watched. It may have been moved since; `folder` says which folder the watch is on.
    public var directory: RawPath?
    /// The device and inode of the folder the watch is on (nil for an overflow, or for a watch
    /// added by path alone).
    public var folder: FolderIdentity?
    /// The watch the event came from.
    public var watch: Int32 = -1
    /// The entry's name within that directory, byte-exact; empty when the event is about the directory.
    public var name: [UInt8]
}

/// A folder's device and inode.
public struct FolderIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}

/// An inotify instance: owns its file descriptor (closed in `deinit`) and the map from watch
/// descriptors to directories. `nextEvents` blocks, so it runs on a thread of its own, never on
/// Swift's cooperative pool.
public final class InotifyWatcher {
    private let fd: Int32
    private var directories: [Int32: (path: RawPath, folder: FolderIdentity?)] = [:]
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// The events every watch asks for.
    static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    public init() throws {
        fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw FileSystemError.syscall("inotify_init1", path: "inotify") }
    }

    deinit { close(fd) }

    /// Watches one directory (not its subdirectories: add those as they appear).
    public func watch(_ directory: RawPath) throws {
        let wd = directory.withCString { inotify_add_watch(fd, $0, Self.mask | UInt32(IN_DONT_FOLLOW)) }
        guard wd >= 0 else { throw FileSystemError.syscall("inotify_add_watch", path: directory.description) }
        directories[wd] = (directory, nil)
    }

    /// Watches the folder `components` below `root` (shown as `directory`), reached by a
    /// descriptor opened beneath the root without following any link: the watch is on that very
    /// folder, even if its path is swapped for a link meanwhile (`inotify_add_watch` takes a path;
    /// it is given /proc/self/fd/N, which names the folder opened). Where /proc is not mounted,
    /// by path, without following a link in its last component. Returns the folder's identity,
    /// which its events carry.
    @discardableResult
    public func watch(
        _ directory: RawPath, in root: ConfinedDirectory, _ components: ConfinedDirectory.Components
    ) throws -> FolderIdentity {
        let (wd, folder) = try root.withFolder(components) { descriptor, status -> (Int32, FolderIdentity) in
            let folder = FolderIdentity(device: status.device, inode: status.inode)
            var wd = "/proc/self/fd/\(descriptor)".withCString { inotify_add_watch(fd, $0, Self.mask) }
            if wd < 0 && errno == ENOENT {
                wd = directory.withCString { inotify_add_watch(fd, $0, Self.mask | UInt32(IN_DONT_FOLLOW)) }
                guard wd >= 0 else {
                    throw FileSystemError.syscall("inotify_add_watch", path: directory.description)
                }
                // Added by path: on the folder opened only if it is still the one there.
                var s = stat()
                guard directory.withCString({ lstat($0, &s) }) == 0, UInt64(s.st_dev) == folder.device,
                    UInt64(s.st_ino) == folder.inode
                else {
                    inotify_rm_watch(fd, wd)
                    throw FileSystemError(
                        .changedWhileReading, path: directory.description, message: "was replaced while it was being watched")
                }
            }
            guard wd >= 0 else { throw FileSystemError.syscall("inotify_add_watch", path: directory.description) }
            return (wd, folder)
        }
        directories[wd] = (directory, folder)
        return folder
    }

    /// Stops the watch an event came from, if it is still the watch of the event's directory
    /// (a folder watched again under another name keeps its watch).
    public func unwatch(_ event: WatchEvent) {
        guard let current = directories[event.watch], current.path == event.directory else { return }
        inotify_rm_watch(fd, event.watch)
        directories[event.watch] = nil
    }

    /// The directories being watched.
    public var watched: [RawPath] { directories.values.map(\.path) }

    /// Waits up to `timeoutMilliseconds` (forever when negative) and returns the events read; an
    /// empty array when the time ran out.
    public func nextEvents(timeoutMilliseconds: Int32) throws -> [WatchEvent] {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return [] }
            throw FileSystemError.syscall("poll", path: "inotify")
        }
        guard ready > 0 else { return [] }
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return [] }
            throw FileSystemError.syscall("read", path: "inotify")
        }
        return parse(count: count)
    }

    /// Decodes the records the kernel wrote: a fixed `inotify_event` followed by a NUL-padded name
    /// (`inotify_event.name` is a flexible array that Swift does not import).
    private func parse(count: Int) -> [WatchEvent] {
        var events = [WatchEvent]()
        let header = MemoryLayout<inotify_event>.size
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset + header <= count {
                let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                let nameLength = Int(event.len)
                let nameBytes = raw[(offset + header)..<min(offset + header + nameLength, count)]
                let name = Array(nameBytes.prefix { $0 != 0 })
                offset += header + nameLength
                var kind: WatchEvent.Kind = []
                let mask = event.mask
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    events.append(WatchEvent(kind: .overflow, directory: nil, name: []))
                    continue
                }
                if mask & UInt32(IN_CLOSE_WRITE) != 0 { kind.insert(.closedAfterWriting) }
                if mask & UInt32(IN_MOVED_TO) != 0 { kind.insert(.movedIn) }
                if mask & UInt32(IN_CREATE) != 0 { kind.insert(.created) }
                if mask & UInt32(IN_ISDIR) != 0 { kind.insert(.isDirectory) }
                if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 { kind.insert(.watchEnded) }
                let watched = directories[event.wd]
                if mask & UInt32(IN_IGNORED) != 0 { directories[event.wd] = nil }
                guard !kind.isEmpty else { continue }
                events.append(
                    WatchEvent(kind: kind, directory: watched?.path, folder: watched?.folder, watch: event.wd, name: name))
            }
        }
        return events
    }
}
