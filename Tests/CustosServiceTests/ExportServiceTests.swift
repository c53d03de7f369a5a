import CustosCustody
import CustosFormats
import CustosLedger
import CustosService
import Foundation
import Testing

@Suite("timestamp export through the custody service: the plan, the files in the reply", .timeLimit(.minutes(2)))
struct ExportServiceTests {
    static func names(_ reply: ServiceReply) -> [String] {
        (reply.result?["files"]?.arrayValue ?? []).compactMap {
            $0["name"]?.byteStringValue.map { String(decoding: $0, as: UTF8.self) }
        }
    }

    @Test func aPlanNamesTheFilesAndRecordsNothing() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let before = try node.entries().count
        let reply = node.service.perform(
            ServiceCall(.export, ["item": .string(node.item), "reason": .string("court"), "plan": .bool(true)]),
            as: alice)
        #expect(reply.failure == nil, "\(String(describing: reply.failure))")
        #expect(Self.names(reply) == ["tsa-chain.pem", "\(node.item)-1.tsr", "VERIFY.txt"])
        #expect(reply.result?["item"]?["item"]?.stringValue == node.item)
        #expect(try node.entries().count == before)
    }

    @Test func theExportIsRecordedForTheCallerAndTheReplyCarriesTheFiles() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let reply = node.service.perform(
            ServiceCall(
                .export,
                [
                    "item": .string(node.item), "reason": .string("for the court"),
                    "folder": .byteString(Array("/home/alice/tokens".utf8)),
                    "names": .array(["tsa-chain.pem", "\(node.item)-1.tsr", "VERIFY.txt"].map { .string($0) }),
                ]), as: alice)
        #expect(reply.failure == nil || reply.failure?.code == .uncovered, "\(String(describing: reply.failure))")
        #expect(Self.names(reply) == ["tsa-chain.pem", "\(node.item)-1.tsr", "VERIFY.txt"])
        let verify = try #require(
            reply.result?["files"]?.arrayValue?.last?["bytes"]?.stringValue.flatMap { Base64.decode($0) })
        #expect(String(decoding: verify, as: UTF8.self) == reply.result?["verify"]?.stringValue)
        let entry = try #require(try node.entries().last)
        #expect(entry.type == .exported && entry.actor == "alice" && entry.item == node.item)
        #expect(reply.result?["entries"]?.arrayValue?.first?.integerValue == Int64(entry.sequence))
        let document = try #require(try node.document(of: entry))
        #expect(document["folder"]?.byteStringValue == Array("/home/alice/tokens".utf8))
        #expect(document["reason"]?.stringValue == "for the court")
        #expect(document["actor"]?["verifiedBy"]?.stringValue == "kernel")
    }

    @Test func anExportOfNamesNotPlannedIsRefusedAndNothingRecorded() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let before = try node.entries().count
        let reply = node.service.perform(
            ServiceCall(
                .export,
                [
                    "item": .string(node.item), "reason": .string("court"),
                    "folder": .byteString(Array("/home/alice/tokens".utf8)),
                    "names": .array([.string("VERIFY.txt")]),
                ]), as: alice)
        #expect(reply.failure?.code == .refused && reply.result == nil, "\(String(describing: reply.failure))")
        #expect(try node.entries().count == before)
    }

    @Test func anExportWithoutAFolderIsABadRequest() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let reply = node.service.perform(
            ServiceCall(.export, ["item": .string(node.item), "reason": .string("court")]), as: alice)
        #expect(reply.failure?.code == .badRequest)
    }
}
