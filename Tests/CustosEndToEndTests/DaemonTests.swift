import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// `custos daemon` end to end: the real binary in the background, files dropped into the real
    /// inbox, assertions on the vault, the ledger and the inbox folders.
    @Suite("custos daemon: drop a file into the inbox, it is sealed and released", .serialized, .timeLimit(.minutes(3)))
    struct DaemonTests {
        @Test func aFileDroppedByCopyIsSealedRecordedAndReleased() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            let source = try node.directory.write("source/report.pdf", randomBytes(300_000))
            try FileManager.default.createDirectory(
                atPath: node.inbox + "/2026-偵-123", withIntermediateDirectories: true)
            #expect(try run("cp", [source, node.inbox + "/2026-偵-123/report.pdf"]).status == 0)
            #expect(try node.waitForItems(1))
            let item = try #require(try node.items().first)
            #expect(item["case"] as? String == "2026-偵-123")
            #expect(item["sha256"] as? String == (try sha256sum(source)))
            // Released only once durable: the inbox holds only what waits, sealed/ the original.
            #expect(waitUntil(timeout: 10) { node.entryNames(under: node.inbox).isEmpty })
            #expect(node.entryNames(under: node.sealedFolder) == ["2026-偵-123/report.pdf"])
            #expect(try sha256sum(node.sealedFolder + "/2026-偵-123/report.pdf") == (try sha256sum(source)))
            // One log line per seal, with item, case, name and SHA-256, no colour.
            let line = try #require(daemon.log.split(separator: "\n").first { $0.hasSuffix("sealed") })
            #expect(line.contains(item["item"] as! String) && line.contains(item["sha256"] as! String))
            #expect(line.contains("case=2026-偵-123") && line.contains("name=report.pdf"))
            #expect(!daemon.log.contains("\u{1b}["))
            #expect(daemon.stop() == 0)
            // A checkpoint covers it, and everything verifies.
            #expect(daemon.log.contains("checkpoint signed"))
            // The checkpoint covers the seal and its time stamp: every entry (its own token is kept beside it).
            #expect(try node.custos(["checkpoint"]).output.contains("\n2\n"))
            let verify = try node.verify()
            #expect(verify.status == 0, "\(verify.output)")
        }

        @Test func aFileWrittenElsewhereAndRenamedInIsSealed() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            // Written beside the inbox on the same file system, then moved in: only IN_MOVED_TO.
            let staging = try node.directory.write("vault-staging.bin", randomBytes(50_000))
            try FileManager.default.createDirectory(atPath: node.inbox + "/C-9", withIntermediateDirectories: true)
            #expect(rename(staging, node.inbox + "/C-9/moved.bin") == 0)
            #expect(try node.waitForItems(1))
            #expect(try node.items().first.flatMap(itemName) == "moved.bin")
            #expect(daemon.stop() == 0)
        }

        @Test func aSlowChunkedWriteIsSealedOnceComplete() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            let path = node.inbox + "/slow.bin"
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            #expect(fd >= 0)
            var all = [UInt8]()
            // Pauses longer than the settle time (0.3 s) while the file is still open for writing:
            // the sleep is the point of the test, a writer slower than the settle time.
            for _ in 0..<4 {
                let chunk = randomBytes(64 * 1024)
                all += chunk
                _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                usleep(700_000)
            }
            #expect(try node.items().isEmpty, "sealed while still open for writing")
            close(fd)
            #expect(try node.waitForItems(1))
            // Released: the daemon is done with it (a second seal would have to come before this).
            #expect(waitUntil(timeout: 30) { node.entryNames(under: node.sealedFolder) == ["slow.bin"] })
            #expect(node.entryNames(under: node.inbox).isEmpty)
            let items = try node.items()
            #expect(items.count == 1)
            #expect(items.first?["size"] as? Int == all.count)
            let expected = try sha256sum(try node.directory.write("copy.bin", all))
            #expect(items.first?["sha256"] as? String == expected)
            #expect(daemon.stop() == 0)
        }

        @Test func aBurstOfAThousandFilesIsSealedExactlyOnce() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            let staging = node.directory.file("burst")
            try FileManager.default.createDirectory(atPath: staging + "/B-1", withIntermediateDirectories: true)
            for index in 0..<1000 { try node.directory.write("burst/B-1/file-\(index).txt", "evidence \(index)\n") }
            // Dropped at once: one rename of the whole case folder.
            #expect(rename(staging + "/B-1", node.inbox + "/B-1") == 0)
            #expect(try node.waitForItems(1000, timeout: 120))
            #expect(waitUntil(timeout: 30) { node.entryNames(under: node.inbox).isEmpty })
            #expect(daemon.stop() == 0)
            let items = try node.items()
            #expect(items.count == 1000)
            #expect(Set(items.compactMap(itemName)).count == 1000)
            #expect(node.entryNames(under: node.sealedFolder).count == 1000)
            #expect(try node.verify().status == 0)
            // Every seal carries the node's time stamp, recorded in the same transaction.
            let verify = try node.verify()
            // One token per item, and one per checkpoint of a non-empty tree (how many the daemon signed
            // depends on the burst's pace).
            let checkpoints = try #require(
                verify.output.firstMatch(of: /(\d+) checkpoints checked/).flatMap { Int($0.1) }, "\(verify.output)")
            #expect(
                verify.output.contains("time stamps: \(1000 + checkpoints - 1) tokens re-hashed and verified"),
                "\(verify.output)")
            let last = try #require(items.last?["item"] as? String)
            let shown = try JSONSerialization.jsonObject(with: Data(try node.custos(["show", "--json", last]).stdout))
            #expect(((shown as! [String: Any])["timestamps"] as! [Any]).count == 1)
        }

        @Test func sidecarMetadataIsRecordedInTheManifest() throws {
            let node = try Node()
            try FileManager.default.createDirectory(
                atPath: node.directory.file("stage/A-7"), withIntermediateDirectories: true)
            try node.directory.write(
                "stage/A-7.custos.yaml",
                """
                examiner: 王小明
                seizure:
                  place: 臺北市中正區
                  time: 2026-11-20T14:30:00+08:00
                device:
                  make: Lenovo
                """)
            try node.directory.write(
                "stage/A-7/disk.img.custos.yaml",
                """
                exhibit: "007"
                description: 扣押筆電之磁碟映像
                device:
                  model: ThinkPad X1
                  serial: PF-123456
                """)
            try node.directory.write("stage/A-7/disk.img", randomBytes(10_000))
            // The case's sidecar beside the case folder, the file's beside the file: all dropped at once.
            #expect(rename(node.directory.file("stage/A-7.custos.yaml"), node.inbox + "/A-7.custos.yaml") == 0)
            #expect(rename(node.directory.file("stage/A-7"), node.inbox + "/A-7") == 0)
            let daemon = try RunningDaemon(node)
            #expect(try node.waitForItems(1))
            let item = try #require(try node.items().first)
            #expect(item["exhibit"] as? String == "007")
            let shown = try node.custos(["show", "--json", item["item"] as! String])
            let json = try JSONSerialization.jsonObject(with: Data(shown.stdout)) as! [String: Any]
            let manifest = json["manifest"] as! [String: Any]
            let acquisition = manifest["acquisition"] as! [String: Any]
            #expect(acquisition["examiner"] as? String == "王小明")
            #expect(acquisition["description"] as? String == "扣押筆電之磁碟映像")
            #expect(
                (acquisition["seizure"] as! [String: String]) == [
                    "place": "臺北市中正區", "time": "2026-11-20T14:30:00+08:00",
                ])
            #expect(
                (acquisition["device"] as! [String: String]) == [
                    "make": "Lenovo", "model": "ThinkPad X1", "serial": "PF-123456",
                ])
            let inbox = manifest["inbox"] as! [String: Any]
            let sidecars = inbox["sidecars"] as! [[String: Any]]
            #expect(sidecars.count == 2)
            #expect(
                sidecars.last?["sha256"] as? String
                    == (try sha256sum(node.sealedFolder + "/A-7/disk.img.custos.yaml")))
            // The file's own sidecar leaves with it; the case's stays for the files still to come.
            #expect(waitUntil(timeout: 10) { node.entryNames(under: node.inbox) == ["A-7.custos.yaml"] })
            #expect(daemon.stop() == 0)
            #expect(try node.verify().status == 0)
        }

        @Test func aBadSidecarRefusesItsFileWithTheLineAndReason() throws {
            let node = try Node()
            try node.directory.write("stage/K/x.bin.custos.yaml", "exhibit: A-1\nseizure:\n  time: yesterday\n")
            try node.directory.write("stage/K/x.bin", "x")
            let stamp = timespec(tv_sec: time(nil) - 60, tv_nsec: 0)
            _ = [stamp, stamp].withUnsafeBufferPointer {
                utimensat(AT_FDCWD, node.directory.file("stage/K/x.bin.custos.yaml"), $0.baseAddress, 0)
            }
            #expect(rename(node.directory.file("stage/K"), node.inbox + "/K") == 0)
            let daemon = try RunningDaemon(node)
            // The file, its reason and its sidecar (moved after the reason is written).
            #expect(
                waitUntil(timeout: 20) {
                    node.entryNames(under: node.rejectedFolder).count >= 3 && node.entryNames(under: node.inbox).isEmpty
                })
            let reasons = node.entryNames(under: node.rejectedFolder).filter { $0.hasSuffix(".reason.txt") }
            let reason = try String(contentsOfFile: node.rejectedFolder + "/" + reasons[0], encoding: .utf8)
            #expect(reason.contains("x.bin.custos.yaml:3: seizure.time"), "\(reason)")
            // The file and its sidecar both left the inbox, together.
            #expect(node.entryNames(under: node.inbox).isEmpty)
            #expect(node.entryNames(under: node.rejectedFolder).filter { !$0.hasSuffix(".reason.txt") }.count == 2)
            #expect(try node.items().isEmpty)
            #expect(daemon.stop() == 0)
        }

        @Test func theDeletePolicyRemovesOriginalsOnceSealed() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_RELEASE": "delete"])
            try node.directory.write("x.bin", randomBytes(1000))
            #expect(rename(node.directory.file("x.bin"), node.inbox + "/x.bin") == 0)
            #expect(try node.waitForItems(1))
            #expect(waitUntil(timeout: 10) { node.entryNames(under: node.inbox).isEmpty })
            #expect(node.entryNames(under: node.sealedFolder).isEmpty)
            #expect(daemon.stop(signal: SIGINT) == 0)  // Ctrl-C is a graceful shutdown too.
            #expect(try node.verify().status == 0)
        }

        @Test func theSameNameDroppedTwiceIsKeptApartInSealed() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            try node.directory.write("a", "first")
            #expect(rename(node.directory.file("a"), node.inbox + "/same.txt") == 0)
            #expect(try node.waitForItems(1))
            #expect(waitUntil(timeout: 10) { node.entryNames(under: node.inbox).isEmpty })
            try node.directory.write("b", "second")
            #expect(rename(node.directory.file("b"), node.inbox + "/same.txt") == 0)
            #expect(try node.waitForItems(2))
            #expect(waitUntil(timeout: 10) { node.entryNames(under: node.sealedFolder).count == 2 })
            let second = try #require(try node.items().last?["item"] as? String)
            #expect(node.entryNames(under: node.sealedFolder) == ["\(second)/same.txt", "same.txt"])
            #expect(try String(contentsOfFile: node.sealedFolder + "/same.txt", encoding: .utf8) == "first")
            #expect(daemon.stop() == 0)
        }

        @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
        func thePeriodicRescanFindsAFileNoEventAnnounced() throws {
            let node = try Node()
            try FileManager.default.createDirectory(atPath: node.inbox + "/M", withIntermediateDirectories: true)
            let daemon = try RunningDaemon(
                node, environment: ["CUSTOS_RESCAN_SECONDS": "1", "CUSTOS_LOG_LEVEL": "debug"])
            // A file system mounted over a watched folder: its files raise no event on the watch.
            let mount = try TmpfsMount(sizeMiB: 4, at: node.inbox + "/M")
            try node.directory.write("vault/inbox/M/unannounced.txt", "no event for me")
            #expect(try node.waitForItems(1, timeout: 20))
            #expect(try node.items().first.flatMap(itemName) == "unannounced.txt")
            // It cannot be renamed out of another file system: it stays, is never sealed twice, and
            // the journal keeps it for the next start.
            #expect(waitUntil(timeout: 10) { daemon.log.contains("could not leave the inbox") })
            // Two more periodic rescans find it again: it is still not sealed twice.
            let rescans = daemon.count("rescanning the inbox")
            #expect(waitUntil(timeout: 30) { daemon.count("rescanning the inbox") >= rescans + 2 }, "\(daemon.log)")
            #expect(try node.items().count == 1)
            #expect(daemon.stop() == 0)
            withExtendedLifetime(mount) {}
        }

        @Test func oneDaemonPerVaultAndTheCLIWorksBesideIt() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            let second = try run(custosBinary, ["daemon", "--vault", node.vault])
            #expect(second.status == 2)
            #expect(
                second.stderr.contains("a daemon already runs for this vault (pid \(daemon.process.pid))"),
                "\(second.stderr)")
            // ingest, list and verify beside the running daemon.
            #expect(try node.custos(["ingest", try node.directory.write("by-hand.txt", "by hand")]).status == 0)
            try node.directory.write("dropped.txt", "dropped")
            #expect(rename(node.directory.file("dropped.txt"), node.inbox + "/dropped.txt") == 0)
            #expect(try node.waitForItems(2))
            // Beside a running daemon, verify passes once its checkpointer has covered the new entries
            // (within checkpoint-seconds); until then they are uncovered.
            #expect(try waitUntil(timeout: 10) { try node.verify().status == 0 })
            #expect(daemon.stop() == 0)
            #expect(try node.verify().status == 0)
        }

        @Test func aBadConfigurationIsRefusedWithTheLineAndReason() throws {
            let node = try Node()
            try node.directory.write("vault/custos-daemon.yaml", "# settings\nrelease: move\nsettle-seconds: soon\n")
            let refused = try run(custosBinary, ["daemon", "--vault", node.vault])
            #expect(refused.status == 2)
            #expect(
                refused.stderr.contains("custos-daemon.yaml:3: settle-seconds: must be a number of seconds"),
                "\(refused.stderr)")
            try node.directory.write("vault/custos-daemon.yaml", "release: move\nsettle-secnds: 2\n")
            let unknown = try run(custosBinary, ["daemon", "--vault", node.vault])
            #expect(
                unknown.status == 2 && unknown.stderr.contains(":2: settle-secnds: unknown setting"),
                "\(unknown.stderr)")
            try node.directory.write("vault/custos-daemon.yaml", "release: [move\n")
            let broken = try run(custosBinary, ["daemon", "--vault", node.vault])
            #expect(
                broken.status == 2
                    && broken.stderr.contains(
                        "custos-daemon.yaml:1: not valid YAML: a flow sequence opened on this line is never closed"),
                "\(broken.stderr)")
            // The environment overrides the file, and is refused by name.
            try node.directory.write("vault/custos-daemon.yaml", "workers: 2\nrelease: delete\n")
            let env = try run(custosBinary, ["daemon", "--vault", node.vault], environment: ["CUSTOS_WORKERS": "many"])
            #expect(
                env.status == 2 && env.stderr.contains("environment variable CUSTOS_WORKERS: must be a whole number"))
            let check = try run(
                custosBinary, ["daemon", "--vault", node.vault, "--check"], environment: ["CUSTOS_WORKERS": "3"])
            #expect(check.status == 0)
            #expect(check.output.contains("workers: 3") && check.output.contains("release: delete"))
            // sealed/ may not lie inside the inbox.
            let inside = try run(
                custosBinary, ["daemon", "--vault", node.vault, "--check"], environment: ["CUSTOS_SEALED": "inbox/done"]
            )
            #expect(inside.status == 2 && inside.stderr.contains("must not be inside inbox"), "\(inside.stderr)")
        }
    }
}
