import CustosFormats
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// `custos report`: the facts as `show` and `history` give them, signed (checked with `openssl
/// cms -verify`) and anchored (the `reported` event holds the file's SHA-256).
@Suite("chain-of-custody reports", .timeLimit(.minutes(3)), .enabled(if: haveProgram("openssl")))
struct ReportEndToEndTests {
    func json(_ bytes: [UInt8]) throws -> Any { try JSONSerialization.jsonObject(with: Data(bytes)) }

    func object(_ path: String) throws -> [String: Any] {
        try #require(try json(Array(try Data(contentsOf: URL(fileURLWithPath: path)))) as? [String: Any])
    }

    /// The `reported` events of an item's history (`history --json`).
    func reportedEvents(_ node: Node, _ item: String) throws -> [[String: Any]] {
        let history = try node.custos(["history", "--json", item])
        #expect(history.status == 0, "\(history.stderr)")
        let events = try #require(try json(history.stdout) as? [[String: Any]])
        return events.filter { $0["event"] as? String == "reported" }
    }

    func cmsVerify(_ file: String, chain: String) throws -> CommandResult {
        try run(
            "openssl",
            [
                "cms", "-verify", "-binary", "-content", file, "-in", file + ".p7s", "-inform", "DER", "-CAfile", chain,
                "-out", "/dev/null",
            ])
    }

    func ingest(_ node: Node, _ name: String, _ bytes: [UInt8], case caseID: String, exhibit: String) throws -> String {
        let file = try node.directory.write(name, bytes)
        let result = try node.custos([
            "ingest", "--case", caseID, "--exhibit", exhibit, "--description", "USB <b>stick</b> & \"disk\"", file,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(
            try node.items().first { ($0["name"] as? [String: Any])?["utf8"] as? String == name }?["item"] as? String)
    }

    @Test func anItemsReportSaysWhatShowAndHistorySayAndIsSignedAndRecorded() throws {
        let node = try Node()
        let original = try node.directory.write("photo 照片.jpg", randomBytes(20_000))
        #expect(
            try node.custos(["ingest", "--case", "A-1", "--exhibit", "E-7", "--description", "a phone", original])
                .status == 0)
        let item = try #require(try node.items().first?["item"] as? String)
        let historyBefore = try #require(
            try json(try node.custos(["history", "--json", item]).stdout) as? [[String: Any]])
        let output = node.directory.file("out/report.json")
        let made = try node.custos(["report", item, "--reason", "for the court", "-o", output])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.output.hasPrefix("PASS item \(item)"), "\(made.output)")

        let report = try object(output)
        #expect(report["format"] as? String == "custos-report/1")
        #expect(report["result"] as? String == "PASS")
        #expect(report["reason"] as? String == "for the court")
        #expect((report["languages"] as? [String]) == ["zh-TW", "en"])
        let made_ = try #require(report["made"] as? [String: Any])
        #expect((made_["time"] as? String)?.hasSuffix("+08:00") == true)
        #expect((made_["rocDate"] as? String)?.hasPrefix("中華民國") == true)
        let id = try #require(report["report"] as? String)
        #expect(id.count == 36 && Array(id)[14] == "7")  // a UUIDv7

        // The facts equal what show says.
        let shown = try #require(try json(try node.custos(["show", "--json", item]).stdout) as? [String: Any])
        let record = try #require(shown["item"] as? [String: Any])
        let facts = try #require((report["items"] as? [[String: Any]])?.first)
        #expect(facts["item"] as? String == item)
        #expect(facts["case"] as? String == "A-1" && facts["exhibit"] as? String == "E-7")
        #expect(facts["description"] as? String == "a phone")
        let originalFacts = try #require(facts["original"] as? [String: Any])
        #expect(originalFacts["sha256"] as? String == record["sha256"] as? String)
        #expect(originalFacts["sha256"] as? String == (try sha256sum(original)))
        #expect(originalFacts["size"] as? Int == 20_000)
        #expect((originalFacts["name"] as? [String: Any])?["utf8"] as? String == "photo 照片.jpg")
        let manifest = try #require(shown["manifest"] as? [String: Any])
        #expect(
            (originalFacts["path"] as? [String: Any])?["utf8"] as? String
                == ((manifest["original"] as? [String: Any])?["path"] as? [String: Any])?["utf8"] as? String)
        let digests = try #require(manifest["digests"] as? [String: Any])
        #expect(originalFacts["md5"] as? String == digests["md5"] as? String)
        #expect(originalFacts["md5"] as? String == (try run("md5sum", [original]).output.prefix(32).description))
        #expect(originalFacts["sha1"] as? String == digests["sha1"] as? String)
        let integrity = try #require(facts["integrity"] as? [String: Any])
        for part in ["content", "archive", "manifest"] {
            #expect((integrity[part] as? [String: Any])?["result"] as? String == "PASS")
        }
        // The time stamps as show gives them.
        let tokens = try #require(facts["timestamps"] as? [[String: Any]])
        let shownTokens = try #require(shown["timestamps"] as? [[String: Any]])
        #expect(tokens.count == shownTokens.count && tokens.count == 1)
        #expect(tokens[0]["serial"] as? String == shownTokens[0]["serial"] as? String)
        #expect(tokens[0]["genTime"] as? String == shownTokens[0]["genTime"] as? String)
        #expect(tokens[0]["accuracyMilliseconds"] as? Int == 1000)
        // The timeline is the history as it stood.
        let timeline = try #require(facts["timeline"] as? [[String: Any]])
        #expect(timeline.map { $0["entry"] as? Int } == historyBefore.map { $0["entry"] as? Int })
        #expect(timeline.map { $0["event"] as? String } == historyBefore.map { $0["event"] as? String })
        #expect(timeline.allSatisfy { ($0["time"] as? String)?.hasSuffix("+08:00") == true })
        // The ledger proof is against the checkpoint the report names.
        let proof = try #require(facts["ledgerProof"] as? [String: Any])
        let checkpoint = try #require(report["checkpoint"] as? [String: Any])
        #expect(proof["result"] as? String == "PASS" && proof["checkpointSize"] as? Int == checkpoint["size"] as? Int)
        #expect(
            checkpoint["verifierKey"] as? String
                == (try node.custos(["key"]).output.split(separator: "\n").first.map(String.init)))

        // Signed: openssl accepts it, and refuses it once one byte changed.
        let chain = node.vault + "/report/chain.pem"
        let verified = try cmsVerify(output, chain: chain)
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stderr.contains("Verification successful"))
        let digest = try sha256sum(output)

        // Anchored: the reported event holds the file's SHA-256, and history prints it.
        let reported = try reportedEvents(node, item)
        #expect(reported.count == 1)
        let eventFacts = try #require(reported.first?["facts"] as? [String: Any])
        #expect((eventFacts["files"] as? [String: Any])?["json"] as? String == digest)
        #expect(eventFacts["report"] as? String == id)
        #expect(reported.first?["reason"] as? String == "for the court")
        #expect(try node.custos(["history", item]).output.contains("reported"))
        #expect(try node.custos(["history", item]).output.contains("json sha256 \(digest)"))
        #expect(try node.verify().status == 0)

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        bytes[bytes.count / 2] ^= 0x01
        chmod(output, 0o600)
        try Data(bytes).write(to: URL(fileURLWithPath: output))
        let altered = try cmsVerify(output, chain: chain)
        #expect(altered.status != 0)
        #expect(!altered.stderr.contains("Verification successful"))
    }

    @Test func aCaseReportHasOneSummaryLinePerItemOfTheCase() throws {
        let node = try Node()
        let first = try ingest(node, "a.bin", randomBytes(1000), case: "C-2", exhibit: "1")
        let second = try ingest(node, "b.bin", randomBytes(2000), case: "C-2", exhibit: "2")
        let other = try ingest(node, "c.bin", randomBytes(3000), case: "C-3", exhibit: "1")
        let output = node.directory.file("case.json")
        let made = try node.custos([
            "report", "--case", "C-2", "--reason", "case file", "--lang", "zh-TW", "-o", output,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let report = try object(output)
        #expect(report["scope"] as? String == "case" && report["case"] as? String == "C-2")
        #expect((report["languages"] as? [String]) == ["zh-TW"])
        let summary = try #require(report["summary"] as? [[String: Any]])
        #expect(summary.map { $0["item"] as? String } == [first, second])
        #expect(summary.allSatisfy { $0["result"] as? String == "PASS" })
        #expect(summary.map { $0["exhibit"] as? String } == ["1", "2"])
        // Each item of the case records the report; the other case's item does not.
        let digest = try sha256sum(output)
        for item in [first, second] {
            let reported = try reportedEvents(node, item)
            #expect(reported.count == 1)
            #expect(
                ((reported.first?["facts"] as? [String: Any])?["files"] as? [String: Any])?["json"] as? String == digest
            )
        }
        #expect(try reportedEvents(node, other).isEmpty)
        #expect(try cmsVerify(output, chain: node.vault + "/report/chain.pem").status == 0)
    }

    @Test func aTamperedArchiveIsReportedAsFailFirstAndExitsOne() throws {
        let node = try Node()
        let item = try ingest(node, "a.bin", randomBytes(50_000), case: "T-1", exhibit: "1")
        try node.alterArchive(ofItem: item)
        let output = node.directory.file("tampered.json")
        let made = try node.custos(["report", item, "--reason", "check", "-o", output])
        #expect(made.status == 1)
        #expect(made.output.hasPrefix("FAIL"), "\(made.output)")
        #expect(made.output.split(separator: "\n").dropFirst().first?.hasPrefix("FAIL item \(item)") == true)
        // Written, signed and recorded all the same.
        let report = try object(output)
        #expect(report["result"] as? String == "FAIL")
        let facts = try #require((report["items"] as? [[String: Any]])?.first)
        let integrity = try #require(facts["integrity"] as? [String: Any])
        #expect((integrity["archive"] as? [String: Any])?["result"] as? String == "FAIL")
        #expect(((integrity["archive"] as? [String: Any])?["reason"] as? String)?.contains("archive-") == true)
        #expect((integrity["manifest"] as? [String: Any])?["result"] as? String == "PASS")
        #expect((report["summary"] as? [[String: Any]])?.first?["result"] as? String == "FAIL")
        #expect(try cmsVerify(output, chain: node.vault + "/report/chain.pem").status == 0)
        let reported = try reportedEvents(node, item)
        #expect(reported.first?["result"] as? String == "fail")
    }

    /// The re-check runs beside the gathering of the items' facts; a fault it finds fails the
    /// item it is about, and only that item.
    @Test func aTamperedArchiveFailsItsItemAndNoOtherOfTheCase() throws {
        let node = try Node()
        let tampered = try ingest(node, "a.bin", randomBytes(40_000), case: "T-2", exhibit: "1")
        let intact = try ingest(node, "b.bin", randomBytes(40_000), case: "T-2", exhibit: "2")
        try node.alterArchive(ofItem: tampered)
        let output = node.directory.file("case.json")
        let made = try node.custos(["report", "--case", "T-2", "--reason", "check", "-o", output])
        #expect(made.status == 1)
        let report = try object(output)
        #expect(report["result"] as? String == "FAIL")
        let results = Dictionary(
            uniqueKeysWithValues: ((report["items"] as? [[String: Any]]) ?? []).map {
                (
                    $0["item"] as? String ?? "",
                    (($0["integrity"] as? [String: Any])?["archive"] as? [String: Any])?["result"] as? String
                )
            })
        #expect(results[tampered] == "FAIL")
        #expect(results[intact] == "PASS")
        let summary = (report["summary"] as? [[String: Any]]) ?? []
        #expect(summary.first { $0["item"] as? String == tampered }?["result"] as? String == "FAIL")
        #expect(summary.first { $0["item"] as? String == intact }?["result"] as? String == "PASS")
    }

    @Test(.enabled(if: haveProgram("sqlite3"))) func anEditedLedgerIsReportedAsFailFirstAndExitsOne() throws {
        let node = try Node()
        let item = try ingest(node, "a.bin", randomBytes(1000), case: "L-1", exhibit: "1")
        let other = try ingest(node, "b.bin", randomBytes(1000), case: "L-1", exhibit: "2")
        let edited = try #require(try node.items().first { $0["item"] as? String == other })
        let sha = try #require(edited["sha256"] as? String)
        let sequence = try #require(edited["sequence"] as? Int)
        // An attacker rewrites the other item's entry, its triggers dropped first.
        let sql = """
            DROP TRIGGER IF EXISTS entries_no_update;
            UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), '\(sha)', '\(String(repeating: "0", count: 64))') AS BLOB) WHERE seq = \(sequence);
            """
        #expect(try run("sqlite3", [node.vault + "/ledger.sqlite"], stdin: Array(sql.utf8)).status == 0)
        let output = node.directory.file("ledger.json")
        let made = try node.custos(["report", item, "--reason", "check", "-o", output])
        #expect(made.status == 1, "\(made.stderr)")
        #expect(made.output.hasPrefix("FAIL"), "\(made.output)")
        #expect(made.output.contains("FAIL ledger: "), "\(made.output)")
        let report = try object(output)
        #expect(report["result"] as? String == "FAIL")
        #expect((report["ledger"] as? [String: Any])?["result"] as? String == "FAIL")
    }

    /// A row deleted from the middle of the ledger: the report is made, and says FAIL where it
    /// failed (the ledger), as for any other edit; it is not refused for the re-check's having
    /// read fewer rows than the ledger's size.
    @Test(.enabled(if: haveProgram("sqlite3"))) func aDeletedLedgerRowIsReportedAsFail() throws {
        let node = try Node()
        // Four items, a seal and a time stamp each: entry 4 (the third item's seal) is on no path
        // the first item's proof needs, so its report can be made.
        let item = try ingest(node, "a.bin", randomBytes(1000), case: "L-2", exhibit: "1")
        for index in 2...4 {
            _ = try ingest(node, "\(index).bin", randomBytes(1000 + index), case: "L-2", exhibit: "\(index)")
        }
        let sql = "DROP TRIGGER IF EXISTS entries_no_delete; DELETE FROM entries WHERE seq = 4;"
        #expect(try run("sqlite3", [node.vault + "/ledger.sqlite"], stdin: Array(sql.utf8)).status == 0)
        let output = node.directory.file("deleted.json")
        let made = try node.custos(["report", item, "--reason", "check", "-o", output])
        #expect(made.status == 1, "\(made.stderr)")
        #expect(made.output.contains("FAIL ledger: ") && made.output.contains("entry-missing"), "\(made.output)")
        #expect(!made.stderr.contains("no report was made"), "\(made.stderr)")
        #expect(try object(output)["result"] as? String == "FAIL")
    }

    @Test func badInputIsRefusedAndNothingIsWrittenOrRecorded() throws {
        let node = try Node()
        let item = try ingest(node, "a.bin", randomBytes(100), case: "B-1", exhibit: "1")
        let output = node.directory.file("r.json")
        // An unknown item, an unknown case.
        let unknown = try node.custos(["report", "0000dead", "--reason", "r", "-o", output])
        #expect(unknown.status == 2 && !FileManager.default.fileExists(atPath: output), "\(unknown.stderr)")
        let unknownCase = try node.custos(["report", "--case", "NO-SUCH", "--reason", "r", "-o", output])
        #expect(unknownCase.status == 2 && unknownCase.stderr.contains("NO-SUCH"), "\(unknownCase.stderr)")
        // No reason.
        let noReason = try node.custos(["report", item, "-o", output])
        #expect(noReason.status == 2 && noReason.stderr.contains("--reason"), "\(noReason.stderr)")
        // An unknown format.
        let format = try node.custos(["report", item, "--reason", "r", "--format", "html", "-o", output])
        #expect(format.status == 2 && format.stderr.contains("--format"), "\(format.stderr)")
        // A reason with control characters, or of 10,000 characters: refused as every reason is.
        let control = try node.custos(["report", item, "--reason", "line\none\u{1b}[31m", "-o", output])
        #expect(control.status == 2 && control.stderr.contains("control character"), "\(control.stderr)")
        let long = try node.custos(["report", item, "--reason", String(repeating: "長", count: 10_000), "-o", output])
        #expect(long.status == 2 && long.stderr.contains("longer than 4096"), "\(long.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(try reportedEvents(node, item).isEmpty)
        // A folder is not a report's file.
        for folder in [node.directory.file("folder/"), "."] {
            let asFolder = try node.custos(["report", item, "--reason", "r", "-o", folder])
            #expect(asFolder.status == 2 && asFolder.stderr.contains("not a file name"), "\(asFolder.stderr)")
        }
        let existing = try node.custos(["report", item, "--reason", "r", "--format", "json", "-o", node.directory.path])
        #expect(existing.status == 2 && existing.stderr.contains("exists"), "\(existing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: node.directory.file("folder")))
        // An output that exists is never overwritten (nor its .p7s).
        let taken = try node.directory.write("taken.json", "mine")
        let exists = try node.custos(["report", item, "--reason", "r", "-o", taken])
        #expect(exists.status == 2 && exists.stderr.contains("exists"), "\(exists.stderr)")
        #expect(try String(contentsOfFile: taken, encoding: .utf8) == "mine")
        #expect(!FileManager.default.fileExists(atPath: taken + ".p7s"))
        let takenSignature = try node.directory.write("sig.json.p7s", "mine")
        let signatureExists = try node.custos(["report", item, "--reason", "r", "-o", node.directory.file("sig.json")])
        #expect(signatureExists.status == 2 && !FileManager.default.fileExists(atPath: node.directory.file("sig.json")))
        #expect(try String(contentsOfFile: takenSignature, encoding: .utf8) == "mine")
        #expect(try reportedEvents(node, item).isEmpty)
        #expect(try node.verify().status == 0)
    }

    @Test func hostileTextInTheReasonIsKeptExactlyAndEscapedWhenShown() throws {
        let node = try Node()
        let item = try ingest(node, "a.bin", randomBytes(100), case: "H-1", exhibit: "1")
        let reason = "<script>alert(1)</script> \"quoted\" \\ back \u{202E}evil\u{200F} 證據"
        let output = node.directory.file("h.json")
        let made = try node.custos(["report", item, "--reason", reason, "-o", output])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try object(output)["reason"] as? String == reason)
        let reported = try reportedEvents(node, item)
        #expect(reported.first?["reason"] as? String == reason)
        let shown = try node.custos(["history", item]).output
        #expect(!shown.contains("\u{202E}"), "\(shown)")
        #expect(shown.contains("<script>alert(1)</script>"))
    }

    @Test func aVaultWithoutAReportSignerGetsOneAtItsFirstReport() throws {
        let node = try Node()
        let item = try ingest(node, "a.bin", randomBytes(100), case: "K-1", exhibit: "1")
        // As a vault made before reports were signed.
        try FileManager.default.removeItem(atPath: node.vault + "/report")
        try FileManager.default.removeItem(atPath: node.vault + "/keys/report.key")
        let output = node.directory.file("k.json")
        let made = try node.custos(["report", item, "--reason", "r", "-o", output])
        #expect(made.status == 0, "\(made.stderr)")
        var status = stat()
        #expect(stat(node.vault + "/keys/report.key", &status) == 0 && status.st_mode & 0o777 == 0o600)
        #expect(try cmsVerify(output, chain: node.vault + "/report/chain.pem").status == 0)
        #expect(try node.verify().status == 0)
    }

    /// A checkpoint whose signature was forged: the report is still made, on the tree the ledger
    /// holds, and says FAIL first, naming the checkpoint; exit 1.
    @Test func aCheckpointThatDoesNotVerifyGivesAFailReport() throws {
        let node = try Node()
        let item = try ingest(node, "disk.img", randomBytes(5_000), case: "K-1", exhibit: "1")
        try node.forgeLatestCheckpoint()
        let output = node.directory.file("out/report")
        let made = try node.custos(["report", item, "--reason", "for the court", "-o", output])
        #expect(made.status == 1, "\(made.stderr)")
        #expect(made.output.hasPrefix("FAIL 驗證失敗"), "\(made.output)")
        #expect(made.output.contains("FAIL checkpoint: the latest checkpoint does not verify"), "\(made.output)")
        let report = try object(output + ".json")
        #expect(report["result"] as? String == "FAIL")
        let signatureCheck = try #require((report["checkpoint"] as? [String: Any])?["signature"] as? [String: Any])
        #expect(signatureCheck["result"] as? String == "FAIL")
        #expect((signatureCheck["reasonZhTW"] as? String)?.contains("無法以節點金鑰") == true)
        // The item's proof is not taken from the ledger's own, unsigned tree.
        let facts = try #require((report["items"] as? [[String: Any]])?.first)
        #expect(facts["result"] as? String == "FAIL")
        let proof = try #require(facts["ledgerProof"] as? [String: Any])
        #expect(
            proof["result"] as? String == "FAIL"
                && (proof["reason"] as? String)?.contains("no signed checkpoint") == true)
        // The PDF says it on its first page, in both languages.
        let text = try run("pdftotext", ["-f", "1", "-l", "1", output + ".pdf", "-"])
        #expect(text.output.contains("驗證失敗") && text.output.contains("does not verify"), "\(text.output)")
    }

    /// A report in Traditional Chinese alone gives its checks' reasons in Chinese (the JSON keeps
    /// both languages).
    @Test func aChineseReportGivesItsReasonsInChinese() throws {
        let node = try Node()
        let item = try ingest(node, "phone.bin", randomBytes(3_000), case: "K-2", exhibit: "2")
        let output = node.directory.file("zh")
        let made = try node.custos(["report", item, "--reason", "r", "--lang", "zh-TW", "-o", output])
        #expect(made.status == 0, "\(made.stderr)")
        let facts = try #require((try object(output + ".json")["items"] as? [[String: Any]])?.first)
        let content = try #require((facts["integrity"] as? [String: Any])?["content"] as? [String: Any])
        #expect((content["reason"] as? String)?.hasPrefix("the original in the archive re-hashed") == true)
        #expect((content["reasonZhTW"] as? String)?.hasPrefix("封存檔內之原始檔案重新計算雜湊值") == true)
        let text = try run("pdftotext", [output + ".pdf", "-"]).output
        #expect(text.contains("封存檔內之原始檔案重新計算雜湊值"))
        #expect(text.contains("未重新讀取來源路徑之原始檔案"))
        #expect(!text.contains("re-hashed") && !text.contains("Custos cannot check them"), "\(text)")
    }

    /// A node that names its bureau: the seal's manifest and the report name it, and the report
    /// states the seal's re-check as its manifest records it.
    @Test func theBureauAndTheSealsRecheckAreInTheReport() throws {
        let node = try Node(initArguments: ["--bureau", "法務部調查局"])
        let item = try ingest(node, "card.img", randomBytes(4_000), case: "B-1", exhibit: "9")
        let shown = try #require(try json(try node.custos(["show", "--json", item]).stdout) as? [String: Any])
        let sealing = try #require((shown["manifest"] as? [String: Any])?["sealing"] as? [String: Any])
        #expect(sealing["bureau"] as? String == "法務部調查局")
        let recheck = try #require(sealing["recheck"] as? [String: Any])
        #expect(recheck["result"] as? String == "pass" && recheck["of"] as? String == "original")
        let output = node.directory.file("bureau")
        #expect(try node.custos(["report", item, "--reason", "r", "-o", output]).status == 0)
        #expect(try object(output + ".json")["bureau"] as? String == "法務部調查局")
        let text = try run("pdftotext", [output + ".pdf", "-"]).output.replacingOccurrences(of: "\n", with: "")
        #expect(text.contains("法務部調查局"))
        #expect(text.contains("封存時之複核") && text.contains("讀取之位元組數等於其大小"), "\(text)")
        // A bureau name with a control character is refused at init.
        let other = TemporaryDirectory("e2e")
        let refused = try run(
            custosBinary,
            ["init", "--vault", other.file("vault"), "--origin", "x.example/evidence", "--bureau", "a\u{202e}b"])
        #expect(refused.status != 0 && refused.stderr.contains("bureau"), "\(refused.stderr)")
    }

    /// A bureau's own report-signing certificate, made with openssl: imported, it signs the
    /// reports, which `openssl cms -verify` accepts against the bureau's CA alone; the replaced
    /// one is kept. A key readable by others, a key of another certificate, and a certificate
    /// that may not sign are refused, naming the file.
    @Test func aBureausOwnReportSignerIsImportedAndSignsTheReports() throws {
        let node = try Node()
        let item = try ingest(node, "mail.pst", randomBytes(4_000), case: "S-1", exhibit: "1")
        let dir = node.directory.file("bureau-ca")
        try bureauCA(dir, leaves: ["reports", "encryption"], keyUsages: ["encryption": "keyEncipherment"])
        func signer(_ arguments: [String]) throws -> CommandResult {
            try run(custosBinary, ["report-signer", arguments[0], "--vault", node.vault] + arguments.dropFirst())
        }
        let before = try signer(["show"]).output

        func importing(_ key: String, _ cert: String) throws -> CommandResult {
            try signer([
                "import", "--key", "\(dir)/\(key).key", "--cert", "\(dir)/\(cert).pem", "--chain",
                dir + "/ca.pem",
            ])
        }
        let wrongKey = try importing("encryption", "reports")
        #expect(wrongKey.status != 0 && wrongKey.stderr.contains("does not belong"), "\(wrongKey.stderr)")
        let mayNotSign = try importing("encryption", "encryption")
        #expect(
            mayNotSign.status != 0 && mayNotSign.stderr.contains("encryption.pem")
                && mayNotSign.stderr.contains("does not verify"), "\(mayNotSign.stderr)")
        #expect(chmod("\(dir)/reports.key", 0o644) == 0)
        let exposed = try importing("reports", "reports")
        #expect(exposed.status != 0 && exposed.stderr.contains("reports.key"), "\(exposed.stderr)")
        // A FIFO or a link given as the key: refused at once, never read through or waited on.
        #expect(mkfifo("\(dir)/fifo.key", 0o600) == 0 && symlink("\(dir)/reports.key", "\(dir)/link.key") == 0)
        for odd in ["fifo", "link"] {
            let refused = try importing(odd, "reports")
            #expect(
                refused.status == 2 && refused.stderr.contains("--key \(dir)/\(odd).key: not a regular file"),
                "\(refused.stderr)")
        }
        #expect(try signer(["show"]).output == before)

        #expect(chmod("\(dir)/reports.key", 0o600) == 0)
        // An import cut short after the new certificate was written, before its key: reports
        // are refused, naming the mismatch, until the import is run again.
        let cut = try run("cp", ["\(dir)/reports.pem", node.vault + "/report/report.pem"])
        #expect(cut.status == 0)
        let refused = try node.custos(["report", item, "--reason", "r", "-o", node.directory.file("cut")])
        #expect(refused.status != 0 && refused.stderr.contains("does not belong"), "\(refused.stderr)")
        let imported = try importing("reports", "reports")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.output.contains("Bureau reports") && imported.output.contains("retired"), "\(imported.output)")
        var status = stat()
        #expect(stat(node.vault + "/keys/report.key", &status) == 0 && status.st_mode & 0o777 == 0o600)
        let output = node.directory.file("signed")
        #expect(try node.custos(["report", item, "--reason", "r", "-o", output]).status == 0)
        #expect(try cmsVerify(output + ".pdf", chain: dir + "/ca.pem").status == 0)
        #expect(try cmsVerify(output + ".json", chain: dir + "/ca.pem").status == 0)
        let signer = try #require(try object(output + ".json")["signer"] as? [String: Any])
        #expect((signer["subject"] as? String)?.contains("Bureau reports") == true)
    }

    /// A bureau's CA in `dir` and report-signing certificates under it (`<leaf>.key`, mode 0600,
    /// and `<leaf>.pem`), made with openssl; a leaf named in `keyUsages` gets that key usage
    /// instead of a signer's.
    func bureauCA(_ dir: String, leaves: [String], keyUsages: [String: String] = [:]) throws {
        #expect(mkdir(dir, 0o700) == 0)
        func openssl(_ arguments: [String]) throws {
            let result = try run("openssl", arguments)
            #expect(result.status == 0, "\(arguments) \(result.stderr)")
        }
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            dir + "/ca.key", "-out", dir + "/ca.pem", "-days", "30", "-subj", "/CN=Bureau Report CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        for name in leaves {
            try openssl([
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr", "-subj", "/CN=Bureau \(name)",
            ])
            let keyUsage = keyUsages[name] ?? "digitalSignature,nonRepudiation"
            try Data("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,\(keyUsage)\n".utf8)
                .write(to: URL(fileURLWithPath: "\(dir)/\(name).ext"))
            try openssl([
                "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
                "-CAcreateserial", "-out", "\(dir)/\(name).pem", "-days", "30", "-extfile", "\(dir)/\(name).ext",
            ])
            #expect(chmod("\(dir)/\(name).key", 0o600) == 0)
        }
    }

    /// The SHA-256 fingerprint of a PEM certificate, as openssl gives it (lower-case hex).
    func fingerprint(_ pem: String) throws -> String {
        let result = try run("openssl", ["x509", "-in", pem, "-noout", "-fingerprint", "-sha256"])
        let hex = result.output.split(separator: "=").last.map(String.init) ?? ""
        return hex.replacingOccurrences(of: ":", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
            .lowercased()
    }

    /// Importing a report signer is recorded: a `report-signer-replaced` event about the whole
    /// vault, whose entry holds the SHA-256 fingerprints of the new certificate and of the one it
    /// replaces, which `history` shows in every item's timeline. Reports made while signers are
    /// imported are each signed by one whole signer, never refused for a certificate beside
    /// another's key. While a daemon serves the vault, the import is refused and changes nothing.
    @Test func anImportIsRecordedAndReportsMadeMeanwhileAreSignedByTheOldOrTheNewSigner() throws {
        let node = try Node()
        let item = try ingest(node, "mail.pst", randomBytes(4_000), case: "S-1", exhibit: "1")
        let dir = node.directory.file("bureau-ca")
        try bureauCA(dir, leaves: ["a", "b"])
        func importing(_ leaf: String) throws -> CommandResult {
            try run(
                custosBinary,
                [
                    "report-signer", "import", "--vault", node.vault, "--key", "\(dir)/\(leaf).key", "--cert",
                    "\(dir)/\(leaf).pem", "--chain", dir + "/ca.pem",
                ])
        }
        let made = try fingerprint(node.vault + "/report/report.pem")
        let first = try importing("a")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.output.contains("(report-signer-replaced)"), "\(first.output)")

        let history = try #require(try json(try node.custos(["history", "--json", item]).stdout) as? [[String: Any]])
        let replaced = try #require(history.last)
        #expect(replaced["event"] as? String == "report-signer-replaced")
        #expect(replaced["wholeVault"] as? Bool == true)
        let facts = try #require(replaced["facts"] as? [String: Any])
        #expect(facts["certificate"] as? String == (try fingerprint(dir + "/a.pem")))
        #expect(facts["retired"] as? String == made)
        // The retired certificate is kept under the fingerprint the entry gives.
        #expect(FileManager.default.fileExists(atPath: node.vault + "/report/retired/\(made).pem"))
        let text = try node.custos(["history", item]).output
        let shown = "certificate sha256 \(try fingerprint(dir + "/a.pem")) replaces sha256 \(made)"
        #expect(text.contains("report-signer-replaced (whole vault)") && text.contains(shown), "\(text)")
        #expect(try node.verify().status == 0)
        // The same signer again: nothing to replace, nothing recorded (no "a replaces a").
        let again = try importing("a")
        #expect(again.status != 0 && again.stderr.contains("already signs the reports"), "\(again.stderr)")

        // Reports made while the signer is replaced again and again.
        var reports = [(BackgroundProcess, String)]()
        for round in 0..<8 {
            let output = node.directory.file("concurrent-\(round).json")
            reports.append(
                (
                    try BackgroundProcess(
                        custosBinary,
                        ["report", "--vault", node.vault, item, "--reason", "r", "--format", "json", "-o", output],
                        logPath: node.directory.file("report-\(round).log")), output
                ))
            let imported = try importing(round % 2 == 0 ? "b" : "a")
            #expect(imported.status == 0, "\(imported.stderr)")
        }
        for (process, output) in reports {
            #expect(process.wait(timeout: 120) == 0, "\(process.log)")
            #expect(!process.log.contains("does not belong"), "\(process.log)")
            let signer = try #require(try object(output)["signer"] as? [String: Any])
            let subject = signer["subject"] as? String ?? ""
            #expect(subject.contains("Bureau a") || subject.contains("Bureau b"), "\(subject)")
            #expect(try cmsVerify(output, chain: dir + "/ca.pem").status == 0)
        }
        let events = try #require(try json(try node.custos(["history", "--json", item]).stdout) as? [[String: Any]])
        #expect(events.filter { $0["event"] as? String == "report-signer-replaced" }.count == 9)
        #expect(events.filter { $0["event"] as? String == "reported" }.count == 8)

        // Refused beside a daemon, nothing changed.
        let before = try fingerprint(node.vault + "/report/report.pem")
        let daemon = try RunningDaemon(node)
        let refused = try importing("a")
        #expect(daemon.stop() == 0)
        #expect(refused.status != 0 && refused.stderr.contains("a daemon serves this vault"), "\(refused.stderr)")
        #expect(try fingerprint(node.vault + "/report/report.pem") == before)
        let after = try #require(try json(try node.custos(["history", "--json", item]).stdout) as? [[String: Any]])
        #expect(after.filter { $0["event"] as? String == "report-signer-replaced" }.count == 9)
    }
}
