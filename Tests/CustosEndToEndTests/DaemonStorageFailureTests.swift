import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// Invariant 8: any failed write or sync of the vault or the inbox stops sealing, and the daemon
    /// exits 3, at start, in a rejection, in a release and in the external authorities' stamper.
    /// Faults are injected into the real binary: by strace (the Nth call of each thread), or by a
    /// small preloaded library that fails `syncfs` on one folder's file system.
    @Suite(
        "custos daemon: a storage failure stops sealing", .serialized, .timeLimit(.minutes(1)),
        .enabled(if: haveProgram("strace") && haveProgram("cc")))
    struct DaemonStorageFailureTests {
        static let noBacktrace = ["SWIFT_BACKTRACE": "enable=no"]

        @Test func aFailedSyncAtStartExits3() throws {
            let node = try Node()
            let result = try run(
                "timeout",
                ["60", "strace", "-f", "-qq", "-o", "/dev/null", "-e", "inject=syncfs:error=EIO:when=1", custosBinary, "daemon",
                 "--vault", node.vault],
                environment: Self.noBacktrace)
            #expect(result.status == 3, "\(result.stderr)")
            #expect(result.stderr.contains("reconciling the vault at start failed"), "\(result.stderr)")
        }

        /// A bundle the daemon recorded whose file cannot take its name in the vault's tmp/ (the
        /// rename of its partial file fails with ENOSPC): the client is told it is recorded and
        /// that nothing was sent, and nothing of it stays in tmp/ while the daemon runs on.
        @Test func aRecordedBundleThatCannotTakeItsNameInTmpLeavesNothingThere() throws {
            let node = try Node()
            let original = try node.directory.write("evidence.bin", randomBytes(5_000))
            #expect(try node.custos(["ingest", "--case", "B-1", "--exhibit", "1", original]).status == 0)
            let item = try #require(try node.items().first?["item"] as? String)
            let library = try FaultInjection.preload(
                node, "failrename",
                """
                int renameat2(int from_directory, const char *from, int to_directory, const char *to, unsigned flags) {
                    if (strstr(from, "-bundle-") && strstr(from, "-part")) { errno = ENOSPC; return -1; }
                    return ((int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2"))(
                        from_directory, from, to_directory, to, flags);
                }
                """)
            let daemon = try RunningDaemon(node, environment: ["LD_PRELOAD": library])
            let out = node.directory.file("out")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let result = try node.custos(["export", item, "--reason", "for the court", "-o", out + "/bundle.tar"])
            #expect(
                result.status != 0 && result.stderr.contains("the export is recorded")
                    && result.stderr.contains("nothing was sent"), "\(result.stderr) \(daemon.log)")
            #expect(
                node.entryNames(under: node.vault + "/tmp").isEmpty, "\(node.entryNames(under: node.vault + "/tmp"))")
            #expect(node.entryNames(under: out).isEmpty, "\(node.entryNames(under: out))")
            #expect(daemon.process.isRunning)
            #expect(daemon.stop() == 0)
            // Recorded all the same: the report, then the export.
            let history = try node.custos(["history", "--json", item])
            let events = try #require(
                try JSONSerialization.jsonObject(with: Data(history.stdout)) as? [[String: Any]])
            #expect(events.suffix(2).map { $0["event"] as? String } == ["reported", "exported"])
            #expect(try node.verify().status == 0)
        }

        /// Fails syncfs(2) on a descriptor of the sealed/ folder (held open on the inbox's file system).
        static func failingInboxSync(_ node: Node) throws -> String {
            try FaultInjection.preload(
                node, "failsync",
                """
                int syncfs(int fd) {
                    if (ends_with(fd, "/sealed")) { errno = EIO; return -1; }
                    return ((int (*)(int))dlsym(RTLD_NEXT, "syncfs"))(fd);
                }
                """)
        }

        @Test func aRejectionWhoseSyncFailsStopsSealing() throws {
            let node = try Node()
            symlink("/etc/hostname", node.inbox + "/a-link")
            // The link is moved to rejected/, then the inbox's file system is synced: that fails.
            let daemon = try RunningDaemon(node, environment: ["LD_PRELOAD": try Self.failingInboxSync(node)])
            #expect(waitUntil(timeout: 30) { !daemon.process.isRunning }, "\(daemon.log)")
            #expect(daemon.process.wait(timeout: 1) == 3, "\(daemon.log)")
            #expect(daemon.log.contains("ALARM") && daemon.log.contains("syncing the folders failed"), "\(daemon.log)")
            // Moved, with its reason: not reported as left in the inbox.
            #expect(!daemon.log.contains("stays in the inbox"))
            #expect(node.entryNames(under: node.inbox).isEmpty)
            #expect(node.entryNames(under: node.rejectedFolder).contains { $0.hasSuffix("/a-link") })
        }

        @Test func aFailedSyncOfTheInboxAfterAReleaseStopsSealing() throws {
            let node = try Node()
            let library = try Self.failingInboxSync(node)
            // At start the inbox is synced only when a release is pending: none here.
            let daemon = try RunningDaemon(node, environment: ["LD_PRELOAD": library])
            try FileManager.default.createDirectory(atPath: node.inbox + "/C-1", withIntermediateDirectories: true)
            writeRaw(Array((node.inbox + "/C-1/a.bin").utf8), randomBytes(3000))
            #expect(waitUntil(timeout: 30) { !daemon.process.isRunning }, "\(daemon.log)")
            #expect(daemon.process.wait(timeout: 1) == 3, "\(daemon.log)")
            #expect(daemon.log.contains("syncing the inbox after a release failed"), "\(daemon.log)")
            // Sealed once; the next start (syncs working) finds the release done, and all verifies.
            #expect(try node.items().count == 1)
            let again = try RunningDaemon(node)
            #expect(again.stop() == 0)
            #expect(node.entryNames(under: node.sealedFolder) == ["C-1/a.bin"])
            #expect(try node.verify().status == 0)
        }

        @Test(.enabled(if: haveProgram("openssl") && haveProgram("python3")))
        func aFailedAppendOfExternalTokensStopsSealingWithoutAStorm() throws {
            let server = try OpenSSLAuthority(mode: "ok")
            let node = try Node()
            for index in 0..<3 {
                #expect(
                    try node.custos(["ingest", try node.directory.write("f\(index).txt", "file \(index)")]).status == 0)
            }
            try node.useExternalAuthority(server)
            // Once the trigger exists, every write of the ledger's WAL fails. The authority answers
            // only after that, so the stamper's first append is the one that fails.
            let trigger = node.directory.file("fail-now")
            let library = try FaultInjection.failingLedgerWrites(node, onceExists: trigger)
            try server.setMode("http500")
            let daemon = try RunningDaemon(node, environment: ["LD_PRELOAD": library])
            #expect(
                waitUntil(timeout: 20) { daemon.log.contains("an external time-stamping authority failed") },
                "\(daemon.log)")
            _ = try node.directory.write("fail-now", "")
            try server.setMode("ok")
            #expect(waitUntil(timeout: 30) { !daemon.process.isRunning }, "\(daemon.log)")
            #expect(daemon.process.wait(timeout: 1) == 3, "\(daemon.log)")
            #expect(daemon.log.contains("ALARM") && daemon.log.contains("external time stamp"), "\(daemon.log)")
            #expect(!daemon.log.contains("trying again"), "\(daemon.log)")
            // Nothing was recorded, nothing lost: the items still await the authority.
            #expect(try node.items().allSatisfy { ($0["awaitingTimeStamps"] as? [String]) == ["independent"] })
            #expect(try node.verify().status == 0)
        }
    }
}

extension DaemonSuites {
    /// `verify` beside a running daemon: the entries since its last checkpoint await its next one,
    /// a note, not a fault; once the daemon has stopped, its last checkpoint covers them.
    @Suite("custos verify beside a running daemon", .serialized, .timeLimit(.minutes(1)))
    struct VerifyBesideADaemonTests {
        @Test func entriesAwaitingTheDaemonsNextCheckpointAreANoteNotAFault() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_CHECKPOINT_SECONDS": "3600"])
            try FileManager.default.createDirectory(atPath: node.inbox + "/C-1", withIntermediateDirectories: true)
            writeRaw(Array((node.inbox + "/C-1/a.bin").utf8), randomBytes(1000))
            #expect(try node.waitForItems(1))
            let beside = try node.verify()
            #expect(beside.status == 0, "\(beside.output)")
            #expect(beside.output.contains("note: a daemon runs for this vault"), "\(beside.output)")
            #expect(daemon.stop() == 0)
            let after = try node.verify()
            #expect(after.status == 0 && !after.output.contains("note:"), "\(after.output)")
        }
    }
}
