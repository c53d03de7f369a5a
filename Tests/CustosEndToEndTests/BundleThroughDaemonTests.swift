import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// `custos export` (a court bundle) on a vault closed to the handler: the daemon builds the
    /// bundle and records it for the account the kernel names; the command writes the file as
    /// that account.
    @Suite(
        "export of a court bundle through the daemon's socket, as the kernel names the handler", .serialized,
        .enabled(if: isRoot, "makes accounts and groups with useradd and groupadd (CI runs as root)"))
    struct BundleThroughDaemonTests {
        static let roles = "  EVIDENCE: [view, extract, report, export]"

        static func tmp(_ node: ServiceNode) -> [String] {
            (try? FileManager.default.contentsOfDirectory(atPath: node.vault + "/tmp")) ?? []
        }

        @Test func aHandlerWhoseRoleExportsGetsABundleThatVerifiesAndIsRecordedAsTheKernelNamesThem() throws {
            let node = try ServiceNode(roles: Self.roles, evidenceBytes: 3 << 20 + 4321)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-out")
            let file = out + "/bundle.tar"
            let result = try node.custos(
                as: alice, ["export", node.item, "--reason", "for the court", "-o", file, "--examiner", "王小明"])
            #expect(result.status == 0, "\(result.stderr) \(node.daemon?.log ?? "")")
            #expect(result.output.contains("bundle written to \(file): "), "\(result.output)")
            #expect(result.output.contains("recorded as `exported` (entry "), "\(result.output)")
            // The file is alice's, 0600; nothing else is left in her folder, nor in the vault's tmp/.
            var status = stat()
            #expect(stat(file, &status) == 0)
            #expect(status.st_uid == getpwnam(alice)!.pointee.pw_uid && status.st_mode & 0o7777 == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["bundle.tar"])
            #expect(Self.tmp(node).isEmpty, "\(Self.tmp(node))")

            // Anyone checks it with no vault: every claim holds.
            let verified = try runAs(alice, node.binary, ["verify-bundle", file])
            #expect(verified.status == 0, "\(verified.output) \(verified.stderr)")
            #expect(verified.output.contains("驗證通過 / PASS: every claim of the bundle holds"), "\(verified.output)")

            // Recorded for alice, as the kernel named her: the report, then the export.
            let events = try node.history(as: alice)
            let exported = try #require(events.last)
            #expect(exported["event"] as? String == "exported" && exported["actor"] as? String == alice)
            #expect(exported["actorVerifiedBy"] as? String == "kernel")
            #expect(exported["actorGroups"] as? [String] == [node.evidence])
            #expect((exported["facts"] as? [String: Any])?["what"] as? String == "bundle")
            #expect(exported["reason"] as? String == "for the court" && exported["examiner"] as? String == "王小明")
            let reported = try #require(events.dropLast().last)
            #expect(reported["event"] as? String == "reported" && reported["actor"] as? String == alice)
            let timeline = try node.custos(as: alice, ["history", node.item])
            #expect(timeline.status == 0, "\(timeline.stderr)")
            #expect(
                timeline.output.split(separator: "\n").contains {
                    $0.contains("exported")
                        && $0.contains("by \(alice) [verified by the kernel; role of \(node.evidence)]")
                }, "\(timeline.output)")

            // Never over a file: a second export to the same name is refused, nothing recorded,
            // the bundle untouched.
            let before = try Data(contentsOf: URL(fileURLWithPath: file))
            let again = try node.custos(as: alice, ["export", node.item, "--reason", "again", "-o", file])
            #expect(again.status == 2 && again.stderr.contains("already exists"), "\(again.stderr)")
            #expect(try node.history(as: alice).count == events.count)
            #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["bundle.tar"])

            // A case's bundle, named by the case the item was sealed under.
            let caseFile = out + "/case.tar"
            let ofCase = try node.custos(
                as: alice, ["export", "--case", "2026-偵-11", "--reason", "for the court", "-o", caseFile])
            #expect(ofCase.status == 0, "\(ofCase.stderr)")
            let caseVerified = try runAs(alice, node.binary, ["verify-bundle", caseFile])
            #expect(caseVerified.status == 0, "\(caseVerified.output) \(caseVerified.stderr)")
            #expect(try node.history(as: alice).last?["event"] as? String == "exported")
        }

        @Test func anExportOutsideTheRoleIsRefusedAndRecordedAndNothingIsWritten() throws {
            // The default test roles: view, annotate, extract; no export.
            let node = try ServiceNode()
            let carol = try node.accounts.user("carol", groups: [node.evidence])
            let out = node.folder(of: carol, "carol-out")
            let result = try node.custos(as: carol, ["export", node.item, "--reason", "curious", "-o", out + "/b.tar"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("may not export (bundle)"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
            #expect(Self.tmp(node).isEmpty)
            let refused = try #require(try node.history(as: carol).last)
            #expect(refused["event"] as? String == "refused" && refused["actor"] as? String == carol)
            #expect((refused["facts"] as? [String: Any])?["action"] as? String == "export")
            #expect(refused["actorVerifiedBy"] as? String == "kernel")
        }

        @Test func badInputIsRefusedBeforeAnythingIsRecordedOrWritten() throws {
            let node = try ServiceNode(roles: Self.roles)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-out")
            let before = try node.history(as: alice).count

            // An item the vault does not hold.
            let unknown = try node.custos(
                as: alice, ["export", "00000000-dead-beef", "--reason", "for the court", "-o", out + "/u.tar"])
            #expect(unknown.status == 2, "\(unknown.stderr)")
            #expect(unknown.stderr.contains("00000000-dead-beef"), "\(unknown.stderr)")

            // No reason, or an empty one.
            let noReason = try node.custos(as: alice, ["export", node.item, "-o", out + "/n.tar"])
            #expect(noReason.status != 0 && noReason.stderr.contains("--reason"), "\(noReason.stderr)")
            let emptyReason = try node.custos(as: alice, ["export", node.item, "--reason", "", "-o", out + "/e.tar"])
            #expect(emptyReason.status == 2 && emptyReason.stderr.contains("reason"), "\(emptyReason.stderr)")

            // A file already there is never written over.
            let taken = try node.directory.write("taken.tar", "someone's file")
            let takenInOut = out + "/taken.tar"
            #expect(rename(taken, takenInOut) == 0)
            chown(takenInOut, getpwnam(alice)!.pointee.pw_uid, getpwnam(alice)!.pointee.pw_gid)
            let exists = try node.custos(
                as: alice, ["export", node.item, "--reason", "for the court", "-o", takenInOut])
            #expect(exists.status == 2 && exists.stderr.contains("already exists"), "\(exists.stderr)")
            #expect(try String(contentsOfFile: takenInOut, encoding: .utf8) == "someone's file")

            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["taken.tar"])
            #expect(Self.tmp(node).isEmpty)
            #expect(try node.history(as: alice).count == before, "nothing recorded")
        }

        /// A client that goes away mid-stream: the export stands recorded (it is recorded before a
        /// byte is sent), the daemon removes its temporary, and goes on serving.
        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
        func aClientGoneMidStreamLeavesNoTemporaryAndTheDaemonGoesOn() throws {
            let node = try ServiceNode(roles: Self.roles, evidenceBytes: 32 << 20)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let script = """
                import socket, sys
                body = ('{"items":["%s"],"output":{"utf8":"/nowhere/bundle.tar"},"reason":"for the court"}'
                        % sys.argv[2]).encode()
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                s.sendall(b"POST /v1/bundle HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json\\r\\n"
                          + b"Content-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body) + body)
                got = 0
                while got < (1 << 20):
                    chunk = s.recv(65536)
                    if not chunk: break
                    got += len(chunk)
                print(got)
                s.close()
                """
            let partial = try runAs(alice, "/usr/bin/python3", ["-c", script, node.socket, node.item])
            #expect(
                partial.status == 0
                    && (Int(partial.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 1 << 20,
                "\(partial.output) \(partial.stderr)")
            let exported = try #require(try node.history(as: alice).last)
            #expect(exported["event"] as? String == "exported" && exported["actor"] as? String == alice)
            #expect(
                waitUntil(timeout: 30) { Self.tmp(node).isEmpty }, "the daemon removes the bundle it built")
            #expect(!FileManager.default.fileExists(atPath: "/nowhere/bundle.tar"))
            #expect(
                waitUntil(timeout: 30) { node.daemon?.log.contains("a recorded bundle was not delivered") == true },
                "the daemon stopped sending when the client went away: \(node.daemon?.log ?? "")")
            // The daemon goes on: a new export makes a new bundle, written whole.
            let out = node.folder(of: alice, "alice-out")
            let result = try node.custos(as: alice, ["export", node.item, "--reason", "again", "-o", out + "/b.tar"])
            #expect(result.status == 0, "\(result.stderr) \(node.daemon?.log ?? "")")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["b.tar"])
            #expect(Self.tmp(node).isEmpty)
            #expect(node.daemon?.isRunning == true)
        }
    }
}
