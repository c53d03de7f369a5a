import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// `custos transfer` on a vault closed to the handler: the daemon builds the handover and
    /// records it for the account the kernel names; the command writes the file as that account.
    @Suite(
        "transfer through the daemon's socket, as the kernel names the handler", .serialized,
        .enabled(if: isRoot, "makes accounts and groups with useradd and groupadd (CI runs as root)"))
    struct TransferThroughDaemonTests {
        static let recipient = "receiver.example.tw/evidence"

        @Test func aHandlerWhoseRoleTransfersHandsItemsOverAndAnotherNodeReceivesTheFile() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, transfer]", evidenceBytes: 3 << 20 + 4321)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-out")
            let file = out + "/handover.tar"
            let result = try node.custos(
                as: alice,
                ["transfer", node.item, "--to", Self.recipient, "--reason", "trial", "-o", file, "--examiner", "王小明"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.output.contains("transferred \(node.item) entry "), "\(result.output)")
            #expect(
                result.output.contains("handover \(file) sha256 ") && result.output.contains("(1 items)"),
                "\(result.output)")
            // The file is alice's, 0600; nothing else is left in her folder, nor in the vault's tmp/.
            var status = stat()
            #expect(stat(file, &status) == 0)
            #expect(status.st_uid == getpwnam(alice)!.pointee.pw_uid && status.st_mode & 0o7777 == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["handover.tar"])
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: node.vault + "/tmp")) ?? []).isEmpty)
            // Recorded for alice, as the kernel named her.
            let events = try node.history(as: alice)
            let transferred = try #require(events.last)
            #expect(transferred["event"] as? String == "transferred" && transferred["actor"] as? String == alice)
            #expect(transferred["actorVerifiedBy"] as? String == "kernel")
            #expect(transferred["actorGroups"] as? [String] == [node.evidence])
            #expect(transferred["reason"] as? String == "trial" && transferred["examiner"] as? String == "王小明")

            // Never over a file: a second transfer to the same name is refused, nothing recorded.
            let again = try node.custos(
                as: alice, ["transfer", node.item, "--to", Self.recipient, "--reason", "trial", "-o", file])
            #expect(again.status == 2 && again.stderr.contains("already exists"), "\(again.stderr)")
            #expect(try node.history(as: alice).count == events.count)

            // The node the items are handed to receives the file as written by the socket's path.
            let receiver = try Node(origin: Self.recipient)
            let key = try node.custos(as: alice, ["key"])
            #expect(key.status == 0, "\(key.stderr)")
            let keyFile = try receiver.directory.write("sender.vkey", key.stdout)
            let added = try receiver.custos(["peer", "add", keyFile])
            #expect(added.status == 0, "\(added.stderr)")
            let received = try receiver.custos(["receive", file, "--reason", "trial"])
            #expect(received.status == 0, "\(received.stderr)")
            #expect(received.output.contains("received \(node.item) entry 0"), "\(received.output)")
            let verified = try receiver.verify()
            #expect(verified.status == 0, "\(verified.output) \(verified.stderr)")
        }

        @Test func aTransferOutsideTheRoleIsRefusedAndRecorded() throws {
            let node = try ServiceNode()
            let carol = try node.accounts.user("carol", groups: [node.evidence])
            let out = node.folder(of: carol, "carol-out")
            let result = try node.custos(
                as: carol, ["transfer", node.item, "--to", Self.recipient, "--reason", "curious", "-o", out + "/h.tar"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("may not transfer"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
            let refused = try #require(try node.history(as: carol).last)
            #expect(refused["event"] as? String == "refused" && refused["actor"] as? String == carol)
            #expect((refused["facts"] as? [String: Any])?["action"] as? String == "transfer")
            #expect(refused["actorVerifiedBy"] as? String == "kernel")
        }

        @Test func anAlteredArchiveRefusesTheTransferThroughTheSocketBeforeAnythingIsRecorded() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, transfer]", evidenceBytes: 1 << 20)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let archive = try node.archivePath()
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
            bytes[bytes.count / 2] ^= 0x55
            try Data(bytes).write(to: URL(fileURLWithPath: archive))
            let before = try node.history(as: alice).count
            let out = node.folder(of: alice, "alice-out")
            let result = try node.custos(
                as: alice, ["transfer", node.item, "--to", Self.recipient, "--reason", "trial", "-o", out + "/h.tar"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("the archive of item \(node.item)"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty, "no file, no temporary")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: node.vault + "/tmp")) ?? []).isEmpty)
            #expect(try node.history(as: alice).count == before, "nothing recorded")
        }

        /// A client that goes away mid-stream: the transfer stands recorded (it is recorded before
        /// a byte is sent), the daemon removes its temporary, no file takes the name, and the
        /// daemon goes on serving.
        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
        func aClientGoneMidStreamLeavesNoFileAndTheDaemonGoesOn() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, transfer]", evidenceBytes: 32 << 20)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let script = """
                import socket, sys
                body = ('{"items":["%s"],"output":{"utf8":"/nowhere/handover.tar"},"reason":"trial","to":"%s"}'
                        % (sys.argv[2], sys.argv[3])).encode()
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                s.sendall(b"POST /v1/transfer HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json\\r\\n"
                          + b"Content-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body) + body)
                got = 0
                while got < (1 << 20):
                    chunk = s.recv(65536)
                    if not chunk: break
                    got += len(chunk)
                print(got)
                s.close()
                """
            let partial = try runAs(alice, "/usr/bin/python3", ["-c", script, node.socket, node.item, Self.recipient])
            #expect(
                partial.status == 0
                    && (Int(partial.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 1 << 20,
                "\(partial.output) \(partial.stderr)")
            let transferred = try #require(try node.history(as: alice).last)
            #expect(transferred["event"] as? String == "transferred" && transferred["actor"] as? String == alice)
            #expect(
                waitUntil(timeout: 30) {
                    ((try? FileManager.default.contentsOfDirectory(atPath: node.vault + "/tmp")) ?? []).isEmpty
                }, "the daemon removes the handover it built")
            #expect(!FileManager.default.fileExists(atPath: "/nowhere/handover.tar"))
            #expect(
                waitUntil(timeout: 30) { node.daemon?.log.contains("a recorded handover was not delivered") == true },
                "the daemon stopped sending when the client went away: \(node.daemon?.log ?? "")")
            // The daemon goes on: a new transfer makes a new handover, written whole.
            let out = node.folder(of: alice, "alice-out")
            let result = try node.custos(
                as: alice, ["transfer", node.item, "--to", Self.recipient, "--reason", "trial", "-o", out + "/h.tar"])
            #expect(result.status == 0, "\(result.stderr) \(node.daemon?.log ?? "")")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["h.tar"])
            #expect(node.daemon?.isRunning == true)
        }
    }
}
