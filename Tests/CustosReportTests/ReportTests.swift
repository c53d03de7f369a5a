import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosPDF
import CustosReport
import CustosSealing
import CustosTestSupport
import CustosTimeStamping
import CustosVault
import Foundation
import Glibc
import Testing

/// A real vault in a fresh folder with one sealed item, driven through `Custody`; made as
/// `Vault.create` makes it (no report signer: the first report makes one).
struct ReportVault {
    let directory: TemporaryDirectory
    let vault: Vault
    let custody: Custody
    let record: ItemRecord
    let content: [UInt8]

    init(timeZone: String? = nil) throws {
        directory = TemporaryDirectory("report")
        var configuration = VaultConfiguration(origin: "report.example/evidence")
        configuration.timeZone = timeZone
        vault = try Vault.create(
            at: RawPath(directory.file("vault")), configuration: configuration, now: SystemClock.now(),
            timeStampAuthority: try NodeTimeStampAuthority.prepare(
                .generate, origin: "report.example/evidence", now: SystemClock.secondsSinceEpoch()))
        custody = Custody(vault: vault, actor: .current(examiner: "王小明"), tool: "custos-tests")
        content = randomBytes(100_000)
        let file = try directory.write("證物 1.bin", content)
        let receipt = try custody.session().seal(SealRequest(path: RawPath(file), caseID: "C-1"))
        record = try #require(
            try custody.session(readOnly: true).ledger.items().first { $0.item == receipt.sealed.item })
    }
}

@Suite("reports: facts, JSON, signature, the reported event", .timeLimit(.minutes(2)))
struct ReportTests {
    @Test func aReportIsWrittenSignedAndRecordedWithItsDigest() throws {
        let node = try ReportVault()
        #expect(!node.vault.hasReportSigner)
        let session = try node.custody.session()
        let output = RawPath(node.directory.file("out/report.json"))
        let made = try session.makeReport(
            ReportRequest(subject: .items([node.record]), reason: "for the court", formats: ["json"]), output: output)
        #expect(node.vault.hasReportSigner)
        let written = try FileSystem.readFile(output)
        #expect(written == made.files[0].bytes)
        #expect(written.last == 0x0a && CanonicalJSON.isCanonical(Array(written.dropLast())))
        #expect(try FileSystem.readFile(RawPath(node.directory.file("out/report.json.p7s"))) == made.files[1].bytes)
        // The facts: the item's digests, its integrity re-hashed, its proof.
        let facts = try #require(made.facts.items.first)
        #expect(made.facts.passed)
        #expect(facts.sha256 == OpenSSLSHA256().sha256(node.content))
        #expect(facts.name == Array("證物 1.bin".utf8))
        #expect(facts.content.passed && facts.archive.passed && facts.manifest.passed && facts.proof.check.passed)
        #expect(facts.proof.leafHash == MerkleHasher.openSSL.hashLeaf(facts.proof.entry))
        #expect(facts.timeline.map(\.event) == ["sealed", "timestamped"])
        #expect(facts.tokens.count == 1 && facts.tokens[0].source == TimeStampRecord.nodeSource)
        #expect(made.facts.actor["examiner"]?.stringValue == "王小明")
        // The reported event: the JSON's SHA-256 in the entry, the files in its details document.
        let entry = try #require(made.event.entries.first)
        #expect(entry.type == .reported && entry.item == node.record.item)
        #expect(entry.details["files"]?["json"]?.stringValue == OpenSSLSHA256().sha256(written).hex)
        #expect(entry.details["report"]?.stringValue == made.facts.report)
        let document = try #require(try session.detailsDocument(of: entry))
        #expect(document["reason"]?.stringValue == "for the court")
        #expect(document["files"]?.arrayValue?.count == 2)
        #expect(document["output"]?.byteStringValue == output.bytes)
        // The history shows it.
        let history = try session.history(of: node.record)
        #expect(history.events.last?.type == .reported)
        #expect(history.events.last?.reason == "for the court")
    }

    @Test(.enabled(if: haveProgram("openssl"))) func theSignatureIsOneOpensslAccepts() throws {
        let directory = TemporaryDirectory("cms")
        let signer = try ReportSigningAuthority.generate(
            origin: "cms.example/evidence", now: SystemClock.secondsSinceEpoch())
        let content = Array("{\"a\":1}\r\n\u{0}binary\n".utf8)
        let file = try directory.write("r.json", content)
        _ = try directory.write(
            "r.json.p7s",
            try DetachedSignature.sign(content, key: signer.key, certificate: signer.certificate, chain: signer.chain))
        _ = try directory.write("chain.pem", try signer.chain.flatMap { try $0.pem() })
        let arguments = [
            "cms", "-verify", "-binary", "-content", file, "-in", file + ".p7s", "-inform", "DER", "-CAfile",
            directory.file("chain.pem"), "-out", "/dev/null",
        ]
        let accepted = try run("openssl", arguments)
        #expect(accepted.status == 0, "\(accepted.stderr)")
        var changed = content
        changed[0] ^= 0x01
        _ = try directory.write("r.json", changed)
        #expect(try run("openssl", arguments).status != 0)
    }

    @Test func aMissingArchiveIsAFailOfTheArchiveAndTheContent() throws {
        let node = try ReportVault()
        let archive = try #require(try node.vault.objects.findArchive(content: node.record.sha256))
        unlink(node.vault.objects.describe(archive))
        let session = try node.custody.session()
        let facts = try session.reportFacts(
            ReportRequest(subject: .items([node.record]), reason: "r"), now: SystemClock.now(), signer: nil)
        let item = try #require(facts.items.first)
        #expect(!facts.passed && !item.passed)
        #expect(!item.archive.passed && item.archive.reason.contains("archive-missing"))
        #expect(!item.content.passed && item.manifest.passed)
    }

    @Test func aMissingDetailsDocumentOfTheItemsEventFailsTheItem() throws {
        let node = try ReportVault()
        let session = try node.custody.session()
        let note = try session.annotate(node.record, note: "bag 3")
        unlink(node.vault.objects.describe(.details(note.document)))
        let facts = try session.reportFacts(
            ReportRequest(subject: .items([node.record]), reason: "r"), now: SystemClock.now(), signer: nil)
        let item = try #require(facts.items.first)
        #expect(!facts.passed && !item.passed)
        #expect(item.faults.map(\.code) == ["details-missing"], "\(item.faults)")
        #expect(item.content.passed && item.archive.passed && item.manifest.passed)
        #expect(item.timeline.last?.fault != nil)
        #expect(facts.ledger.passed, "\(facts.ledger.reason)")
    }

    @Test func aDestroyedOriginalIsNotCheckedAndSaysWhy() throws {
        let node = try ReportVault()
        let request = try node.custody.session().requestDisposal([node.record], mode: .destroy, reason: "end of case")
        let approver = Custody(
            vault: node.vault, actor: CustodyActor(account: "other", uid: 4242), tool: "custos-tests")
        _ = try approver.session().approveDisposal(request: request.id)
        #expect(try node.vault.objects.findArchive(content: node.record.sha256) == nil)
        let facts = try node.custody.session().reportFacts(
            ReportRequest(subject: .items([node.record]), reason: "r"), now: SystemClock.now(), signer: nil)
        let item = try #require(facts.items.first)
        #expect(item.archive.result == "NOT-CHECKED" && item.content.result == "NOT-CHECKED")
        #expect(item.archive.reason.contains("destroyed"))
        #expect(item.manifest.result == "PASS" && item.passed && facts.passed, "\(item.faults) \(facts.ledger)")
        #expect(item.notChecked.contains { $0.en.contains("destroyed") && $0.zh.contains("銷毀") })
        #expect(item.timeline.map(\.event).suffix(2) == ["disposal-requested", "disposed"])
    }

    @Test func aReportIsNeverWrittenOverAFileAndNothingIsRecordedThen() throws {
        let node = try ReportVault()
        let session = try node.custody.session()
        let taken = try node.directory.write("taken.json.p7s", "mine")
        let before = try session.ledger.size()
        let error = try #require(throws: CustodyError.self) {
            try session.makeReport(
                ReportRequest(subject: .items([node.record]), reason: "r"),
                output: RawPath(String(taken.dropLast(4))))
        }
        #expect(error.code == .exists)
        #expect(try session.ledger.size() == before)
        #expect(try String(contentsOfFile: taken, encoding: .utf8) == "mine")
        #expect(!FileManager.default.fileExists(atPath: String(taken.dropLast(4))))
    }

    @Test func bothFormatsAreWrittenSignedAndBothDigestsRecorded() throws {
        let node = try ReportVault()
        let session = try node.custody.session()
        let made = try session.makeReport(
            ReportRequest(subject: .items([node.record]), reason: "both"),
            output: RawPath(node.directory.file("out/r.json")))
        #expect(made.files.map(\.name) == ["r.pdf", "r.pdf.p7s", "r.json", "r.json.p7s"])
        for file in made.files {
            #expect(try FileSystem.readFile(RawPath(node.directory.file("out/" + file.name))) == file.bytes)
        }
        #expect(made.files[0].bytes.starts(with: Array("%PDF-".utf8)))
        let entry = try #require(made.event.entries.first)
        #expect(entry.details["files"]?["pdf"]?.stringValue == OpenSSLSHA256().sha256(made.files[0].bytes).hex)
        #expect(entry.details["files"]?["json"]?.stringValue == OpenSSLSHA256().sha256(made.files[2].bytes).hex)
    }

    @Test(arguments: [
        ("r", ["pdf", "json"], ["r.pdf", "r.pdf.p7s", "r.json", "r.json.p7s"]),
        ("r.pdf", ["pdf", "json"], ["r.pdf", "r.pdf.p7s", "r.json", "r.json.p7s"]),
        ("r.v2", ["pdf", "json"], ["r.v2.pdf", "r.v2.pdf.p7s", "r.v2.json", "r.v2.json.p7s"]),
        (".pdf", ["pdf", "json"], [".pdf.pdf", ".pdf.pdf.p7s", ".pdf.json", ".pdf.json.p7s"]),
        ("r.json", ["pdf"], ["r.json", "r.json.p7s"]),
    ])
    func theFilesAreNamedAfterTheOutput(output: String, formats: [String], names: [String]) {
        #expect(
            ReportRequest.fileNames(Array(output.utf8), formats: formats).map {
                String(decoding: $0.name, as: UTF8.self)
            } == names)
    }

    @Test func theSameFactsGiveTheSamePDF() throws {
        let node = try ReportVault()
        let facts = try node.custody.session().reportFacts(
            ReportRequest(subject: .items([node.record]), reason: "r"), now: "2026-12-02T01:02:03.456Z", signer: nil)
        #expect(facts.pdfLayout.creationDate == "2026-12-02T09:02:03+08:00")
        let first = try facts.pdfBytes()
        #expect(try facts.pdfBytes() == first)
    }

    /// A vault that names no zone gives Taiwan time and names it once, in the JSON and on the PDF.
    @Test func aVaultWithoutAZoneGivesTaiwanTimeAndSaysSo() throws {
        let node = try ReportVault()
        let facts = try node.custody.session().reportFacts(
            ReportRequest(subject: .items([node.record]), reason: "r"), now: "2026-07-15T01:02:03.456Z", signer: nil)
        #expect(facts.timeZone == .taiwan)
        #expect(facts.made.time == "2026-07-15T09:02:03.456+08:00")
        #expect(facts.json["timeZone"]?.stringValue == "Asia/Taipei")
        let about = try #require(aboutRows(facts))
        #expect(
            about.contains(
                PDFKeyValue("時區 / Time zone", "時間為 Asia/Taipei 時間（UTC+08:00） / times in Asia/Taipei (UTC+08:00)")))
    }

    /// A vault in Berlin: every time of the report at Berlin's offset of its instant (the report
    /// made in January at +01:00, in July at +02:00), the zone named once, the same facts the
    /// same bytes.
    @Test(arguments: [
        ("2026-01-15T12:00:00.250Z", "2026-01-15T13:00:00.250+01:00", "2026-01-15T13:00:00+01:00"),
        ("2026-07-15T12:00:00.250Z", "2026-07-15T14:00:00.250+02:00", "2026-07-15T14:00:00+02:00"),
    ])
    func aVaultInAZoneWithDaylightSavingTimeGivesEachTimeAtItsOffset(now: String, made: String, pdfDate: String)
        throws
    {
        let node = try ReportVault(timeZone: "Europe/Berlin")
        let facts = try node.custody.session().reportFacts(
            ReportRequest(subject: .items([node.record]), reason: "r"), now: now, signer: nil)
        #expect(facts.timeZone.name == "Europe/Berlin")
        #expect(facts.made.time == made)
        #expect(facts.pdfLayout.creationDate == pdfDate)
        #expect(facts.json["timeZone"]?.stringValue == "Europe/Berlin")
        // The item's times (sealed and stamped now) at Berlin's offset of their own instants.
        let item = try #require(facts.items.first)
        func berlin(_ seconds: Int64) -> String { facts.timeZone.offset(at: seconds) == 3600 ? "+01:00" : "+02:00" }
        #expect(item.timeline.count == 2)
        for event in item.timeline {
            let seconds = try #require(RFC3339.seconds(event.recorded))
            #expect(event.time?.time.hasSuffix(berlin(seconds)) == true, "\(event.time?.time ?? "none")")
        }
        let genTime = try #require(item.tokens.first?.genTimeLocal)
        #expect(genTime.time.hasSuffix(berlin(genTime.seconds)) && genTime.offset == berlin(genTime.seconds))
        #expect(item.sealed?.offset == berlin(try #require(item.sealed?.seconds)))
        let about = try #require(aboutRows(facts))
        let zone = try #require(about.first { $0.label == "時區 / Time zone" })
        #expect(zone.value.contains("Europe/Berlin (UTC\(made.suffix(6)) when made;"), "\(zone.value)")
        #expect(zone.value.contains("each time gives its own"), "\(zone.value)")
        #expect(try facts.pdfBytes() == (try facts.pdfBytes()))
        #expect(facts.jsonBytes == facts.jsonBytes)
    }

    func aboutRows(_ facts: ReportFacts) -> [PDFKeyValue]? {
        for block in facts.pdfLayout.blocks {
            if case .keyValues(let rows) = block, rows.first?.label == "報告編號 / Report" { return rows }
        }
        return nil
    }

    /// Every fault code a re-check can give has its sentence in Traditional Chinese.
    @Test func everyFaultCodeHasItsChineseSentence() {
        for code in VerificationFault.Code.allCases {
            #expect(ReportFault.chineseMeaning[code.rawValue] != nil, "\(code.rawValue)")
        }
        #expect(ReportFault.chineseMeaning.count == VerificationFault.Code.allCases.count)
    }
}
