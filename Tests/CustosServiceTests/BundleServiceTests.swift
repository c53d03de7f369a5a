import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosService
import CustosVault
import Foundation
import Testing

@Suite(
    "a court bundle through the custody service: its role, the plan, one workflow into a sink", .timeLimit(.minutes(2)))
struct BundleServiceTests {
    static let policy = AccessPolicy(grants: [
        "evidence": [.view, .extract, .report, .export], "exporters": [.view, .report, .export],
        "extractors": [.view, .extract, .report],
    ])
    static let declared = Array("/home/alice/out/bundle.tar".utf8)

    func arguments(_ node: ServedVault, plan: Bool = false) -> JSONObject {
        var arguments: JSONObject = ["items": .array([.string(node.item)]), "reason": .string("for the court")]
        if plan { arguments["plan"] = .bool(true) } else { arguments["output"] = .byteString(Self.declared) }
        return arguments
    }

    /// A bundle holds the originals and a recorded report: a role that may export but not take
    /// an original out, or take it out but not export, is refused, and the refusal names the
    /// action it lacks.
    @Test func aBundleNeedsExportExtractAndReportAndARefusalNamesWhatIsLacking() throws {
        let node = try ServedVault(policy: Self.policy)
        for (name, uid, group, lacking) in [
            ("dave", UInt32(1301), "exporters", "extract"), ("erin", UInt32(1302), "extractors", "export"),
        ] {
            let caller = ServedVault.caller(name, uid: uid, groups: [name, group])
            var opened = false
            let reply = node.service.exportBundle(ServiceCall(.bundle, arguments(node)), as: caller) { _ in
                opened = true
                return HandoverCollector()
            }
            #expect(reply.failure?.code == .forbidden && !opened, "\(String(describing: reply.failure))")
            #expect(reply.failure?.message.contains("may not \(lacking) (bundle)") == true)
            let entry = try #require(try node.entries().last)
            #expect(entry.type == .refused && entry.actor == name)
        }
    }

    @Test func aPlanChecksTheCallAndRecordsNothing() throws {
        let node = try ServedVault(policy: Self.policy)
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let before = try node.entries().count
        let planned = node.service.perform(ServiceCall(.bundle, arguments(node, plan: true)), as: alice)
        #expect(planned.failure == nil, "\(String(describing: planned.failure))")
        #expect(planned.result?["items"]?.arrayValue?.first?["item"]?.stringValue == node.item)
        var noReason = arguments(node, plan: true)
        noReason["reason"] = .string("")
        #expect(node.service.perform(ServiceCall(.bundle, noReason), as: alice).failure?.code == .refused)
        #expect(try node.entries().count == before)
    }

    @Test func oneWorkflowBuildsRecordsAndStreamsTheBundleForTheCaller() throws {
        let node = try ServedVault(policy: Self.policy)
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        var header: BuiltFileHeader?
        let sink = HandoverCollector()
        let reply = node.service.exportBundle(ServiceCall(.bundle, arguments(node)), as: alice) { named in
            header = named
            return sink
        }
        #expect(reply.failure == nil || reply.failure?.code == .uncovered, "\(String(describing: reply.failure))")
        let sent = try #require(header)
        #expect(sent.file == Self.declared && sent.size == UInt64(sink.bytes.count))
        #expect(sent.sha256.hex == Hex.encode(sink.bytes.withUnsafeBytes { MessageDigest.digest(.sha256, $0) }))
        #expect(reply.result?["sha256"]?.stringValue == sent.sha256.hex)
        // Recorded for alice: the report, then the export, which names the declared file.
        let entries = try node.entries()
        let exported = try #require(entries.last)
        #expect(exported.type == .exported && exported.actor == "alice")
        #expect(entries.dropLast().last?.type.rawValue == "reported")
        let document = try #require(try node.document(of: exported))
        #expect(document["output"]?.byteStringValue == Self.declared)
        #expect(document["sha256"]?.stringValue == sent.sha256.hex)
        #expect(document["actor"]?["verifiedBy"]?.stringValue == "kernel")
        // Nothing left in the vault's tmp/.
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: node.vault.temporaryPath.description)) ?? []
        #expect(tmp.isEmpty, "\(tmp)")
    }
}
