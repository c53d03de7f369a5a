import CustosTestSupport
import Foundation
import Glibc
import Testing

/// The custody events beyond the seal, through the real binary: `annotate`, `extract`,
/// `history`, the `verified` event `verify` records and the `exported` events of the exports.
@Suite("custody events end to end", .timeLimit(.minutes(10)))
struct CustodyEventsTests {
    /// A vault with one sealed file; its item id and the file's path.
    static func sealedNode(name: String = "report.pdf", bytes: [UInt8] = randomBytes(200_000)) throws
        -> (Node, String, String)
    {
        let node = try Node()
        let file = try node.directory.write("in/\(name)", bytes)
        let sealed = try node.custos(["ingest", "--case", "C-9", file])
        #expect(sealed.status == 0, "\(sealed.stderr)")
        let item = try #require(try node.items().first?["item"] as? String)
        return (node, item, file)
    }

    /// Entry N, parsed.
    static func entry(_ node: Node, _ sequence: Int) throws -> [String: Any] {
        let result = try node.custos(["entry", "\(sequence)"])
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any] ?? [:]
    }

    /// The number of entries (without recording a verification).
    static func size(_ node: Node) throws -> Int { try node.coverage().entries }

    @Test func annotateRecordsTheNoteInItsDetailsDocumentOnly() throws {
        let (node, item, _) = try Self.sealedNode()
        let result = try node.custos([
            "annotate", String(item.prefix(14)), "--note", "bag 3, seal intact", "--examiner", "Chen",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.output.contains("annotated item \(item)") && result.output.contains("entry 2"), "\(result.output)")
        let entry = try Self.entry(node, 2)
        #expect(entry["type"] as? String == "annotated" && entry["item"] as? String == item)
        let document = try #require(entry["document"] as? String)
        #expect(!String(decoding: try node.custos(["entry", "2"]).stdout, as: UTF8.self).contains("seal intact"))
        let path = "\(node.vault)/details/\(document.prefix(2))/\(document).json"
        #expect(try sha256sum(path) == document)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("bag 3, seal intact"))
        let verify = try node.verify()
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("details documents: 1 re-hashed"))
    }

    @Test(arguments: ["two\nlines", "a\ttab", "bell\u{7}", "del\u{7f}", "c1\u{85}"])
    func annotateRefusesControlCharacters(note: String) throws {
        let (node, item, _) = try Self.sealedNode()
        let before = try Self.size(node)
        let result = try node.custos(["annotate", item, "--note", note])
        #expect(result.status == 2)
        #expect(
            result.stderr.hasPrefix("custos: item \(item): the note holds the control character U+"), "\(result.stderr)"
        )
        #expect(try Self.size(node) == before)
        #expect(node.files(under: "details").isEmpty)
    }

    @Test func annotateRefusesAVeryLongNote() throws {
        let (node, item, _) = try Self.sealedNode()
        let result = try node.custos(["annotate", item, "--note", String(repeating: "x", count: 4097)])
        #expect(result.status == 2)
        #expect(result.stderr.contains("4097 bytes of UTF-8, longer than 4096"), "\(result.stderr)")
        #expect(try Self.size(node) == 2)
        #expect(try node.custos(["annotate", item, "--note", String(repeating: "x", count: 4096)]).status == 0)
    }

    @Test func annotateOfAnUnknownItemNamesIt() throws {
        let (node, _, _) = try Self.sealedNode()
        let result = try node.custos(["annotate", "deadbeef-0000", "--note", "x"])
        #expect(result.status == 2)
        #expect(result.stderr == "custos: no item matches \"deadbeef-0000\"\n", "\(result.stderr)")
    }

    @Test func extractWritesTheOriginalReHashedAndRecordsIt() throws {
        let (node, item, file) = try Self.sealedNode(name: "證據 1.bin")
        let out = node.directory.file("out")
        let result = try node.custos(["extract", item, "-o", out, "--reason", "court order 12", "--examiner", "Lin"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try sha256sum(out + "/證據 1.bin") == (try sha256sum(file)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["證據 1.bin"])
        var status = stat()
        #expect(stat(out + "/證據 1.bin", &status) == 0 && status.st_mode & 0o7777 == 0o600)
        let entry = try Self.entry(node, 2)
        #expect(entry["type"] as? String == "extracted" && entry["result"] as? String == "ok")
        #expect(entry["sha256"] as? String == (try sha256sum(file)))
        #expect(result.output.contains("entry 2"))
        #expect(try node.verify().status == 0)
        let history = try node.custos(["history", item])
        #expect(
            history.output.contains("extracted  by ")
                && history.output.contains("(examiner Lin)  result ok  reason: court order 12"), "\(history.output)")
    }

    @Test func extractNeverOverwritesAnExistingFile() throws {
        let (node, item, _) = try Self.sealedNode()
        let existing = try node.directory.write("out/report.pdf", "someone else's\n")
        let before = try Self.size(node)
        let result = try node.custos(["extract", item, "-o", node.directory.file("out"), "--reason", "court"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("out/report.pdf: exists"), "\(result.stderr)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "someone else's\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: node.directory.file("out")) == ["report.pdf"])
        #expect(try Self.size(node) == before)
    }

    @Test func extractRefusesAFolderThatIsASymbolicLink() throws {
        let (node, item, _) = try Self.sealedNode()
        let target = node.directory.file("elsewhere")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(symlink(target, node.directory.file("link")) == 0)
        let result = try node.custos(["extract", item, "-o", node.directory.file("link"), "--reason", "court"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("link: is a symbolic link"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
        #expect(try Self.size(node) == 2)
    }

    /// A folder that another account may write into (mode 0777, no sticky bit) is refused before
    /// anything is written: the file could be replaced there after it was written and checked.
    /// With the sticky bit (as /tmp), or the user's own 0700 or 0755 folder, extraction works.
    @Test func extractRefusesAFolderOthersMayWriteIntoWithoutTheStickyBit() throws {
        let (node, item, file) = try Self.sealedNode()
        let open = node.directory.file("open")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        #expect(chmod(open, 0o777) == 0)
        let before = try Self.size(node)
        let refused = try node.custos(["extract", item, "-o", open, "--reason", "court"])
        #expect(refused.status == 2)
        #expect(
            refused.stderr.hasPrefix("custos: \(open): is writable by others (mode 777) without the sticky bit"),
            "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: open).isEmpty)
        #expect(try Self.size(node) == before, "nothing is recorded")
        for (name, mode) in [("sticky", 0o1777), ("own-0700", 0o700), ("own-0755", 0o755)] as [(String, mode_t)] {
            let folder = node.directory.file(name)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            #expect(chmod(folder, mode) == 0)
            let result = try node.custos(["extract", item, "-o", folder, "--reason", "court"])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(try sha256sum(folder + "/report.pdf") == (try sha256sum(file)))
        }
    }

    /// A folder owned by another account is refused: its owner could replace the file. Needs
    /// root to give the folder to another account (CI runs as root).
    @Test(.enabled(if: geteuid() == 0, "giving a folder to another account needs root"))
    func extractAndExportsRefuseAFolderOwnedByAnotherAccount() throws {
        let (node, item, _) = try Self.sealedNode()
        let theirs = node.directory.file("theirs")
        try FileManager.default.createDirectory(atPath: theirs, withIntermediateDirectories: true)
        #expect(chmod(theirs, 0o755) == 0 && chown(theirs, 65534, 65534) == 0)
        let before = try Self.size(node)
        for command in [
            ["extract", item, "-o", theirs, "--reason", "court"],
            ["timestamp", "export", item, "-o", theirs, "--reason", "court"],
        ] {
            let result = try node.custos(command)
            #expect(result.status == 2, "\(command[0]): \(result.stderr)")
            #expect(result.stderr.hasPrefix("custos: \(theirs): is owned by another account ("), "\(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: theirs).isEmpty)
        #expect(try Self.size(node) == before, "nothing is recorded")
    }

    /// An export writes as extract does: never over an existing file (the whole export refused,
    /// nothing written, nothing recorded), and not into a folder others may write into.
    @Test func exportsNeverOverwriteAFileNorWriteIntoAFolderOthersMayWriteInto() throws {
        let (node, item, _) = try Self.sealedNode()
        let out = node.directory.file("court")
        let existing = try node.directory.write("court/VERIFY.txt", "someone else's\n")
        let before = try Self.size(node)
        let refused = try node.custos(["timestamp", "export", item, "-o", out, "--reason", "court"])
        #expect(refused.status == 2)
        #expect(refused.stderr.hasPrefix("custos: \(out)/VERIFY.txt: exists"), "\(refused.stderr)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "someone else's\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["VERIFY.txt"])
        let checkpoint = try node.custos(["checkpoint", "--export", out, "--reason", "court"])
        #expect(checkpoint.status == 2)
        #expect(checkpoint.stderr.contains("\(out)/VERIFY.txt: exists"), "\(checkpoint.stderr)")
        #expect(try Self.size(node) == before, "nothing is recorded")

        let open = node.directory.file("open")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        #expect(chmod(open, 0o777) == 0)
        let openRefused = try node.custos(["timestamp", "export", item, "-o", open, "--reason", "court"])
        #expect(openRefused.status == 2)
        #expect(openRefused.stderr.contains("\(open): is writable by others (mode 777)"), "\(openRefused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: open).isEmpty)
        #expect(try Self.size(node) == before)

        let fresh = node.directory.file("fresh")
        let exported = try node.custos(["timestamp", "export", item, "-o", fresh, "--reason", "court"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: fresh))
                == ["\(item)-1.tsr", "tsa-chain.pem", "VERIFY.txt"])
        var status = stat()
        #expect(stat(fresh + "/VERIFY.txt", &status) == 0 && status.st_mode & 0o7777 == 0o600)
    }

    @Test func extractWithoutAReasonIsAUsageError() throws {
        let (node, item, _) = try Self.sealedNode()
        let result = try node.custos(["extract", item, "-o", node.directory.file("out")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("Missing expected argument '--reason <reason>'"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: node.directory.file("out")))
        #expect(try Self.size(node) == 2)
    }

    @Test func extractOfAnAlteredArchiveIsRefusedAndRecordedAsFailed() throws {
        let (node, item, _) = try Self.sealedNode()
        let archive = node.archivePath(item: try node.items()[0])
        chmod(archive, 0o600)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
        bytes[bytes.count / 2] ^= 0x55
        try Data(bytes).write(to: URL(fileURLWithPath: archive))
        let out = node.directory.file("out")
        let result = try node.custos(["extract", item, "-o", out, "--reason", "court"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("custos: item \(item): not extracted ["), "\(result.stderr)")
        #expect(result.stderr.contains(archive), "the message names the archive: \(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty, "no file and no temporary left")
        let entry = try Self.entry(node, 2)
        #expect(entry["type"] as? String == "extracted" && entry["result"] as? String == "failed")
        #expect(entry["fault"] is String)
        let verify = try node.verify()
        #expect(verify.status == 1)
        #expect(
            verify.output.contains("recorded as entry 3 (verified)"), "a fault of an item is recorded: \(verify.output)"
        )
    }

    @Test func historyOfAnUnknownItemNamesIt() throws {
        let (node, _, _) = try Self.sealedNode()
        let result = try node.custos(["history", "0000abcd"])
        #expect(result.status == 2)
        #expect(result.stderr == "custos: no item matches \"0000abcd\"\n", "\(result.stderr)")
        let noCase = try node.custos(["history", "--case", "NOPE"])
        #expect(noCase.status == 2 && noCase.stderr.contains("case NOPE"), "\(noCase.stderr)")
    }

    /// Every event type the CLI records, in log order, with its reason and result, in text and
    /// JSON; whole-vault events after the seal marked as such.
    @Test func historyShowsEveryEventInOrder() throws {
        let (node, item, _) = try Self.sealedNode()
        #expect(try node.custos(["annotate", item, "--note", "received in bag 3"]).status == 0)  // 2
        #expect(try node.custos(["extract", item, "-o", node.directory.file("x"), "--reason", "lab copy"]).status == 0)  // 3
        let tokens = try node.custos([
            "timestamp", "export", item, "-o", node.directory.file("t"), "--reason", "for the defence",
        ])  // 4
        #expect(tokens.status == 0, "\(tokens.stderr)")
        #expect(
            try node.custos(["checkpoint", "--export", node.directory.file("c"), "--reason", "court bundle"]).status
                == 0)  // 5
        #expect(try node.verify().status == 0)  // 6, whole vault
        #expect(try node.custos(["verify", item]).status == 0)  // 7, the item
        let text = try node.custos(["history", item])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.output.split(separator: "\n").dropFirst()
        let events = lines.map { line in
            String(line.split(separator: "  ")[2])
        }
        #expect(
            events == [
                "sealed", "timestamped", "annotated", "extracted", "exported", "exported (whole vault)",
                "verified (whole vault)", "verified",
            ], "\(text.output)")
        #expect(lines.map { $0.split(separator: "  ")[1] } == (0..<8).map { "entry \($0)" })
        #expect(lines.allSatisfy { $0.prefix(29).hasSuffix("+00:00") }, "ISO 8601 with offset: \(text.output)")
        #expect(text.output.contains("note: received in bag 3") && text.output.contains("result ok  reason: lab copy"))
        #expect(text.output.contains("exported timestamps  reason: for the defence"))
        #expect(text.output.contains("exported checkpoint  reason: court bundle"))
        #expect(text.output.contains("result pass"))

        let json = try node.custos(["history", "--json", "--case", "C-9"])
        #expect(json.status == 0)
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [[String: Any]])
        #expect(objects.map { $0["entry"] as? Int } == Array(0..<8))
        let keys: Set<String> = [
            "item", "entry", "time", "event", "wholeVault", "actor", "actorVerifiedBy", "actorGroups", "examiner",
            "reason", "note", "result", "facts", "document", "documentStatus", "documentFault", "proof", "proofFault",
            "retainUntil", "recipient",
        ]
        #expect(objects.allSatisfy { Set($0.keys) == keys })
        // Without a daemon, the command's own process named its account.
        #expect(objects.allSatisfy { $0["actorVerifiedBy"] as? String == "process" })
        // Every entry shown is proven in the node's signed checkpoint.
        #expect(
            objects.allSatisfy { $0["proof"] as? String == "in-checkpoint" }, "\(objects.map { $0["proof"] ?? "" })")
        #expect(objects[4]["reason"] as? String == "for the defence")
        #expect(objects[6]["wholeVault"] as? Bool == true && objects[6]["result"] as? String == "pass")
        // Entries of the events: what each entry says.
        #expect(try Self.entry(node, 4)["what"] as? String == "timestamps")
        #expect(try Self.entry(node, 5)["item"] as? String == "")
        #expect(try Self.entry(node, 6)["faults"] as? [String] == [])
        #expect(try Self.entry(node, 7)["item"] as? String == item)
        // show points there.
        let shown = try node.custos(["show", item])
        #expect(shown.output.contains("custody:     entry 2  annotated"), "\(shown.output)")
        #expect(shown.output.contains("history:     custos history \(item)"))
        #expect(try node.verify().status == 0)
    }

    @Test func anAlteredDetailsDocumentIsFlaggedByHistoryAndVerify() throws {
        let (node, item, _) = try Self.sealedNode()
        #expect(try node.custos(["annotate", item, "--note", "original note"]).status == 0)
        let document = try #require(try Self.entry(node, 2)["document"] as? String)
        let path = "\(node.vault)/details/\(document.prefix(2))/\(document).json"
        chmod(path, 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "original note", with: "another note").write(
            toFile: path, atomically: false, encoding: .utf8)
        let history = try node.custos(["history", item])
        #expect(history.status == 1)
        #expect(
            history.output.contains("annotated  by ") && history.output.contains("DETAILS NOT TRUSTED"),
            "\(history.output)")
        #expect(!history.output.contains("another note"))
        #expect(history.stderr.contains("entry 2") && history.stderr.contains("was altered"), "\(history.stderr)")
        let verify = try node.verify()
        #expect(verify.status == 1)
        #expect(verify.output.contains("[details-altered] entry 2"), "\(verify.output)")
        #expect(verify.output.contains("recorded as entry 3 (verified)"))
        #expect(try Self.entry(node, 3)["faults"] as? [String] == ["details-altered"])
        // Removed: missing.
        #expect(unlink(path) == 0)
        let again = try node.verify()
        #expect(again.output.contains("[details-missing] entry 2"), "\(again.output)")
    }

    @Test func verifyRecordsWhatItFoundAndNotWhenItMayNot() throws {
        let (node, item, _) = try Self.sealedNode()
        let first = try node.verify()
        #expect(first.status == 0 && first.output.hasSuffix("verification passed\nrecorded as entry 2 (verified)\n"))
        let entry = try Self.entry(node, 2)
        #expect(entry["type"] as? String == "verified" && entry["item"] as? String == "")
        #expect(entry["result"] as? String == "pass" && entry["faults"] as? [String] == [])
        // The entry is covered at once: the next run finds nothing to say of it.
        let second = try node.verify()
        #expect(
            second.status == 0 && second.output.contains("ledger: 3 entries, 3 checkpoints checked, latest size 3"),
            "\(second.output)")
        // Per item when items are given.
        #expect(try node.custos(["verify", item]).status == 0)
        #expect(try Self.entry(node, 4)["item"] as? String == item)
        // An expert's check and --no-record write nothing.
        let key = try node.custos(["key"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let expert = try node.custos(["verify", "--key", key])
        #expect(expert.status == 0)
        #expect(expert.stderr.hasPrefix("custos: not recorded: an expert's check"), "\(expert.stderr)")
        let quiet = try node.custos(["verify", "--no-record"])
        #expect(quiet.status == 0 && quiet.stderr.isEmpty)
        #expect(try Self.size(node) == 5)
        // A ledger that fails its own audit is not appended to; the exit status is the audit's.
        let ledger = node.vault + "/ledger.sqlite"
        let dropped = try run("sqlite3", [ledger, "DROP TRIGGER events_no_delete; DELETE FROM events;"])
        #expect(dropped.status == 0, "\(dropped.stderr)")
        let broken = try node.verify()
        #expect(broken.status == 1 && broken.output.contains("[event-index]"), "\(broken.output)")
        #expect(broken.stderr.contains("not recorded: the ledger itself failed verification"), "\(broken.stderr)")
        #expect(try Self.size(node) == 5)
    }

    /// The daemon's start-up reconciliation discards archives and manifests no entry records,
    /// never a details document: a recorded one, nor one no entry names (which `verify` lists).
    @Test func theDaemonsReconciliationKeepsDetailsDocuments() throws {
        let (node, item, _) = try Self.sealedNode()
        #expect(try node.custos(["annotate", item, "--note", "kept through a restart"]).status == 0)
        let stray = String(repeating: "ef", count: 32)
        try node.directory.write("vault/details/ef/\(stray).json", "{\"interrupted\":true}")
        try node.directory.write("vault/manifests/cd/\(String(repeating: "cd", count: 32)).json", "{}")
        let daemon = try RunningDaemon(node)
        #expect(daemon.log.contains("reconciled the vault"), "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(node.files(under: "details").count == 2)
        #expect(try node.custos(["history", item]).output.contains("note: kept through a restart"))
        let verify = try node.verify()
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("- \(node.vault)/details/ef/\(stray).json"), "\(verify.output)")
    }
}
