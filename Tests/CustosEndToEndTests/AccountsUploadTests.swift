import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// `ingest` and `receive` through the daemon's socket: the caller's own file, which the
    /// service account cannot read, is the request's body; the daemon records the caller the
    /// kernel names.
    @Suite(
        "people seal and receive through the daemon as the kernel names them", .serialized,
        .enabled(if: isRoot, "makes accounts and groups with useradd and groupadd (CI runs as root)"))
    struct AccountsUploadTests {
        /// A file of `user`'s own, in a folder of theirs (0700): the service account cannot read it.
        static func ownFile(_ node: ServiceNode, of user: String, _ bytes: [UInt8]) throws -> String {
            let folder = node.folder(of: user, "own-\(user)")
            let path = folder + "/seized phone.img"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            chown(path, getpwnam(user)!.pointee.pw_uid, getpwnam(user)!.pointee.pw_gid)
            chmod(path, 0o600)
            return path
        }

        /// The upload temporaries in the vault's tmp/.
        static func uploadsLeft(_ node: ServiceNode) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: node.vault + "/tmp")) ?? []).filter {
                $0.contains("upload-")
            }
        }

        @Test func aMemberWithTheDropRoleSealsTheirOwnFileThroughTheSocket() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, drop]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let bytes = randomBytes(3_000_000)
            let file = try Self.ownFile(node, of: alice, bytes)
            let sealed = try node.custos(
                as: alice, ["ingest", file, "--case", "2026-偵-12", "--exhibit", "E-2", "--examiner", "王小明"])
            #expect(sealed.status == 0, "\(sealed.stderr)")
            let sha256 = try run("sha256sum", [file]).output.split(separator: " ").first.map(String.init) ?? "?"
            #expect(sealed.output.contains("sha256 \(sha256) \(file)"), "\(sealed.output)")
            #expect(sealed.output.contains("checkpoint size "))
            let item = String(sealed.output.split(separator: " ").dropFirst().first ?? "")

            let history = try node.custos(as: alice, ["history", "--json", item])
            let events = (try JSONSerialization.jsonObject(with: Data(history.stdout)) as? [[String: Any]]) ?? []
            let seal = try #require(events.first)
            #expect(seal["event"] as? String == "sealed" && seal["actor"] as? String == alice, "\(seal)")
            #expect(seal["actorVerifiedBy"] as? String == "kernel")
            #expect(seal["actorGroups"] as? [String] == [node.evidence])
            let timeline = try node.custos(as: alice, ["history", item])
            #expect(
                timeline.output.contains("sealed  by \(alice) [verified by the kernel; role of \(node.evidence)]"),
                "\(timeline.output)")

            // The manifest keeps the file as alice's fstat declared it, and who sent it.
            let shown = try node.custos(as: alice, ["show", "--json", item])
            let json = try JSONSerialization.jsonObject(with: Data(shown.stdout))
            let item0 = try #require((json as? [[String: Any]])?.first ?? json as? [String: Any], "\(shown.output)")
            let manifest = try #require(item0["manifest"] as? [String: Any])
            let original = try #require(manifest["original"] as? [String: Any])
            // Declared by its folder's real path (the test's folder is named with a doubled slash).
            let canonical = file.replacingOccurrences(of: "//", with: "/")
            #expect((original["path"] as? [String: Any])?["utf8"] as? String == canonical)
            #expect(original["uid"] as? Int == Int(getpwnam(alice)!.pointee.pw_uid))
            #expect(original["mode"] as? String == "0600")
            let text = try node.custos(as: alice, ["show", item]).output
            #expect(text.contains("declared:    by \(alice) (uid "), "\(text)")
            let upload = try #require(manifest["upload"] as? [String: Any])
            #expect(upload["account"] as? String == alice && upload["via"] as? String == "socket")
            #expect(Self.uploadsLeft(node).isEmpty, "the upload's temporary is removed")
            // The daemon's verification re-hashes the archive it made of alice's bytes.
            let verified = try node.custos(as: alice, ["verify"])
            #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        }

        @Test func aFolderIsSealedFileByFileUnderOneCheckpoint() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, drop]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let folder = node.folder(of: alice, "photos-alice")
            for index in 0..<3 {
                let path = folder + "/photo-\(index).jpg"
                try Data(randomBytes(10_000)).write(to: URL(fileURLWithPath: path))
                chown(path, getpwnam(alice)!.pointee.pw_uid, getpwnam(alice)!.pointee.pw_gid)
            }
            let sealed = try node.custos(as: alice, ["ingest", folder, "--case", "2026-偵-13"])
            #expect(sealed.status == 0, "\(sealed.stderr)")
            let lines = sealed.output.split(separator: "\n")
            #expect(lines.filter { $0.hasPrefix("sealed ") }.count == 3, "\(sealed.output)")
            #expect(lines.filter { $0.hasPrefix("checkpoint size ") }.count == 1, "one checkpoint for the run")
            #expect(lines.last?.hasPrefix("checkpoint size ") == true)
        }

        @Test func anIngestOutsideTheRoleIsRefusedBeforeItsBytesAndRecorded() throws {
            let node = try ServiceNode()  // the default roles: no drop
            let bob = try node.accounts.user("bob", groups: [node.evidence])
            let file = try Self.ownFile(node, of: bob, randomBytes(5_000_000))
            let before = try node.custos(as: bob, ["list", "--json"]).stdout
            let result = try node.custos(as: bob, ["ingest", file, "--case", "2026-偵-12"])
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains("may not drop"), "\(result.stderr)")
            #expect(try node.custos(as: bob, ["list", "--json"]).stdout == before, "nothing was sealed")
            let refused = try #require(try node.history(as: bob).last)
            #expect(refused["event"] as? String == "refused" && refused["actor"] as? String == bob)
            #expect((refused["facts"] as? [String: Any])?["action"] as? String == "drop")
            #expect(Self.uploadsLeft(node).isEmpty)
        }

        @Test func anUploadCutShortKeepsNothingAndTheDaemonGoesOn() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, drop]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let before = try node.custos(as: alice, ["list", "--json"]).stdout
            // Half of an announced body, then the connection closed (a client killed mid-way).
            let arguments = Data(
                """
                {"case":"C","original":{"path":{"utf8":"/tmp/x.bin"},"size":1000000,"mode":33188,"uid":0,"gid":0,"inode":1,"device":1,"links":1,"mtime":[1,0],"ctime":[1,0],"atime":[1,0]}}
                """.utf8
            ).base64EncodedString()
            let script = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                s.sendall(b"POST /v1/ingest HTTP/1.1\\r\\nHost: x\\r\\nCustos-Arguments: " + sys.argv[2].encode() + b"\\r\\nContent-Length: 1000000\\r\\n\\r\\n" + b"x" * 500000)
                s.close()
                """
            let cut = try runAs(alice, try #require(systemPython), ["-c", script, node.socket, arguments])
            #expect(cut.status == 0, "\(cut.stderr)")
            #expect(waitUntil(timeout: 30) { Self.uploadsLeft(node).isEmpty }, "the temporary is removed")
            #expect(try node.custos(as: alice, ["list", "--json"]).stdout == before, "nothing was sealed")
            // An upload larger than the room left in the vault (900 GiB announced): refused before
            // its body, nothing kept. The daemon answers and closes while the body may still be
            // on its way: the write is then cut short (EPIPE), and the answer read all the same,
            // as custos's own client does.
            let huge = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                try:
                    s.sendall(b"POST /v1/ingest HTTP/1.1\\r\\nHost: x\\r\\nCustos-Arguments: " + sys.argv[2].encode() + b"\\r\\nContent-Length: 966367641600\\r\\n\\r\\n" + b"x" * 100000)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                answer = b""
                while True:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:
                        break
                    if not chunk: break
                    answer += chunk
                sys.stdout.write(answer.decode())
                """
            let full = try runAs(alice, try #require(systemPython), ["-c", huge, node.socket, arguments])
            #expect(full.output.hasPrefix("HTTP/1.1 413") && full.output.contains("MiB free"), "\(full.output)")
            // A file that is not regular, and a path that is not absolute: bad requests, nothing kept.
            let relative = Data(
                """
                {"original":{"path":{"utf8":"x.bin"},"size":1,"mode":33188,"uid":0,"gid":0,"inode":1,"device":1,"links":1,"mtime":[1,0],"ctime":[1,0],"atime":[1,0]}}
                """.utf8
            ).base64EncodedString()
            let bad = try runAs(
                alice, "curl",
                [
                    "-sS", "--unix-socket", node.socket, "-H", "Custos-Arguments: \(relative)", "--data-binary", "x",
                    "http://localhost/v1/ingest",
                ])
            #expect(bad.output.contains("bad-request") && bad.output.contains("absolute"), "\(bad.output)")
            // The daemon goes on: alice's own file is sealed after.
            let file = try Self.ownFile(node, of: alice, randomBytes(1000))
            let sealed = try node.custos(as: alice, ["ingest", file])
            #expect(sealed.status == 0, "\(sealed.stderr)")
            #expect(Self.uploadsLeft(node).isEmpty)
        }

        @Test func aMemberWithTheTransferRoleReceivesAHandoverThroughTheSocket() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, transfer]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let (id, file) = try node.handoverFromAnotherNode(for: alice)

            let received = try node.custos(as: alice, ["receive", file, "--reason", "for the trial"])
            #expect(received.status == 0, "\(received.stderr)")
            #expect(
                received.output.contains("received \(id) entry") && received.output.contains("from sender.example.tw"),
                "\(received.output)")
            let history = try node.custos(as: alice, ["history", "--json", id])
            let events = (try JSONSerialization.jsonObject(with: Data(history.stdout)) as? [[String: Any]]) ?? []
            let event = try #require(events.first { $0["event"] as? String == "received" })
            #expect(event["actor"] as? String == alice && event["actorVerifiedBy"] as? String == "kernel")
            #expect(Self.uploadsLeft(node).isEmpty)
            // The same file again: refused (already here), named as alice named it.
            let again = try node.custos(as: alice, ["receive", file])
            #expect(
                again.status == 2 && again.stderr.contains(file.replacingOccurrences(of: "//", with: "/")),
                "\(again.stderr)")

        }
    }
}
