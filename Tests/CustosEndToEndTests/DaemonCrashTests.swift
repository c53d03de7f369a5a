import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// Crash safety: whatever instant the daemon dies at, every file dropped is either still in the
    /// inbox or sealed exactly once, `custos verify` passes, and no entry points at a missing archive.
    @Suite("custos daemon: crashes, signals, full and failing disks", .serialized, .timeLimit(.minutes(3)))
    struct DaemonCrashTests {
        /// The items recorded, by name: each name must appear at most once.
        func recordedNames(_ node: Node) throws -> [String: Int] {
            var counts = [String: Int]()
            for item in try node.items() { counts[itemName(item) ?? "?", default: 0] += 1 }
            return counts
        }

        @Test func sigkillAtManyPointsDuringABurstLosesNothingAndSealsNothingTwice() throws {
            let node = try Node()
            let staging = node.directory.file("stage/K-1")
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            var expected = [String: String]()
            for index in 0..<400 {
                let name = "file-\(index).bin"
                let path = try node.directory.write("stage/K-1/\(name)", randomBytes(Int.random(in: 1...40_000)))
                expected[name] = try sha256sum(path)
            }
            #expect(rename(staging, node.inbox + "/K-1") == 0)
            for round in 0..<6 {
                let daemon = try RunningDaemon(node, environment: ["CUSTOS_SETTLE_SECONDS": "0.05"])
                // A kill at a point in time that differs each round: the sleep is the point of the test.
                usleep(UInt32(100_000 + round * 150_000 + Int.random(in: 0...100_000)))
                daemon.process.signal(SIGKILL)
                #expect(daemon.process.wait(timeout: 30) == 128 + SIGKILL)
                // After each crash: nothing lost, nothing twice, the ledger sound.
                let inInbox = Set(node.entryNames(under: node.inbox + "/K-1"))
                let inSealed = Set(node.entryNames(under: node.sealedFolder + "/K-1"))
                #expect(inInbox.isDisjoint(with: inSealed))
                #expect(inInbox.union(inSealed) == Set(expected.keys), "round \(round): a file went missing")
                let recorded = try recordedNames(node)
                #expect(
                    recorded.values.allSatisfy { $0 == 1 },
                    "round \(round): sealed twice: \(recorded.filter { $0.value > 1 })")
                #expect(inSealed.isSubset(of: Set(recorded.keys)), "released before its seal was recorded")
                // A killed daemon signs no last checkpoint: verify names the entries after the latest
                // one as uncovered, and nothing else; `custos checkpoint --sign` covers them.
                let verify = try node.verify()
                let faults = verify.output.split(separator: "\n").filter { $0.hasPrefix("- [") }
                #expect(
                    verify.status == 0
                        || (!faults.isEmpty && faults.allSatisfy { $0.hasPrefix("- [entries-uncovered]") }),
                    "round \(round): \(verify.output)")
                #expect(try node.custos(["checkpoint", "--sign"]).status == 0)
                let covered = try node.verify()
                #expect(covered.status == 0, "round \(round): \(covered.output)")
            }
            // A last, undisturbed run finishes the work.
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_SETTLE_SECONDS": "0.05"])
            #expect(try node.waitForItems(expected.count, timeout: 120), "\(daemon.log.suffix(3000))")
            #expect(waitUntil(timeout: 30) { node.entryNames(under: node.inbox).isEmpty })
            #expect(daemon.stop() == 0)
            let items = try node.items()
            #expect(items.count == expected.count)
            for item in items {
                let name = try #require(itemName(item))
                #expect(item["sha256"] as? String == expected[name], "\(name)")
            }
            #expect(try node.verify().status == 0)
            // No archive is left that no entry records.
            let contents = Set(items.map { $0["sha256"] as! String })
            let archives = node.entryNames(under: node.vault + "/objects").map {
                String($0.split(separator: "/").last!.prefix(64))
            }
            #expect(Set(archives) == contents && archives.count == contents.count)
            #expect(node.entryNames(under: node.vault + "/tmp").isEmpty)
        }

        @Test func sigtermDuringALargeSealCompletesItAndExitsZero() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            let source = try node.directory.write("large.bin", randomBytes(256 << 20))
            let digest = try sha256sum(source)
            #expect(rename(source, node.inbox + "/large.bin") == 0)
            #expect(waitUntil(timeout: 30) { !node.entryNames(under: node.vault + "/tmp").isEmpty })
            daemon.process.signal(SIGTERM)
            #expect(daemon.process.wait(timeout: 120) == 0, "\(daemon.log)")
            // The seal in flight completed: recorded, released, checkpointed; nothing half-done.
            let items = try node.items()
            #expect(items.count == 1 && items.first?["sha256"] as? String == digest)
            #expect(node.entryNames(under: node.inbox).isEmpty)
            #expect(node.entryNames(under: node.sealedFolder) == ["large.bin"])
            #expect(node.entryNames(under: node.vault + "/tmp").isEmpty)
            #expect(daemon.log.contains("custos daemon stopped"))
            // The checkpoint covers the seal and its time stamp: every entry (its own token is kept beside it).
            #expect(try node.custos(["checkpoint"]).output.contains("\n2\n"))
            #expect(try node.verify().status == 0)
        }

        @Test func aLargeFileIsSealedInConstantMemory() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            let before = try #require(daemon.process.peakMemoryKiB)
            try node.directory.write("big.bin", randomBytes(1 << 30))
            #expect(rename(node.directory.file("big.bin"), node.inbox + "/big.bin") == 0)
            #expect(try node.waitForItems(1, timeout: 180))
            let peak = try #require(daemon.process.peakMemoryKiB)
            // A 1 GiB file through bounded buffers: the peak stays far below the file's size.
            #expect(peak < 160 * 1024, "peak \(peak) KiB (at start \(before) KiB)")
            #expect(daemon.stop() == 0)
        }

        @Test func startUpRemovesTemporariesAndArchivesNoEntryRecords() throws {
            let node = try Node()
            #expect(try node.custos(["ingest", try node.directory.write("kept.txt", "kept")]).status == 0)
            let orphanHash = String(repeating: "ab", count: 32)
            try node.directory.write("vault/tmp/seal-interrupted.tar.zst", "half an archive")
            try node.directory.write("vault/objects/ab/\(orphanHash).tar.zst", "an archive never recorded")
            try node.directory.write("vault/manifests/cd/\(String(repeating: "cd", count: 32)).json", "{}")
            try node.directory.write("vault/manifests/cd/.tmp-99-x.json", "{")
            let daemon = try RunningDaemon(node)
            #expect(daemon.log.contains("reconciled the vault"))
            #expect(node.entryNames(under: node.vault + "/tmp").isEmpty)
            #expect(!FileManager.default.fileExists(atPath: node.vault + "/objects/ab/\(orphanHash).tar.zst"))
            #expect(node.entryNames(under: node.vault + "/manifests").count == 1)
            #expect(daemon.stop() == 0)
            #expect(try node.verify().status == 0)
        }

        @Test(.enabled(if: haveProgram("sqlite3") && haveProgram("python3")))
        func anOriginalWhoseSealIsCommittedIsReleasedAtStartNotSealedAgain() throws {
            let node = try Node()
            // A seal committed with its release journalled, then a crash before the release: made
            // here by recording the file and writing its journal row by hand.
            let path = try node.directory.write("vault/inbox/R/committed.bin", randomBytes(2000))
            #expect(try node.custos(["ingest", "--case", "R", path]).status == 0)
            let item = try #require(try node.items().first?["item"] as? String)
            let identity = try run(
                "python3",
                [
                    "-c", "import os,sys; s=os.lstat(sys.argv[1]); print(s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns)",
                    path,
                ]
            ).output.split(separator: " ").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
            let sql = """
                INSERT INTO releases (item, path, device, inode, size, mtime_ns, destination, sidecar_state)
                VALUES ('\(item)', CAST('\(path)' AS BLOB), \(identity[0]), \(identity[1]), \
                \(identity[2]), \(identity[3]), CAST('\(node.sealedFolder)/R/committed.bin' AS BLOB), 0);
                """
            #expect(try run("sqlite3", [node.vault + "/ledger.sqlite", sql]).status == 0)
            let daemon = try RunningDaemon(node)
            #expect(waitUntil(timeout: 10) { node.entryNames(under: node.inbox).isEmpty })
            // The start-up reconciliation released it (a daemon releases only after recording, so
            // once the inbox is empty no second seal can come).
            #expect(waitUntil(timeout: 10) { daemon.log.contains("originalsReleased=1") }, "\(daemon.log)")
            #expect(try node.items().count == 1, "sealed again")
            #expect(node.entryNames(under: node.sealedFolder) == ["R/committed.bin"])
            #expect(daemon.log.contains("originalsReleased=1"))
            #expect(daemon.stop() == 0)
            #expect(
                try run("sqlite3", [node.vault + "/ledger.sqlite", "SELECT count(*) FROM releases"]).output == "0\n")
        }

        @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
        func aFullDiskLeavesOriginalsInTheInboxAndSealingResumesWithSpace() throws {
            let mount = try TmpfsMount(sizeMiB: 12)
            let node = try Node(directory: mount.directory)
            let inboxRoot = TemporaryDirectory("e2e-inbox")
            let inbox = inboxRoot.file("inbox")
            try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_INBOX": inbox])
            for index in 0..<4 {
                try inboxRoot.write("stage/f\(index).bin", randomBytes(4 << 20))
                #expect(rename(inboxRoot.file("stage/f\(index).bin"), inbox + "/f\(index).bin") == 0)
            }
            #expect(waitUntil(timeout: 30) { daemon.log.contains("the vault's disk is full") }, "\(daemon.log)")
            #expect(try node.items().count < 4)
            // Originals not sealed are still in the inbox (a seal committed meanwhile has left it).
            #expect(
                waitUntil(timeout: 10) {
                    let waiting = (try? FileManager.default.contentsOfDirectory(atPath: inbox).count) ?? -1
                    return waiting + ((try? node.items().count) ?? -1) == 4
                })
            try mount.resize(sizeMiB: 64)
            #expect(try node.waitForItems(4, timeout: 60))
            #expect(
                waitUntil(timeout: 10) {
                    (try? FileManager.default.contentsOfDirectory(atPath: inbox))?.isEmpty == true
                })
            #expect(daemon.stop() == 0)
            #expect(Set(try node.items().compactMap(itemName)).count == 4)
            #expect(try node.verify().status == 0)
        }

        @Test(.enabled(if: isRoot, "mounting a tmpfs needs root"))
        func aWriteErrorStopsSealingWithAnAlarm() throws {
            let node = try Node()
            // The vault's tmp/ on a file system that turns read-only under the daemon, as ext4 does
            // with errors=remount-ro when its disk fails: every write there fails with EROFS.
            let failing = try TmpfsMount(sizeMiB: 8, at: node.vault + "/tmp")
            let daemon = try RunningDaemon(node)
            try failing.remountReadOnly()
            try node.directory.write("x.bin", randomBytes(1000))
            #expect(rename(node.directory.file("x.bin"), node.inbox + "/x.bin") == 0)
            #expect(daemon.process.wait(timeout: 30) == 3, "\(daemon.log)")
            #expect(daemon.log.contains("ALARM: writing the vault failed; sealing has stopped"))
            #expect(daemon.log.contains("sealing stopped:") && daemon.log.contains("Read-only file system"))
            // No retry-and-continue: the original waits in the inbox, nothing was recorded.
            #expect(FileManager.default.fileExists(atPath: node.inbox + "/x.bin"))
            #expect(try node.items().isEmpty)
            #expect(try node.verify().status == 0)
        }
    }
}
