import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// `custos export` of an item the daemon's vault received from another node, through the
    /// socket: the daemon bundles it with the sender's seal it kept, as in process.
    @Suite(
        "export of a received item through the daemon's socket", .serialized,
        .enabled(if: isRoot, "makes accounts and groups with useradd and groupadd (CI runs as root)"))
    struct ReceivedBundleThroughDaemonTests {
        @Test func aBundleOfAReceivedAndASealedItemMadeByTheDaemonVerifies() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, extract, report, export, transfer]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let (id, file) = try node.handoverFromAnotherNode(for: alice)
            let received = try node.custos(as: alice, ["receive", file, "--reason", "for the trial"])
            #expect(received.status == 0, "\(received.stderr)")

            // The received item and the one the node sealed, in one bundle.
            let out = node.folder(of: alice, "alice-out")
            let bundle = out + "/bundle.tar"
            let exported = try node.custos(
                as: alice, ["export", id, node.item, "--reason", "for the court", "-o", bundle])
            #expect(exported.status == 0, "\(exported.stderr) \(node.daemon?.log ?? "")")
            let verified = try runAs(alice, node.binary, ["verify-bundle", bundle])
            #expect(verified.status == 0, "\(verified.output) \(verified.stderr)")
            #expect(verified.output.contains("驗證通過 / PASS  item \(id) sender's seal"), "\(verified.output)")
            #expect(verified.output.contains("驗證通過 / PASS  item \(node.item) archive"), "\(verified.output)")
            let listing = try run("bsdtar", ["-tf", bundle]).output
            #expect(listing.contains("custos-bundle/items/\(id)/sender-entry.json"), "\(listing)")
        }
    }
}
