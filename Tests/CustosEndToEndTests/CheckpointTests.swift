import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// Deletes the last entry row and its stamps row, as an attacker with the sqlite3 shell would.
func deleteLastEntry(_ node: Node) throws {
    let sql = """
        DROP TRIGGER entries_no_delete; DROP TRIGGER stamps_no_delete;
        DELETE FROM stamps WHERE seq = (SELECT max(seq) FROM entries);
        DELETE FROM entries WHERE seq = (SELECT max(seq) FROM entries);
        """
    let result = try run("sqlite3", [node.vault + "/ledger.sqlite"], stdin: Array(sql.utf8))
    #expect(result.status == 0, "\(result.stderr)")
}

/// A query's answer from the ledger, through the sqlite3 shell.
func query(_ node: Node, _ sql: String) throws -> String {
    try run("sqlite3", [node.vault + "/ledger.sqlite", sql]).output.trimmingCharacters(in: .newlines)
}

/// Once a command has ended, the latest checkpoint covers every entry: the checkpoint's own time
/// stamp is kept beside it, not as an entry after it. An entry beyond it is a fault.
@Suite("the latest checkpoint covers every entry", .enabled(if: haveProgram("sqlite3")))
struct CheckpointCoverageTests {
    @Test func afterIngestTheLastEntryIsCoveredAndItsRemovalIsAFault() throws {
        let node = try Node()
        let files = try (0..<7).map { try node.directory.write("f\($0).bin", randomBytes(500 + $0)) }
        #expect(try node.custos(["ingest"] + files).status == 0)
        let coverage = try node.coverage()
        #expect(coverage.entries == 14 && coverage.latest == 14, "\(coverage)")
        // The checkpoint's token, from the node's TSA, is kept beside it.
        #expect(try query(node, "SELECT count(*) FROM checkpoint_stamps WHERE size = 14 AND source = 'node'") == "1")
        try deleteLastEntry(node)
        let verify = try node.verify()
        #expect(verify.status == 1 && verify.output.contains("[entries-missing] checkpoint 14"), "\(verify.output)")
    }

    @Test func afterADaemonStopsTheLastEntryIsCovered() throws {
        let node = try Node()
        let daemon = try RunningDaemon(node)
        try FileManager.default.createDirectory(atPath: node.inbox + "/C-1", withIntermediateDirectories: true)
        for index in 0..<3 { writeRaw(Array((node.inbox + "/C-1/f\(index).bin").utf8), randomBytes(2_000 + index)) }
        #expect(try node.waitForItems(3))
        #expect(daemon.stop() == 0)
        let coverage = try node.coverage()
        #expect(coverage.entries == 6 && coverage.latest == 6, "\(coverage) \(daemon.log)")
        #expect(try node.verify().status == 0)
        try deleteLastEntry(node)
        let verify = try node.verify()
        #expect(verify.status == 1 && verify.output.contains("[entries-missing] checkpoint 6"), "\(verify.output)")
    }

    /// A killed daemon signs no last checkpoint: its last entries are uncovered, a fault, until
    /// `custos checkpoint --sign` signs one, stamped by the node's TSA as every checkpoint is.
    @Test func entriesAfterTheLatestCheckpointAreAFaultUntilCheckpointSignCoversThem() throws {
        let node = try Node()
        let daemon = try RunningDaemon(node, environment: ["CUSTOS_CHECKPOINT_SECONDS": "3600"])
        writeRaw(Array((node.inbox + "/f.bin").utf8), randomBytes(3_000))
        #expect(try node.waitForItems(1))
        daemon.process.signal(SIGKILL)
        #expect(daemon.process.wait(timeout: 30) == 128 + SIGKILL)
        let uncovered = try node.verify()
        #expect(uncovered.status == 1, "\(uncovered.output)")
        #expect(uncovered.output.contains("[entries-uncovered] entry 0"), "\(uncovered.output)")
        #expect(uncovered.output.contains("entries 0 to 1 come after the latest checkpoint (size 0)"))

        let signed = try node.custos(["checkpoint", "--sign"])
        #expect(signed.status == 0 && signed.output.contains("\n2\n"), "\(signed.output) \(signed.stderr)")
        let coverage = try node.coverage()
        #expect(coverage.entries == 2 && coverage.latest == 2)
        #expect(try query(node, "SELECT count(*) FROM checkpoint_stamps WHERE size = 2 AND source = 'node'") == "1")
        let verify = try node.verify()
        #expect(verify.status == 0 && verify.output.contains("time stamps: 2 tokens"), "\(verify.output)")
        try deleteLastEntry(node)
        #expect(try node.verify().output.contains("[entries-missing] checkpoint 2"))
    }

    @Test func aRestartedDaemonCoversWhatAKilledOneLeft() throws {
        let node = try Node()
        var daemon = try RunningDaemon(node, environment: ["CUSTOS_CHECKPOINT_SECONDS": "3600"])
        writeRaw(Array((node.inbox + "/f.bin").utf8), randomBytes(3_000))
        #expect(try node.waitForItems(1))
        daemon.process.signal(SIGKILL)
        #expect(daemon.process.wait(timeout: 30) == 128 + SIGKILL)
        #expect(try node.coverage().latest == 0)
        daemon = try RunningDaemon(node, environment: ["CUSTOS_CHECKPOINT_SECONDS": "3600"])
        #expect(try eventually(timeout: 30) { try node.coverage().latest == 2 }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(try node.verify().status == 0)
    }

    /// The checkpoint's token is checked against the text of the checkpoint it is kept for, and
    /// `openssl ts -verify -data` accepts it over that text, as Docs/Verification.md shows.
    @Test(.enabled(if: haveProgram("openssl"))) func aCheckpointsTokenVerifiesOverItsTextAndMustBeThere() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.bin", randomBytes(900))]).status == 0)
        let note = try SignedNote(parsing: try node.custos(["checkpoint"]).output)
        let body = try node.directory.write("body.txt", note.text)
        let token = node.directory.file("checkpoint.tsr")
        _ = try query(
            node, "SELECT writefile('\(token)', der) FROM checkpoint_stamps WHERE size = 2 AND source = 'node';")
        let openssl = try run(
            "openssl", ["ts", "-verify", "-data", body, "-in", token, "-CAfile", node.vault + "/tsa/chain.pem"])
        #expect(openssl.output.contains("Verification: OK"), "\(openssl.output) \(openssl.stderr)")

        let altered = try run(
            "sqlite3",
            [
                node.vault + "/ledger.sqlite",
                "DROP TRIGGER checkpoint_stamps_no_update; DROP TRIGGER checkpoint_stamps_no_delete; "
                    + "UPDATE checkpoint_stamps SET der = substr(der, 1, length(der) - 10) || x'01' || substr(der, length(der) - 8);",
            ])
        #expect(altered.status == 0, "\(altered.stderr)")
        let invalid = try node.verify()
        #expect(invalid.status == 1 && invalid.output.contains("[stamp-invalid] checkpoint 2"), "\(invalid.output)")
        #expect(invalid.output.contains("[checkpoint-unstamped] checkpoint 2"))
        _ = try query(node, "DELETE FROM checkpoint_stamps;")
        let missing = try node.verify()
        #expect(missing.status == 1 && missing.output.contains("[checkpoint-unstamped] checkpoint 2"))
        #expect(!missing.output.contains("[stamp-invalid]"))
    }
}
