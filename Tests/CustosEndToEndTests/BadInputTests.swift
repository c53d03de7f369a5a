import CustosFormats
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// Every bad input of the sealing slice: a clear error naming the file and the reason, exit 2,
/// nothing recorded, nothing lost.
@Suite("bad input to custos ingest", .serialized, .timeLimit(.minutes(2)))
struct BadInputTests {
    /// Checks that nothing was recorded and nothing is left half-written.
    func expectNothingRecorded(_ node: Node) throws {
        #expect(try node.items().isEmpty)
        #expect(node.files(under: "objects").isEmpty)
        #expect(node.files(under: "tmp").isEmpty)
        #expect(try node.verify().status == 0)
    }

    @Test func aPathThatDoesNotExist() throws {
        let node = try Node()
        let result = try node.custos(["ingest", node.directory.file("missing.bin")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("missing.bin") && result.stderr.contains("no such file"))
        try expectNothingRecorded(node)
    }

    @Test func aSymlinkIsRefusedNeverFollowed() throws {
        let node = try Node()
        let target = try node.directory.write("target.txt", "secret")
        try FileManager.default.createSymbolicLink(atPath: node.directory.file("link"), withDestinationPath: target)
        let result = try node.custos(["ingest", node.directory.file("link")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("link") && result.stderr.contains("symbolic link"))
        try expectNothingRecorded(node)
        // A dangling link and a link to itself are refused the same way.
        try FileManager.default.createSymbolicLink(
            atPath: node.directory.file("dangling"), withDestinationPath: "/nonexistent")
        try FileManager.default.createSymbolicLink(
            atPath: node.directory.file("loop"), withDestinationPath: node.directory.file("loop"))
        for name in ["dangling", "loop"] {
            let again = try node.custos(["ingest", node.directory.file(name)])
            #expect(again.status == 2 && again.stderr.contains("symbolic link"))
        }
    }

    @Test func aFIFOIsRefusedWithoutBlocking() throws {
        let node = try Node()
        let fifo = node.directory.file("pipe")
        #expect(mkfifo(fifo, 0o644) == 0)
        // `timeout` turns a hang into a failure instead of a stuck test run.
        let result = try run("timeout", ["20", custosBinary, "ingest", "--vault", node.vault, fifo])
        #expect(result.status == 2)
        #expect(result.stderr.contains("FIFO"))
        try expectNothingRecorded(node)
    }

    @Test func aSocketIsRefused() throws {
        let node = try Node()
        let path = node.directory.file("sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        let result = try run("timeout", ["20", custosBinary, "ingest", "--vault", node.vault, path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("socket"))
        try expectNothingRecorded(node)
    }

    @Test func aDeviceIsRefusedWithoutBlocking() throws {
        let node = try Node()
        for device in ["/dev/null", "/dev/zero", "/dev/tty"] where FileManager.default.fileExists(atPath: device) {
            let result = try run("timeout", ["20", custosBinary, "ingest", "--vault", node.vault, device])
            #expect(result.status == 2)
            #expect(result.stderr.contains("character device"), "\(device): \(result.stderr)")
        }
        try expectNothingRecorded(node)
    }

    @Test func anUnreadableFileIsReported() throws {
        // Root reads any file, so the whole scenario runs as `nobody` when the tests run as root.
        let directory = TemporaryDirectory("e2e-unreadable")
        chmod(directory.path, 0o777)
        let file = try directory.write("locked.bin", "x")
        var prefix: [String] = []
        if isRoot {
            guard haveProgram("setpriv") else { return }
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
            chown(file, 65534, 65534)
        }
        chmod(file, 0o000)
        let vault = directory.file("vault")
        // A copy of the binary in the open folder: the build folder may not be reachable by `nobody`.
        // `cp` writes it in a process of its own, so no descriptor open for writing can leak into a
        // program that another test starts meanwhile (exec would then fail with ETXTBSY).
        let binary = directory.file("custos")
        #expect(try run("cp", [custosBinary, binary]).status == 0)
        chmod(binary, 0o755)
        func custos(_ arguments: [String]) throws -> CommandResult {
            let all = prefix + [binary, arguments[0], "--vault", vault] + arguments.dropFirst()
            return try run(all[0], Array(all.dropFirst()))
        }
        #expect(try custos(["init", "--origin", "e2e.example/x"]).status == 0)
        let result = try custos(["ingest", file])
        #expect(result.status == 2)
        #expect(result.stderr.contains("locked.bin") && result.stderr.contains("Permission denied"))
        #expect(try custos(["list"]).output.isEmpty)
        #expect(FileManager.default.fileExists(atPath: file))
    }

    @Test func anEmptyFileIsSealedAndSaysSo() throws {
        let node = try Node()
        let file = try node.directory.write("empty", [])
        let result = try node.custos(["ingest", file])
        #expect(result.status == 0)
        #expect(result.output.contains("(empty file)"))
        let item = try #require(try node.items().first)
        #expect(item["sha256"] as! String == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try node.verify().status == 0)
    }

    @Test(
        "awkward names are stored byte-exact and shown escaped",
        arguments: [
            [UInt8]("bad".utf8) + [0xff, 0xfe] + [UInt8]("name".utf8),
            [UInt8]("line\nbreak.txt".utf8),
            [UInt8]("tab\tand\u{7}bell".utf8),
            [UInt8](repeating: UInt8(ascii: "n"), count: 251) + [UInt8](".bin".utf8),
            [UInt8]("證物 ①.txt".utf8),
            [UInt8]("..%2e".utf8),
        ])
    func awkwardNames(name: [UInt8]) throws {
        let node = try Node()
        let folder = node.directory.file("names")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = Array(folder.utf8) + [UInt8(ascii: "/")] + name
        let fd = (path + [0]).withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
        }
        #expect(fd >= 0)
        _ = write(fd, "content", 7)
        close(fd)

        let result = try node.custos(raw: [Array("ingest".utf8), path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.output.dropLast().contains("\n\n"))
        let item = try #require(try node.items().first)
        let stored = item["name"] as! [String: String]
        let bytes = stored["utf8"].map { Array($0.utf8) } ?? Array(Data(base64Encoded: stored["base64"]!)!)
        #expect(bytes == name)
        // The human listing has one line per item: a newline in a name is escaped, never printed.
        let listing = try node.custos(["list"])
        #expect(listing.output.split(separator: "\n").count == 1)
        #expect(listing.output.contains(DisplayName.escape(name)))
        // bsdtar extracts the archive; the member name is a safe relative name.
        let out = node.directory.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        #expect(try run("bsdtar", ["-xf", node.archivePath(item: item), "-C", out]).status == 0)
        let members = try FileManager.default.contentsOfDirectory(atPath: out + "/evidence")
        #expect(members.count == 1)
        #expect(try String(contentsOfFile: out + "/evidence/" + members[0], encoding: .utf8) == "content")
        #expect(try node.verify().status == 0)
    }

    @Test("a file that grows or shrinks while it is read is not recorded", arguments: ["grow", "shrink"])
    func fileChangingWhileRead(mode: String) throws {
        let node = try Node()
        let file = try node.directory.write("changing.bin", randomBytes(64 << 20))
        let writer = ChangingFile(path: file, grow: mode == "grow")
        writer.start()
        let result = try node.custos(["ingest", file])
        writer.stop()
        #expect(result.status == 2)
        #expect(result.stderr.contains("changing.bin") && result.stderr.contains("changed while it was being read"))
        try expectNothingRecorded(node)
    }

    @Test func aVaultThatDoesNotExistOrIsNotInitialised() throws {
        let directory = TemporaryDirectory()
        let file = try directory.write("a.txt", "a")
        let missing = try run(custosBinary, ["ingest", "--vault", directory.file("nowhere"), file])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nowhere") && missing.stderr.contains("no vault"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("nowhere")))
        try FileManager.default.createDirectory(atPath: directory.file("plain"), withIntermediateDirectories: true)
        let plain = try run(custosBinary, ["ingest", "--vault", directory.file("plain"), file])
        #expect(plain.status == 2)
        #expect(plain.stderr.contains("not an initialised vault"))
        // A vault whose ledger was removed is not silently given a new one.
        let node = try Node()
        try FileManager.default.removeItem(atPath: node.vault + "/ledger.sqlite")
        let gone = try node.custos(["ingest", file])
        #expect(gone.status == 2)
        #expect(gone.stderr.contains("ledger is missing"))
        #expect(!FileManager.default.fileExists(atPath: node.vault + "/ledger.sqlite"))
    }

    @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
    func aReadOnlyVaultRefusesToSealButStillVerifies() throws {
        let mount = try TmpfsMount(sizeMiB: 32)
        let node = try Node(directory: mount.directory)
        let first = try node.directory.write("first.txt", "first")
        #expect(try node.custos(["ingest", first]).status == 0)
        try mount.remountReadOnly()
        let file = TemporaryDirectory()
        let result = try node.custos(["ingest", try file.write("b.txt", "b")])
        #expect(result.status == 2)
        #expect(result.stderr.contains("read-only file system"), "\(result.stderr)")
        #expect(try node.items().count == 1)
        let verify = try node.verify()
        #expect(verify.status == 0, "\(verify.output) \(verify.stderr)")
    }

    @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
    func aFullDiskRecordsNothingAndLeavesNoPartialObject() throws {
        let mount = try TmpfsMount(sizeMiB: 4)
        let node = try Node(directory: mount.directory)
        let source = TemporaryDirectory()
        let big = try source.write("big.bin", randomBytes(16 << 20))
        let result = try node.custos(["ingest", big])
        #expect(result.status == 2)
        #expect(result.stderr.contains("big.bin") && result.stderr.contains("disk is full"), "\(result.stderr)")
        try expectNothingRecorded(node)
        // Once there is room again, sealing works.
        let small = try source.write("small.bin", randomBytes(1000))
        #expect(try node.custos(["ingest", small]).status == 0)
        #expect(try node.verify().status == 0)
    }

    @Test func twoIngestsAtOnceBothSucceedAndKeepOneChain() throws {
        let node = try Node()
        var batches = [[String]]()
        for batch in 0..<2 {
            batches.append(
                try (0..<15).map { try node.directory.write("batch\(batch)/f\($0).bin", randomBytes(20_000)) })
        }
        let results = ResultBox()
        let allBatches = batches
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            results.set(index, try? node.custos(["ingest"] + allBatches[index]))
        }
        #expect(results.all.allSatisfy { $0?.status == 0 }, "\(results.all.map { $0?.stderr ?? "nil" })")
        #expect(try node.items().count == 30)
        let verify = try node.verify()
        #expect(verify.status == 0, "\(verify.output)")
        // 30 seals and their 30 time stamps; the checkpoints' tokens are kept beside them, not as entries.
        #expect(verify.output.contains("60 entries") && verify.output.contains("latest size 60"))
    }

    @Test func aCorruptedLedgerDatabaseGivesAClearError() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.txt", "a")]).status == 0)
        let ledger = node.vault + "/ledger.sqlite"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ledger)))
        for index in 0..<100 { bytes[index] = 0x5a }
        try Data(bytes).write(to: URL(fileURLWithPath: ledger))
        let list = try node.custos(["list"])
        #expect(list.status == 2)
        #expect(list.stderr.contains("ledger.sqlite") && list.stderr.contains("damaged"), "\(list.stderr)")
        let verify = try node.verify()
        #expect(verify.status == 1)
        #expect(verify.stderr.contains("damaged"))
    }
}

/// Appends to, or truncates, a file continuously on a thread of its own.
final class ChangingFile: @unchecked Sendable {
    let path: String
    let grow: Bool
    private let lock = NSLock()
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(path: String, grow: Bool) {
        self.path = path
        self.grow = grow
    }

    /// Starts changing the file and returns once it has changed.
    func start() {
        let before = Self.size(path)
        Thread.detachNewThread { [self] in
            let fd = open(path, O_WRONLY | O_APPEND)
            var size = lseek(fd, 0, SEEK_END)
            while isRunning {
                if grow {
                    _ = write(fd, "x", 1)
                } else if size > 1 {
                    size -= 1
                    ftruncate(fd, size)
                }
                usleep(200)  // The changer's pace: a change every 0.2 ms while it runs.
            }
            close(fd)
            done.signal()
        }
        _ = waitUntil(timeout: 30) { Self.size(path) != before }
    }

    private static func size(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : -1
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    func stop() {
        lock.lock()
        running = false
        lock.unlock()
        done.wait()
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: CommandResult?] = [:]

    func set(_ index: Int, _ result: CommandResult?) {
        lock.lock()
        results[index] = result
        lock.unlock()
    }

    var all: [CommandResult?] {
        lock.lock()
        defer { lock.unlock() }
        return results.keys.sorted().map { results[$0]! }
    }
}

/// A small tmpfs mounted for one test (root only), unmounted at the end.
final class TmpfsMount {
    let directory = TemporaryDirectory("e2e-mount")
    let mountPoint: String

    /// Mounts at `path` (an existing folder), or at a new temporary folder.
    init(sizeMiB: Int, at path: String? = nil) throws {
        mountPoint = path ?? directory.path
        let result = try run("mount", ["-t", "tmpfs", "-o", "size=\(sizeMiB)m", "tmpfs", mountPoint])
        guard result.status == 0 else { throw CLIFailure(message: "mount: \(result.stderr)") }
    }

    func remountReadOnly() throws {
        let result = try run("mount", ["-o", "remount,ro", mountPoint])
        guard result.status == 0 else { throw CLIFailure(message: "remount: \(result.stderr)") }
    }

    func resize(sizeMiB: Int) throws {
        let result = try run("mount", ["-o", "remount,size=\(sizeMiB)m", mountPoint])
        guard result.status == 0 else { throw CLIFailure(message: "remount: \(result.stderr)") }
    }

    deinit {
        _ = try? run("umount", ["-l", mountPoint])
    }
}

struct CLIFailure: Error { let message: String }

/// A sealing command killed half-way leaves temporaries; the next one that seals removes those
/// of dead processes (and none of a live one's).
@Suite("custos ingest: what a killed seal leaves", .timeLimit(.minutes(2)))
struct KilledSealTests {
    @Test func aKilledIngestsTemporariesAreRemovedByTheNextIngest() throws {
        let node = try Node(initArguments: ["--compression", "xz"])
        let big = node.directory.file("big.bin")
        #expect(try run("sh", ["-c", "head -c 24000000 /dev/urandom > \"$0\"", big]).status == 0)
        for round in 0..<3 {
            let ingest = try BackgroundProcess(
                custosBinary, ["ingest", "--vault", node.vault, big], logPath: node.directory.file("ingest-\(round).log"))
            #expect(waitUntil(timeout: 30) { !node.files(under: "tmp").isEmpty })
            ingest.signal(SIGKILL)
            _ = ingest.wait(timeout: 30)
        }
        // Each ingest removed what the one killed before it left: only the last one's is there.
        #expect(node.files(under: "tmp").count == 1)
        // A temporary of a live process (this test's) stays; those of the dead ones go.
        let live = node.vault + "/tmp/\(getpid())-seal-live.tar.xz"
        writeRaw(Array(live.utf8), [1, 2, 3])
        let stale = node.vault + "/manifests/.tmp-999999999-x.json"
        writeRaw(Array(stale.utf8), [1, 2, 3])
        #expect(try node.custos(["ingest", try node.directory.write("small.txt", "small")]).status == 0)
        #expect(node.files(under: "tmp") == ["\(getpid())-seal-live.tar.xz"])
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(try node.items().count == 1)
    }
}

/// A write of the archive that fails half-way (ENOSPC injected by strace at the Nth write of
/// each thread): the seal stops with a clear error, and no thread writes to the archive's
/// descriptor after the failure, nor to any descriptor once closed (its number could be reused
/// by the ledger).
@Suite("custos ingest: a write error mid-seal", .timeLimit(.minutes(2)))
struct WriteErrorTests {
    /// "N+": the Nth write of each thread and every one after it fails (the archive's frames are
    /// written by a compression thread of their own, a frame a write).
    @Test(.enabled(if: haveProgram("strace")), arguments: ["1+", "2+", "3+", "5+", "9+"])
    func noThreadWritesAfterTheArchiveFailed(when: String) throws {
        let node = try Node()
        let big = node.directory.file("big.bin")
        #expect(try run("sh", ["-c", "head -c 24000000 /dev/urandom > \"$0\"", big]).status == 0)
        let trace = node.directory.file("trace")
        let result = try run(
            "timeout",
            [
                "120", "strace", "-f", "-o", trace, "-e", "trace=write,close,openat",
                "-e", "inject=write:error=ENOSPC:when=\(when)", custosBinary, "ingest", "--vault", node.vault, big,
            ], environment: ["SWIFT_BACKTRACE": "enable=no"])
        #expect(result.status == 2 || result.status == 3, "exit \(result.status): \(result.stderr)")
        let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
        #expect(!lines.contains { $0.contains("EBADF") }, "a write to a closed descriptor")
        #expect(!lines.contains { $0.contains("killed by") || $0.contains("SIGILL") || $0.contains("SIGSEGV") })
        // The archive's descriptor: the one opened for tmp/; after its injected failure, no write to it.
        let opened = try #require(
            lines.first { $0.contains("/tmp/") && $0.contains("seal-") && $0.contains("O_CREAT") }, "no archive opened")
        let fd = try #require(opened.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespaces) })
        let failed = try #require(
            lines.firstIndex { $0.contains("write(\(fd),") && $0.contains("INJECTED") }, "no write of the archive failed")
        let after = lines[(failed + 1)...].prefix { !$0.contains("close(\(fd))") }
        #expect(!after.contains { $0.contains("write(\(fd),") }, "written after the failure: \(after.count) lines")
        #expect(try node.items().isEmpty)
        #expect(node.files(under: "tmp").isEmpty)
    }
}

extension KilledSealTests {
    @Test func verifyListsTheFilesNoEntryRecords() throws {
        let node = try Node()
        #expect(try node.custos(["ingest", try node.directory.write("a.txt", "a")]).status == 0)
        let sha256 = try #require(try node.items().first?["sha256"] as? String)
        let strays = [
            "objects/\(sha256.prefix(2))/\(String(repeating: "0", count: 64)).tar.zst",
            "objects/\(sha256.prefix(2))/notes.txt",
            "manifests/ff/\(String(repeating: "f", count: 64)).json",
            "tmp/4242-seal-x.tar.zst",
            "copied-by-hand.dd",
        ]
        for stray in strays {
            try FileManager.default.createDirectory(
                atPath: (node.vault + "/" + stray as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            writeRaw(Array((node.vault + "/" + stray).utf8), [1])
        }
        let result = try node.verify()
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("unrecorded files: \(strays.count) in the vault"), "\(result.output)")
        for stray in strays { #expect(result.output.contains(node.vault + "/" + stray), "\(stray)") }
        let json = try node.custos(["verify", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout)) as! [String: Any]
        #expect((report["unrecordedFiles"] as? [String])?.count == strays.count)
        // The recorded archive and manifest are not among them.
        #expect(!result.output.contains(node.archivePath(item: try node.items()[0])))
    }
}
