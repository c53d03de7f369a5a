import CustosFileSystem
import CustosDaemon
import CustosFormats
import CustosTestSupport
import Foundation
import Testing

@Suite("settle tracker", .timeLimit(.minutes(2)))
struct SettleTrackerTests {
    /// The real status of a real file, as the watcher will take it.
    func status(_ path: String) throws -> FileStatus {
        try #require(try FileSystem.linkStatus(RawPath(path)))
    }

    @Test func aFileSettlesAfterTheSettleTimeUnchanged() throws {
        let directory = TemporaryDirectory("settle")
        let file = try directory.write("a.bin", "first part")
        var tracker = SettleTracker(settleSeconds: 2)
        tracker.observe(RawPath(file), status: try status(file), now: 100)
        #expect(tracker.settled(now: 101).isEmpty)
        #expect(tracker.nextDeadline() == 102)
        // Seen again unchanged: the clock keeps running.
        tracker.observe(RawPath(file), status: try status(file), now: 101.5)
        #expect(tracker.settled(now: 102) == [RawPath(file)])
    }

    @Test func aFileStillBeingWrittenDoesNotSettle() throws {
        let directory = TemporaryDirectory("settle")
        let file = try directory.write("upload.bin", "part 1")
        var tracker = SettleTracker(settleSeconds: 2)
        tracker.observe(RawPath(file), status: try status(file), now: 0)
        // The copy goes on: every change of size restarts the clock.
        for second in 1...5 {
            let handle = try #require(FileHandle(forWritingAtPath: file))
            handle.seekToEndOfFile()
            handle.write(Data("more".utf8))
            try handle.close()
            tracker.observe(RawPath(file), status: try status(file), now: Double(second))
            #expect(tracker.settled(now: Double(second)).isEmpty)
        }
        #expect(tracker.settled(now: 6.9).isEmpty)
        #expect(tracker.settled(now: 7) == [RawPath(file)])
    }

    @Test func aReplacedFileStartsOver() throws {
        let directory = TemporaryDirectory("settle")
        let file = try directory.write("a.bin", "same size")
        var tracker = SettleTracker(settleSeconds: 1)
        tracker.observe(RawPath(file), status: try status(file), now: 0)
        // Another file of the same size renamed over it: another inode.
        let other = try directory.write("b.bin", "same size")
        try FileManager.default.removeItem(atPath: file)
        try FileManager.default.moveItem(atPath: other, toPath: file)
        tracker.observe(RawPath(file), status: try status(file), now: 0.5)
        #expect(tracker.settled(now: 1.25).isEmpty)
        #expect(tracker.settled(now: 1.5) == [RawPath(file)])
    }

    @Test func forgottenFilesAreNotReported() throws {
        let directory = TemporaryDirectory("settle")
        let first = try directory.write("1.bin", "1")
        let second = try directory.write("2.bin", "2")
        var tracker = SettleTracker(settleSeconds: 0)
        tracker.observe(RawPath(second), status: try status(second), now: 0)
        tracker.observe(RawPath(first), status: try status(first), now: 0)
        #expect(tracker.settled(now: 0) == [RawPath(first), RawPath(second)])
        tracker.forget(RawPath(first))
        #expect(tracker.settled(now: 0) == [RawPath(second)])
        #expect(tracker.count == 1)
    }
}
