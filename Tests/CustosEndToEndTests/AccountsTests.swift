import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// Accounts and groups made for one test with `groupadd` and `useradd` (the tests run as root in
/// CI), removed when it is done.
final class SystemAccounts: @unchecked Sendable {
    let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    private(set) var users = [String]()
    private(set) var groups = [String]()

    /// A group named `ct<label>-<tag>`.
    func group(_ label: String) throws -> String {
        let name = "ct\(label)-\(tag)"
        let result = try run("groupadd", [name])
        #expect(result.status == 0, "groupadd \(name): \(result.stderr)")
        groups.append(name)
        return name
    }

    /// A user named `ct<label>-<tag>` with its own group and the supplementary `groups`.
    func user(_ label: String, groups supplementary: [String] = []) throws -> String {
        let name = "ct\(label)-\(tag)"
        var arguments = ["--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"]
        if !supplementary.isEmpty { arguments += ["--groups", supplementary.joined(separator: ",")] }
        let result = try run("useradd", arguments + [name])
        #expect(result.status == 0, "useradd \(name): \(result.stderr)")
        users.append(name)
        return name
    }

    deinit {
        for user in users { _ = try? run("userdel", [user]) }
        for group in groups { _ = try? run("groupdel", [group]) }
    }
}

/// Runs the command as `user`, with that user's groups (`setpriv`, as a login would give them).
@discardableResult
func runAs(_ user: String, _ program: String, _ arguments: [String], environment: [String: String] = [:]) throws
    -> CommandResult
{
    try run(
        "setpriv", ["--reuid=\(user)", "--regid=\(user)", "--init-groups", "--", program] + arguments,
        environment: environment)
}

/// A node run as a bureau runs one: the vault belongs to a service account and is closed to
/// everyone else; its daemon listens on a socket of the `evidence`-like group; people act
/// through it as themselves.
final class ServiceNode: @unchecked Sendable {
    let accounts = SystemAccounts()
    let directory = TemporaryDirectory("accounts")
    let service: String
    let evidence: String
    let custodians: String
    let approvers: String
    let binary: String
    let vault: String
    let socket: String
    var daemon: BackgroundProcess?
    var item = ""
    /// The sealed original's bytes.
    var original = [UInt8]()

    /// `roles` (YAML lines, `EVIDENCE` standing for the socket's group) replaces the default
    /// policy; `evidenceBytes`, when not 0, makes the sealed original that many random bytes.
    init(roles: String? = nil, evidenceBytes: Int = 0) throws {
        evidence = try accounts.group("evid")
        // The service account is a member of the socket's group (it gives the socket that group).
        service = try accounts.user("svc", groups: [evidence])
        custodians = try accounts.group("hold")
        approvers = try accounts.group("appr")
        // Everyone may enter the test's folder and run the binary; the vault inside is the
        // service account's alone.
        chmod(directory.path, 0o755)
        binary = directory.file("custos")
        // A copy by another process: a descriptor of ours open for writing could be inherited by a
        // child another test spawns meanwhile, and the copy then not executed ("text file busy").
        let copied = try run("cp", [custosBinary, binary])
        #expect(copied.status == 0, "\(copied.stderr)")
        chmod(binary, 0o755)
        // The service account's own folders: the vault's parent, and the socket's.
        let serviceUID = getpwnam(service)!.pointee.pw_uid
        let serviceGID = getpwnam(service)!.pointee.pw_gid
        let home = directory.file("srv")
        let runFolder = directory.file("run")
        for folder in [home, runFolder] {
            mkdir(folder, 0o755)
            chown(folder, serviceUID, serviceGID)
        }
        vault = home + "/vault"
        socket = runFolder + "/custos/custos.sock"
        let created = try runAs(
            service, binary, ["init", "--vault", vault, "--origin", "accounts.example.tw/evidence"])
        #expect(created.status == 0, "init: \(created.stderr)")
        let configuration = """
            socket: \(socket)
            socket-group: \(evidence)
            settle-seconds: 0.3
            checkpoint-seconds: 0.5
            roles:
            \(roles?.replacingOccurrences(of: "EVIDENCE", with: evidence) ?? "  \(evidence): [view, annotate, extract]\n  \(custodians): [hold, dispose]\n  \(approvers): [approve]")
            """
        let file = try directory.write("custos-daemon.yaml", configuration)
        chmod(file, 0o644)
        let evidenceFile = directory.file("phone.img")
        original =
            evidenceBytes == 0
            ? Array("the seized phone's bytes".utf8)
            : [UInt8](FileHandle(forReadingAtPath: "/dev/urandom")!.readData(ofLength: evidenceBytes))
        try Data(original).write(to: URL(fileURLWithPath: evidenceFile))
        chmod(evidenceFile, 0o644)
        let sealed = try runAs(service, binary, ["ingest", "--vault", vault, "--case", "2026-偵-11", evidenceFile])
        #expect(sealed.status == 0, "ingest: \(sealed.stderr)")
        item = String(sealed.output.split(separator: " ").dropFirst().first ?? "")
        daemon = try BackgroundProcess(
            "setpriv",
            [
                "--reuid=\(service)", "--regid=\(service)", "--init-groups", "--", binary, "daemon", "--vault", vault,
                "--config", file,
            ],
            logPath: directory.file("daemon.log"))
        #expect(
            waitUntil(timeout: 30) { FileManager.default.fileExists(atPath: self.socket) || !self.daemon!.isRunning },
            "\(daemon!.log)")
    }

    /// `custos <arguments> --socket <socket>` as `user`.
    @discardableResult
    func custos(as user: String, _ arguments: [String]) throws -> CommandResult {
        try runAs(user, binary, [arguments[0], "--socket", socket] + arguments.dropFirst())
    }

    /// The item's events as `history --json` gives them to `user`.
    func history(as user: String) throws -> [[String: Any]] {
        let result = try custos(as: user, ["history", "--json", item])
        #expect(result.status == 0, "history: \(result.stderr)")
        return (try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [[String: Any]]) ?? []
    }

    /// A new folder of `user`'s own (mode 0700) in the test's folder.
    func folder(of user: String, _ label: String) -> String {
        let path = directory.file(label)
        mkdir(path, 0o700)
        chown(path, getpwnam(user)!.pointee.pw_uid, getpwnam(user)!.pointee.pw_gid)
        return path
    }

    /// Another bureau's node (a vault of root's own) hands an item over to this one: `user` gets
    /// the handover file in a folder of their own (mode 0600, theirs), and the service account
    /// knows the sender's key. Returns the item's id and the file.
    func handoverFromAnotherNode(for user: String) throws -> (item: String, file: String) {
        let sender = try Node(origin: "sender.example.tw/evidence")
        let evidence = try sender.directory.write("in/disk.bin", randomBytes(200_000))
        #expect(try sender.custos(["ingest", "--case", "C-9", evidence]).status == 0)
        let id = try #require(try sender.items().first?["item"] as? String)
        let handover = sender.directory.file("handover.tar")
        let made = try sender.custos([
            "transfer", id, "--to", "accounts.example.tw/evidence", "--reason", "trial", "-o", handover,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        // The service account knows the sender's key.
        let key = try directory.write("sender.vkey", try sender.custos(["key"]).stdout)
        chmod(key, 0o644)
        let added = try runAs(service, binary, ["peer", "add", "--vault", vault, key])
        #expect(added.status == 0, "\(added.stderr)")
        // The user has the file in a folder of their own; the service account cannot read it.
        let file = folder(of: user, "in-\(user)") + "/handover.tar"
        #expect(try run("cp", [handover, file]).status == 0)
        chown(file, getpwnam(user)!.pointee.pw_uid, getpwnam(user)!.pointee.pw_gid)
        chmod(file, 0o600)
        return (id, file)
    }

    /// The path of the item's archive in the vault.
    func archivePath() throws -> String {
        let hash = Hex.encode(original.withUnsafeBytes { MessageDigest.digest(.sha256, $0) })
        let folder = "\(vault)/objects/\(hash.prefix(2))"
        let name = try #require(
            try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasPrefix(hash) })
        return "\(folder)/\(name)"
    }

    deinit {
        daemon?.signal(SIGTERM)
        _ = daemon?.wait(timeout: 60)
    }
}

extension DaemonSuites {
    @Suite(
        "people act through the daemon as the kernel names them", .serialized,
        .enabled(if: isRoot, "makes accounts and groups with useradd and groupadd (CI runs as root)"))
    struct AccountsTests {
        @Test func theVaultIsTheServiceAccountsAndTheActorIsTheKernels() throws {
            let node = try ServiceNode()
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            // The vault is closed to alice: she reads it only through the daemon.
            let direct = try runAs(alice, node.binary, ["list", "--vault", node.vault])
            #expect(direct.status == 2 && direct.stderr.contains("/run/custos/custos.sock"), "\(direct.stderr)")
            let shown = try node.custos(as: alice, ["show", node.item])
            #expect(shown.status == 0 && shown.output.contains("2026-偵-11"), "\(shown.stderr)")
            let noted = try node.custos(
                as: alice, ["annotate", node.item, "--note", "bag 7 sealed", "--examiner", "王小明"])
            #expect(noted.status == 0, "\(noted.stderr)")
            let events = try node.history(as: alice)
            let annotated = try #require(events.last)
            #expect(annotated["event"] as? String == "annotated" && annotated["actor"] as? String == alice)
            #expect(annotated["actorVerifiedBy"] as? String == "kernel")
            #expect(annotated["actorGroups"] as? [String] == [node.evidence])
            #expect(annotated["examiner"] as? String == "王小明")
            #expect(events.first?["actorVerifiedBy"] as? String == "process", "ingest by the service account itself")
            let text = try node.custos(as: alice, ["history", node.item])
            #expect(
                text.output.contains("annotated  by \(alice) [verified by the kernel; role of \(node.evidence)]"),
                "\(text.output)")
        }

        @Test func aCallerOutsideTheGroupIsRefusedByTheSocket() throws {
            let node = try ServiceNode()
            let eve = try node.accounts.user("eve")
            let result = try node.custos(as: eve, ["list"])
            #expect(result.status == 2)
            #expect(
                result.stderr.contains(node.socket) && result.stderr.contains("permission denied"), "\(result.stderr)")
        }

        @Test func anActionOutsideTheRoleIsRefusedAndRecorded() throws {
            let node = try ServiceNode()
            let carol = try node.accounts.user("carol", groups: [node.evidence])
            let result = try node.custos(as: carol, ["hold", node.item, "--reason", "not mine to hold"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("refused") && result.stderr.contains("may not hold"), "\(result.stderr)")
            let refused = try #require(try node.history(as: carol).last)
            #expect(refused["event"] as? String == "refused" && refused["actor"] as? String == carol)
            #expect((refused["facts"] as? [String: Any])?["action"] as? String == "hold")
            #expect(refused["actorVerifiedBy"] as? String == "kernel")
        }

        @Test func anActorNamedInTheRequestIsIgnored() throws {
            let node = try ServiceNode()
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let body = "{\"item\":\"\(node.item)\",\"note\":\"from curl\",\"actor\":\"mallory\",\"account\":\"root\"}"
            let result = try runAs(
                alice, "curl",
                [
                    "-sS", "--unix-socket", node.socket, "-H", "X-Custos-Actor: mallory", "-H", "X-Remote-User: root",
                    "-d", body, "http://localhost/v1/annotate",
                ])
            #expect(result.status == 0 && result.output.contains("\"entries\""), "\(result.output) \(result.stderr)")
            let annotated = try #require(try node.history(as: alice).last)
            #expect(annotated["actor"] as? String == alice && annotated["note"] as? String == "from curl")
        }

        @Test func aDisposalNeedsASecondAccountAndRespectsHoldsAndRetention() throws {
            let node = try ServiceNode()
            let alice = try node.accounts.user("alice", groups: [node.evidence, node.custodians])
            let bob = try node.accounts.user("bob", groups: [node.evidence, node.approvers])
            // Under hold: refused.
            #expect(try node.custos(as: alice, ["hold", node.item, "--reason", "court order 7"]).status == 0)
            let underHold = try node.custos(as: alice, ["dispose", node.item, "--mode", "destroy", "--reason", "done"])
            #expect(underHold.status == 2 && underHold.stderr.contains("hold"), "\(underHold.stderr)")
            #expect(try node.custos(as: alice, ["release-hold", node.item, "--reason", "order lifted"]).status == 0)
            // The requester cannot approve; a second account can, once.
            let requested = try node.custos(
                as: alice, ["dispose", node.item, "--mode", "destroy", "--reason", "case closed", "--json"])
            #expect(requested.status == 0, "\(requested.stderr)")
            let request = try #require(
                (try JSONSerialization.jsonObject(with: Data(requested.stdout)) as? [String: Any])?["request"]
                    as? String)
            // The approver reads the request first: its items, mode, requester and reason.
            let shown = try node.custos(as: bob, ["approve", request, "--show"])
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(
                shown.output.contains("requested by \(alice)") && shown.output.contains("reason: case closed")
                    && shown.output.contains(node.item) && shown.output.contains("destroy, pending"), "\(shown.output)")
            let byRequester = try node.custos(as: alice, ["approve", request])
            #expect(byRequester.status == 2, "\(byRequester.output)")
            let byBob = try node.custos(as: bob, ["approve", request])
            #expect(byBob.status == 0, "\(byBob.stderr)")
            let again = try node.custos(as: bob, ["approve", request])
            #expect(again.status == 2 && again.stderr.contains(request), "\(again.stderr)")
            let events = try node.history(as: bob).map { ($0["event"] as? String ?? "", $0["actor"] as? String ?? "") }
            #expect(
                events.contains { $0 == ("disposed", bob) } && events.contains { $0 == ("disposal-requested", alice) })
            // verify still proves every entry and knows the item is destroyed.
            let verify = try node.custos(as: bob, ["verify"])
            #expect(verify.status == 0, "\(verify.output) \(verify.stderr)")
        }

        @Test func aMemberExtractsThroughTheSocketIntoTheirOwnFolder() throws {
            let node = try ServiceNode(evidenceBytes: 3 << 20 + 12345)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-out")
            let result = try node.custos(
                as: alice, ["extract", node.item, "-o", out, "--reason", "court order 12", "--examiner", "王小明"])
            #expect(result.status == 0, "\(result.stderr)")
            let sealed = Hex.encode(node.original.withUnsafeBytes { MessageDigest.digest(.sha256, $0) })
            #expect(
                result.output.contains("extracted item \(node.item) as phone.img: sha256 \(sealed)"), "\(result.output)"
            )
            // The file is the sealed original, alice's, 0600; nothing else is left in the folder.
            let file = out + "/phone.img"
            let summed = try run("sha256sum", [file])
            #expect(summed.output.hasPrefix(sealed), "\(summed.output)")
            var status = stat()
            #expect(stat(file, &status) == 0)
            #expect(status.st_uid == getpwnam(alice)!.pointee.pw_uid && status.st_mode & 0o7777 == 0o600)
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["phone.img"])
            // Recorded for alice, as the kernel named her, with what the direct path records.
            let extracted = try #require(try node.history(as: alice).last)
            #expect(extracted["event"] as? String == "extracted" && extracted["actor"] as? String == alice)
            #expect(extracted["actorVerifiedBy"] as? String == "kernel" && extracted["result"] as? String == "ok")
            #expect(extracted["reason"] as? String == "court order 12" && extracted["examiner"] as? String == "王小明")
            #expect((extracted["facts"] as? [String: Any])?["sha256"] as? String == sealed, "\(extracted)")
            let text = try node.custos(as: alice, ["history", node.item])
            #expect(
                text.output.contains("extracted  by \(alice) [verified by the kernel; role of \(node.evidence)]"),
                "\(text.output)")
            // The details document keeps the folder as alice named it, and the name.
            let entry = try #require(extracted["entry"] as? Int)
            let shown = try node.custos(as: alice, ["entry", "\(entry)", "--json"])
            if shown.status == 0 {
                #expect(shown.output.contains(out) && shown.output.contains("phone.img"), "\(shown.output)")
            }
        }

        @Test func anExtractionOutsideTheRoleIsRefusedAndRecorded() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, annotate]")
            let carol = try node.accounts.user("carol", groups: [node.evidence])
            let out = node.folder(of: carol, "carol-out")
            let result = try node.custos(as: carol, ["extract", node.item, "-o", out, "--reason", "curious"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("may not extract"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
            let refused = try #require(try node.history(as: carol).last)
            #expect(refused["event"] as? String == "refused" && refused["actor"] as? String == carol)
            #expect((refused["facts"] as? [String: Any])?["action"] as? String == "extract")
            #expect(refused["actorVerifiedBy"] as? String == "kernel")
        }

        @Test func anExtractionThroughTheSocketNeverOverwritesAFile() throws {
            let node = try ServiceNode()
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-out")
            let mine = out + "/phone.img"
            #expect(try runAs(alice, "sh", ["-c", "printf mine > '\(mine)'"]).status == 0)
            let before = try node.history(as: alice).count
            let result = try node.custos(as: alice, ["extract", node.item, "-o", out, "--reason", "court"])
            #expect(result.status == 2)
            #expect(
                result.stderr.contains("exists") && result.stderr.contains("nothing was written"), "\(result.stderr)")
            #expect(try String(contentsOfFile: mine, encoding: .utf8) == "mine")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["phone.img"])
            #expect(try node.history(as: alice).count == before, "nothing recorded")
        }

        @Test(.enabled(if: haveProgram("openssl")))
        func aMemberExportsTimeStampsThroughTheSocketIntoTheirOwnFolder() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, export]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-tokens")
            let result = try node.custos(
                as: alice,
                ["timestamp", "export", node.item, "-o", out, "--reason", "for the court", "--examiner", "王小明"])
            #expect(result.status == 0, "\(result.stderr)")
            // The files are alice's, 0600; no temporary is left.
            let names = ["\(node.item)-1.tsr", "tsa-chain.pem", "VERIFY.txt"]
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out)) == Set(names))
            for name in names {
                var status = stat()
                #expect(stat(out + "/" + name, &status) == 0)
                #expect(
                    status.st_uid == getpwnam(alice)!.pointee.pw_uid && status.st_mode & 0o7777 == 0o600, "\(name)")
            }
            // VERIFY.txt says how to check the token with the exported anchors; openssl agrees.
            let verify = try String(contentsOfFile: out + "/VERIFY.txt", encoding: .utf8)
            #expect(result.output == verify)
            let command = try #require(
                verify.split(separator: "\n").first { $0.hasPrefix("openssl ts -verify -digest") })
            let checked = try run("openssl", command.split(separator: " ").dropFirst().map(String.init), directory: out)
            #expect(checked.output.contains("Verification: OK"), "\(checked.output) \(checked.stderr)")
            // Recorded for alice, as the kernel named her, with what the direct path records.
            let exported = try #require(try node.history(as: alice).last)
            #expect(exported["event"] as? String == "exported" && exported["actor"] as? String == alice)
            #expect(exported["actorVerifiedBy"] as? String == "kernel")
            #expect(exported["reason"] as? String == "for the court" && exported["examiner"] as? String == "王小明")
            #expect((exported["facts"] as? [String: Any])?["what"] as? String == "timestamps", "\(exported)")
            let text = try node.custos(as: alice, ["history", node.item])
            #expect(
                text.output.contains("exported  by \(alice) [verified by the kernel; role of \(node.evidence)]"),
                "\(text.output)")
        }

        @Test(.enabled(if: haveProgram("openssl")))
        func aMemberMakesAReportThroughTheSocketIntoTheirOwnFolder() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, report]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-report")
            let result = try node.custos(
                as: alice,
                ["report", node.item, "-o", out + "/r.json", "--reason", "for the court", "--examiner", "王小明"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.output.hasPrefix("PASS item \(node.item)"), "\(result.output)")
            // The files are alice's, 0600; no temporary is left.
            // PDF and JSON by default, each with its signature.
            let names: Set = ["r.pdf", "r.pdf.p7s", "r.json", "r.json.p7s"]
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out)) == names)
            for name in names {
                var status = stat()
                #expect(stat(out + "/" + name, &status) == 0)
                #expect(
                    status.st_uid == getpwnam(alice)!.pointee.pw_uid && status.st_mode & 0o7777 == 0o600, "\(name)")
            }
            let checked = try run(
                "openssl",
                [
                    "cms", "-verify", "-binary", "-content", out + "/r.json", "-in", out + "/r.json.p7s", "-inform",
                    "DER", "-CAfile", node.vault + "/report/chain.pem", "-out", "/dev/null",
                ])
            #expect(checked.status == 0, "\(checked.stderr)")
            let pdfChecked = try run(
                "openssl",
                [
                    "cms", "-verify", "-binary", "-content", out + "/r.pdf", "-in", out + "/r.pdf.p7s", "-inform",
                    "DER", "-CAfile", node.vault + "/report/chain.pem", "-out", "/dev/null",
                ])
            #expect(pdfChecked.status == 0, "\(pdfChecked.stderr)")
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/r.json")))
                    as? [String: Any])
            let actor = try #require(report["actor"] as? [String: Any])
            #expect(actor["account"] as? String == alice && actor["verifiedBy"] as? String == "kernel")
            #expect(actor["examiner"] as? String == "王小明")
            // Recorded for alice, as the kernel named her, with the file's SHA-256.
            let reported = try #require(try node.history(as: alice).last)
            #expect(reported["event"] as? String == "reported" && reported["actor"] as? String == alice)
            #expect(reported["actorVerifiedBy"] as? String == "kernel")
            #expect(reported["reason"] as? String == "for the court")
            #expect(
                ((reported["facts"] as? [String: Any])?["files"] as? [String: Any])?["json"] as? String
                    == (try sha256sum(out + "/r.json")))
            #expect(
                ((reported["facts"] as? [String: Any])?["files"] as? [String: Any])?["pdf"] as? String
                    == (try sha256sum(out + "/r.pdf")))
        }

        @Test func aReportOutsideTheRoleIsRefusedAndRecorded() throws {
            let node = try ServiceNode()
            let carol = try node.accounts.user("carol", groups: [node.evidence])
            let out = node.folder(of: carol, "carol-report")
            let result = try node.custos(
                as: carol, ["report", node.item, "-o", out + "/r.json", "--reason", "curious"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("may not report"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
            let refused = try #require(try node.history(as: carol).last)
            #expect(refused["event"] as? String == "refused" && refused["actor"] as? String == carol)
            #expect((refused["facts"] as? [String: Any])?["action"] as? String == "report")
        }

        @Test func aReportOnAnAlteredArchiveThroughTheSocketSaysFailFirstAndExitsOne() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, report]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let archive = try node.archivePath()
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
            bytes[bytes.count / 2] ^= 0x55
            try Data(bytes).write(to: URL(fileURLWithPath: archive))
            let out = node.folder(of: alice, "alice-report")
            let result = try node.custos(as: alice, ["report", node.item, "-o", out + "/r.json", "--reason", "court"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.output.hasPrefix("FAIL"), "\(result.output)")
            #expect(FileManager.default.fileExists(atPath: out + "/r.json.p7s"))
            let reported = try #require(try node.history(as: alice).last)
            #expect(reported["event"] as? String == "reported" && reported["result"] as? String == "fail")
        }

        @Test func aTimeStampExportOutsideTheRoleIsRefusedAndRecorded() throws {
            let node = try ServiceNode()
            let carol = try node.accounts.user("carol", groups: [node.evidence])
            let out = node.folder(of: carol, "carol-tokens")
            let result = try node.custos(
                as: carol, ["timestamp", "export", node.item, "-o", out, "--reason", "curious"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("may not export"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty)
            let refused = try #require(try node.history(as: carol).last)
            #expect(refused["event"] as? String == "refused" && refused["actor"] as? String == carol)
            #expect((refused["facts"] as? [String: Any])?["action"] as? String == "export")
            #expect(refused["actorVerifiedBy"] as? String == "kernel")
        }

        @Test func aTimeStampExportThroughTheSocketNeverOverwritesAFile() throws {
            let node = try ServiceNode(roles: "  EVIDENCE: [view, export]")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let out = node.folder(of: alice, "alice-tokens")
            let mine = out + "/VERIFY.txt"
            #expect(try runAs(alice, "sh", ["-c", "printf mine > '\(mine)'"]).status == 0)
            let before = try node.history(as: alice).count
            let result = try node.custos(as: alice, ["timestamp", "export", node.item, "-o", out, "--reason", "court"])
            #expect(result.status == 2)
            #expect(
                result.stderr.contains("\(out)/VERIFY.txt: exists") && result.stderr.contains("nothing was written"),
                "\(result.stderr)")
            #expect(try String(contentsOfFile: mine, encoding: .utf8) == "mine")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["VERIFY.txt"])
            #expect(try node.history(as: alice).count == before, "nothing recorded")
        }

        @Test func anAlteredArchiveIsNotExtractedThroughTheSocketAndIsRecordedAsFailed() throws {
            let node = try ServiceNode(evidenceBytes: 2 << 20)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let archive = try node.archivePath()
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
            bytes[bytes.count / 2] ^= 0x55
            try Data(bytes).write(to: URL(fileURLWithPath: archive))
            let out = node.folder(of: alice, "alice-out")
            let result = try node.custos(as: alice, ["extract", node.item, "-o", out, "--reason", "court"])
            #expect(result.status == 1)
            #expect(
                result.stderr.contains("item \(node.item): not extracted [")
                    && result.stderr.contains("recorded as a failed extraction"), "\(result.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: out).isEmpty, "no file, no temporary left")
            let failed = try #require(try node.history(as: alice).last)
            #expect(failed["event"] as? String == "extracted" && failed["actor"] as? String == alice)
            #expect(failed["result"] as? String == "failed", "\(failed)")
        }

        /// A client that goes away mid-stream: the daemon stops reading, frees its thread, and
        /// records a failed extraction (`not-delivered`): some bytes left the vault.
        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
        func aClientGoneMidStreamIsRecordedAsNotDelivered() throws {
            let node = try ServiceNode(evidenceBytes: 32 << 20)
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let script = """
                import socket, sys
                body = ('{"folder":{"utf8":"/nowhere"},"item":"%s","reason":"court"}' % sys.argv[2]).encode()
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sys.argv[1])
                s.sendall(b"POST /v1/extract HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json\\r\\n"
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
            var last: [String: Any]?
            #expect(
                try waitUntil(timeout: 30) {
                    last = try node.history(as: alice).last
                    return last?["event"] as? String == "extracted"
                }, "\(node.daemon?.log ?? "")")
            #expect(
                last?["actor"] as? String == alice && last?["result"] as? String == "failed",
                "\(String(describing: last))")
            #expect(
                (last?["facts"] as? [String: Any])?["fault"] as? String == "not-delivered",
                "\(String(describing: last))")
        }

        @Test func aDaemonThatIsNotRunningIsNamedWithHowToStartIt() throws {
            let node = try ServiceNode()
            node.daemon?.signal(SIGTERM)
            #expect(node.daemon?.wait(timeout: 60) == 0, "\(node.daemon?.log ?? "")")
            let alice = try node.accounts.user("alice", groups: [node.evidence])
            let result = try node.custos(as: alice, ["list"])
            #expect(result.status == 2)
            #expect(result.stderr.contains(node.socket) && result.stderr.contains("custos daemon"), "\(result.stderr)")
        }
    }
}
