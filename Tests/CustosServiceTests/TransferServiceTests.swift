import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosService
import CustosTestSupport
import CustosTimeStamping
import CustosVault
import Foundation
import Testing

/// A sink that keeps the handover file's bytes, as the daemon's stream would carry them; it
/// fails once `failAfter` bytes were given, as a client that goes away does.
final class HandoverCollector: BuiltFileSink {
    var bytes = [UInt8]()
    var failAfter: Int?

    struct Gone: Error {}

    func write(_ chunk: UnsafeRawBufferPointer) throws {
        if let failAfter, bytes.count >= failAfter { throw Gone() }
        bytes += chunk
    }
}

@Suite("transfer through the custody service: the plan, one workflow into a sink, the wire", .timeLimit(.minutes(2)))
struct TransferServiceTests {
    static let policy = AccessPolicy(grants: ["evidence": [.view, .extract], "couriers": [.view, .transfer]])
    static let bob = ServedVault.caller("bob", uid: 1203, groups: ["bob", "couriers"])
    static let recipient = "receiver.example/evidence"
    static let declared = Array("/home/bob/out/handover.tar".utf8)

    func arguments(_ node: ServedVault, plan: Bool = false) -> JSONObject {
        var arguments: JSONObject = [
            "items": .array([.string(String(node.item.prefix(10)))]), "to": .string(Self.recipient),
            "reason": .string("trial at the district court"), "examiner": .string("王小明"),
        ]
        if plan { arguments["plan"] = .bool(true) } else { arguments["output"] = .byteString(Self.declared) }
        return arguments
    }

    /// What the vault's `tmp/` holds: nothing once a transfer is done.
    func temporaries(_ node: ServedVault) -> [[UInt8]] {
        (try? FileSystem.listDirectory(node.vault.temporaryPath)) ?? []
    }

    @Test func aPlanChecksTheCallAndRecordsNothing() throws {
        let node = try ServedVault(policy: Self.policy)
        let before = try node.entries().count
        let reply = node.service.perform(ServiceCall(.transfer, arguments(node, plan: true)), as: Self.bob)
        #expect(reply.failure == nil, "\(String(describing: reply.failure))")
        #expect(reply.result?["items"]?.arrayValue?.compactMap { $0["item"]?.stringValue } == [node.item])
        // To itself: refused by the same checks as the command in process.
        var itself = arguments(node, plan: true)
        itself["to"] = .string("service.example/evidence")
        let refused = node.service.perform(ServiceCall(.transfer, itself), as: Self.bob)
        #expect(refused.failure?.code == .refused && refused.failure?.message.contains("own origin") == true)
        #expect(try node.entries().count == before)
        // Without plan, the file is the socket's to stream: a plain call is a bad request.
        let plain = node.service.perform(ServiceCall(.transfer, arguments(node)), as: Self.bob)
        #expect(plain.failure?.code == .badRequest)
    }

    @Test func oneWorkflowRecordsTheTransferForTheCallerThenStreamsAHandoverAnotherNodeReceives() throws {
        let node = try ServedVault(policy: Self.policy)
        var header: BuiltFileHeader?
        var lastBeforeTheBytes: CustodyEventType?
        let sink = HandoverCollector()
        let reply = node.service.transfer(ServiceCall(.transfer, arguments(node)), as: Self.bob) { named in
            lastBeforeTheBytes = try node.entries().last?.type
            header = named
            return sink
        }
        #expect(lastBeforeTheBytes == .transferred, "recorded before a byte is sent")
        #expect(reply.failure == nil || reply.failure?.code == .uncovered, "\(String(describing: reply.failure))")
        let sent = try #require(header)
        #expect(sent.file == Self.declared && sent.size == UInt64(sink.bytes.count))
        #expect(reply.result?["sha256"]?.stringValue == sent.sha256.hex)
        #expect(reply.result?["items"]?.arrayValue?.first?["item"]?.stringValue == node.item)
        #expect(temporaries(node).isEmpty, "the handover built in the vault is removed once sent")

        let entry = try #require(try node.entries().last)
        #expect(entry.type == .transferred && entry.actor == "bob")
        #expect(reply.result?["entries"] == .array([.integer(Int64(entry.sequence))]))
        #expect(reply.result?["handover"]?.stringValue == entry.details["handover"]?.stringValue)
        let document = try #require(try node.document(of: entry))
        #expect(document["file"]?.byteStringValue == Self.declared, "the file the client declared, not the vault's")
        #expect(document["to"]?.stringValue == Self.recipient)
        #expect(document["actor"]?["verifiedBy"]?.stringValue == "kernel")
        #expect(document["actor"]?["examiner"]?.stringValue == "王小明")
        #expect(document["actor"]?["groups"] == .array([.string("couriers")]))

        // The bytes streamed are a handover the recipient receives.
        let receiver = try Vault.create(
            at: RawPath(node.directory.file("receiver")), configuration: VaultConfiguration(origin: Self.recipient),
            now: SystemClock.now(),
            timeStampAuthority: try NodeTimeStampAuthority.prepare(
                .none, origin: Self.recipient, now: SystemClock.secondsSinceEpoch()))
        let key = String(decoding: try FileSystem.readFile(node.vault.verifierKeyPath), as: UTF8.self)
        _ = try receiver.addPeer(keyText: key.trimmingCharacters(in: .whitespacesAndNewlines))
        let file = try node.directory.write("handover.tar", sink.bytes)
        let summed = try run("sha256sum", [file])
        #expect(summed.output.hasPrefix(sent.sha256.hex), "the header names the bytes sent")
        let received = try Custody(vault: receiver, actor: .current(), tool: "custos-tests").session().receive(
            RawPath(file), reason: "trial")
        #expect(received.event.entries.map(\.item) == [node.item])
        #expect(received.document.hex == reply.result?["handover"]?.stringValue)
    }

    @Test func aTransferOutsideTheRoleIsRefusedBeforeAnythingIsBuiltAndRecorded() throws {
        let node = try ServedVault(policy: Self.policy)
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        var opened = false
        let reply = node.service.transfer(ServiceCall(.transfer, arguments(node)), as: alice) { _ in
            opened = true
            return HandoverCollector()
        }
        #expect(reply.failure?.code == .forbidden && reply.failure?.exitCode == 2 && !opened)
        #expect(reply.failure?.message.contains("may not transfer") == true, "\(String(describing: reply.failure))")
        let entry = try #require(try node.entries().last)
        #expect(entry.type == .refused && entry.actor == "alice")
        #expect(temporaries(node).isEmpty)
    }

    @Test func aSinkThatFailsMidWayLeavesTheRecordAndNoTemporary() throws {
        let node = try ServedVault(policy: Self.policy)
        let sink = HandoverCollector()
        sink.failAfter = 0  // the handover of one small item is one chunk: gone before it
        let reply = node.service.transfer(ServiceCall(.transfer, arguments(node)), as: Self.bob) { _ in sink }
        #expect(reply.failure?.code == .failed, "\(String(describing: reply.failure))")
        #expect(reply.failure?.message.contains("the record stands") == true)
        let entry = try #require(try node.entries().last)
        #expect(entry.type == .transferred && reply.result?["entries"] == .array([.integer(Int64(entry.sequence))]))
        #expect(temporaries(node).isEmpty)
    }

    @Test func anOutputThatIsNotAWholePathIsABadRequestAndNothingIsRecorded() throws {
        let node = try ServedVault(policy: Self.policy)
        let before = try node.entries().count
        var relative = arguments(node)
        relative["output"] = .byteString(Array("handover.tar".utf8))
        let reply = node.service.transfer(ServiceCall(.transfer, relative), as: Self.bob) { _ in HandoverCollector() }
        #expect(reply.failure?.code == .badRequest)
        #expect(try node.entries().count == before)
    }

    @Test func theWireCarriesAHandoverWhateverTheReadsCut() throws {
        let header = BuiltFileHeader(file: [0x2F, 0x74, 0xFF], size: 3, sha256: Hash(filling: { $0[0] = 7 }))
        let file: [UInt8] = [9, 8, 7]
        let body =
            ExtractionWire.header(header) + file.withUnsafeBytes { ExtractionWire.frames($0) } + ExtractionWire.end
            + ExtractionWire.trailer(ServiceReply(result: .object(["handover": .string("ab")])))
        for cut in [1, 4, body.count] {
            var reader = ExtractionWire.StreamReader<BuiltFileHeader>()
            var seen: BuiltFileHeader?
            var data = [UInt8]()
            var trailer: ServiceReply?
            var start = 0
            while start < body.count {
                try Array(body[start..<min(body.count, start + cut)]).withUnsafeBytes { bytes in
                    try reader.consume(
                        bytes, header: { seen = $0 }, data: { data += $0 }, end: {}, trailer: { trailer = $0 })
                }
                start += cut
            }
            try reader.finish()
            #expect(seen == header && data == file && trailer?.result?["handover"]?.stringValue == "ab")
        }
        // An extraction's header is not a handover's.
        let extraction = ExtractionHeader(item: "01A", name: [0x61], nameNote: nil, size: 1, sha256: header.sha256)
        var reader = ExtractionWire.StreamReader<BuiltFileHeader>()
        #expect(throws: ServiceFailure.self) {
            try ExtractionWire.header(extraction).withUnsafeBytes { bytes in
                try reader.consume(bytes, header: { _ in }, data: { _ in }, end: {}, trailer: { _ in })
            }
        }
    }
}
