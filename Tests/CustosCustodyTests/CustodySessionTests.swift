import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosTestSupport
import CustosTimeStamping
import CustosVault
import Foundation
import Testing

/// The custody service in-process, on a real vault: the one seal workflow (one file, a batch),
/// checkpoints, and the events it records with their details documents.
@Suite("the custody service", .timeLimit(.minutes(2)))
struct CustodySessionTests {
    let directory = TemporaryDirectory("custody")
    let custody: Custody

    init() throws {
        let vault = try Vault.create(
            at: RawPath(directory.file("vault")), configuration: VaultConfiguration(origin: "custody.test/vault"),
            now: SystemClock.now(),
            timeStampAuthority: try NodeTimeStampAuthority.prepare(
                .generate, origin: "custody.test/vault", now: SystemClock.secondsSinceEpoch()))
        custody = Custody(vault: vault, actor: CustodyActor(account: "examiner", uid: 1000), tool: "custos tests")
    }

    func evidence(_ name: String, _ bytes: [UInt8]) throws -> SealRequest {
        SealRequest(path: RawPath(try directory.write(name, bytes)), caseID: "C-1")
    }

    @Test func aSealIsOnePassAStampAndOneTransactionCoveredByTheNextCheckpoint() throws {
        let session = try custody.session()
        let bytes = randomBytes(3 << 20)
        let receipt = try session.seal(try evidence("disk.img", bytes))
        #expect(receipt.sealed.pending.digests.sha256 == OpenSSLSHA256().sha256(bytes))
        #expect(receipt.entry.type == .sealed)
        #expect(receipt.entry.actor == "examiner")
        // The node's stamp follows its seal, in the same transaction, over the evidence's SHA-256.
        let stamp = try #require(receipt.stampEntry)
        #expect(stamp.sequence == receipt.entry.sequence + 1)
        #expect(TimeStampRecord(entry: stamp)?.imprint == receipt.sealed.pending.digests.sha256)
        #expect(try session.ledger.size() == 2)
        // Not covered until a checkpoint is signed; then the latest covers both, and signing again
        // with nothing new changes nothing.
        #expect(try session.checkpointedSize() == 0)
        let note = try session.checkpoint()
        #expect(try Checkpoint(parsing: note.text).size == 2)
        #expect(try session.checkpoint().text == note.text)
        #expect(try session.ledger.checkpointStamps(size: 2).map(\.source) == [TimeStampRecord.nodeSource])
        let report = try VaultVerifier(vault: custody.vault).verify(ledger: session.ledger)
        #expect(report.passed, "\(report.faults)")
    }

    @Test func aBatchIsSealedWithoutSyncsAndRecordedInOneTransactionAfterOneSync() throws {
        let station = try custody.station()
        let sealed = try (0..<5).map { index in
            try station.seal(try evidence("file-\(index)", Array("evidence \(index)\n".utf8)), durability: .batch)
        }
        let session = try custody.session()
        #expect(try session.ledger.size() == 0, "nothing is recorded by the station")
        let receipts = try session.record(sealed, sync: try FileSystemSync(custody.vault.root))
        // Seal, stamp, seal, stamp, …: each seal directly followed by its own stamp.
        #expect(receipts.map(\.entry.sequence) == [0, 2, 4, 6, 8])
        #expect(receipts.map { $0.stampEntry?.sequence } == [1, 3, 5, 7, 9])
        #expect(Set(receipts.map(\.entry.item)).count == 5)
        try session.checkpoint()
        #expect(try VaultVerifier(vault: custody.vault).verify(ledger: session.ledger).passed)
    }

    @Test func aRefusedFileRecordsNothing() throws {
        let session = try custody.session()
        let link = directory.file("link")
        #expect(symlink(try directory.write("target", "x"), link) == 0)
        #expect(throws: SealingError.self) { try session.seal(SealRequest(path: RawPath(link))) }
        #expect(try session.ledger.size() == 0)
    }

    @Test func anEventKeepsItsReasonInASaltedDetailsDocumentAndOnlyItsDigestInTheEntry() throws {
        let session = try custody.session()
        let item = try session.seal(try evidence("photo.jpg", Array("jpeg".utf8))).entry.item
        let first = try session.recordEvent(
            .annotated, items: [item], facts: ["kind": .string("note")], details: ["note": .string("ok")])
        let second = try session.recordEvent(
            .annotated, items: [item], facts: ["kind": .string("note")], details: ["note": .string("ok")])
        let entry = try #require(first.entries.first)
        #expect(entry.type == .annotated && entry.item == item && entry.actor == "examiner")
        #expect(entry.details["document"]?.stringValue == first.document.hex)
        // The note is not in the entry, which other bureaus will mirror.
        #expect(!String(decoding: entry.canonicalBytes, as: UTF8.self).contains("\"ok\""))
        // The same note twice gives two documents: a short note cannot be guessed from its digest.
        #expect(first.document != second.document)
        // The document is stored read-only by its SHA-256, and read back re-hashed.
        let path = custody.vault.local.path(of: .details(first.document))
        #expect(OpenSSLSHA256().sha256(try FileSystem.readFile(path)) == first.document)
        let document = try #require(try session.detailsDocument(of: entry))
        #expect(document["note"]?.stringValue == "ok")
        #expect(document["actor"]?["account"]?.stringValue == "examiner")
        // Recording an event signs a checkpoint: the latest one still covers every entry.
        #expect(try session.checkpointedSize() == session.ledger.size())
    }

    @Test func anAlteredDetailsDocumentIsNeverTrusted() throws {
        let session = try custody.session()
        let item = try session.seal(try evidence("memo.txt", Array("memo".utf8))).entry.item
        let recorded = try session.recordEvent(.annotated, items: [item], details: ["note": .string("seen")])
        let path = custody.vault.local.path(of: .details(recorded.document)).description
        #expect(chmod(path, 0o600) == 0)
        try Data(recorded.documentBytes.map { $0 == UInt8(ascii: "s") ? UInt8(ascii: "S") : $0 })
            .write(to: URL(fileURLWithPath: path))
        #expect { try session.detailsDocument(of: recorded.entries[0]) } throws: { error in
            (error as? CustodyError)?.code == .altered
        }
        #expect(unlink(path) == 0)
        #expect { try session.detailsDocument(of: recorded.entries[0]) } throws: { error in
            (error as? CustodyError)?.code == .missing
        }
    }

    /// The seal's examiner, named in its manifest, is shown with the seal in the item's history.
    @Test func historyNamesTheExaminerOfTheSealFromItsManifest() throws {
        let session = try custody.session()
        let path = try directory.write("memo.txt", Array("memo".utf8))
        let receipt = try session.seal(SealRequest(path: RawPath(path), caseID: "C-1", examiner: "王小明"))
        let record = try #require(try session.ledger.items().first { $0.item == receipt.entry.item })
        let history = try session.history(of: record)
        #expect(history.events.first?.type == .sealed)
        #expect(history.events.first?.examiner == "王小明")
        #expect(history.events.first?.actor == "examiner", "the account stays the entry's actor")
    }

    /// A note of spaces only is no note: refused like an empty one, nothing recorded.
    @Test func aNoteOfSpacesOnlyIsRefused() throws {
        let session = try custody.session()
        let item = try session.seal(try evidence("photo.jpg", Array("jpeg".utf8))).entry.item
        let record = try #require(try session.ledger.items().first { $0.item == item })
        let size = try session.ledger.size()
        #expect { try session.annotate(record, note: "   ") } throws: { ($0 as? CustodyError)?.code == .refused }
        #expect(try session.ledger.size() == size)
    }
}
