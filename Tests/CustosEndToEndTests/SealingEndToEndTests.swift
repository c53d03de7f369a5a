import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import Foundation
import Glibc
import Testing

@Suite("custos init, ingest, list, show, verify through the real binary", .serialized, .timeLimit(.minutes(2)))
struct SealingEndToEndTests {
    @Test func initCreatesTheVaultWithAPrivateKeyAndRefusesToRunTwice() throws {
        let node = try Node()
        var status = stat()
        #expect(stat(node.vault + "/keys/node.key", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        for folder in ["objects", "manifests", "tmp", "inbox"] {
            #expect(FileManager.default.fileExists(atPath: node.vault + "/" + folder))
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: node.vault + "/keys/node.key"))
        let again = try node.custos(["init", "--origin", "other.example/log"])
        #expect(again.status == 2)
        #expect(again.stderr.contains("already exists"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: node.vault + "/keys/node.key")) == before)
        let key = try node.custos(["key"])
        #expect(key.output.hasPrefix("e2e.example.tw/evidence+"))
        _ = try Ed25519NoteVerifier(text: key.output.trimmingCharacters(in: .newlines))
    }

    @Test func sealedFilesAreCheckedByBsdtarSha256sumMd5sumAndHashdeep() throws {
        let node = try Node()
        let content = randomBytes(3 << 20)
        let file = try node.directory.write("evidence/disk image.dd", content)
        let result = try node.custos([
            "ingest", "--case", "2026-偵-123", "--exhibit", "A-1", "--examiner", "王小明", "--description", "USB 隨身碟", file,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains("checkpoint size 2"))  // The seal and its time stamp.
        let item = try #require(try node.items().first)
        let sha256 = item["sha256"] as! String
        #expect(sha256 == (try sha256sum(file)))

        // An expert extracts the archive with bsdtar and checks the original with standard tools.
        let out = node.directory.file("extracted")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let archive = node.archivePath(item: item)
        #expect(try run("bsdtar", ["-xf", archive, "-C", out]).status == 0)
        #expect(try run("tar", ["-tf", archive, "--zstd"]).output.contains("evidence/disk image.dd"))
        let extracted = out + "/evidence/disk image.dd"
        #expect(try sha256sum(extracted) == sha256)
        #expect(try Data(contentsOf: URL(fileURLWithPath: extracted)) == Data(content))
        #expect(try sha256sum(archive) == item["archive"] as! String)

        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")))
            as! [String: Any]
        let digests = manifest["digests"] as! [String: String]
        #expect(digests["sha256"] == sha256)
        #expect(digests["md5"] == String(try run("md5sum", [extracted]).output.prefix(32)))
        #expect(digests["sha1"] == String(try run("sha1sum", [extracted]).output.prefix(40)))
        let acquisition = manifest["acquisition"] as! [String: Any]
        #expect(acquisition["examiner"] as? String == "王小明")
        #expect(acquisition["case"] as? String == "2026-偵-123")
        if haveProgram("hashdeep") {
            let audit = try run("hashdeep", ["-l", "-r", "-a", "-k", "hashdeep.txt", "evidence"], directory: out)
            #expect(audit.status == 0, "\(audit.output) \(audit.stderr)")
            #expect(audit.output.contains("Audit passed"))
        }

        let verify = try node.verify()
        #expect(verify.status == 0, "\(verify.output)")
        #expect(verify.output.contains("verification passed"))
        let show = try node.custos(["show", String((item["item"] as! String).prefix(8))])
        #expect(show.status == 0)
        #expect(show.output.contains("王小明") && show.output.contains(sha256))
    }

    @Test(arguments: ["zstd", "none", "gzip", "xz"])
    func everyCompressionIsReadByBsdtar(compression: String) throws {
        let node = try Node(initArguments: ["--compression", compression])
        let file = try node.directory.write("a.txt", "evidence \(compression)\n")
        #expect(try node.custos(["ingest", file]).status == 0)
        let item = try #require(try node.items().first)
        let listing = try run("bsdtar", ["-tf", node.archivePath(item: item)])
        #expect(listing.output == "evidence/a.txt\nmanifest.json\nhashdeep.txt\n")
        #expect(try node.verify().status == 0)
    }

    @Test func theSameContentIsStoredOnceAndRecordedTwice() throws {
        let node = try Node()
        let first = try node.directory.write("one.bin", randomBytes(100_000))
        try FileManager.default.copyItem(atPath: first, toPath: node.directory.file("two.bin"))
        #expect(try node.custos(["ingest", first]).status == 0)
        let second = try node.custos(["ingest", node.directory.file("two.bin")])
        #expect(second.output.contains("archive shared"))
        let items = try node.items()
        #expect(items.count == 2)
        #expect(items[0]["archive"] as! String == items[1]["archive"] as! String)
        #expect(node.files(under: "objects").count == 1)
        #expect(node.files(under: "manifests").count == 2)
        #expect(try node.verify().status == 0)
    }

    @Test func aDamagedStoredArchiveIsNeverSharedWithANewSeal() throws {
        let node = try Node()
        let first = try node.directory.write("one.bin", randomBytes(300_000))
        #expect(try node.custos(["ingest", first]).status == 0)
        let archive = node.archivePath(item: try #require(try node.items().first))
        chmod(archive, 0o644)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: archive))
        try FileManager.default.copyItem(atPath: first, toPath: node.directory.file("copy.bin"))
        let result = try node.custos(["ingest", node.directory.file("copy.bin")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("copy.bin") && result.stderr.contains("sealing stopped"), "\(result.stderr)")
        #expect(try node.items().count == 1)
        #expect(node.files(under: "tmp").isEmpty)
    }

    @Test func theSameContentSealedTwiceAtOnceKeepsOneArchive() throws {
        let node = try Node()
        let content = randomBytes(2 << 20)
        let paths = try (0..<2).map { try node.directory.write("copy\($0).bin", content) }
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            results.set(index, try? node.custos(["ingest", paths[index]]))
        }
        #expect(results.all.allSatisfy { $0?.status == 0 }, "\(results.all.map { $0?.stderr ?? "nil" })")
        let items = try node.items()
        #expect(items.count == 2)
        #expect(items[0]["archive"] as! String == items[1]["archive"] as! String)
        #expect(node.files(under: "objects").count == 1)
        #expect(try node.verify().status == 0)
    }

    @Test func aDirectorySealsEveryRegularFileUnderItAndReportsTheRest() throws {
        let node = try Node()
        try node.directory.write("case/a.txt", "a")
        try node.directory.write("case/sub/b.txt", "b")
        try node.directory.write("case/sub/deeper/c.txt", "c")
        try FileManager.default.createSymbolicLink(
            atPath: node.directory.file("case/link"), withDestinationPath: "/etc/passwd")
        let result = try node.custos(["ingest", node.directory.file("case")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("link") && result.stderr.contains("symbolic link"))
        let names = try node.items().map { ($0["name"] as! [String: String])["utf8"]! }
        #expect(Set(names) == ["a.txt", "b.txt", "c.txt"])
        #expect(try node.verify().status == 0)
    }

    @Test func theVaultIsCustosVaultOrTheEnvironmentsOrTheOptions() throws {
        let directory = TemporaryDirectory()
        // No option, no environment: ./custos-vault.
        let plain = try run(
            custosBinary, ["init", "--origin", "a.example/log"], environment: ["CUSTOS_VAULT": ""],
            directory: directory.path)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory.file("custos-vault/custos.json")))
        // $CUSTOS_VAULT.
        let fromEnvironment = try run(
            custosBinary, ["init", "--origin", "b.example/log"],
            environment: ["CUSTOS_VAULT": directory.file("env-vault")])
        #expect(fromEnvironment.status == 0)
        #expect(FileManager.default.fileExists(atPath: directory.file("env-vault/custos.json")))
        let key = try run(custosBinary, ["key"], environment: ["CUSTOS_VAULT": directory.file("env-vault")])
        #expect(key.output.hasPrefix("b.example/log+"))
        // --vault wins over the environment.
        let both = try run(
            custosBinary, ["key", "--vault", directory.file("custos-vault")],
            environment: ["CUSTOS_VAULT": directory.file("env-vault")])
        #expect(both.output.hasPrefix("a.example/log+"))
    }

    @Test(.enabled(if: haveProgram("script"), "needs script(1) for a terminal"))
    func verifyShowsProgressOnATerminalOnly() throws {
        let node = try Node()
        let files = try (0..<3).map { try node.directory.write("p\($0).bin", randomBytes(1000)) }
        #expect(try node.custos(["ingest"] + files).status == 0)
        // Under script(1) standard error is a terminal: progress lines are drawn and erased.
        let command = "'\(custosBinary)' verify --vault '\(node.vault)'"
        let onTerminal = try run("script", ["-qec", command, "/dev/null"])
        #expect(onTerminal.status == 0)
        #expect(onTerminal.output.contains("items: 3/3"))
        #expect(onTerminal.output.contains("verification passed"))
        // Not on a terminal: no progress, no escape sequences.
        let piped = try node.verify()
        #expect(!piped.stderr.contains("items:") && !piped.output.contains("\u{1b}"))
    }

    @Test func logLinesNameTheItemAndEscapeTheName() throws {
        let node = try Node()
        let file = try node.directory.write("two\nlines.txt", "x")
        let result = try run(
            custosBinary, ["ingest", "--vault", node.vault, "--case", "C-7", file],
            environment: ["CUSTOS_LOG_LEVEL": "info"])
        #expect(result.status == 0)
        let line = try #require(result.stderr.split(separator: "\n").first { $0.contains("sealed") })
        let item = try #require(try node.items().first)
        #expect(line.contains(item["item"] as! String) && line.contains(item["sha256"] as! String))
        #expect(line.contains("case=C-7") && line.contains("two\\nlines.txt"))
        // Without the variable, only errors are logged.
        let quiet = try node.custos(["ingest", try node.directory.write("q.txt", "q")])
        #expect(!quiet.stderr.contains("sealed"))
    }

    @Test func listJSONGivesIdsAndDigests() throws {
        let node = try Node()
        let file = try node.directory.write("x.txt", "x")
        #expect(try node.custos(["ingest", file]).status == 0)
        let item = try #require(try node.items().first)
        #expect((item["item"] as! String).count == 36)
        #expect(item["sha256"] as! String == "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    }
}
