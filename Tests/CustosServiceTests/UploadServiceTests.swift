import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosService
import CustosTestSupport
import CustosVault
import Foundation
import Testing

@Suite("ingest through the custody service: the declaration, the role, the bytes received", .timeLimit(.minutes(2)))
struct UploadServiceTests {
    static let dropping = AccessPolicy(grants: ["evidence": [.view, .drop]])

    /// Bytes as the daemon receives them: a temporary in the vault's tmp/.
    static func received(_ node: ServedVault, _ bytes: [UInt8]) throws -> ReceivedUpload {
        let name = "upload-test-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.makeDirectory(node.vault.temporaryPath)
        try Data(bytes).write(to: URL(fileURLWithPath: node.vault.temporaryPath.appending(name).description))
        return ReceivedUpload(name: Array(name.utf8), size: Int64(bytes.count))
    }

    /// The declaration of a file of `size` bytes at `path`, as its sender's fstat saw it.
    static func declared(_ path: String = "/home/alice/phone.img", size: Int, mode: Int = 0o100640) -> JSONValue {
        .object([
            "path": .byteString(Array(path.utf8)), "size": .integer(Int64(size)), "mode": .integer(Int64(mode)),
            "uid": .integer(1201), "gid": .integer(1201), "inode": .integer(77), "device": .integer(2049),
            "links": .integer(1), "mtime": .array([.integer(1_790_000_000), .integer(5)]),
            "ctime": .array([.integer(1_790_000_001), .integer(0)]),
            "atime": .array([.integer(1_790_000_002), .integer(0)]),
        ])
    }

    @Test func theBytesAreSealedForTheCallerWithTheFileAsDeclared() throws {
        let node = try ServedVault(policy: Self.dropping)
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let bytes = Array("the phone's image".utf8)
        let call = ServiceCall(
            .ingest, ["original": Self.declared(size: bytes.count), "case": .string("C-8"), "exhibit": .string("E-1")])
        #expect(node.service.admit(call, as: alice) == nil)
        let reply = node.service.ingest(call, as: alice, upload: try Self.received(node, bytes))
        #expect(reply.failure == nil, "\(String(describing: reply.failure))")
        let sha256 = try #require(reply.result?["sha256"]?.stringValue)
        #expect(sha256 == bytes.withUnsafeBytes { OpenSSLSHA256().sha256($0) }.hex)
        let entry = try #require(try node.entries().first { $0.type == .sealed && $0.actor == "alice" })
        #expect(reply.result?["entry"]?.integerValue == Int64(entry.sequence))
        #expect(reply.result?["checkpoint"]?["size"]?.integerValue != nil, "a signed checkpoint covers it")

        let session = try Custody(vault: node.vault, actor: .current(), tool: "t").session(readOnly: true)
        let record = try session.resolveItem(entry.item)
        let manifest = try #require(try session.details(of: record).manifest.value)
        #expect(manifest["original"]?["path"]?.byteStringValue == Array("/home/alice/phone.img".utf8))
        #expect(manifest["original"]?["mode"]?.stringValue == "0640")
        #expect(manifest["original"]?["uid"]?.integerValue == 1201)
        #expect(manifest["original"]?["mtime"]?.stringValue == "2026-09-21T14:13:20.000000005Z")
        #expect(manifest["upload"]?["account"]?.stringValue == "alice")
        #expect(manifest["upload"]?["pid"]?.integerValue == 4321)
        #expect(manifest["sealing"]?["actor"]?["verifiedBy"]?.stringValue == "kernel")
        #expect(manifest["sealing"]?["actor"]?["groups"]?.arrayValue == [.string("evidence")])
        let history = try session.history(of: record)
        #expect(history.events.first?.actorVerification == .kernel)
        #expect(history.events.first?.actorGroups == ["evidence"])
    }

    @Test func aCallerWithoutTheDropRoleIsRefusedBeforeTheBytesAndItIsRecorded() throws {
        let node = try ServedVault()  // the standard roles: evidence may not drop
        let bob = ServedVault.caller("bob", uid: 1202, groups: ["bob", "evidence"])
        let call = ServiceCall(.ingest, ["original": Self.declared(size: 3)])
        let refusal = try #require(node.service.admit(call, as: bob))
        #expect(refusal.failure?.code == .forbidden && refusal.failure?.message.contains("may not drop") == true)
        let refused = try #require(try node.entries().last)
        #expect(refused.type == .refused && refused.actor == "bob")
    }

    @Test func aDeclarationThatIsNotAFilesIsABadRequest() throws {
        let node = try ServedVault(policy: Self.dropping)
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let before = try node.entries().count
        for original in [
            Self.declared("phone.img", size: 3),  // not absolute
            Self.declared("/dev/sda", size: 3, mode: 0o060660),  // a block device
            Self.declared("/home/alice/", size: 3),  // no file name
            Self.declared("/home/alice/../../etc/shadow", size: 3),  // walks about
            Self.declared("/home//alice/./phone.img", size: 3),  // empty and . components
            .string("/home/alice/phone.img"),  // no status
        ] {
            let reply = node.service.admit(ServiceCall(.ingest, ["original": original]), as: alice)
            #expect(reply?.failure?.code == .badRequest, "\(original)")
        }
        #expect(node.service.admit(ServiceCall(.ingest, [:]), as: alice)?.failure?.code == .badRequest)
        #expect(try node.entries().count == before, "a bad request records nothing")
        // Without the bytes (not on the socket's upload path) it is a bad request too.
        let direct = node.service.perform(ServiceCall(.ingest, ["original": Self.declared(size: 1)]), as: alice)
        #expect(direct.failure?.code == .badRequest)
    }

    @Test func bytesOfAnotherSizeThanDeclaredAreNotSealed() throws {
        let node = try ServedVault(policy: Self.dropping)
        let alice = ServedVault.caller("alice", uid: 1201, groups: ["alice", "evidence"])
        let before = try node.entries().count
        let reply = node.service.ingest(
            ServiceCall(.ingest, ["original": Self.declared(size: 100)]), as: alice,
            upload: try Self.received(node, Array("short".utf8)))
        #expect(reply.failure?.code == .refused, "\(String(describing: reply.failure))")
        #expect(reply.failure?.message.contains("declared 100 bytes but 5 were received") == true)
        #expect(try node.entries().count == before)
    }
}
