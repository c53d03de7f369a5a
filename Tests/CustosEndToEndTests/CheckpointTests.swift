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

extension DaemonSuites {
    /// Once a command has ended, the latest checkpoint covers every entry: the checkpoint's own time
    /// stamp is kept beside it, not as an entry after it. An entry beyond it is a fault.
    @Suite(
        "the latest checkpoint covers every entry", .serialized, .timeLimit(.minutes(2)),
        .enabled(if: haveProgram("sqlite3")))
    struct CheckpointCoverageTests {
        @Test func afterIngestTheLastEntryIsCoveredAndItsRemovalIsAFault() throws {
            let node = try Node()
            let files = try (0..<7).map { try node.directory.write("f\($0).bin", randomBytes(500 + $0)) }
            #expect(try node.custos(["ingest"] + files).status == 0)
            let coverage = try node.coverage()
            #expect(coverage.entries == 14 && coverage.latest == 14, "\(coverage)")
            // The checkpoint's token, from the node's TSA, is kept beside it.
            #expect(
                try query(node, "SELECT count(*) FROM checkpoint_stamps WHERE size = 14 AND source = 'node'") == "1")
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
            // That verification is entry 6, covered by the checkpoint of 7 its recording signed.
            try deleteLastEntry(node)
            let verify = try node.verify()
            #expect(verify.status == 1 && verify.output.contains("[entries-missing] checkpoint 7"), "\(verify.output)")
        }

        /// A killed daemon signs no last checkpoint: its last entries are uncovered, a fault, until
        /// `custos checkpoint --sign` signs one, stamped by the node's TSA as every checkpoint is.
        @Test func entriesAfterTheLatestCheckpointAreAFaultUntilCheckpointSignCoversThem() throws {
            let node = try Node()
            try Self.sealOneThenKillTheDaemon(node)
            let uncovered = try node.verify()
            #expect(uncovered.status == 1, "\(uncovered.output)")
            #expect(uncovered.output.contains("[entries-uncovered] entry 0"), "\(uncovered.output)")
            #expect(uncovered.output.contains("entries 0 to 1 come after the latest checkpoint (size 0)"))
            // While a process seals into the vault (it holds the sealing lock, as `custos ingest`
            // does until its last file is sealed and its checkpoint signed): a note, not a fault.
            let holder = try BackgroundProcess(
                "python3",
                [
                    "-c",
                    "import fcntl,sys,time; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_SH); print('held', flush=True); time.sleep(120)",
                    node.vault + "/locks/sealing.lock",
                ], logPath: node.directory.file("holder.log"))
            #expect(waitUntil(timeout: 30) { holder.log.contains("held") })
            let during = try node.verify()
            holder.signal(SIGKILL)
            _ = holder.wait(timeout: 30)
            #expect(during.status == 0, "\(during.output) \(during.stderr)")
            #expect(during.output.contains("a process seals into this vault now"), "\(during.output)")
            // Not recorded: its checkpoint would cover that process's entries, which it did not vouch for.
            #expect(during.stderr.contains("not recorded: a process seals into this vault"), "\(during.stderr)")
            #expect(try node.coverage().latest == 0)

            let signed = try node.custos(["checkpoint", "--sign"])
            #expect(signed.status == 0 && signed.output.contains("\n2\n"), "\(signed.output) \(signed.stderr)")
            let coverage = try node.coverage()
            #expect(coverage.entries == 2 && coverage.latest == 2)
            #expect(try query(node, "SELECT count(*) FROM checkpoint_stamps WHERE size = 2 AND source = 'node'") == "1")
            let verify = try node.verify()
            #expect(verify.status == 0 && verify.output.contains("time stamps: 2 tokens"), "\(verify.output)")
            // That verification is entry 2, covered by the checkpoint of 3 its recording signed.
            try deleteLastEntry(node)
            #expect(try node.verify().output.contains("[entries-missing] checkpoint 3"))
        }

        /// Seals one file through a daemon that signs a checkpoint only once an hour, then kills
        /// it: the seal's two entries (the seal and its stamp) are left uncovered.
        static func sealOneThenKillTheDaemon(_ node: Node) throws {
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_CHECKPOINT_SECONDS": "3600"])
            writeRaw(Array((node.inbox + "/f.bin").utf8), randomBytes(3_000))
            #expect(try node.waitForItems(1))
            daemon.process.signal(SIGKILL)
            #expect(daemon.process.wait(timeout: 30) == 128 + SIGKILL)
        }

        @Test func aRestartedDaemonCoversWhatAKilledOneLeft() throws {
            let node = try Node()
            try Self.sealOneThenKillTheDaemon(node)
            #expect(try node.coverage().latest == 0)
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_CHECKPOINT_SECONDS": "3600"])
            #expect(try waitUntil(timeout: 30) { try node.coverage().latest == 2 }, "\(daemon.log)")
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
                        // One byte of the signature changed, to a value it cannot already have.
                        + "UPDATE checkpoint_stamps SET der = substr(der, 1, length(der) - 10) "
                        + "|| (CASE WHEN substr(der, length(der) - 9, 1) = x'01' THEN x'02' ELSE x'01' END) "
                        + "|| substr(der, length(der) - 8);",
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
}

/// `verify --checkpoint` and `--key`: what an expert kept elsewhere is held against the vault,
/// so a rolled-back, rewritten or re-keyed vault fails.
@Suite("checkpoints kept elsewhere", .serialized, .timeLimit(.minutes(2)))
struct KeptCheckpointTests {
    func ingest(_ node: Node, _ count: Int, tag: String) throws {
        let files = try (0..<count).map { try node.directory.write("\(tag)/f\($0).bin", randomBytes(700 + $0)) }
        let result = try node.custos(["ingest"] + files)
        #expect(result.status == 0, "\(result.stderr)")
    }

    func keep(_ node: Node, as name: String) throws -> String {
        try node.directory.write(name, try node.custos(["checkpoint"]).stdout)
    }

    @Test func aKeptCheckpointIsConsistentWithTheLaterLog() throws {
        let node = try Node()
        try ingest(node, 3, tag: "a")
        let early = try keep(node, as: "early.txt")
        try ingest(node, 4, tag: "b")
        let late = try keep(node, as: "late.txt")
        let verify = try node.custos(["verify", "--checkpoint", early, "--checkpoint", late])
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("kept checkpoints: 2 checked against the log"))
        let key = try node.directory.write("node.vkey", try node.custos(["key"]).stdout)
        #expect(try node.custos(["verify", "--key", key, "--checkpoint", early]).status == 0)
    }

    @Test func aVaultRestoredFromAnOlderCopyFailsAgainstANewerCheckpoint() throws {
        let node = try Node()
        try ingest(node, 3, tag: "a")
        let older = node.directory.file("older-vault")
        #expect(try run("cp", ["-a", node.vault, older]).status == 0)
        try ingest(node, 2, tag: "b")
        let newer = try keep(node, as: "newer.txt")
        let olderRoot = try SignedNote(parsing: try run(custosBinary, ["checkpoint", "--vault", older]).output)
        let newerText = try String(contentsOfFile: newer, encoding: .utf8)
        let newerNote = try Checkpoint(parsing: try SignedNote(parsing: newerText).text)
        #expect(newerNote.size == 10)

        let verify = try run(custosBinary, ["verify", "--vault", older, "--checkpoint", newer])
        #expect(verify.status == 1, "\(verify.output)")
        #expect(verify.output.contains("[kept-checkpoint-ahead] checkpoint \(newer)"), "\(verify.output)")
        #expect(verify.output.contains("size 10 root \(newerNote.root.base64)"))
        let oldRoot = try Checkpoint(parsing: olderRoot.text).root.base64
        #expect(verify.output.contains("size 6 root \(oldRoot)"), "\(verify.output)")
        // Without the kept checkpoint, the older copy is sound in itself.
        #expect(try run(custosBinary, ["verify", "--vault", older]).status == 0)
    }

    @Test func aVaultRebuiltWithANewKeyFailsAgainstThePinnedKeyAndTheKeptCheckpoint() throws {
        let original = try Node()
        let files = try (0..<3).map { try original.directory.write("f\($0).bin", randomBytes(800 + $0)) }
        #expect(try original.custos(["ingest", "--case", "C-1"] + files).status == 0)
        let key = try original.custos(["key"]).output.trimmingCharacters(in: .newlines)
        let kept = try keep(original, as: "kept.txt")
        // The same content, sealed again into a vault of the same origin with a new key.
        let forged = try Node()
        #expect(try forged.custos(["ingest", "--case", "C-1"] + files).status == 0)
        #expect(try forged.verify().status == 0)

        let pinned = try forged.custos(["verify", "--key", key])
        #expect(pinned.status == 1 && pinned.output.contains("[key-mismatch] key"), "\(pinned.output)")
        #expect(pinned.output.contains("[bad-signature] checkpoint 6"))
        let keyFile = try forged.directory.write("original.vkey", key + "\n")
        let both = try forged.custos(["verify", "--key", keyFile, "--checkpoint", kept])
        #expect(both.status == 1 && both.output.contains("[key-mismatch]"), "\(both.output)")
        #expect(both.output.contains("[kept-checkpoint-inconsistent] checkpoint \(kept)"), "\(both.output)")
        // Unpinned, the kept checkpoint alone shows that the vault's key is not the one that signed it.
        let unpinned = try forged.custos(["verify", "--checkpoint", kept])
        #expect(unpinned.status == 1, "\(unpinned.output)")
        #expect(unpinned.output.contains("[kept-checkpoint-signature] checkpoint \(kept)"), "\(unpinned.output)")
    }

    @Test func aTamperedCheckpointFileIsRefusedByName() throws {
        let node = try Node()
        try ingest(node, 2, tag: "a")
        let note = try SignedNote(parsing: try node.custos(["checkpoint"]).output)
        var signature = note.signatures[0].signature
        signature[12] ^= 0x01
        let tampered = try node.directory.write(
            "tampered.txt",
            SignedNote(
                text: note.text,
                signatures: [
                    NoteSignature(name: note.signatures[0].name, keyID: note.signatures[0].keyID, signature: signature)
                ]
            ).serialized)
        let verify = try node.custos(["verify", "--checkpoint", tampered])
        #expect(verify.status == 1)
        #expect(
            verify.output.contains(
                "[kept-checkpoint-signature] checkpoint \(tampered): refused: \(tampered) is not signed"),
            "\(verify.output)")
        let garbage = try node.directory.write("garbage.txt", "not a checkpoint\n")
        let malformed = try node.custos(["verify", "--checkpoint", garbage])
        #expect(malformed.status == 1 && malformed.output.contains("[kept-checkpoint-malformed]"))
        let missing = try node.custos(["verify", "--checkpoint", "/nonexistent/kept.txt"])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/kept.txt"), "\(missing.stderr)")
        let badKey = try node.custos(["verify", "--key", "/nonexistent/node.vkey"])
        #expect(badKey.status == 2 && badKey.stderr.contains("/nonexistent/node.vkey"), "\(badKey.stderr)")
    }

    /// A split view: the node's own key signed two trees of one size, or a smaller tree that the
    /// log does not extend. Both are faults naming both sizes and roots.
    @Test func aForkedCheckpointSignedByTheNodesOwnKeyIsInconsistent() throws {
        let node = try Node()
        try ingest(node, 3, tag: "a")
        try ingest(node, 2, tag: "b")
        let signer = try Ed25519NoteSigner(
            privateKeyText: String(contentsOfFile: node.vault + "/keys/node.key", encoding: .utf8)
                .trimmingCharacters(in: .newlines))
        let latest = try Checkpoint(parsing: SignedNote(parsing: try node.custos(["checkpoint"]).output).text)
        let otherRoot = OpenSSLSHA256().sha256("another history")
        for size: UInt64 in [latest.size, 4] {
            let fork = try SignedNote.sign(
                text: Checkpoint(origin: latest.origin, size: size, root: otherRoot).text, signers: [signer])
            let file = try node.directory.write("fork-\(size).txt", fork.serialized)
            let verify = try node.custos(["verify", "--checkpoint", file])
            #expect(verify.status == 1, "\(verify.output)")
            #expect(verify.output.contains("[kept-checkpoint-inconsistent] checkpoint \(file)"), "\(verify.output)")
            #expect(verify.output.contains("size \(size) root \(otherRoot.base64)"))
            #expect(verify.output.contains("size \(latest.size) root \(latest.root.base64)"))
        }
    }
}

/// `custos checkpoint SIZE` prints an older checkpoint verbatim, and step 5 of the verification
/// guide (consistency over time) runs as written.
@Suite("older checkpoints and the guide's consistency step", .serialized, .timeLimit(.minutes(2)))
struct OlderCheckpointTests {
    @Test func checkpointSizePrintsTheOneSignedThenVerbatim() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.bin", randomBytes(100))]).status == 0)
        let first = try node.custos(["checkpoint"]).stdout
        #expect(try node.custos(["ingest", try node.directory.write("b.bin", randomBytes(200))]).status == 0)
        let again = try node.custos(["checkpoint", "2"])
        #expect(again.status == 0 && again.stdout == first)
        #expect(try node.custos(["checkpoint", "4"]).stdout == (try node.custos(["checkpoint"]).stdout))
        let none = try node.custos(["checkpoint", "3"])
        #expect(none.status == 2, "\(none.stderr)")
        #expect(none.stderr.contains("no checkpoint of size 3") && none.stderr.contains("2 below and 4 above"))
    }

    /// `checkpoint SIZE --export DIR`: the checkpoint, its signed text, its token and the TSA's
    /// chain, with the openssl ts -verify lines, each run as written.
    @Test(.enabled(if: haveProgram("openssl"))) func aCheckpointsTokenIsExportedWithTheCommandsThatCheckIt() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.bin", randomBytes(100))]).status == 0)
        #expect(try node.custos(["ingest", try node.directory.write("b.bin", randomBytes(200))]).status == 0)
        let folder = node.directory.file("court")
        let export = try node.custos(["checkpoint", "2", "--export", folder, "--reason", "for the court"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout == (try node.custos(["checkpoint", "2"]).stdout))
        let verifyText = try String(contentsOfFile: folder + "/VERIFY.txt", encoding: .utf8)
        let commands = verifyText.split(separator: "\n").filter { $0.hasPrefix("openssl ts -verify -data") }
        #expect(
            commands == ["openssl ts -verify -data checkpoint-2.body -in checkpoint-2-node.tsr -CAfile tsa-chain.pem"])
        for command in commands {
            let result = try run(
                "openssl", command.split(separator: " ").dropFirst().map(String.init), directory: folder)
            #expect(result.output.contains("Verification: OK"), "\(result.output) \(result.stderr)")
        }
        // The body is the checkpoint's signed text: what its signature and its tokens cover.
        let note = try SignedNote(parsing: try String(contentsOfFile: folder + "/checkpoint-2.txt", encoding: .utf8))
        #expect(try String(contentsOfFile: folder + "/checkpoint-2.body", encoding: .utf8) == note.text)
    }

    /// The `sh` block of the guide's step 5, as written, with the vault in `CUSTOS_VAULT`, the
    /// `custos` just built on the PATH, and `Docs/tools` beside the working folder.
    @Test(.enabled(if: haveProgram("python3") && haveProgram("bash")))
    func theGuidesConsistencyStepRunsAsWritten() throws {
        var docs = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { docs.deleteLastPathComponent() }
        docs.appendPathComponent("Docs")
        let guide = try String(contentsOf: docs.appendingPathComponent("Verification.md"), encoding: .utf8)
        let step = try #require(guide.range(of: "## 5. Consistency over time"))
        let blockStart = try #require(guide.range(of: "```sh\n", range: step.upperBound..<guide.endIndex))
        let blockEnd = try #require(guide.range(of: "```", range: blockStart.upperBound..<guide.endIndex))
        let script = String(guide[blockStart.upperBound..<blockEnd.lowerBound])

        let node = try Node()
        try FileManager.default.createDirectory(
            atPath: node.directory.file("expert"), withIntermediateDirectories: true)
        let expert = node.directory.file("expert")
        try FileManager.default.createSymbolicLink(atPath: expert + "/Docs", withDestinationPath: docs.path)
        #expect(try node.custos(["ingest", try node.directory.write("a.bin", randomBytes(100))]).status == 0)
        try node.directory.write("expert/kept-checkpoint.txt", try node.custos(["checkpoint"]).stdout)
        for round in 0..<3 {
            let files = try (0..<(round + 2)).map { try node.directory.write("r\(round)/f\($0).bin", randomBytes(300)) }
            #expect(try node.custos(["ingest"] + files).status == 0)
        }
        let bin = URL(fileURLWithPath: custosBinary).deletingLastPathComponent().path
        let environment = [
            "CUSTOS_VAULT": node.vault, "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? ""),
        ]
        let result = try run(
            "bash", ["-e", "-o", "pipefail", "-c", script], environment: environment, directory: expert)
        #expect(result.status == 0, "\(result.output) \(result.stderr)")
        #expect(result.output.contains("consistent: the tree of 20 entries"), "\(result.output)")
        #expect(result.output.contains("extends the tree of 2 entries"))

        // A later checkpoint that does not extend the kept one: the same step fails.
        let new = try String(contentsOfFile: expert + "/new.txt", encoding: .utf8)
        var lines = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[2] = OpenSSLSHA256().sha256("another history").base64
        try lines.joined(separator: "\n").write(toFile: expert + "/new.txt", atomically: false, encoding: .utf8)
        let check = try run(
            "python3", ["Docs/tools/rfc6962_check.py", "consistency", "old.txt", "new.txt", "proof.txt"],
            directory: expert)
        #expect(check.status == 1 && check.output.contains("INCONSISTENT"), "\(check.output)")
    }
}
