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
    /// The watched directory the event is about (nil for an overflow).
    public var directory: RawPath?
    /// The entry's name within that directory, byte-exact; empty when the event is about the directory.
    public var name: [UInt8]
}

/// An inotify instance: owns its file descriptor (closed in `deinit`) and the map from watch
/// descriptors to directories. `nextEvents` blocks, so it runs on a thread of its own, never on
/// Swift's cooperative pool.
public final class InotifyWatcher {
    private let fd: Int32
    private var directories: [Int32: RawPath] = [:]
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
        directories[wd] = directory
    }

    /// The directories being watched.
    public var watched: [RawPath] { Array(directories.values) }

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
                let directory = directories[event.wd]
                if mask & UInt32(IN_IGNORED) != 0 { directories[event.wd] = nil }
                guard !kind.isEmpty else { continue }
                events.append(WatchEvent(kind: kind, directory: directory, name: name))
            }
        }
        return events
    }
}
