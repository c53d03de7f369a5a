import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosService
import CustosTestSupport
import CustosTimeStamping
import CustosVault
import Foundation
import Testing

/// A real vault with one sealed item, and the custody service over it with a policy in force,
/// as the daemon serves it.
struct ServedVault {
    let directory: TemporaryDirectory
    let vault: Vault
    let service: CustodyService
    let item: String

    init(policy: AccessPolicy = .standard) throws {
        directory = TemporaryDirectory("service")
        vault = try Vault.create(
            at: RawPath(directory.file("vault")), configuration: VaultConfiguration(origin: "service.example/evidence"),
            now: SystemClock.now(),
            timeStampAuthority: try NodeTimeStampAuthority.prepare(
                .generate, origin: "service.example/evidence", now: SystemClock.secondsSinceEpoch()))
        let custody = Custody(vault: vault, actor: .current(), tool: "custos-tests")
        let file = try directory.write("phone.img", Array("the seized bytes".utf8))
        let receipt = try custody.session().seal(SealRequest(path: RawPath(file), caseID: "C-7"))
        try custody.session().checkpoint()
        item = receipt.sealed.item
        service = CustodyService(vault: vault, tool: "custos-tests", policy: policy, isDaemon: true)
    }

    /// A caller the kernel named, with these groups.
    static func caller(_ account: String, uid: UInt32, groups: [String]) -> Caller {
        Caller(
            account: account, uid: uid, gid: uid, groupIDs: groups.indices.map { UInt32(5000 + $0) }, groups: groups,
            pid: 4321, verification: .kernel)
    }

    func entries() throws -> [CustodyEntry] {
        let ledger = try vault.openLedger(readOnly: true)
        return try (0..<ledger.size()).map { try CustodyEntry(parsing: ledger.entryBytes($0)) }
    }

    func document(of entry: CustodyEntry) throws -> JSONObject? {
        try Custody(vault: vault, actor: .current(), tool: "custos-tests").session(readOnly: true).detailsDocument(
            of: entry)
    }
}

@Suite("the custody service: roles, refusals, the kernel's actor", .timeLimit(.minutes(2)))
struct CustodyServiceTests {
    @Test func aMemberOfEvidenceAnnotatesAndTheActorIsTheKernelsWithItsGroup() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let reply = node.service.perform(
            ServiceCall(
                .annotate,
                [
                    "item": .string(node.item), "note": .string("bag sealed, tag 7"), "examiner": .string("王小明"),
                    // Claims of identity in the request are never read.
                    "actor": .string("mallory"), "account": .string("mallory"), "uid": .integer(0),
                ]), as: alice)
        #expect(reply.failure == nil, "\(String(describing: reply.failure))")
        let entry = try #require(try node.entries().last)
        #expect(entry.type == .annotated && entry.actor == "alice")
        let actor = try #require(try node.document(of: entry)?["actor"])
        #expect(actor["account"]?.stringValue == "alice" && actor["uid"]?.integerValue == 1201)
        #expect(actor["verifiedBy"]?.stringValue == "kernel")
        #expect(actor["groups"] == .array([.string("evidence")]))
        #expect(actor["pid"]?.integerValue == 4321)
        #expect(actor["examiner"]?.stringValue == "王小明")
        // history says how the actor was known.
        let history = node.service.perform(ServiceCall(.history, ["items": .array([.string(node.item)])]), as: alice)
        let events = try #require(history.result?["items"]?.arrayValue?.first?["events"]?.arrayValue)
        #expect(events.last?["actorVerifiedBy"]?.stringValue == "kernel")
        #expect(events.first?["actorVerifiedBy"]?.stringValue == "process", "the seal was recorded by its own process")
    }

    @Test func theDaemonsKeptReadingConnectionsSeeWhatWasRecordedSince() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        func events() -> [JSONValue] {
            let reply = node.service.perform(ServiceCall(.history, ["items": .array([.string(node.item)])]), as: alice)
            #expect(reply.failure == nil, "\(String(describing: reply.failure))")
            return reply.result?["items"]?.arrayValue?.first?["events"]?.arrayValue ?? []
        }
        func listed() -> Int {
            node.service.perform(ServiceCall(.list, [:]), as: alice).result?.arrayValue?.count ?? 0
        }
        // Read calls leave their connections kept; what is recorded after, on other
        // connections, is seen by the next.
        let before = events().count
        #expect(before >= 1 && listed() == 1)
        let annotated = node.service.perform(
            ServiceCall(.annotate, ["item": .string(node.item), "note": .string("seen again")]), as: alice)
        #expect(annotated.failure == nil || annotated.failure?.code == .uncovered)
        let after = events()
        #expect(after.count == before + 1 && after.last?["event"]?.stringValue == "annotated", "\(after)")
        let file = try node.directory.write("second.img", Array("more seized bytes".utf8))
        let second = try Custody(vault: node.vault, actor: .current(), tool: "custos-tests").session()
            .seal(SealRequest(path: RawPath(file), caseID: "C-8")).sealed.item
        #expect(listed() == 2)
        let shown = node.service.perform(ServiceCall(.show, ["item": .string(second)]), as: alice)
        let item = try #require(shown.result?.arrayValue?.first, "\(String(describing: shown.failure))")
        #expect(item["item"]?["item"]?.stringValue == second)
        #expect(item["timestamps"]?.arrayValue?.isEmpty == false, "stamped by the node's TSA")
        // Shown again (its tokens' facts kept): the same answer.
        #expect(node.service.perform(ServiceCall(.show, ["item": .string(second)]), as: alice).result == shown.result)
    }

    @Test func anActionOutsideTheRoleIsRefusedAndRecorded() throws {
        let node = try ServedVault(policy: AccessPolicy(grants: ["viewers": [.view]]))
        let bob = ServedVault.caller("bob", uid: 1202, groups: ["bob", "viewers"])
        let before = try node.entries().count
        let reply = node.service.perform(
            ServiceCall(.annotate, ["item": .string(node.item), "note": .string("sneaky")]), as: bob)
        let failure = try #require(reply.failure)
        #expect(failure.code == .forbidden && failure.exitCode == 2 && failure.httpStatus == 403)
        #expect(failure.message.contains("bob") && failure.message.contains("may not annotate"), "\(failure)")
        #expect(failure.message.contains("allow view only"), "\(failure)")
        // The refused caller learns nothing of the vault: not the entries, not who may.
        #expect(reply.notes == ["the refusal is recorded"])
        #expect(!failure.message.contains("viewers"))
        let entries = try node.entries()
        #expect(entries.count == before + 1)
        let refused = try #require(entries.last)
        #expect(refused.type == .refused && refused.item == node.item && refused.actor == "bob")
        #expect(refused.details["action"]?.stringValue == "annotate")
        let document = try #require(try node.document(of: refused))
        #expect(document["operation"]?.stringValue == "annotate")
        #expect(document["actor"]?["verifiedBy"]?.stringValue == "kernel")
        #expect(document["note"] == nil, "the refused note is not kept")
        // Nothing was annotated.
        #expect(!entries.contains { $0.type == .annotated })
    }

    @Test func aCallerWithNoRoleIsRefusedEvenReadingAndTheWholeVaultIsNamed() throws {
        let node = try ServedVault()
        let eve = ServedVault.caller("eve", uid: 1203, groups: ["eve", "users"])
        let reply = node.service.perform(ServiceCall(.list), as: eve)
        #expect(reply.result == nil && reply.failure?.code == .forbidden)
        #expect(reply.failure?.message.contains("allows anything") == true, "\(String(describing: reply.failure))")
        let refused = try #require(try node.entries().last)
        #expect(refused.type == .refused && refused.item == "" && refused.details["action"]?.stringValue == "view")
    }

    @Test func theDefaultPolicyLetsEvidenceViewButNotHoldOrApprove() {
        let policy = AccessPolicy.standard
        for action in [CustodyAction.view, .annotate, .extract, .report, .export] {
            #expect(policy.groupsGranting(action, among: ["users", "evidence"]) == ["evidence"])
        }
        for action in [CustodyAction.hold, .dispose, .approve, .administer, .transfer, .drop] {
            #expect(policy.groupsGranting(action, among: ["users", "evidence"]).isEmpty, "\(action)")
        }
    }

    @Test func aRoleNamingAnUnknownActionIsRefused() throws {
        #expect(throws: PolicyError.self) { try AccessPolicy.actions(parsing: "view, delete-everything") }
        #expect(try AccessPolicy.actions(parsing: "view, hold ,approve") == [.view, .hold, .approve])
        #expect(!AccessPolicy.isGroupName("evil/../group") && !AccessPolicy.isGroupName(""))
    }

    @Test func withoutAPolicyTheOwnersOwnProcessActsAndIsDeclared() throws {
        let node = try ServedVault()
        let owner = CustodyService(vault: node.vault, tool: "custos-tests", policy: nil, isDaemon: false)
        let reply = owner.perform(
            ServiceCall(.annotate, ["item": .string(node.item), "note": .string("own vault")]), as: .thisProcess)
        #expect(reply.failure == nil, "\(String(describing: reply.failure))")
        let entry = try #require(try node.entries().last)
        #expect(try node.document(of: entry)?["actor"]?["verifiedBy"]?.stringValue == "process")
    }

    @Test func badArgumentsAreNamed() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["evidence"])
        let missing = node.service.perform(ServiceCall(.annotate, ["item": .string(node.item)]), as: alice)
        #expect(missing.failure?.code == .badRequest && missing.failure?.message.contains("note is missing") == true)
        let wrongType = node.service.perform(ServiceCall(.show, ["item": .integer(7)]), as: alice)
        #expect(
            wrongType.failure?.code == .badRequest && wrongType.failure?.message.contains("item must be text") == true)
        let unknown = node.service.perform(ServiceCall(.show, ["item": .string("ffff0000")]), as: alice)
        #expect(unknown.failure?.code == .unknownItem && unknown.failure?.httpStatus == 404)
    }
}

@Suite("the custody service: the vault's own account", .timeLimit(.minutes(2)))
struct OwnerTests {
    @Test func theVaultsOwnAccountIsRefusedNothingAndSaysSo() throws {
        let node = try ServedVault(policy: AccessPolicy(grants: [:]))
        let owner = CustodyService(
            vault: node.vault, tool: "custos-tests", policy: .standard, isDaemon: true, ownerID: 1500)
        let me = ServedVault.caller("examiner", uid: 1500, groups: ["examiner"])
        let reply = owner.perform(
            ServiceCall(.hold, ["items": .array([.string(node.item)]), "reason": .string("my own vault")]), as: me)
        #expect(reply.failure == nil, "\(String(describing: reply.failure))")
        let entry = try #require(try node.entries().last)
        #expect(entry.type == .held)
        #expect(try node.document(of: entry)?["actor"]?["groups"] == .array([.string(CustodyService.ownerRole)]))
        // Another account with the same groups is refused.
        let other = ServedVault.caller("other", uid: 1501, groups: ["examiner"])
        #expect(owner.perform(ServiceCall(.list), as: other).failure?.code == .forbidden)
    }
}

@Suite("the custody service: what it refuses", .timeLimit(.minutes(2)))
struct ServiceRefusalTests {
    @Test func refusalsAreRecordedAtMostTwentyAMinutePerAccount() throws {
        let node = try ServedVault(policy: AccessPolicy(grants: [:]))
        let mallory = ServedVault.caller("mallory", uid: 1666, groups: ["users"])
        let before = try node.entries().count
        var notes = [String]()
        for _ in 0..<25 {
            let reply = node.service.perform(
                ServiceCall(.hold, ["items": .array([.string(node.item)]), "reason": .string("flood")]), as: mallory)
            #expect(reply.failure?.code == .forbidden)
            notes += reply.notes
        }
        #expect(try node.entries().count == before + RefusalLimiter.perMinute)
        #expect(notes.filter { $0.contains("not recorded") }.count == 25 - RefusalLimiter.perMinute)
        // Another account is not held back by mallory's.
        let eve = ServedVault.caller("eve", uid: 1667, groups: ["users"])
        _ = node.service.perform(ServiceCall(.list), as: eve)
        #expect(try node.entries().count == before + RefusalLimiter.perMinute + 1)
    }

    @Test func aRefusalNamesAtMostTenItemsAndNeverExpandsACase() throws {
        let node = try ServedVault(policy: AccessPolicy(grants: [:]))
        let mallory = ServedVault.caller("mallory", uid: 1666, groups: ["users"])
        let before = try node.entries().count
        _ = node.service.perform(ServiceCall(.hold, ["case": .string("C-7"), "reason": .string("x")]), as: mallory)
        let entries = try node.entries()
        #expect(entries.count == before + 1 && entries.last?.item == "", "a case is not expanded into its items")
        #expect(try node.document(of: entries.last!)?["named"]?.stringValue?.contains("C-7") == true)
    }

    @Test func argumentsOfTheWrongTypeAreRefusedNotIgnored() throws {
        let node = try ServedVault()
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["evidence"])
        let reply = node.service.perform(
            ServiceCall(.verify, ["record": .string("false")]), as: alice)
        #expect(
            reply.failure?.code == .badRequest
                && reply.failure?.message.contains("record must be true or false") == true)
        let list = node.service.perform(ServiceCall(.list, ["case": .integer(5)]), as: alice)
        #expect(list.failure?.code == .badRequest, "a case of the wrong type must not list the whole vault")
        let many = node.service.perform(
            ServiceCall(.history, ["items": .array(Array(repeating: .string("0"), count: 1001))]), as: alice)
        #expect(many.failure?.code == .badRequest && many.failure?.message.contains("at most 1000") == true)
    }

    @Test func besideARunningDaemonACommandOnTheVaultRecordsNothing() throws {
        let node = try ServedVault()
        let lock = try node.vault.lockDaemon()
        let direct = CustodyService(vault: node.vault, tool: "custos-tests", policy: nil, isDaemon: false)
        let before = try node.entries().count
        let reply = direct.perform(
            ServiceCall(.hold, ["items": .array([.string(node.item)]), "reason": .string("beside the daemon")]),
            as: .thisProcess)
        #expect(reply.failure?.code == .refused && reply.failure?.message.contains("only writer") == true)
        #expect(try node.entries().count == before)
        // Reading is fine.
        #expect(direct.perform(ServiceCall(.list), as: .thisProcess).failure == nil)
        withExtendedLifetime(lock) {}
    }

    @Test func aReplyCannotMakeAFailureExitZero() throws {
        let reply = try ServiceReply(
            json: .object([
                "error": .object(["code": .string("forbidden"), "message": .string("no"), "exit": .integer(0)])
            ]))
        #expect(reply.failure?.exitCode == 2)
        let transport = try ServiceReply(json: .object(["error": .string("busy: try again"), "code": .string("busy")]))
        #expect(transport.failure?.message == "busy: try again" && transport.failure?.exitCode == 2)
    }
}
