import CustosArchive
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
import Glibc
import Testing

/// Two nodes in a temporary folder: `sender` seals, hands items over; `receiver` knows the
/// sender's key (unless told not to) and receives them.
final class TwoNodes {
    let directory = TemporaryDirectory("handover")
    let sender: Custody
    let receiver: Custody

    init(trusted: Bool = true, receiverTSA: Bool = true) throws {
        let directory = self.directory
        func make(_ name: String, _ origin: String, tsa: Bool) throws -> Custody {
            let vault = try Vault.create(
                at: RawPath(directory.file(name)), configuration: VaultConfiguration(origin: origin),
                now: "2026-12-01T00:00:00.000Z",
                timeStampAuthority: try NodeTimeStampAuthority.prepare(
                    tsa ? .generate : .none, origin: origin, now: SystemClock.secondsSinceEpoch()))
            return Custody(vault: vault, actor: .current(), tool: "custos test")
        }
        sender = try make("sender", "sender.example.tw/evidence", tsa: true)
        receiver = try make("receiver", "receiver.example.tw/evidence", tsa: receiverTSA)
        if trusted { try receiver.vault.addPeer(keyText: try sender.vault.verifierKey().key.text) }
    }

    /// Seals files of these sizes at the sender; their index rows.
    func seal(_ sizes: [Int], caseID: String = "C-1") throws -> [ItemRecord] {
        let session = try sender.session()
        return try sizes.enumerated().map { index, size in
            let path = try directory.write("in/file-\(index)-\(UUID().uuidString).bin", randomBytes(size))
            let receipt = try session.seal(SealRequest(path: RawPath(path), caseID: caseID, exhibit: "E-\(index)"))
            return try #require(try session.ledger.items().first { $0.item == receipt.entry.item })
        }
    }

    func transfer(_ records: [ItemRecord], name: String = "h.tar", to recipient: String = "receiver.example.tw/evidence")
        throws -> (RawPath, TransferReceipt)
    {
        let file = RawPath(directory.file(name))
        let receipt = try sender.session().transfer(records, to: recipient, reason: "trial", output: file)
        return (file, receipt)
    }

    func receive(_ file: RawPath) throws -> ReceiveReceipt {
        try receiver.session().receive(file, reason: "for trial")
    }

    /// The error `receive` throws, and that the receiver's ledger did not change.
    func refusal(_ file: RawPath) throws -> CustodyError {
        let before = try receiver.session(readOnly: true).ledger.size()
        let error = try #require(throws: CustodyError.self) { _ = try self.receive(file) }
        #expect(try receiver.session(readOnly: true).ledger.size() == before, "nothing is recorded on refusal")
        #expect(error.message.hasPrefix("\(file):"), "the message names the file: \(error.message)")
        let temporaries = (try? FileSystem.listDirectory(receiver.vault.temporaryPath)) ?? []
        #expect(temporaries.isEmpty, "no temporary is left behind")
        return error
    }
}

/// The members of a tar, in order, read whole (test files are small).
func members(of file: RawPath) throws -> [(name: String, bytes: [UInt8])] {
    let descriptor = try FileSystem.openForReading(file)
    let reader = try ArchiveReader(fileDescriptor: descriptor.rawValue, path: file.description)
    var found = [(name: String, bytes: [UInt8])]()
    while let header = try reader.nextEntry() {
        found.append((String(decoding: header.pathname, as: UTF8.self), try reader.readAll(limit: 64 << 20)))
    }
    return found
}

/// Writes members as a new tar at `file`.
func writeTar(_ members: [(name: String, bytes: [UInt8])], to file: RawPath) throws {
    FileSystem.remove(file)
    let descriptor = try FileSystem.createExclusive(file)
    let writer = try ArchiveWriter(fileDescriptor: descriptor.rawValue, path: file.description, compression: .none)
    for member in members { try writer.addFile(name: member.name, bytes: member.bytes, modified: timespec()) }
    try writer.finish()
}

/// A handover's `handover.json` rewritten by `change` and signed again by `signer`: a handover a
/// sender really signed, with contents that do not hold.
func resigned(
    _ file: RawPath, by signer: Ed25519NoteSigner, _ change: (inout HandoverDocument) -> Void
) throws {
    var all = try members(of: file)
    let index = try #require(all.firstIndex { $0.name == "handover.json" })
    var document = try HandoverDocument(parsing: all[index].bytes)
    change(&document)
    all[index].bytes = document.canonicalBytes
    let signature = try SignedNote.sign(
        text: HandoverSignature.text(origin: signer.name, document: OpenSSLSHA256().sha256(all[index].bytes)),
        signers: [signer])
    let sigIndex = try #require(all.firstIndex { $0.name == "handover.sig" })
    all[sigIndex].bytes = Array(signature.serialized.utf8)
    try writeTar(all, to: file)
}

@Suite("handover: transfer and receive between two nodes", .timeLimit(.minutes(5)))
struct HandoverTests {
    @Test func itemsHandedOverArriveWithTheSameDigestsAndVerifyAtBothNodes() throws {
        let nodes = try TwoNodes()
        let records = try nodes.seal([1000, 300_000])
        let (file, transfer) = try nodes.transfer(records)
        #expect(transfer.event.entries.map(\.type) == [.transferred, .transferred])
        #expect(transfer.event.entries.allSatisfy { $0.details["handover"]?.stringValue == transfer.document.hex })
        let details = try #require(try nodes.sender.session().detailsDocument(of: transfer.event.entries[0]))
        #expect(details["to"]?.stringValue == "receiver.example.tw/evidence")
        #expect(details["reason"]?.stringValue == "trial")

        let received = try nodes.receive(file)
        #expect(received.origin == "sender.example.tw/evidence")
        #expect(received.document == transfer.document)
        #expect(received.stampFailure == nil)
        #expect(received.event.stampEntries.count == 2, "the receiver's TSA stamps each item it receives")
        let ledger = try nodes.receiver.session(readOnly: true).ledger
        let items = try ledger.items()
        #expect(items.map(\.item) == records.map(\.item))
        for (record, item) in zip(records, items) {
            #expect(item.sha256 == record.sha256)
            #expect(item.size == record.size)
            #expect(item.archive == record.archive)
            #expect(item.manifest == record.manifest)
            #expect(item.caseID == "C-1")
            #expect(item.exhibit == record.exhibit)
            #expect(item.name == record.name)
            let entry = try CustodyEntry(parsing: ledger.entryBytes(item.sequence))
            #expect(entry.type == .received)
            #expect(entry.details["from"]?.stringValue == "sender.example.tw/evidence")
            #expect(entry.details["fromIndex"]?.integerValue == Int64(record.sequence))
            #expect(entry.digests?.sha256 == record.sha256)
            #expect(entry.archive == record.archive)
        }
        for custody in [nodes.sender, nodes.receiver] {
            let report = try VaultVerifier(vault: custody.vault).verify(ledger: custody.session(readOnly: true).ledger)
            #expect(report.faults.isEmpty, "\(custody.vault.configuration.origin): \(report.faults)")
            #expect(report.itemsChecked == 2)
            #expect(report.unrecordedFiles.isEmpty, "\(report.unrecordedFiles)")
        }
    }

    @Test func contentSealedTwiceTravelsOnceAndContentAlreadyHeldIsShared() throws {
        let nodes = try TwoNodes()
        let bytes = randomBytes(50_000)
        let first = try nodes.directory.write("same-1.bin", bytes)
        let second = try nodes.directory.write("same-2.bin", bytes)
        let sender = try nodes.sender.session()
        let sealed = try [first, second].map { try sender.seal(SealRequest(path: RawPath($0))).entry.item }
        let records = try sender.ledger.items().filter { sealed.contains($0.item) }
        // The receiver sealed the same content on its own, before.
        let own = try nodes.receiver.session().seal(SealRequest(path: RawPath(first)))
        let (file, _) = try nodes.transfer(records)
        #expect(try members(of: file).filter { $0.name.hasPrefix("objects/") }.count == 1, "one archive per content")
        let received = try nodes.receive(file)
        #expect(received.shared == Set(sealed))
        let ledger = try nodes.receiver.session(readOnly: true).ledger
        let items = try ledger.items()
        #expect(items.count == 3)
        #expect(Set(items.map(\.archive)).count == 1, "the archive this vault held is shared")
        #expect(items.allSatisfy { $0.archive == own.sealed.pending.archive })
        let report = try VaultVerifier(vault: nodes.receiver.vault).verify(ledger: ledger)
        #expect(report.faults.isEmpty, "\(report.faults)")
        #expect(report.unrecordedFiles.isEmpty, "\(report.unrecordedFiles)")
    }

    /// `--to` names the recipient node by its origin (as `peer add` names peers); a handover
    /// addressed to another node is refused by this one, even though its sender is trusted.
    @Test func aHandoverAddressedToAnotherNodeIsRefused() throws {
        let nodes = try TwoNodes()
        let records = try nodes.seal([1000])
        let (file, _) = try nodes.transfer(records, to: "court.example.tw/evidence")
        let error = try nodes.refusal(file)
        #expect(error.code == .refused, "\(error)")
        #expect(
            error.message.contains(
                "addressed to court.example.tw/evidence, not to this node (receiver.example.tw/evidence)"),
            "\(error.message)")
    }

    @Test(arguments: ["Taipei District Court", "a+b", "sender.example.tw/evidence"])
    func transferRefusesARecipientThatIsNotAnotherNodesOrigin(_ recipient: String) throws {
        let nodes = try TwoNodes()
        let records = try nodes.seal([1000])
        let output = RawPath(nodes.directory.file("h.tar"))
        let error = try #require(throws: CustodyError.self) {
            _ = try nodes.sender.session().transfer(records, to: recipient, reason: "trial", output: output)
        }
        #expect(error.code == .refused && error.message.contains("--to"), "\(error.message)")
        #expect(!FileSystem.exists(output))
    }

    @Test func aHandoverSignedByAnUnknownNodeIsRefused() throws {
        let nodes = try TwoNodes(trusted: false)
        let (file, _) = try nodes.transfer(try nodes.seal([500]))
        let error = try nodes.refusal(file)
        #expect(error.code == .untrusted)
        #expect(error.message.contains("signed by an unknown node"))
    }

    @Test func anAlteredHandoverIsRefused() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([500]))
        var all = try members(of: file)
        let index = try #require(all.firstIndex { $0.name == "handover.json" })
        var document = try HandoverDocument(parsing: all[index].bytes)
        document.recipient = "someone else"
        all[index].bytes = document.canonicalBytes
        try writeTar(all, to: file)
        let error = try nodes.refusal(file)
        #expect(error.code == .altered)
        #expect(error.message.contains("handover.json was altered"))
    }

    @Test func anArchiveThatIsNotTheOneItsEntryNamesIsRefused() throws {
        let nodes = try TwoNodes()
        let records = try nodes.seal([2000, 3000])
        let (file, _) = try nodes.transfer([records[0]])
        // The other item's archive, under the first one's name.
        let other = try #require(nodes.sender.vault.archiveFile(content: records[1].sha256))
        var all = try members(of: file)
        let index = try #require(all.firstIndex { $0.name.hasPrefix("objects/") })
        all[index].bytes = try FileSystem.readFile(other)
        try writeTar(all, to: file)
        let error = try nodes.refusal(file)
        #expect(error.code == .altered)
        #expect(error.message.contains("its SHA-256 is \(records[1].archive.hex)"), "\(error.message)")
    }

    @Test func digestsThatDoNotMatchTheEntryAreRefusedEvenWhenSigned() throws {
        let nodes = try TwoNodes()
        let records = try nodes.seal([2000, 3000])
        let (file, _) = try nodes.transfer([records[0]])
        try resigned(file, by: try nodes.sender.vault.signer()) { $0.items[0].archive = records[1].archive }
        #expect(try nodes.refusal(file).code == .altered)
    }

    @Test func anEntryThatIsNotInTheSendersLogIsRefused() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([2000, 3000]))
        try resigned(file, by: try nodes.sender.vault.signer()) { $0.items[0].sealed.proof.reverse() }
        let error = try nodes.refusal(file)
        #expect(error.code == .altered)
        #expect(error.message.contains("is not in the sender's log"), "\(error.message)")
    }

    @Test func aHandoverNamingAnIdThatIsNotAnItemIdIsRefused() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([500]))
        try resigned(file, by: try nodes.sender.vault.signer()) { $0.items[0].item = "evil\u{1b}[2J" }
        let error = try nodes.refusal(file)
        #expect(error.code == .refused)
        #expect(error.message.contains("handover.json is malformed"))
        #expect(!error.description.contains("\u{1b}"), "nothing from the file reaches the terminal unescaped")
    }

    @Test func itemsAlreadyReceivedAreRefused() throws {
        let nodes = try TwoNodes()
        let records = try nodes.seal([700])
        let (file, _) = try nodes.transfer(records)
        _ = try nodes.receive(file)
        let error = try nodes.refusal(file)
        #expect(error.code == .duplicate)
        #expect(error.message.contains("received from sender.example.tw/evidence, its entry \(records[0].sequence)"))
        // A second handover of the same item is refused the same way.
        let (second, _) = try nodes.transfer(records, name: "again.tar")
        #expect(try nodes.refusal(second).code == .duplicate)
    }

    @Test(arguments: ["../escape.json", "objects/x/../../y.tar.zst", "extra.txt", "manifests/ABC.json"])
    func aMemberAHandoverDoesNotHoldIsRefused(name: String) throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([500]))
        try writeTar(try members(of: file) + [(name, Array("x".utf8))], to: file)
        let error = try nodes.refusal(file)
        #expect(error.code == .refused)
        #expect(error.message.contains("which is not a member of a handover file"), "\(error.message)")
    }

    @Test func aMissingArchiveIsRefused() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([500]))
        try writeTar(try members(of: file).filter { !$0.name.hasPrefix("objects/") }, to: file)
        let error = try nodes.refusal(file)
        #expect(error.code == .refused)
        #expect(error.message.contains("lacks objects/"))
    }

    @Test func transferRefusesAnExistingFileAnEmptyReasonAndAnAlteredArchive() throws {
        let nodes = try TwoNodes()
        let records = try nodes.seal([4000])
        let session = try nodes.sender.session()
        let existing = RawPath(try nodes.directory.write("exists.tar", "keep me"))
        let exists = try #require(throws: CustodyError.self) {
            _ = try session.transfer(records, to: "Court", reason: "r", output: existing)
        }
        #expect(exists.code == .exists)
        #expect(try FileSystem.readFile(existing) == Array("keep me".utf8))
        let noReason = try #require(throws: CustodyError.self) {
            _ = try session.transfer(records, to: "Court", reason: " ", output: RawPath(nodes.directory.file("r.tar")))
        }
        #expect(noReason.code == .refused)

        let archive = try #require(nodes.sender.vault.archiveFile(content: records[0].sha256))
        _ = archive.withCString { chmod($0, 0o600) }
        var bytes = try FileSystem.readFile(archive)
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: archive.description))
        let size = try session.ledger.size()
        let output = RawPath(nodes.directory.file("altered.tar"))
        let altered = try #require(throws: CustodyError.self) {
            _ = try session.transfer(records, to: "Court", reason: "r", output: output)
        }
        #expect(altered.code == .altered)
        #expect(!FileSystem.exists(output), "no handover file is left")
        #expect(try session.ledger.size() == size, "no transferred entry is recorded")
        let folder = try FileSystem.listDirectory(RawPath(nodes.directory.path)).map {
            String(decoding: $0, as: UTF8.self)
        }
        #expect(!folder.contains { $0.hasPrefix(".altered.tar") }, "no temporary is left: \(folder)")
    }

    @Test func peersAreKeptOnceAndNeverReplaced() throws {
        let nodes = try TwoNodes(trusted: false)
        let key = try nodes.sender.vault.verifierKey().key
        #expect(try nodes.receiver.vault.addPeer(keyText: key.text + "\n").0 == .added)
        #expect(try nodes.receiver.vault.addPeer(keyText: key.text).0 == .alreadyKnown)
        let path = nodes.receiver.vault.peerKeyPath(origin: key.name)
        #expect(path.description.hasSuffix("keys/peers/sender.example.tw%2Fevidence.vkey"))
        #expect((try FileSystem.linkStatus(path)?.mode ?? 0) & 0o777 == 0o400)
        let other = try Ed25519NoteSigner(name: key.name, key: Ed25519PrivateKey())
        let replaced = try #require(throws: VaultError.self) {
            try nodes.receiver.vault.addPeer(keyText: other.verifierKey.text)
        }
        #expect(replaced.code == .alreadyExists)
        #expect(throws: VaultError.self) { try nodes.receiver.vault.addPeer(keyText: "not a key") }
        #expect(throws: VaultError.self) {
            try nodes.receiver.vault.addPeer(keyText: try nodes.receiver.vault.verifierKey().key.text)
        }
        #expect(try nodes.receiver.vault.peerKeys() == [key])
    }

    @Test func theMembersOfAHandoverAreNamedStrictly() {
        let hash = OpenSSLSHA256().sha256(Array("x".utf8))
        #expect(HandoverMember(name: Array("handover.json".utf8)) == .document)
        #expect(
            HandoverMember(name: Array("objects/\(hash.hex).tar.zst".utf8))
                == .archive(content: hash, compression: .zstd))
        #expect(HandoverMember(name: Array("manifests/\(hash.hex).json".utf8)) == .manifest(hash))
        for bad in [
            "./handover.json", "objects/\(hash.hex.uppercased()).tar.zst", "objects/\(hash.hex).zip",
            "objects/../\(hash.hex).tar", "manifests/\(hash.hex).json/x", "/handover.json",
        ] {
            #expect(HandoverMember(name: Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(HandoverSignature.parse(HandoverSignature.text(origin: "a/b", document: hash))! == ("a/b", hash))
        #expect(HandoverSignature.parse("a/b\n1\n\(hash.base64)\n") == nil, "a checkpoint is not a handover signature")
    }
}
