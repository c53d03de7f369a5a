import CustosTestSupport
import Foundation
import Glibc
import Testing

/// `custos report` as a PDF: read back by poppler's `pdfinfo` and `pdftotext` (the key facts in
/// both languages), signed (`openssl cms -verify`), anchored (the `reported` event holds the
/// PDF's SHA-256 as `sha256sum` gives it), FAIL first on a tampered item, and hostile text kept
/// from breaking the layout.
@Suite(
    "chain-of-custody reports as PDF", .timeLimit(.minutes(3)),
    .enabled(if: haveProgram("openssl") && haveProgram("pdftotext") && haveProgram("pdfinfo")))
struct ReportPDFEndToEndTests {
    func ingest(
        _ node: Node, _ name: String, _ bytes: [UInt8], case caseID: String, exhibit: String,
        description: String = "USB <b>stick</b> & \"disk\""
    ) throws -> String {
        let file = try node.directory.write(name, bytes)
        let result = try node.custos([
            "ingest", "--case", caseID, "--exhibit", exhibit, "--description", description, file,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try node.items().last?["item"] as? String)
    }

    func text(_ pdf: String, firstPage: Int? = nil) throws -> String {
        var arguments = ["-enc", "UTF-8"]
        if let firstPage { arguments += ["-f", String(firstPage), "-l", String(firstPage)] }
        let result = try run("pdftotext", arguments + [pdf, "-"])
        #expect(result.status == 0, "\(result.stderr)")
        return result.output
    }

    /// The text without whitespace: a hash wrapped over two lines is found whole.
    func squeezed(_ text: String) -> String {
        String(text.unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init))
    }

    func pages(_ pdf: String) throws -> Int {
        let info = try run("pdfinfo", [pdf])
        #expect(info.status == 0, "\(info.stderr)")
        let line = info.output.split(separator: "\n").first { $0.hasPrefix("Pages:") } ?? ""
        return Int(line.dropFirst("Pages:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }

    func cmsVerify(_ file: String, chain: String) throws -> CommandResult {
        try run(
            "openssl",
            [
                "cms", "-verify", "-binary", "-content", file, "-in", file + ".p7s", "-inform", "DER", "-CAfile", chain,
                "-out", "/dev/null",
            ])
    }

    func reportedFiles(_ node: Node, _ item: String) throws -> [[String: Any]] {
        let history = try node.custos(["history", "--json", item])
        let events = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout)) as? [[String: Any]])
        return events.filter { $0["event"] as? String == "reported" }.compactMap {
            ($0["facts"] as? [String: Any])?["files"] as? [String: Any]
        }
    }

    @Test func aReportIsAPDFAndAJSONBothSignedAndBothInTheLedger() throws {
        let node = try Node()
        let item = try ingest(node, "phone 手機.img", randomBytes(30_000), case: "A-113", exhibit: "E-7")
        let output = node.directory.file("out/report")
        let made = try node.custos(["report", item, "--reason", "for the court", "-o", output])
        #expect(made.status == 0, "\(made.stderr)")
        let folder = node.directory.file("out")
        #expect(
            Set(try FileManager.default.contentsOfDirectory(atPath: folder))
                == ["report.pdf", "report.pdf.p7s", "report.json", "report.json.p7s"])
        let pdf = folder + "/report.pdf"
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/report.json")))
                as? [String: Any])
        let id = try #require(json["report"] as? String)
        let sha256 = try #require(
            ((json["items"] as? [[String: Any]])?.first?["original"] as? [String: Any])?["sha256"] as? String)

        let info = try run("pdfinfo", [pdf])
        #expect(info.output.contains("證據監管鏈報告"), "\(info.output)")
        #expect(try pages(pdf) >= 3)
        let all = try text(pdf)
        for fact in [
            "證據監管鏈", "案號", "證物編號", "雜湊值", "帳本紀錄序號", "包含證明", "檢查點", "未驗證項目", "簽名或蓋章",
            "Case number", "Exhibit number", "Chain of custody", "A-113", "E-7", "驗證通過", "PASS",
        ] {
            #expect(all.contains(fact), "\(fact)")
        }
        #expect(squeezed(all).contains(sha256))
        #expect(squeezed(all).contains(id))
        #expect(all.contains("USB <b>stick</b> & \"disk\""))
        let first = try text(pdf, firstPage: 1)
        #expect(first.contains("page 1 of"), "\(first)")
        #expect(squeezed(first).contains(id))
        #expect(!first.contains("FAIL") && !first.contains("驗證失敗"))

        let chain = node.vault + "/report/chain.pem"
        for file in [pdf, folder + "/report.json"] {
            let checked = try cmsVerify(file, chain: chain)
            #expect(checked.status == 0, "\(file): \(checked.stderr)")
        }
        let files = try #require(try reportedFiles(node, item).first)
        #expect(files["pdf"] as? String == (try sha256sum(pdf)))
        #expect(files["json"] as? String == (try sha256sum(folder + "/report.json")))
        // Signed means this file: one byte changed and openssl refuses it.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: pdf)))
        bytes[bytes.count / 2] ^= 0x01
        chmod(pdf, 0o600)
        try Data(bytes).write(to: URL(fileURLWithPath: pdf))
        #expect(try cmsVerify(pdf, chain: chain).status != 0)
    }

    @Test func oneLanguageOrTheOtherAndOneFormat() throws {
        let node = try Node()
        let item = try ingest(node, "a.bin", randomBytes(1000), case: "L-1", exhibit: "3")
        let english = node.directory.file("en.pdf")
        #expect(
            try node.custos(["report", item, "--reason", "r", "--lang", "en", "--format", "pdf", "-o", english])
                .status == 0)
        #expect(!FileManager.default.fileExists(atPath: node.directory.file("en.json")))
        let en = try text(english)
        #expect(en.contains("Chain-of-Custody Report") && en.contains("Case number") && !en.contains("案號"))
        let chinese = node.directory.file("zh.pdf")
        #expect(
            try node.custos(["report", item, "--reason", "r", "--lang", "zh-TW", "--format", "pdf", "-o", chinese])
                .status == 0)
        let zh = try text(chinese)
        #expect(zh.contains("證據監管鏈報告") && zh.contains("案號") && !zh.contains("Case number"))
        #expect(zh.contains("中華民國"))
        let files = try reportedFiles(node, item)
        #expect(files.count == 2 && files.allSatisfy { $0["json"] == nil && $0["pdf"] is String })
        // The creation date is the report's time (so the same facts give the same bytes).
        #expect(try run("pdfinfo", [english]).output.contains("CreationDate:"))
    }

    @Test func aTamperedItemOfACaseSaysFailOnThePDFsFirstPageAndExitsOne() throws {
        let node = try Node()
        _ = try ingest(node, "good.bin", randomBytes(2000), case: "T-9", exhibit: "1")
        let bad = try ingest(node, "bad.bin", randomBytes(50_000), case: "T-9", exhibit: "2")
        try node.alterArchive(ofItem: bad)
        let output = node.directory.file("case.pdf")
        let made = try node.custos(["report", "--case", "T-9", "--reason", "check", "-o", output])
        #expect(made.status == 1, "\(made.stderr)")
        let pdf = node.directory.file("case.pdf")
        let first = try text(pdf, firstPage: 1)
        #expect(first.contains("FAIL") && first.contains("驗證失敗"), "\(first)")
        // The verdict before anything else on the page but the running header.
        let verdict = try #require(first.range(of: "驗證失敗"))
        let about = try #require(first.range(of: "報告資料"))
        #expect(verdict.lowerBound < about.lowerBound)
        #expect(first.contains("PASS"))  // the summary's other line
        #expect(try cmsVerify(pdf, chain: node.vault + "/report/chain.pem").status == 0)
        #expect(try reportedFiles(node, bad).first?["pdf"] as? String == (try sha256sum(pdf)))
    }

    @Test func hostileNamesAndDescriptionsDoNotBreakTheLayout() throws {
        let node = try Node()
        let long = String(repeating: "長描述 long description ", count: 500)  // 10,000 characters
        let description = "<span foreground=\"red\">x</span> &amp; \u{202E}evil\u{202C} " + long
        let name = "<b>name</b>\u{202E}gpj.exe\u{1b}[31m\u{7}"
        let item = try ingest(
            node, name, randomBytes(100), case: "H-<i>1</i>", exhibit: "&lt;2", description: description)
        let output = node.directory.file("hostile.pdf")
        let made = try node.custos([
            "report", item, "--reason", "<b>court</b> \u{202E}x", "--format", "pdf", "-o", output,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let count = try pages(output)
        #expect(count >= 3 && count <= 15, "\(count) pages")
        let all = try text(output)
        #expect(!all.unicodeScalars.contains("\u{202E}"))
        #expect(!all.unicodeScalars.contains("\u{1b}"))
        #expect(all.contains("<span foreground=\"red\">x</span> &amp;"))
        #expect(all.contains("<b>name</b>"))
        #expect(all.contains("H-<i>1</i>") && all.contains("&lt;2"))
        #expect(squeezed(all).contains("\\u{202e}"))
        #expect(squeezed(all).contains(squeezed(String(repeating: "長描述 long description ", count: 40))))
    }

    /// A node whose reports are in Tokyo time (`init --time-zone Asia/Tokyo`): the report made by
    /// the command, and again by the daemon through its socket, gives every time at +09:00 and
    /// names the zone once, in the JSON and on the PDF. An unknown zone is refused at init,
    /// naming the option and the value, and no vault is made.
    @Test func aNodeInitialisedWithATimeZoneReportsInItByCommandAndThroughTheDaemon() throws {
        let node = try Node(initArguments: ["--time-zone", "Asia/Tokyo"])
        let item = try ingest(node, "disk.img", randomBytes(5_000), case: "T-1", exhibit: "1")
        func check(_ output: String) throws -> [String: Any] {
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + ".json")))
                    as? [String: Any])
            #expect(json["timeZone"] as? String == "Asia/Tokyo")
            let made = try #require((json["made"] as? [String: Any])?["time"] as? String)
            #expect(made.hasSuffix("+09:00"), "\(made)")
            let facts = try #require((json["items"] as? [[String: Any]])?.first)
            let timeline = try #require(facts["timeline"] as? [[String: Any]])
            #expect(!timeline.isEmpty && timeline.allSatisfy { ($0["time"] as? String)?.hasSuffix("+09:00") == true })
            #expect(((facts["sealed"] as? [String: Any])?["time"] as? String)?.hasSuffix("+09:00") == true)
            let token = try #require((facts["timestamps"] as? [[String: Any]])?.first)
            #expect(((token["genTimeLocal"] as? [String: Any])?["time"] as? String)?.hasSuffix("+09:00") == true)
            let all = squeezed(try text(output + ".pdf"))
            #expect(all.contains(squeezed("時間為 Asia/Tokyo 時間（UTC+09:00）")), "\(all)")
            #expect(all.contains(squeezed("times in Asia/Tokyo (UTC+09:00)")))
            #expect(all.contains(made.prefix(19) + made.suffix(6)) || all.contains(made))
            #expect(!all.contains("+08:00"))
            return json
        }
        let direct = node.directory.file("direct")
        let made = try node.custos(["report", item, "--reason", "r", "-o", direct])
        #expect(made.status == 0, "\(made.stderr)")
        _ = try check(direct)

        let daemon = try RunningDaemon(node)
        let served = node.directory.file("served")
        let through = try node.custos(["report", item, "--reason", "r", "-o", served])
        #expect(through.status == 0, "\(through.stderr) \(daemon.log)")
        #expect(daemon.stop() == 0)
        _ = try check(served)
        // The daemon made it: the kernel named its maker.
        let history = try node.custos(["history", "--json", item])
        let events = try #require(try JSONSerialization.jsonObject(with: Data(history.stdout)) as? [[String: Any]])
        let reported = events.filter { $0["event"] as? String == "reported" }
        #expect(reported.map { $0["actorVerifiedBy"] as? String } == ["process", "kernel"], "\(reported)")

        let other = TemporaryDirectory("e2e")
        let refused = try run(
            custosBinary,
            ["init", "--vault", other.file("vault"), "--origin", "x.example/evidence", "--time-zone", "Mars/Olympus"])
        #expect(
            refused.status != 0 && refused.stderr.contains("--time-zone") && refused.stderr.contains("Mars/Olympus"),
            "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: other.file("vault/custos.json")))
    }
}
