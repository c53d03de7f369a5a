import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSQLite
import CustosSealing
import CustosTestSupport
import CustosTimeStamping
import CustosVault
import Foundation
import Glibc
import Testing

/// A real vault in a fresh folder with one sealed item, driven through `Custody`.
struct SealedVault {
    let directory: TemporaryDirectory
    let vault: Vault
    let custody: Custody
    let record: ItemRecord
    let content: [UInt8]

    init(name: String = "evidence.bin", examiner: String? = nil) throws {
        directory = TemporaryDirectory("custody")
        vault = try Vault.create(
            at: RawPath(directory.file("vault")), configuration: VaultConfiguration(origin: "custody.example/evidence"),
            now: SystemClock.now(),
            timeStampAuthority: try NodeTimeStampAuthority.prepare(
                .generate, origin: "custody.example/evidence", now: SystemClock.secondsSinceEpoch()))
        custody = Custody(vault: vault, actor: .current(examiner: examiner), tool: "custos-tests")
        content = randomBytes(300_000)
        let file = try directory.write(name, content)
        let receipt = try custody.session().seal(SealRequest(path: RawPath(file), caseID: "C-1"))
        try custody.session().checkpoint()
        record = try #require(try custody.session(readOnly: true).ledger.items().first { $0.item == receipt.sealed.item })
    }

    func session(readOnly: Bool = false) throws -> CustodySession { try custody.session(readOnly: readOnly) }

    func verify() throws -> VerificationReport {
        try VaultVerifier(vault: vault).verify(ledger: try vault.openLedger(readOnly: true))
    }
}

@Suite("custody events: annotate, extract, history", .timeLimit(.minutes(5)))
struct CustodyEventTests {
    @Test(arguments: [
        ("line\nbreak", "U+000A"), ("tab\there", "U+0009"), ("nul\u{0}", "U+0000"), ("del\u{7f}", "U+007F"),
        ("c1\u{85}next line", "U+0085"), ("c1\u{9f}", "U+009F"),
    ])
    func aNoteWithAControlCharacterIsRefused(note: String, shown: String) throws {
        let node = try SealedVault()
        let session = try node.session()
        let before = try session.ledger.size()
        let error = try #require(throws: CustodyError.self) { try session.annotate(node.record, note: note) }
        #expect(error.code == .refused)
        #expect(error.message.contains(shown) && error.message.contains(node.record.item), "\(error)")
        #expect(try session.ledger.size() == before)
        #expect(node.directory.files(under: "vault/details").isEmpty)
    }

    @Test func aNoteIsAtMost4096BytesAndNotEmpty() throws {
        let node = try SealedVault()
        let session = try node.session()
        let fits = String(repeating: "證", count: 1365) + "a"  // 4095 + 1 bytes of UTF-8
        #expect(fits.utf8.count == 4096)
        try session.annotate(node.record, note: fits)
        for refused in [fits + "b", ""] {
            let error = try #require(throws: CustodyError.self) { try session.annotate(node.record, note: refused) }
            #expect(error.code == .refused)
        }
        #expect(try session.ledger.size() == 3)  // seal, stamp, one note
    }

    @Test func aNoteIsKeptInItsDetailsDocumentNotInTheEntry() throws {
        let node = try SealedVault(examiner: "Dr. 王")
        let session = try node.session()
        let event = try session.annotate(node.record, note: "seal intact on receipt")
        let entry = event.entries[0]
        #expect(entry.type == .annotated && entry.item == node.record.item)
        let bytes = try session.ledger.entryBytes(entry.sequence)
        #expect(!String(decoding: bytes, as: UTF8.self).contains("seal intact"))
        #expect(entry.detailsDocument == event.document)
        let document = try #require(try session.detailsDocument(of: entry))
        #expect(document["note"]?.stringValue == "seal intact on receipt")
        #expect(document["actor"]?["examiner"]?.stringValue == "Dr. 王")
        #expect(document["salt"]?.stringValue?.count == 32)
        // The latest checkpoint covers the new entry, and the vault verifies.
        #expect(try session.checkpointedSize() == 3)
        let report = try node.verify()
        #expect(report.passed, "\(report.faults)")
        #expect(report.detailsChecked == 1)
    }

    @Test func anExtractionIsWrittenUnderTheOriginalNameAndRecorded() throws {
        let node = try SealedVault(name: "報告 v2.pdf")
        let session = try node.session()
        let folder = RawPath(node.directory.file("out"))
        let outcomes = try session.extract([node.record], to: folder, reason: "court order 7")
        #expect(outcomes.count == 1 && outcomes[0].succeeded)
        let written = node.directory.file("out/報告 v2.pdf")
        #expect(try FileSystem.readFile(RawPath(written)) == node.content)
        #expect((try FileSystem.linkStatus(RawPath(written))?.mode ?? 0) & 0o7777 == 0o600)
        #expect(try FileSystem.listDirectory(folder) == [Array("報告 v2.pdf".utf8)])
        let entry = outcomes[0].entry
        #expect(entry.type == .extracted && entry.details["result"]?.stringValue == "ok")
        #expect(entry.details["sha256"]?.stringValue == node.record.sha256.hex)
        let document = try #require(try session.detailsDocument(of: entry))
        #expect(document["reason"]?.stringValue == "court order 7")
        #expect(document["name"]?.byteStringValue == Array("報告 v2.pdf".utf8))
        // The archive by its identity (its object name), not where a driver keeps it.
        #expect(document["archive"]?.stringValue == "\(node.record.sha256.hex).tar.zst")
        #expect(try node.verify().passed)
    }

    /// The name comes from the manifest only when it re-hashes to the entry's digest; otherwise
    /// the original (whose digests are checked against the entry all the same) is named by its id.
    @Test func anUntrustedManifestGivesTheItemIdAsTheName() throws {
        let node = try SealedVault()
        let manifest = node.vault.local.path(of: .manifest(node.record.manifest)).description
        chmod(manifest, 0o600)
        try Data(#"{"original":{"name":{"utf8":"../../etc/passwd"}}}"#.utf8).write(to: URL(fileURLWithPath: manifest))
        let outcomes = try node.session().extract(
            [node.record], to: RawPath(node.directory.file("out")), reason: "court")
        #expect(outcomes[0].succeeded)
        #expect(outcomes[0].name == Array(node.record.item.utf8))
        #expect(outcomes[0].nameNote?.contains("does not match the ledger") == true)
        #expect(try FileSystem.readFile(RawPath(node.directory.file("out/\(node.record.item)"))) == node.content)
    }

    @Test func anExistingFileIsNeverOverwritten() throws {
        let node = try SealedVault()
        let session = try node.session()
        let existing = try node.directory.write("out/evidence.bin", "mine\n")
        let before = try session.ledger.size()
        let error = try #require(throws: CustodyError.self) {
            try session.extract([node.record], to: RawPath(node.directory.file("out")), reason: "again")
        }
        #expect(error.code == .exists)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "mine\n")
        #expect(try FileSystem.listDirectory(RawPath(node.directory.file("out"))).count == 1)
        #expect(try session.ledger.size() == before)
    }

    /// A crash leaves its temporary behind; a later process of the same pid (containers reuse
    /// pids) must not find its temporary's name taken: the names carry a random part.
    @Test func aLeftoverTemporaryOfTheSamePidNeverBlocks() throws {
        let node = try SealedVault()
        let session = try node.session()
        let pid = getpid()
        let leftovers = [".custos-extract-\(node.record.item)-\(pid)", ".custos-export-0-\(pid)"]
        for name in leftovers { _ = try node.directory.write("out/\(name)", "left by a crash\n") }
        let folder = RawPath(node.directory.file("out"))
        let outcomes = try session.extract([node.record], to: folder, reason: "court")
        #expect(outcomes[0].succeeded)
        #expect(try FileSystem.readFile(RawPath(node.directory.file("out/evidence.bin"))) == node.content)
        let tokens = RawPath(node.directory.file("out"))
        _ = try session.exportTimeStamps(of: node.record, to: tokens, reason: "court")
        #expect(FileSystem.exists(RawPath(node.directory.file("out/VERIFY.txt"))))
        // The leftovers are not the vault's to remove (another process may own them): untouched.
        let names = Set(try FileSystem.listDirectory(folder).map { String(decoding: $0, as: UTF8.self) })
        #expect(names.filter { $0.hasPrefix(".custos-") } == Set(leftovers), "\(names)")
    }

    @Test func aFolderThatIsASymbolicLinkIsRefused() throws {
        let node = try SealedVault()
        let session = try node.session()
        let target = node.directory.file("elsewhere")
        try FileSystem.makeDirectory(RawPath(target))
        #expect(symlink(target, node.directory.file("link")) == 0)
        let error = try #require(throws: FileSystemError.self) {
            try session.extract([node.record], to: RawPath(node.directory.file("link")), reason: "court")
        }
        #expect(error.code == .symlink && error.message.contains("is a symbolic link"))
        #expect(try FileSystem.listDirectory(RawPath(target)).isEmpty)
    }

    @Test func anAlteredArchiveIsNotExtractedAndTheFailureIsRecorded() throws {
        let node = try SealedVault()
        let archive = try #require(node.vault.archiveFile(content: node.record.sha256))
        chmod(archive.description, 0o600)
        var bytes = try FileSystem.readFile(archive)
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: archive.description))
        let session = try node.session()
        let folder = RawPath(node.directory.file("out"))
        let outcomes = try session.extract([node.record], to: folder, reason: "court")
        #expect(!outcomes[0].succeeded)
        #expect(try FileSystem.listDirectory(folder).isEmpty, "no file, no temporary is left")
        let entry = outcomes[0].entry
        #expect(entry.details["result"]?.stringValue == "failed")
        #expect(entry.details["fault"]?.stringValue != nil)
        #expect(try session.checkpointedSize() == entry.sequence + 1)
    }

    @Test func historyListsEveryEventInOrderWithItsDocument() throws {
        let node = try SealedVault(examiner: "Lin")
        let session = try node.session()
        try session.annotate(node.record, note: "first look")
        _ = try session.extract([node.record], to: RawPath(node.directory.file("out")), reason: "lab copy")
        // Events recorded by other workflows are shown generically.
        try session.recordEvent(.transferred, items: [node.record.item], details: ["reason": .string("to the court")])
        try session.recordEvent(.exported, items: [node.record.item], facts: ["what": .string("timestamps")])
        try session.recordVerification(try node.verify(), items: nil)
        try session.recordVerification(try node.verify(), items: [node.record.item])
        let history = try node.session(readOnly: true).history(of: node.record)
        #expect(
            history.events.map(\.type.rawValue) == [
                "sealed", "timestamped", "annotated", "extracted", "transferred", "exported", "verified", "verified",
            ])
        #expect(history.events.map(\.sequence) == Array(0..<8))
        #expect(history.events[2].note == "first look" && history.events[2].examiner == "Lin")
        #expect(history.events[3].reason == "lab copy" && history.events[3].result == "ok")
        #expect(history.events[4].reason == "to the court")
        #expect(history.events[6].wholeVault && history.events[6].result == "pass")
        #expect(!history.events[7].wholeVault)
        #expect(history.faults.isEmpty)
        #expect(history.events.allSatisfy { $0.time.hasSuffix("+00:00") })
    }

    @Test func anAlteredOrMissingDetailsDocumentIsNeverTrusted() throws {
        let node = try SealedVault()
        let session = try node.session()
        let altered = try session.annotate(node.record, note: "to be altered")
        let missing = try session.annotate(node.record, note: "to be removed")
        let alteredPath = node.vault.local.path(of: .details(altered.document)).description
        chmod(alteredPath, 0o600)
        try Data(String(decoding: altered.documentBytes, as: UTF8.self).replacingOccurrences(of: "altered", with: "trusted").utf8)
            .write(to: URL(fileURLWithPath: alteredPath))
        #expect(unlink(node.vault.local.path(of: .details(missing.document)).description) == 0)
        let history = try node.session(readOnly: true).history(of: node.record)
        #expect(history.faults.map(\.sequence) == [altered.entries[0].sequence, missing.entries[0].sequence])
        if case .altered = history.faults[0].document {} else { Issue.record("\(history.faults[0].document)") }
        if case .missing = history.faults[1].document {} else { Issue.record("\(history.faults[1].document)") }
        #expect(history.faults[0].note == nil)
        let report = try node.verify()
        #expect(Set(report.faults.map(\.code)) == [.detailsAltered, .detailsMissing])
        #expect(report.ledgerFaults == 0)
    }

    @Test func aDocumentNoEntryNamesIsAnUnrecordedFile() throws {
        let node = try SealedVault()
        let stray = Array("{}".utf8)
        let hash = OpenSSLSHA256().sha256(stray)
        try node.vault.objects.store(stray, as: .details(hash), durability: .immediate)
        let report = try node.verify()
        #expect(report.passed)
        #expect(report.unrecordedFiles == [node.vault.local.path(of: .details(hash)).description])
    }

    @Test func aPrefixResolvesInOnePlace() throws {
        let node = try SealedVault()
        let ledger = try node.session(readOnly: true).ledger
        #expect(try ItemResolution.item(String(node.record.item.prefix(13)), in: ledger).item == node.record.item)
        #expect(try ItemResolution.item(String(node.record.sha256.hex.prefix(12)), in: ledger).item == node.record.item)
        let error = try #require(throws: CustodyError.self) { try ItemResolution.item("ffffffff-0000", in: ledger) }
        #expect(error.code == .unknownItem && error.message.contains("ffffffff-0000"))
    }
}

@Suite("the events index (ledger schema 10)", .timeLimit(.minutes(5)))
struct EventsIndexTests {
    /// A schema-9 ledger (no events table) is read as it is, and upgraded in place when opened
    /// for writing: the index is filled from the entries and the audit finds nothing.
    @Test func aSchema9LedgerIsReadAndUpgraded() throws {
        let node = try SealedVault()
        let session = try node.session()
        try session.annotate(node.record, note: "before the upgrade")
        try session.recordVerification(try node.verify(), items: nil)
        let path = node.vault.ledgerPath.description
        do {
            let db = try SQLiteConnection(path: path, mode: .readWrite)
            try db.execute("DROP TABLE events; UPDATE meta SET value = '9' WHERE key = 'schema';")
        }
        let old = try node.vault.openLedger(readOnly: true)
        #expect(!old.hasEventsIndex)
        let scanned = try node.session(readOnly: true).history(of: node.record)
        #expect(scanned.events.map(\.type.rawValue) == ["sealed", "timestamped", "annotated", "verified"])

        let upgraded = try node.vault.openLedger()
        #expect(upgraded.hasEventsIndex)
        let db = try SQLiteConnection(path: path, mode: .readOnly)
        #expect(try db.firstRow("SELECT value FROM meta WHERE key = 'schema'") { $0.text(0) } == "11")
        var rows = [String]()
        try db.forEachRow("SELECT seq, item FROM events ORDER BY seq") { rows.append("\($0.int64(0)) \($0.text(1) ?? "?")") }
        #expect(rows == ["2 \(node.record.item)", "3 "])
        #expect(try node.verify().passed)
        #expect(try node.session(readOnly: true).history(of: node.record).events.count == 4)
    }

    /// An entry edited in the ledger file (its trigger dropped) with its details document
    /// re-written to match is still caught: history proves each entry's exact bytes in the node's
    /// signed checkpoint, and trusts neither the entry nor its document without it.
    @Test func historyTrustsNoEntryTheNodeDidNotSign() throws {
        let node = try SealedVault()
        let annotated = try node.session().annotate(node.record, note: "seal intact").entries[0]
        let before = try node.session(readOnly: true).history(of: node.record)
        #expect(before.faults.isEmpty)
        #expect(before.events.allSatisfy { if case .inCheckpoint = $0.proof { true } else { false } })
        let db = try SQLiteConnection(path: node.vault.ledgerPath.description, mode: .readWrite)
        try db.execute("DROP TRIGGER entries_no_update")
        let body = String(decoding: annotated.canonicalBytes, as: UTF8.self)
        let forged = body.replacingOccurrences(of: "\"type\":\"annotated\"", with: "\"type\":\"annotatex\"")
        #expect(forged != body)
        try db.run(
            "UPDATE entries SET body = ? WHERE seq = ?", [.blob(Array(forged.utf8)), .integer(Int64(annotated.sequence))])
        let after = try node.session(readOnly: true).history(of: node.record)
        let event = try #require(after.events.first { $0.sequence == annotated.sequence })
        #expect(event.proof.fault != nil, "\(event.proof)")
        #expect(after.faults.map(\.sequence) == [annotated.sequence])
    }

    @Test func theIndexIsAppendOnlyAndAudited() throws {
        let node = try SealedVault()
        try node.session().annotate(node.record, note: "indexed")
        let db = try SQLiteConnection(path: node.vault.ledgerPath.description, mode: .readWrite)
        #expect(throws: SQLiteError.self) { try db.execute("DELETE FROM events") }
        #expect(throws: SQLiteError.self) { try db.execute("UPDATE events SET item = 'x'") }
        // A row for a seal, which is no event: named by the audit.
        try db.execute("INSERT INTO events (seq, item) VALUES (0, 'forged')")
        let report = try node.verify()
        #expect(report.faults.map(\.code) == [.eventIndex], "\(report.faults)")
        #expect(report.ledgerFaults == 1)
    }

    @Test func sealingWritesNoEventRows() throws {
        let node = try SealedVault()
        let db = try SQLiteConnection(path: node.vault.ledgerPath.description, mode: .readOnly)
        #expect(try db.firstRow("SELECT count(*) FROM events") { $0.int64(0) } == 0)
    }
}

extension TemporaryDirectory {
    /// The regular files below `folder` (relative to this directory), recursively.
    func files(under folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: file(folder))?.allObjects as? [String] ?? []).filter {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: file(folder) + "/" + $0, isDirectory: &isDirectory)
            return !isDirectory.boolValue
        }
    }
}
