import CustosTestSupport
import Foundation
import Glibc
import Testing

/// A temporary in the vault is its writer's while that very process runs: its name holds the
/// writer's pid and start time, so a pid given since to another process (soon, in a container)
/// neither keeps it for ever nor is taken for its writer.
@Suite("custos ingest: temporaries of a process whose pid was reused", .timeLimit(.minutes(2)))
struct TemporaryWriterTests {
    /// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot.
    static func startTime(of pid: Int32) throws -> UInt64 {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = text[text.index(after: text.lastIndex(of: ")")!)...].split(separator: " ")
        return try #require(UInt64(fields[19]))
    }

    @Test func aTemporaryIsKeptOnlyWhileItsVeryWriterRuns() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("first.txt", "first")]).status == 0)
        let pid = getpid()
        let started = try Self.startTime(of: pid)
        // This test's pid, with its start time: a live writer's, kept.
        let live = "\(pid).\(started)-seal-live.tar.xz"
        writeRaw(Array((node.vault + "/tmp/" + live).utf8), [1, 2, 3])
        // The same pid with another start time: a writer that died and whose pid was reused.
        let reused = "\(pid).\(started + 1)-seal-reused.tar.xz"
        writeRaw(Array((node.vault + "/tmp/" + reused).utf8), [1, 2, 3])
        let reusedBeside = node.vault + "/manifests/.tmp-\(pid).\(started + 1)-x.json"
        writeRaw(Array(reusedBeside.utf8), [1, 2, 3])
        #expect(try node.custos(["ingest", try node.directory.write("second.txt", "second")]).status == 0)
        #expect(node.files(under: "tmp") == [live])
        #expect(!FileManager.default.fileExists(atPath: reusedBeside))
        #expect(try node.items().count == 2)
    }
}
