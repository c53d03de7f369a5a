import CustosFileSystem
import CustosFormats
import CustosTestSupport
import CustosWatch
import Foundation
import Glibc
import Testing

/// The inotify adapter against the real kernel, in a fresh folder per test.
@Suite("inotify watcher", .timeLimit(.minutes(2)))
struct InotifyWatcherTests {
    /// Collects events until `done` says enough, or five seconds pass.
    func events(_ watcher: InotifyWatcher, until done: ([WatchEvent]) -> Bool) throws -> [WatchEvent] {
        var all = [WatchEvent]()
        let deadline = Date().addingTimeInterval(5)
        while !done(all), Date() < deadline {
            all += try watcher.nextEvents(timeoutMilliseconds: 100)
        }
        return all
    }

    @Test func aClosedFileAndAFileRenamedInAreSeen() throws {
        let directory = TemporaryDirectory("watch")
        let inbox = RawPath(directory.path)
        let watcher = try InotifyWatcher()
        try watcher.watch(inbox)
        try directory.write("written.bin", "data")
        let outside = TemporaryDirectory("watch-outside")
        let staged = try outside.write("staged.bin", "data")
        #expect(rename(staged, directory.file("renamed.bin")) == 0)
        let seen = try events(watcher) { all in
            all.contains { $0.name == Array("written.bin".utf8) && $0.kind.contains(.closedAfterWriting) }
                && all.contains { $0.name == Array("renamed.bin".utf8) && $0.kind.contains(.movedIn) }
        }
        #expect(seen.contains { $0.name == Array("written.bin".utf8) && $0.kind.contains(.closedAfterWriting) })
        #expect(seen.contains { $0.name == Array("renamed.bin".utf8) && $0.kind.contains(.movedIn) })
        #expect(seen.allSatisfy { $0.directory == inbox })
    }

    @Test func aNewFolderIsReportedAndNamesStayByteExact() throws {
        let directory = TemporaryDirectory("watch")
        let watcher = try InotifyWatcher()
        try watcher.watch(RawPath(directory.path))
        #expect(mkdir(directory.file("case-1"), 0o755) == 0)
        let name: [UInt8] = Array("bad".utf8) + [0xff, 0x0a] + Array("name".utf8)
        let path = Array(directory.path.utf8) + [UInt8(ascii: "/")] + name + [0]
        let fd = path.withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) }
        }
        #expect(fd >= 0)
        close(fd)
        let seen = try events(watcher) { all in
            all.contains { $0.kind.contains(.isDirectory) }
                && all.contains { $0.name == name && $0.kind.contains(.closedAfterWriting) }
        }
        #expect(seen.contains { $0.name == Array("case-1".utf8) && $0.kind.isSuperset(of: [.created, .isDirectory]) })
        #expect(seen.contains { $0.name == name && $0.kind.contains(.closedAfterWriting) })
    }

    @Test func aDeletedFolderEndsItsWatch() throws {
        let directory = TemporaryDirectory("watch")
        let folder = directory.file("gone")
        #expect(mkdir(folder, 0o755) == 0)
        let watcher = try InotifyWatcher()
        try watcher.watch(RawPath(folder))
        #expect(rmdir(folder) == 0)
        let seen = try events(watcher) { all in all.contains { $0.kind.contains(.watchEnded) } }
        #expect(seen.contains { $0.kind.contains(.watchEnded) && $0.directory == RawPath(folder) })
        #expect(watcher.watched.isEmpty)
    }

    @Test func watchingSomethingThatIsNotAFolderFails() throws {
        let directory = TemporaryDirectory("watch")
        let file = try directory.write("plain.txt", "x")
        let watcher = try InotifyWatcher()
        #expect(throws: FileSystemError.self) { try watcher.watch(RawPath(file)) }
        #expect(throws: FileSystemError.self) { try watcher.watch(RawPath(directory.file("missing"))) }
    }

    @Test func moreEventsThanTheQueueHoldsReportAnOverflow() throws {
        let limit =
            (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16384
        let directory = TemporaryDirectory("watch")
        let watcher = try InotifyWatcher()
        try watcher.watch(RawPath(directory.path))
        // Each file gives two events (created, closed); nothing is read until all are made.
        for index in 0..<(limit / 2 + 100) {
            let fd = open(directory.file("f\(index)"), O_WRONLY | O_CREAT, 0o644)
            close(fd)
        }
        let seen = try events(watcher) { all in all.contains { $0.kind.contains(.overflow) } }
        #expect(seen.contains { $0.kind == .overflow && $0.directory == nil })
    }

    @Test func nothingHappeningTimesOutEmpty() throws {
        let directory = TemporaryDirectory("watch")
        let watcher = try InotifyWatcher()
        try watcher.watch(RawPath(directory.path))
        #expect(try watcher.nextEvents(timeoutMilliseconds: 50).isEmpty)
    }
}
