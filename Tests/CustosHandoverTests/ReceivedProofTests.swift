import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import CustosSealing
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// `verify` re-proves, with no network, that each received item's `sealed` entry was in its
/// sender's signed log, from the handover's signed parts the vault keeps.
@Suite("handover: verify re-proves what was received", .timeLimit(.minutes(5)))
struct ReceivedProofTests {
    static func verify(_ nodes: TwoNodes) throws -> VerificationReport {
        try VaultVerifier(vault: nodes.receiver.vault).verify(ledger: try nodes.receiver.session(readOnly: true).ledger)
    }

    @Test func eachReceivedEntryIsReProvenInTheSendersLog() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([1000, 2000]))
        _ = try nodes.receive(file)
        let report = try Self.verify(nodes)
        #expect(report.passed, "\(report.faults)")
        #expect(report.handoversChecked == 2)
    }

    /// The sender's key is what the proof rests on: a key replaced in keys/peers/ (another key
    /// of the same origin) no longer verifies the kept signature and checkpoint.
    @Test func aReplacedPeerKeyIsAHandoverProofFault() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([1000]))
        let receipt = try nodes.receive(file)
        let path = nodes.receiver.vault.peerKeyPath(origin: "sender.example.tw/evidence")
        let other = try Ed25519NoteSigner(
            name: "sender.example.tw/evidence", key: try Ed25519PrivateKey(seed: randomBytes(32)))
        #expect(chmod(path.description, 0o600) == 0)
        try Data((other.verifierKey.text + "\n").utf8).write(to: URL(fileURLWithPath: path.description))
        let report = try Self.verify(nodes)
        let faults = report.faults.filter { $0.code == .handoverProof }
        #expect(faults.count == 1, "\(report.faults)")
        #expect(faults.first?.subject == "item \(receipt.event.entries[0].item)")
        #expect(faults.first?.message.contains("handover.sig") == true, "\(faults)")
        #expect(faults.first?.message.contains(path.description) == true, "\(faults)")
    }

    @Test func aRemovedPeerKeyIsAHandoverProofFault() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([1000]))
        _ = try nodes.receive(file)
        let path = nodes.receiver.vault.peerKeyPath(origin: "sender.example.tw/evidence")
        #expect(unlink(path.description) == 0)
        let faults = try Self.verify(nodes).faults.filter { $0.code == .handoverProof }
        #expect(faults.count == 1 && faults[0].message.contains("is not kept (\(path))"), "\(faults)")
    }

    /// The signed parts are kept in the receipt's details document: one altered is found by its
    /// digest, and the proof it kept can no longer be re-checked.
    @Test func anAlteredReceiptDocumentIsAHandoverProofFaultToo() throws {
        let nodes = try TwoNodes()
        let (file, _) = try nodes.transfer(try nodes.seal([1000]))
        let receipt = try nodes.receive(file)
        let hash = try #require(receipt.event.entries[0].detailsDocument)
        let path = nodes.receiver.vault.local.path(of: .details(hash)).description
        #expect(chmod(path, 0o600) == 0)
        var bytes = try FileSystem.readFile(RawPath(path))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let codes = Set(try Self.verify(nodes).faults.map(\.code))
        #expect(codes.contains(.detailsAltered) && codes.contains(.handoverProof), "\(codes)")
    }
}
