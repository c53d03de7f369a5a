import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// The vault keeps to itself: no inbox may be the vault or lie in its state, nothing in it is
    /// open to other users whatever the umask, and no link inside it is followed.
    @Suite("the vault keeps to itself", .serialized, .timeLimit(.minutes(1)))
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
}

extension DaemonSuites.VaultProtectionTests {
    /// A shell that sets `umask 000` and runs the rest of its arguments.
    static let permissiveUmask = ["sh", "-c", "umask 000; exec \"$0\" \"$@\""]

    /// Every file and folder under `root` (links aside: their mode means nothing) whose mode
    /// opens it to the group or to others, with its mode.
    static func openToOthers(under root: String) -> [String] {
        var found = [String]()
        let enumerator = FileManager.default.enumerator(atPath: root)
        var paths = [root]
        while let relative = enumerator?.nextObject() as? String { paths.append(root + "/" + relative) }
        for path in paths {
            var status = stat()
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT != S_IFLNK else { continue }
            if status.st_mode & 0o077 != 0 { found.append("\(path) \(String(status.st_mode & 0o7777, radix: 8))") }
        }
        return found
    }

    @Test func nothingInAVaultIsOpenToOthersWhateverTheUmask() throws {
        let directory = TemporaryDirectory("e2e-umask")
        let vault = directory.file("vault")
        func custos(_ arguments: [String]) throws -> CommandResult {
            try run(Self.permissiveUmask[0], Array(Self.permissiveUmask.dropFirst()) + [custosBinary] + arguments)
        }
        #expect(try custos(["init", "--vault", vault, "--origin", "umask.example.tw/evidence"]).status == 0)
        let node = Node(existing: vault, directory: directory)
        let input = try directory.write("disk.dd", randomBytes(3000))
        chmod(input, 0o666)
        #expect(try custos(["ingest", "--vault", vault, "--case", "C-1", input]).status == 0)
        // The daemon seals a world-writable file dropped into the inbox and rejects a link.
        try FileManager.default.createDirectory(atPath: node.inbox + "/C-2", withIntermediateDirectories: true)
        writeRaw(Array((node.inbox + "/C-2/photo.jpg").utf8), randomBytes(2000))
        chmod(node.inbox + "/C-2/photo.jpg", 0o666)
        symlink("/etc/passwd", node.inbox + "/C-2/link")
        let daemon = try RunningDaemon(node, prefix: Self.permissiveUmask)
        #expect(try node.waitForItems(2))
        #expect(waitUntil(timeout: 20) { node.entryNames(under: node.inbox).isEmpty })
        #expect(daemon.stop() == 0)
        #expect(try custos(["checkpoint", "--vault", vault]).status == 0)
        #expect(try custos(["verify", "--vault", vault]).status == 0)
        // All but the case folder the test (the dropper) made itself, behind the inbox's 0700.
        #expect(Self.openToOthers(under: vault).filter { !$0.hasPrefix(node.inbox + "/C-2 ") } == [])
        var status = stat()
        #expect(stat(vault, &status) == 0 && status.st_mode & 0o7777 == 0o700)
        #expect(stat(node.sealedFolder + "/C-2/photo.jpg", &status) == 0 && status.st_mode & 0o7777 == 0o400)
    }

    @Test func aGroupMayDropIntoTheInboxAndNothingMore() throws {
        let directory = TemporaryDirectory("e2e-group")
        let vault = directory.file("vault")
        let group = String(cString: getgrgid(getegid())!.pointee.gr_name)
        let made = try run(
            Self.permissiveUmask[0],
            Array(Self.permissiveUmask.dropFirst()) + [
                custosBinary, "init", "--vault", vault, "--origin", "group.example.tw/evidence", "--group", group,
            ])
        #expect(made.status == 0, "\(made.stderr)")
        var status = stat()
        #expect(stat(vault, &status) == 0 && status.st_mode & 0o7777 == 0o750 && status.st_gid == getegid())
        #expect(stat(vault + "/inbox", &status) == 0 && status.st_mode & 0o7777 == 0o2770)
        let others = Self.openToOthers(under: vault).filter { !$0.hasPrefix(vault + " ") && !$0.hasPrefix(vault + "/inbox ") }
        #expect(others == [])
        let refused = try run(custosBinary, ["init", "--vault", directory.file("v2"), "--origin", "x/y", "--group", "no-such-group-here"])
        #expect(refused.status == 2 && refused.stderr.contains("--group no-such-group-here: no such group"))
    }
}

extension DaemonSuites.VaultProtectionTests {
    /// Replaces `path` in the vault by a symbolic link to a copy of it outside.
    static func replaceByLink(_ node: Node, _ relative: String) throws -> String {
        let inside = node.vault + "/" + relative
        let outside = node.directory.file("moved-" + relative.replacingOccurrences(of: "/", with: "-"))
        #expect(try run("mv", [inside, outside]).status == 0)
        #expect(symlink(outside, inside) == 0)
        return outside
    }

    @Test(arguments: [
        ("objects", "is a symbolic link where the vault keeps a folder; refused, not followed"),
        ("ledger.sqlite", "is a symbolic link where the vault keeps a file; refused, not followed"),
        ("keys/node.key", "is a symbolic link where the vault keeps a file; refused, not followed"),
        ("manifests", "is a symbolic link where the vault keeps a folder; refused, not followed"),
        ("tsa", "is a symbolic link where the vault keeps a folder; refused, not followed"),
        ("SHARD", "is a symbolic link where the vault keeps a folder; refused, not followed"),
    ])
    func aLinkInTheVaultIsRefusedNeverFollowed(part: String, reason: String) throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.txt", "a")]).status == 0)
        let item = try node.items()[0]
        let sha256 = item["sha256"] as! String
        let relative = part == "SHARD" ? "objects/\(sha256.prefix(2))" : part
        let outside = try Self.replaceByLink(node, relative)
        for command in [["verify"], ["list"], ["ingest", try node.directory.write("b.txt", "b")], ["checkpoint"]] {
            let result = try node.custos(command)
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(result.stderr.contains(relative) && result.stderr.contains(reason), "\(command): \(result.stderr)")
        }
        // Nothing was written through the link.
        if part == "objects" || part == "SHARD" {
            #expect(try run("find", [outside, "-name", "*.tar.zst", "-newer", node.vault + "/custos.json"]).output.split(separator: "\n").count <= 1)
        }
    }

    @Test func aLinkedSigningKeyIsNamedAsALinkNotAsMissing() throws {
        let node = try Node()
        _ = try Self.replaceByLink(node, "keys/node.key")
        let result = try node.custos(["ingest", try node.directory.write("a.txt", "a")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("symbolic link") && !result.stderr.contains("missing"), "\(result.stderr)")
    }
}

extension DaemonSuites.VaultProtectionTests {
    /// A vault made by an older version (folders 0755, files 0644) is closed to others by the
    /// next command that seals: every folder it keeps and every file at its top.
    @Test func anOlderVaultOpenToOthersIsClosedByTheNextSeal() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.txt", "a")]).status == 0)
        // As an older version left it: folders 0755, the ledger and configuration 0644, archives
        // 0444; the keys were 0600 already (a key open to others is refused, not repaired).
        #expect(try run("find", [node.vault, "-type", "d", "-exec", "chmod", "755", "{}", "+"]).status == 0)
        #expect(try run("chmod", ["644", node.vault + "/ledger.sqlite", node.vault + "/custos.json"]).status == 0)
        #expect(!Self.openToOthers(under: node.vault).isEmpty)
        #expect(try node.custos(["ingest", try node.directory.write("b.txt", "b")]).status == 0)
        var reachable = [String]()
        let top = try FileManager.default.contentsOfDirectory(atPath: node.vault).map { node.vault + "/" + $0 }
        let enumerator = FileManager.default.enumerator(atPath: node.vault)
        var folders = [node.vault]
        while let relative = enumerator?.nextObject() as? String {
            var status = stat()
            if lstat(node.vault + "/" + relative, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
                folders.append(node.vault + "/" + relative)
            }
        }
        for path in Set(folders + top) {
            var status = stat()
            if lstat(path, &status) == 0, status.st_mode & 0o077 != 0 { reachable.append(path) }
        }
        #expect(reachable == [], "still open to others: \(reachable)")
        #expect(try node.verify().status == 0)
    }
}
