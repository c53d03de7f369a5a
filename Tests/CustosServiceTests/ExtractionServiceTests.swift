import CustosCustody
import CustosFormats
import CustosLedger
import CustosService
import Foundation
import Testing

/// A sink that keeps what it is given, as the daemon's stream would carry it.
final class CollectingSink: ExtractionSink {
    var bytes = [UInt8]()
    var ended: Bool?
    var outcome: ExtractionOutcome?

    func begin(_ plan: ExtractionPlan) throws {}
    func write(_ chunk: UnsafeRawBufferPointer) throws { bytes += chunk }
    func end(verified: Bool) throws { ended = verified }
    func recorded(_ outcome: ExtractionOutcome) throws { self.outcome = outcome }
    func abandon(_ error: any Error) {}
}

@Suite("extract through the custody service: the plan, one workflow into a sink, the wire", .timeLimit(.minutes(2)))
struct ExtractionServiceTests {
    @Test func aPlanNamesTheOriginalsAndRecordsNothing() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let before = try node.entries().count
        let reply = node.service.perform(
            ServiceCall(
                .extract, ["items": .array([.string(node.item)]), "reason": .string("court"), "plan": .bool(true)]),
            as: alice)
        #expect(reply.failure == nil, "\(String(describing: reply.failure))")
        let plan = try #require(reply.result?["items"]?.arrayValue?.first.flatMap { ExtractionHeader(json: $0) })
        #expect(plan.item == node.item && plan.name == Array("phone.img".utf8) && plan.size == 16)
        #expect(try node.entries().count == before)
    }

    @Test func oneWorkflowStreamsTheOriginalAndRecordsItForTheCaller() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        var sink: CollectingSink?
        let reply = node.service.extract(
            ServiceCall(
                .extract,
                [
                    "item": .string(node.item), "reason": .string("court order 12"),
                    "folder": .byteString(Array("/home/alice/out".utf8)),
                ]), as: alice
        ) { _ in
            let opened = CollectingSink()
            sink = opened
            return opened
        }
        #expect(reply.failure == nil || reply.failure?.code == .uncovered, "\(String(describing: reply.failure))")
        #expect(sink?.bytes == Array("the seized bytes".utf8) && sink?.ended == true)
        #expect(reply.result?["result"]?.stringValue == "ok")
        let entry = try #require(try node.entries().last)
        #expect(entry.type == .extracted && entry.actor == "alice")
        let document = try #require(try node.document(of: entry))
        #expect(document["folder"]?.byteStringValue == Array("/home/alice/out".utf8))
        #expect(document["reason"]?.stringValue == "court order 12")
        #expect(document["actor"]?["verifiedBy"]?.stringValue == "kernel")
    }

    @Test func anExtractionOutsideTheRoleIsRefusedBeforeTheSinkAndRecorded() throws {
        let node = try ServedVault()
        let carol = ServedVault.caller("carol", uid: 1202, groups: ["carol"])
        var opened = false
        let reply = node.service.extract(
            ServiceCall(
                .extract,
                ["item": .string(node.item), "reason": .string("curious"), "folder": .byteString(Array("/tmp".utf8))]),
            as: carol
        ) { _ in
            opened = true
            return CollectingSink()
        }
        #expect(reply.failure?.code == .forbidden && !opened)
        let entry = try #require(try node.entries().last)
        #expect(entry.type == .refused && entry.actor == "carol")
    }

    @Test func theWireRoundTripsWhateverTheReadsCut() throws {
        let header = ExtractionHeader(
            item: "01ABC", name: [0x70, 0xFF, 0x2E], nameNote: nil, size: 5, sha256: Hash(filling: { $0[0] = 1 }))
        let reply = ServiceReply(result: .object(["result": .string("ok")]))
        let original: [UInt8] = [1, 2, 3, 4, 5]
        let body =
            ExtractionWire.header(header) + original.prefix(2).withUnsafeBytes { ExtractionWire.frames($0) }
            + original.dropFirst(2).withUnsafeBytes { ExtractionWire.frames($0) } + ExtractionWire.end
            + ExtractionWire.trailer(reply)
        for cut in [1, 2, 3, 7, body.count] {
            var reader = ExtractionWire.Reader()
            var seen: ExtractionHeader?
            var data = [UInt8]()
            var ended = false
            var trailer: ServiceReply?
            var start = 0
            while start < body.count {
                let part = Array(body[start..<min(body.count, start + cut)])
                try part.withUnsafeBytes { bytes in
                    try reader.consume(
                        bytes, header: { seen = $0 }, data: { data += $0 }, end: { ended = true },
                        trailer: { trailer = $0 })
                }
                start += cut
            }
            try reader.finish()
            #expect(seen == header && data == original && ended)
            #expect(trailer?.result?["result"]?.stringValue == "ok")
        }
        // A body cut before its trailer is not whole.
        var reader = ExtractionWire.Reader()
        try Array(body.prefix(body.count - 3)).withUnsafeBytes { bytes in
            try reader.consume(bytes, header: { _ in }, data: { _ in }, end: {}, trailer: { _ in })
        }
        #expect(throws: ServiceFailure.self) { try reader.finish() }
    }
}
