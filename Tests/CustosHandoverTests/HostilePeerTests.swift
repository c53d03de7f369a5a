import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// What a hostile or careless peer can send, and what a failure half-way leaves behind.
@Suite("handovers: a hostile peer, and failures half-way", .timeLimit(.minutes(2)))
struct HostilePeerTests {
    /// A peer that records, in its own signed log, an archive `verify` would fault (no
    /// `hashdeep.txt`): the entry, the proofs and the digests all hold, yet receiving it would
    /// leave this vault failing `verify` for ever. It is refused, and nothing is stored.
    @Test func anArchiveThatWouldFailVerificationIsRefusedBeforeAnythingIsStored() throws {
        let nodes = try TwoNodes()
        let honest = try nodes.seal([4000])[0]
        let sender = nodes.sender.vault
        let session = try nodes.sender.session()
        // The same original, re-packed without its hashdeep.txt, under a second item of the sender's.
        let work = nodes.directory.file("repack")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let original = try #require(sender.archiveFile(content: honest.sha256))
        #expect(try run("bsdtar", ["-xf", original.description, "-C", work]).status == 0)
        let item = "01a232ae-fcea-7e34-83d3-78feac0811c5"
        let honestManifest = try FileSystem.readFile(sender.local.path(of: .manifest(honest.manifest)))
        var manifest = try #require(try CanonicalJSON.parse(honestManifest).objectValue)
        manifest["item"] = .string(item)
        let manifestBytes = CanonicalJSON.encode(.object(manifest))
        let manifestHash = OpenSSLSHA256().sha256(manifestBytes)
        try sender.objects.store(manifestBytes, as: .manifest(manifestHash), durability: .immediate)
        let member = try #require(manifest["member"]?.stringValue)
        let repacked = work + "/repacked.tar.zst"
        #expect(
            try run("bsdtar", ["--format=pax", "--zstd", "-cf", repacked, member, "manifest.json"], directory: work)
                .status == 0)
        let archiveBytes = try FileSystem.readFile(RawPath(repacked))
        #expect(chmod(original.description, 0o600) == 0)
        try Data(archiveBytes).write(to: URL(fileURLWithPath: original.description))
        let entry = try CustodyEntry(parsing: session.ledger.entryBytes(honest.sequence))
        let digests = try #require(entry.digests)
        _ = try session.ledger.append([
            NewCustodyEvent(
                type: .sealed, item: item, time: entry.time, actor: entry.actor,
                details: CustodyEntry.sealedDetails(
                    digests: digests, size: honest.size, archive: OpenSSLSHA256().sha256(archiveBytes),
                    manifest: manifestHash),
                record: ItemRecord(
                    item: item, sequence: 0, caseID: honest.caseID, exhibit: honest.exhibit, name: honest.name,
                    sha256: honest.sha256, size: honest.size, archive: OpenSSLSHA256().sha256(archiveBytes),
                    manifest: manifestHash, sealedAt: honest.sealedAt))
        ])
        let hostile = try #require(try session.ledger.items().first { $0.item == item })
        let (file, _) = try nodes.transfer([hostile])
        let error = try nodes.refusal(file)
        #expect(error.code == .altered)
        #expect(error.message.contains("[archive-hashdeep]"), "\(error.message)")
        #expect(
            try FileSystem.listDirectory(nodes.receiver.vault.local.folder(.archives)).isEmpty, "no archive is stored")
        #expect(try nodes.receiver.session(readOnly: true).ledger.items().isEmpty)
    }

    /// The transfer is recorded before its file takes its name: when it cannot be recorded, no
    /// handover file exists (nor its temporary), and nothing is in the ledger.
    @Test func aTransferThatCannotBeRecordedLeavesNoFile() throws {
        let nodes = try TwoNodes()
        let record = try nodes.seal([3000])[0]
        let session = try nodes.sender.session()
        let before = try session.ledger.size()
        // details/ made unusable after the vault was opened: the details document cannot be stored.
        let details = nodes.sender.vault.local.folder(.details).description
        #expect(try run("rm", ["-rf", details]).status == 0)
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: details))
        let folder = nodes.directory.file("out")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(throws: (any Error).self) {
            _ = try session.transfer(
                [record], to: "receiver.example.tw/evidence", reason: "trial", output: RawPath(folder + "/h.tar"))
        }
        #expect(try FileSystem.listDirectory(RawPath(folder)).isEmpty, "no handover file, no temporary")
        // Only the checkpoint the transfer signed before writing; no entry.
        #expect(try session.ledger.size() == before)
    }

    /// An extraction is recorded before the original takes its name: when it cannot be recorded,
    /// the original is not left in the folder (nor its temporary).
    @Test func anExtractionThatCannotBeRecordedLeavesNoFile() throws {
        let nodes = try TwoNodes()
        let record = try nodes.seal([3000])[0]
        let session = try nodes.sender.session()
        let details = nodes.sender.vault.local.folder(.details).description
        #expect(try run("rm", ["-rf", details]).status == 0)
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: details))
        let folder = RawPath(nodes.directory.file("lab"))
        #expect(throws: (any Error).self) { _ = try session.extract([record], to: folder, reason: "analysis") }
        #expect(try FileSystem.listDirectory(folder).isEmpty, "no original, no temporary")
    }

    /// An export is recorded before its files take their names: when it cannot be recorded, no
    /// exported file is left in the folder (nor a temporary).
    @Test func anExportThatCannotBeRecordedLeavesNoFile() throws {
        let nodes = try TwoNodes()
        let record = try nodes.seal([3000])[0]
        let session = try nodes.sender.session()
        let note = try session.ledger.latestCheckpoint()
        let details = nodes.sender.vault.local.folder(.details).description
        #expect(try run("rm", ["-rf", details]).status == 0)
        try Data("not a folder".utf8).write(to: URL(fileURLWithPath: details))
        let tokens = RawPath(nodes.directory.file("tokens"))
        #expect(throws: (any Error).self) { _ = try session.exportTimeStamps(of: record, to: tokens, reason: "court") }
        #expect(try FileSystem.listDirectory(tokens).isEmpty, "no token, no VERIFY.txt, no temporary")
        let checkpoint = RawPath(nodes.directory.file("checkpoint"))
        #expect(throws: (any Error).self) { try session.exportCheckpoint(note, to: checkpoint, reason: "court") }
        #expect(((try? FileSystem.listDirectory(checkpoint)) ?? []).isEmpty, "no checkpoint file, no temporary")
    }

    /// A name from a manifest that a shell or a terminal would misread is not used: the original
    /// is named by its item id.
    @Test(arguments: ["-rf.txt", "line\u{1b}[31m.txt", "c1\u{85}.txt"])
    func anUnsafeOriginalNameFallsBackToTheItemID(name: String) throws {
        let nodes = try TwoNodes()
        let session = try nodes.sender.session()
        let folder = nodes.directory.file("names")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/" + name
        try Data(randomBytes(1000)).write(to: URL(fileURLWithPath: path))
        let receipt = try session.seal(SealRequest(path: RawPath(path)))
        let record = try #require(try session.ledger.items().first { $0.item == receipt.entry.item })
        let out = RawPath(nodes.directory.file("out"))
        let outcomes = try session.extract([record], to: out, reason: "analysis")
        #expect(outcomes[0].succeeded)
        #expect(try FileSystem.listDirectory(out) == [Array(record.item.utf8)])
    }

    /// A key file put into keys/peers/ by hand is held to the rules `peer add` keeps: it must
    /// hold the key its name gives, and never this node's own.
    @Test func aPeerKeyPutThereByHandIsHeldToTheSameRules() throws {
        let nodes = try TwoNodes(trusted: false)
        let receiver = nodes.receiver.vault
        try FileManager.default.createDirectory(atPath: receiver.peersPath.description, withIntermediateDirectories: true)
        let senderKey = Array((try nodes.sender.vault.verifierKey().key.text + "\n").utf8)
        let misnamed = receiver.peersPath.appending("someone-else.vkey").description
        try Data(senderKey).write(to: URL(fileURLWithPath: misnamed))
        #expect { try receiver.peerKeys() } throws: { ($0 as? VaultError)?.code == .keyProblem }
        #expect(unlink(misnamed) == 0)
        let ownKey = Array((try receiver.verifierKey().key.text + "\n").utf8)
        try Data(ownKey).write(to: URL(fileURLWithPath: receiver.peerKeyPath(origin: receiver.configuration.origin).description))
        #expect { try receiver.peerKeys() } throws: { ($0 as? VaultError)?.code == .keyProblem }
    }

    /// The examiner's name goes into the details document of a transfer and a receipt as it does
    /// for every other event: with the same rules (one line, no control characters).
    @Test func anExaminerWithControlCharactersIsRefusedByTransferAndReceive() throws {
        let nodes = try TwoNodes()
        let record = try nodes.seal([2000])[0]
        let sender = Custody(vault: nodes.sender.vault, actor: .current(examiner: "Lin\u{1b}[2J"), tool: "custos test")
        let output = RawPath(nodes.directory.file("h.tar"))
        let refused = try #require(throws: CustodyError.self) {
            _ = try sender.session().transfer([record], to: "Court", reason: "trial", output: output)
        }
        #expect(refused.code == .refused && refused.message.contains("--examiner"), "\(refused.message)")
        #expect(!FileSystem.exists(output))
        let (file, _) = try nodes.transfer([record])
        let receiver = Custody(
            vault: nodes.receiver.vault, actor: .current(examiner: "Lin\u{85}"), tool: "custos test")
        #expect(throws: CustodyError.self) { _ = try receiver.session().receive(file, reason: "trial") }
        #expect(try nodes.receiver.session(readOnly: true).ledger.items().isEmpty)
    }
}
