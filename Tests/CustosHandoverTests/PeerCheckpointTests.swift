import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// Every checkpoint received from each peer, kept by size beside its key, and each new
/// handover's checkpoint compared with them: a sender that shows this node two logs of one size
/// is refused, whatever it sent since.
@Suite("handover: the checkpoints kept from each peer", .timeLimit(.minutes(5)))
struct PeerCheckpointTests {
    /// The signed checkpoint a handover file carries, verbatim.
    static func carriedCheckpoint(_ file: RawPath) throws -> String {
        let member = try #require(try members(of: file).first { $0.name == "checkpoint.txt" })
        return String(decoding: member.bytes, as: UTF8.self)
    }

    /// The checkpoints kept from the sender, by size.
    static func kept(_ nodes: TwoNodes) throws -> [UInt64: String] {
        Dictionary(
            uniqueKeysWithValues: try nodes.receiver.vault.keptPeerCheckpoints(origin: "sender.example.tw/evidence")
                .map { ($0.size, $0.text) })
    }

    @Test func everyCheckpointReceivedIsKeptByItsSize() throws {
        let nodes = try TwoNodes()
        let (first, firstTransfer) = try nodes.transfer(try nodes.seal([1000]), name: "1.tar")
        let received = try nodes.receive(first)
        #expect(received.checkpointComparison == .first)
        #expect(try Self.kept(nodes) == [firstTransfer.checkpointSize: try Self.carriedCheckpoint(first)])
        let path = nodes.receiver.vault.peerCheckpointPath(
            origin: "sender.example.tw/evidence", size: firstTransfer.checkpointSize)
        #expect(
            path.description.hasSuffix(
                "/keys/peers/sender.example.tw%2Fevidence.checkpoints/\(firstTransfer.checkpointSize)"))
        #expect(try #require(try FileSystem.linkStatus(path)).mode & 0o7777 == 0o400)
        #expect(try nodes.receiver.vault.peerKeys().count == 1, "the kept checkpoints are not taken for a key")

        let (second, secondTransfer) = try nodes.transfer(try nodes.seal([2000]), name: "2.tar")
        let again = try nodes.receive(second)
        #expect(again.checkpointComparison == .larger(than: firstTransfer.checkpointSize))
        #expect(
            try Self.kept(nodes) == [
                firstTransfer.checkpointSize: try Self.carriedCheckpoint(first),
                secondTransfer.checkpointSize: try Self.carriedCheckpoint(second),
            ])
        #expect(try #require(try FileSystem.linkStatus(path)).mode & 0o7777 == 0o400, "never replaced")
        let details = try #require(try nodes.receiver.session(readOnly: true).detailsDocument(of: again.event.entries[0]))
        #expect(details["checkpointComparison"]?.stringValue == "larger")
        #expect(details["keptCheckpoint"]?.integerValue == Int64(firstTransfer.checkpointSize))
    }

    /// Handovers may arrive out of order: an older (smaller) checkpoint cannot be proven
    /// inconsistent without a proof, so it is received, and kept beside the larger one.
    @Test func aSmallerCheckpointIsReceivedAndKeptBesideTheLarger() throws {
        let nodes = try TwoNodes()
        let (older, olderTransfer) = try nodes.transfer(try nodes.seal([1000]), name: "1.tar")
        let (newer, newerTransfer) = try nodes.transfer(try nodes.seal([2000]), name: "2.tar")
        #expect(try nodes.receive(newer).checkpointComparison == .first)
        let received = try nodes.receive(older)
        #expect(received.checkpointComparison == .smaller(than: newerTransfer.checkpointSize))
        #expect(olderTransfer.checkpointSize < newerTransfer.checkpointSize)
        #expect(
            try Self.kept(nodes) == [
                olderTransfer.checkpointSize: try Self.carriedCheckpoint(older),
                newerTransfer.checkpointSize: try Self.carriedCheckpoint(newer),
            ])
    }

    /// Two handovers whose checkpoints have one size over two logs: the sender's vault is copied
    /// (a restored backup, a cloned node), then each copy seals one more item and hands it over.
    static func forkedHandovers(_ nodes: TwoNodes, forkedName: String) throws -> (
        first: RawPath, firstTransfer: TransferReceipt, forked: RawPath
    ) {
        _ = try nodes.seal([1000])
        let clonePath = nodes.directory.file("sender-clone")
        #expect(try run("cp", ["-a", nodes.sender.vault.root.description, clonePath]).status == 0)
        let clone = Custody(vault: try Vault.open(at: RawPath(clonePath)), actor: .current(), tool: "custos test")

        let (first, firstTransfer) = try nodes.transfer(try nodes.seal([1500]), name: "1.tar")
        let path = try nodes.directory.write("in/clone-file.bin", randomBytes(1700))
        let cloneSession = try clone.session()
        let sealed = try cloneSession.seal(SealRequest(path: RawPath(path), caseID: "C-1", exhibit: "E-9"))
        let cloneRecord = try #require(try cloneSession.ledger.items().first { $0.item == sealed.entry.item })
        let forked = RawPath(nodes.directory.file(forkedName))
        let forkedTransfer = try cloneSession.transfer(
            [cloneRecord], to: "receiver.example.tw/evidence", reason: "trial", output: forked)
        #expect(forkedTransfer.checkpointSize == firstTransfer.checkpointSize, "both logs have grown alike")
        return (first, firstTransfer, forked)
    }

    /// A sender's vault copied (a restored backup, a cloned node) and both copies used: each signs
    /// a checkpoint of the same size over another log. The second handover shows the fork.
    @Test func twoLogsOfOneSizeFromOneSenderAreRefusedAsAFork() throws {
        let nodes = try TwoNodes()
        let (first, firstTransfer, second) = try Self.forkedHandovers(nodes, forkedName: "2.tar")

        _ = try nodes.receive(first)
        let keptBefore = try Self.kept(nodes)
        let error = try nodes.refusal(second)
        #expect(error.code == .altered, "\(error)")
        let firstRoot = try Checkpoint(parsing: try SignedNote(parsing: try Self.carriedCheckpoint(first)).text).root
        let secondRoot = try Checkpoint(parsing: try SignedNote(parsing: try Self.carriedCheckpoint(second)).text).root
        #expect(firstRoot != secondRoot)
        #expect(error.message.contains("signed two different logs of size \(firstTransfer.checkpointSize) (a fork)"))
        #expect(error.message.contains(firstRoot.base64) && error.message.contains(secondRoot.base64), "\(error.message)")
        #expect(try Self.kept(nodes) == keptBefore, "the kept checkpoint is not replaced")
    }

    /// The fork behind a larger checkpoint: a size-N checkpoint with root X is received, then one
    /// of a larger size, then a handover whose size-N checkpoint has root Y. The vault holds signed
    /// proof of X: the handover is refused, naming both roots and both files.
    @Test func aForkBehindALargerKeptCheckpointIsStillRefused() throws {
        let nodes = try TwoNodes()
        let (first, firstTransfer, forked) = try Self.forkedHandovers(nodes, forkedName: "forked.tar")
        let (larger, largerTransfer) = try nodes.transfer(try nodes.seal([2000, 2500]), name: "2.tar")
        #expect(largerTransfer.checkpointSize > firstTransfer.checkpointSize)

        _ = try nodes.receive(first)
        #expect(try nodes.receive(larger).checkpointComparison == .larger(than: firstTransfer.checkpointSize))
        let keptBefore = try Self.kept(nodes)
        let before = try nodes.receiver.session(readOnly: true).ledger.size()
        let error = try nodes.refusal(forked)
        #expect(error.code == .altered, "\(error)")
        let keptRoot = try Checkpoint(parsing: try SignedNote(parsing: try Self.carriedCheckpoint(first)).text).root
        let forkedRoot = try Checkpoint(parsing: try SignedNote(parsing: try Self.carriedCheckpoint(forked)).text).root
        let keptFile = nodes.receiver.vault.peerCheckpointPath(
            origin: "sender.example.tw/evidence", size: firstTransfer.checkpointSize)
        #expect(error.message.contains("signed two different logs of size \(firstTransfer.checkpointSize) (a fork)"))
        #expect(error.message.contains(keptRoot.base64) && error.message.contains(forkedRoot.base64), "\(error)")
        #expect(error.message.contains(keptFile.description) && error.message.contains("checkpoint.txt"), "\(error)")
        #expect(error.message.hasPrefix(forked.description), "\(error)")
        #expect(try Self.kept(nodes) == keptBefore)
        #expect(try nodes.receiver.session(readOnly: true).ledger.size() == before, "nothing recorded")
    }

    /// The kept checkpoint is held to the peer's key: one altered in the vault refuses the next
    /// handover rather than being trusted or silently replaced.
    @Test func aKeptCheckpointNotSignedByThePeerRefusesTheNextHandover() throws {
        let nodes = try TwoNodes()
        let (first, _) = try nodes.transfer(try nodes.seal([1000]), name: "1.tar")
        _ = try nodes.receive(first)
        let size = try #require(try Self.kept(nodes).keys.first)
        let path = nodes.receiver.vault.peerCheckpointPath(origin: "sender.example.tw/evidence", size: size)
        let text = try #require(try Self.kept(nodes)[size])
        #expect(chmod(path.description, 0o600) == 0)
        try Data(text.replacingOccurrences(of: "\n\n", with: "\n1\n\n").utf8).write(to: URL(fileURLWithPath: path.description))
        let (second, _) = try nodes.transfer(try nodes.seal([2000]), name: "2.tar")
        let error = try nodes.refusal(second)
        #expect(error.code == .altered)
        #expect(error.message.contains("\(path), a checkpoint kept from sender.example.tw/evidence, is not one it signed"))
    }
}
