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

/// The largest checkpoint received from each peer, kept beside its key, and each new handover's
/// checkpoint compared with it: a sender that shows this node two logs of one size is refused.
@Suite("handover: the checkpoints kept from each peer", .timeLimit(.minutes(5)))
struct PeerCheckpointTests {
    /// The signed checkpoint a handover file carries, verbatim.
    static func carriedCheckpoint(_ file: RawPath) throws -> String {
        let member = try #require(try members(of: file).first { $0.name == "checkpoint.txt" })
        return String(decoding: member.bytes, as: UTF8.self)
    }

    static func kept(_ nodes: TwoNodes) throws -> String? {
        try nodes.receiver.vault.keptPeerCheckpoint(origin: "sender.example.tw/evidence")
    }

    @Test func theFirstCheckpointIsKeptAndALargerOneReplacesIt() throws {
        let nodes = try TwoNodes()
        let (first, firstTransfer) = try nodes.transfer(try nodes.seal([1000]), name: "1.tar")
        let received = try nodes.receive(first)
        #expect(received.checkpointComparison == .first)
        #expect(try Self.kept(nodes) == (try Self.carriedCheckpoint(first)))
        let path = nodes.receiver.vault.peerCheckpointPath(origin: "sender.example.tw/evidence")
        #expect(path.description.hasSuffix("/keys/peers/sender.example.tw%2Fevidence.checkpoint"))
        #expect(try #require(try FileSystem.linkStatus(path)).mode & 0o7777 == 0o400)
        #expect(try nodes.receiver.vault.peerKeys().count == 1, "the kept checkpoint is not taken for a key")

        let (second, _) = try nodes.transfer(try nodes.seal([2000]), name: "2.tar")
        let again = try nodes.receive(second)
        #expect(again.checkpointComparison == .larger(than: firstTransfer.checkpointSize))
        #expect(try Self.kept(nodes) == (try Self.carriedCheckpoint(second)))
        let details = try #require(try nodes.receiver.session(readOnly: true).detailsDocument(of: again.event.entries[0]))
        #expect(details["checkpointComparison"]?.stringValue == "larger")
        #expect(details["keptCheckpoint"]?.integerValue == Int64(firstTransfer.checkpointSize))
    }

    /// Handovers may arrive out of order: an older (smaller) checkpoint cannot be proven
    /// inconsistent without a proof, so it is received, and the larger one stays kept.
    @Test func aSmallerCheckpointIsReceivedAndTheLargerStaysKept() throws {
        let nodes = try TwoNodes()
        let (older, olderTransfer) = try nodes.transfer(try nodes.seal([1000]), name: "1.tar")
        let (newer, newerTransfer) = try nodes.transfer(try nodes.seal([2000]), name: "2.tar")
        #expect(try nodes.receive(newer).checkpointComparison == .first)
        let received = try nodes.receive(older)
        #expect(received.checkpointComparison == .smaller(than: newerTransfer.checkpointSize))
        #expect(olderTransfer.checkpointSize < newerTransfer.checkpointSize)
        #expect(try Self.kept(nodes) == (try Self.carriedCheckpoint(newer)))
    }

    /// A sender's vault copied (a restored backup, a cloned node) and both copies used: each signs
    /// a checkpoint of the same size over another log. The second handover shows the fork.
    @Test func twoLogsOfOneSizeFromOneSenderAreRefusedAsAFork() throws {
        let nodes = try TwoNodes()
        _ = try nodes.seal([1000])
        let clonePath = nodes.directory.file("sender-clone")
        #expect(try run("cp", ["-a", nodes.sender.vault.root.description, clonePath]).status == 0)
        let clone = Custody(vault: try Vault.open(at: RawPath(clonePath)), actor: .current(), tool: "custos test")

        let (first, firstTransfer) = try nodes.transfer(try nodes.seal([1500]), name: "1.tar")
        let path = try nodes.directory.write("in/clone-file.bin", randomBytes(1700))
        let cloneSession = try clone.session()
        let sealed = try cloneSession.seal(SealRequest(path: RawPath(path), caseID: "C-1", exhibit: "E-9"))
        let cloneRecord = try #require(try cloneSession.ledger.items().first { $0.item == sealed.entry.item })
        let second = RawPath(nodes.directory.file("2.tar"))
        let secondTransfer = try cloneSession.transfer(
            [cloneRecord], to: "receiver.example.tw/evidence", reason: "trial", output: second)
        #expect(secondTransfer.checkpointSize == firstTransfer.checkpointSize, "both logs have grown alike")

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

    /// The kept checkpoint is held to the peer's key: one altered in the vault refuses the next
    /// handover rather than being trusted or silently replaced.
    @Test func aKeptCheckpointNotSignedByThePeerRefusesTheNextHandover() throws {
        let nodes = try TwoNodes()
        let (first, _) = try nodes.transfer(try nodes.seal([1000]), name: "1.tar")
        _ = try nodes.receive(first)
        let path = nodes.receiver.vault.peerCheckpointPath(origin: "sender.example.tw/evidence")
        let text = try #require(try Self.kept(nodes))
        #expect(chmod(path.description, 0o600) == 0)
        try Data(text.replacingOccurrences(of: "\n\n", with: "\n1\n\n").utf8).write(to: URL(fileURLWithPath: path.description))
        let (second, _) = try nodes.transfer(try nodes.seal([2000]), name: "2.tar")
        let error = try nodes.refusal(second)
        #expect(error.code == .altered)
        #expect(error.message.contains("\(path), the checkpoint kept from sender.example.tw/evidence, is not one it signed"))
    }
}
