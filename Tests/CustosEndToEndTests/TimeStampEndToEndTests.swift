import CustosTestSupport
import Foundation
import Glibc
import Testing

/// Items and checkpoints stamped by the node's own TSA, as a court's expert checks them.
@Suite("time stamps of the node's own TSA", .timeLimit(.minutes(2)), .enabled(if: haveProgram("openssl")))
struct TimeStampEndToEndTests {
    @Test func everySealAndCheckpointIsStampedAndTheExportVerifiesWithOpenssl() throws {
        let node = try Node()
        let file = try node.directory.write("photo.jpg", randomBytes(30_000))
        #expect(try node.custos(["ingest", "--case", "C-1", file]).status == 0)
        let item = try #require(try node.items().first?["item"] as? String)
        // show names the token's genTime, accuracy, serial and authority.
        let shown = try node.custos(["show", item]).output
        #expect(
            shown.contains("time stamp:  [node] genTime ") && shown.contains("±1000 ms")
                && shown.contains("TSA,O=Custos"))
        let json = try JSONSerialization.jsonObject(with: Data(try node.custos(["show", "--json", item]).stdout))
        let stamps = (json as! [String: Any])["timestamps"] as! [[String: Any]]
        #expect(stamps.count == 1 && stamps[0]["accuracyMilliseconds"] as? Int == 1000)
        // verify re-hashes and checks the item's token and the checkpoint's.
        let verify = try node.verify()
        #expect(verify.status == 0 && verify.output.contains("time stamps: 2 tokens re-hashed and verified"))
        // The export: token, chain and the exact command, run as printed.
        let folder = node.directory.file("court")
        let export = try run(custosBinary, ["timestamp", "export", "--vault", node.vault, item, "-o", folder, "--reason", "for the court"])
        #expect(export.status == 0, "\(export.stderr)")
        let command = try #require(
            export.output.split(separator: "\n").first { $0.hasPrefix("openssl ts -verify -digest") })
        let arguments = command.split(separator: " ").dropFirst().map(String.init)
        let result = try run("openssl", arguments, directory: folder)
        #expect(result.output.contains("Verification: OK"), "\(result.output) \(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/VERIFY.txt"))
    }

    @Test func listSaysWhichItemsAwaitATimeStamp() throws {
        let stamped = try Node()
        #expect(try stamped.custos(["ingest", try stamped.directory.write("a.bin", "a")]).status == 0)
        #expect(try stamped.items().first?["timeStamped"] as? Bool == true)
        #expect(!(try stamped.custos(["list"]).output.contains("awaiting")))
        // A vault without a TSA of its own: its items wait for an external authority.
        let unstamped = try Node(initArguments: ["--no-tsa"])
        #expect(try unstamped.custos(["ingest", try unstamped.directory.write("b.bin", "b")]).status == 0)
        #expect(try unstamped.items().first?["timeStamped"] as? Bool == false)
        #expect(try unstamped.custos(["list"]).output.contains("(awaiting time stamp)"))
        #expect(!FileManager.default.fileExists(atPath: unstamped.vault + "/tsa"))
        #expect(try unstamped.verify().status == 0)
    }

    @Test(.enabled(if: haveProgram("sqlite3"))) func anAlteredOrMissingTokenIsAFault() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.bin", randomBytes(1000))]).status == 0)
        // The tokens are kept in the ledger's stamps table, beside their entries; its triggers
        // refuse changes, so an attacker drops them first.
        let ledger = node.vault + "/ledger.sqlite"
        #expect(try run("sqlite3", [ledger, "SELECT count(*) FROM stamps WHERE length(der) > 500"]).output == "1\n")
        let alter = try run(
            "sqlite3",
            [
                ledger,
                "DROP TRIGGER stamps_no_update; DROP TRIGGER stamps_no_delete; "
                    // One byte of the signature changed, to a value it cannot already have.
                    + "UPDATE stamps SET der = substr(der, 1, length(der) - 10) "
                    + "|| (CASE WHEN substr(der, length(der) - 9, 1) = x'01' THEN x'02' ELSE x'01' END) "
                    + "|| substr(der, length(der) - 8) "
                    + "WHERE seq = (SELECT min(seq) FROM stamps);",
            ])
        #expect(alter.status == 0, "\(alter.stderr)")
        let altered = try node.verify()
        #expect(altered.status == 1 && altered.output.contains("[stamp-token-altered]"), "\(altered.output)")
        #expect(
            try run("sqlite3", [ledger, "DELETE FROM stamps WHERE seq = (SELECT min(seq) FROM stamps);"]).status == 0)
        let missing = try node.verify()
        #expect(missing.status == 1 && missing.output.contains("[stamp-token-missing]"), "\(missing.output)")
        #expect(missing.output.contains("[stamp-index]"))
    }

    @Test func aTrustAnchorFileThatCannotBeUsedIsRefusedByName() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.bin", "a")]).status == 0)
        let missing = try node.custos(["verify", "--tsa-anchor", "/nonexistent/root.pem"])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/root.pem"), "\(missing.stderr)")
        let text = try node.directory.write("not-a-certificate.pem", "hello")
        let empty = try node.custos(["verify", "--tsa-anchor", text])
        #expect(empty.status == 2 && empty.stderr.contains("the trust anchors cannot be read"), "\(empty.stderr)")
        // The node's own chain, given as the anchor: every token passes.
        #expect(try node.custos(["verify", "--tsa-anchor", node.vault + "/tsa/chain.pem"]).status == 0)
    }
}
