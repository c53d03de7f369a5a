import CustosTestSupport
import Foundation
import Glibc
import Testing

/// The vault keeps to itself: no inbox may be the vault or lie in its state, nothing in it is
/// open to other users whatever the umask, and no link inside it is followed.
@Suite("the vault keeps to itself")
struct VaultProtectionTests {
    /// `custos daemon --check` with the inbox (or sealed/, rejected/) set by the environment.
    func check(_ node: Node, _ environment: [String: String]) throws -> CommandResult {
        try run(custosBinary, ["daemon", "--vault", node.vault, "--check"], environment: environment)
    }

    @Test func anInboxThatIsTheVaultHoldsItOrLiesInItsStateIsRefused() throws {
        let node = try Node()
        let link = node.directory.file("link-to-vault")
        #expect(symlink(node.vault, link) == 0)
        let refused: [([String: String], String)] = [
            (["CUSTOS_INBOX": node.vault], "must not be the vault itself"),
            (["CUSTOS_INBOX": node.vault + "/"], "must not be the vault itself"),
            (["CUSTOS_INBOX": link], "must not be the vault itself"),
            (["CUSTOS_INBOX": node.vault + "/inbox/.."], "must not be the vault itself"),
            (["CUSTOS_INBOX": node.directory.path], "must not hold the vault"),
            (["CUSTOS_INBOX": node.vault + "/objects"], "must not lie inside the vault's own objects"),
            (["CUSTOS_INBOX": link + "/keys/drop"], "must not lie inside the vault's own keys"),
            (["CUSTOS_SEALED": node.vault + "/manifests/x"], "must not lie inside the vault's own manifests"),
            (["CUSTOS_REJECTED": node.vault + "/tmp"], "must not lie inside the vault's own tmp"),
            (["CUSTOS_SEALED": node.inbox + "/done"], "must not be inside inbox"),
        ]
        for (environment, reason) in refused {
            let result = try check(node, environment)
            #expect(result.status == 2, "\(environment): \(result.output) \(result.stderr)")
            #expect(result.stderr.contains("configuration refused"), "\(environment): \(result.stderr)")
            #expect(result.stderr.contains(reason), "\(environment): \(result.stderr)")
        }
        // The daemon itself refuses too, before it touches anything.
        let files = node.files(under: ".").sorted()
        let daemon = try run(custosBinary, ["daemon", "--vault", node.vault], environment: ["CUSTOS_INBOX": node.vault])
        #expect(daemon.status == 2)
        #expect(node.files(under: ".").sorted() == files)
        #expect(try node.verify().status == 0)
        // An inbox elsewhere in the vault (not its state) is fine.
        #expect(try check(node, ["CUSTOS_INBOX": node.vault + "/drop/in"]).status == 0)
    }
}
