import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// A writer of the inbox who swaps names while a sealed original is being released: the
    /// daemon moves or deletes only the very files it sealed and read (the original, its sidecar),
    /// never a file swapped in under their names.
    @Suite(
        "custos daemon: names swapped during a release", .serialized, .timeLimit(.minutes(3)),
        .enabled(if: haveProgram("cc")))
    struct HostileReleaseTests {
        /// Holds the daemon just before it renames or unlinks `evidence.bin` (after its checks),
        /// until the test says go: the moment a hostile writer swaps names. Once only.
        static func pauseAtRelease(_ node: Node) throws -> (library: String, paused: String, go: String) {
            let paused = node.directory.file("paused")
            let go = node.directory.file("go")
            let library = try FaultInjection.preload(
                node, "pause-release",
                """
                static void pause_at(const char *name) {
                    if (strcmp(name, "evidence.bin") != 0 || access("\(go)", F_OK) == 0) return;
                    fclose(fopen("\(paused)", "w"));
                    while (access("\(go)", F_OK) != 0) usleep(10000);
                }
                int renameat2(int from_dir, const char *from, int to_dir, const char *to, unsigned int flags) {
                    pause_at(from);
                    return ((int (*)(int, const char *, int, const char *, unsigned int))dlsym(RTLD_NEXT, "renameat2"))(
                        from_dir, from, to_dir, to, flags);
                }
                int unlinkat(int dir, const char *name, int flags) {
                    pause_at(name);
                    return ((int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat"))(dir, name, flags);
                }
                """)
            return (library, paused, go)
        }

        /// Drops `evidence.bin` with its sidecar and starts a daemon held at the release.
        func start(_ node: Node, release: String) throws -> (RunningDaemon, go: String) {
            let (library, paused, go) = try Self.pauseAtRelease(node)
            try FileManager.default.createDirectory(atPath: node.inbox + "/H-1", withIntermediateDirectories: true)
            try node.directory.write("evidence.bin.custos.yaml", "exhibit: H-1-A\n")
            try node.directory.write("evidence.bin", randomBytes(5000))
            #expect(rename(node.directory.file("evidence.bin.custos.yaml"), node.inbox + "/H-1/evidence.bin.custos.yaml") == 0)
            #expect(rename(node.directory.file("evidence.bin"), node.inbox + "/H-1/evidence.bin") == 0)
            let daemon = try RunningDaemon(
                node, environment: ["CUSTOS_RELEASE": release, "LD_PRELOAD": library])
            #expect(waitUntil(timeout: 60) { FileManager.default.fileExists(atPath: paused) }, "\(daemon.log)")
            return (daemon, go)
        }

        @Test(arguments: ["move", "delete"])
        func aSidecarSwappedAfterSealingIsNotReleased(release: String) throws {
            let node = try Node()
            let victim = try node.directory.write("victim.txt", "another file, not the sidecar read at sealing")
            let victimDigest = try sha256sum(victim)
            let (daemon, _) = try start(node, release: release)
            let sidecar = node.inbox + "/H-1/evidence.bin.custos.yaml"
            #expect(rename(victim, sidecar) == 0)
            try node.directory.write("go", "")
            #expect(waitUntil(timeout: 30) { !FileManager.default.fileExists(atPath: node.inbox + "/H-1/evidence.bin") })
            #expect(waitUntil(timeout: 10) { daemon.log.contains("the sidecar was replaced") }, "\(daemon.log)")
            #expect(daemon.stop() == 0)
            // The file swapped in is where the writer put it, unchanged; nothing of it in sealed/.
            #expect(FileManager.default.fileExists(atPath: sidecar))
            #expect(try sha256sum(sidecar) == victimDigest)
            #expect(!node.entryNames(under: node.sealedFolder).contains("H-1/evidence.bin.custos.yaml"))
            #expect(try node.items().count == 1)
        }

        /// A crash before the release: reconciliation releases the original, and its sidecar
        /// with it, since the release journal keeps the sidecar as it was read (device, inode,
        /// ctime); one swapped in under its name while the daemon was down stays in the inbox.
        @Test(arguments: [false, true])
        func afterACrashTheSidecarLeavesWithItsOriginalOnlyIfItIsTheOneRead(swapped: Bool) throws {
            let node = try Node()
            let (daemon, _) = try start(node, release: "move")
            daemon.process.signal(SIGKILL)
            #expect(daemon.process.wait(timeout: 30) == 128 + SIGKILL)
            let sidecar = node.inbox + "/H-1/evidence.bin.custos.yaml"
            if swapped {
                let forged = try node.directory.write("forged.yaml", "exhibit: FORGED\n")
                #expect(rename(forged, sidecar) == 0)
            }
            let again = try RunningDaemon(node)
            #expect(
                waitUntil(timeout: 30) { node.entryNames(under: node.sealedFolder).contains("H-1/evidence.bin") },
                "\(again.log)")
            if swapped {
                #expect(waitUntil(timeout: 10) { again.log.contains("the sidecar was replaced") }, "\(again.log)")
            }
            #expect(again.stop() == 0)
            #expect(FileManager.default.fileExists(atPath: sidecar) == swapped)
            #expect(
                node.entryNames(under: node.sealedFolder).sorted()
                    == (swapped ? ["H-1/evidence.bin"] : ["H-1/evidence.bin", "H-1/evidence.bin.custos.yaml"]))
            #expect(try node.items().count == 1)
        }

        /// Delete mode: between the check of the original's name and its unlink, the writer
        /// swaps another file in under that name. It is not deleted: it is put back, sealed as a
        /// new item, and only then deleted.
        @Test func anOriginalSwappedAtItsDeleteIsNotDeletedUnsealed() throws {
            let node = try Node()
            let victim = try node.directory.write("victim.bin", randomBytes(3000))
            let victimDigest = try sha256sum(victim)
            let (daemon, _) = try start(node, release: "delete")
            #expect(rename(node.inbox + "/H-1/evidence.bin", node.directory.file("sealed-original.bin")) == 0)
            #expect(rename(victim, node.inbox + "/H-1/evidence.bin") == 0)
            try node.directory.write("go", "")
            // The file swapped in is sealed before it leaves the inbox.
            #expect(try node.waitForItems(2, timeout: 30), "\(daemon.log)")
            #expect(waitUntil(timeout: 30) { !FileManager.default.fileExists(atPath: node.inbox + "/H-1/evidence.bin") })
            #expect(daemon.stop() == 0)
            #expect(try node.items().contains { $0["sha256"] as? String == victimDigest })
            // Nothing is left in the daemon's own folder of files being deleted.
            #expect(node.entryNames(under: node.sealedFolder + "/.custos-deleting").isEmpty)
        }
    }
}

extension DaemonSuites.HostileReleaseTests {
    /// A sidecar is known by its device, inode and status change time: ext4 readily gives a new
    /// file the inode number of one just removed, so a sidecar deleted and forged in its place
    /// can have the same device and inode, never the same ctime. Any change of the sidecar's
    /// status after it was read (here a chmod, which is what such a forgery cannot avoid) keeps
    /// it from being released as the one read.
    @Test func aSidecarWhoseStatusChangedAfterSealingIsNotReleased() throws {
        let node = try Node()
        let (daemon, _) = try start(node, release: "move")
        let sidecar = node.inbox + "/H-1/evidence.bin.custos.yaml"
        #expect(chmod(sidecar, 0o600) == 0)
        try node.directory.write("go", "")
        #expect(waitUntil(timeout: 30) { !FileManager.default.fileExists(atPath: node.inbox + "/H-1/evidence.bin") })
        #expect(waitUntil(timeout: 10) { daemon.log.contains("the sidecar was replaced") }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(FileManager.default.fileExists(atPath: sidecar))
        #expect(node.entryNames(under: node.sealedFolder) == ["H-1/evidence.bin"])
    }

    /// Delete mode: bytes written to the sealed original itself (same file, same inode) between
    /// the check of its name and its delete are never deleted unsealed: the file is checked once
    /// more where no writer reaches it, put back, and sealed as a new item with those bytes.
    @Test func anOriginalWrittenToAtItsDeleteIsPutBackAndSealedAgain() throws {
        let node = try Node()
        let (daemon, _) = try start(node, release: "delete")
        let original = node.inbox + "/H-1/evidence.bin"
        let appended = try #require(FileHandle(forWritingAtPath: original))
        try appended.seekToEnd()
        try appended.write(contentsOf: Data("written after the seal".utf8))
        try appended.close()
        let grown = try sha256sum(original)
        try node.directory.write("go", "")
        #expect(try node.waitForItems(2, timeout: 30), "\(daemon.log)")
        #expect(waitUntil(timeout: 30) { !FileManager.default.fileExists(atPath: original) })
        #expect(daemon.stop() == 0)
        #expect(daemon.log.contains("written to after it was sealed"), "\(daemon.log)")
        #expect(try node.items().contains { $0["sha256"] as? String == grown })
        #expect(node.entryNames(under: node.sealedFolder + "/.custos-deleting").isEmpty)
    }

    /// A daemon killed between renaming an original into `sealed/.custos-deleting/` and
    /// unlinking it: the next start finishes the delete (the file there is the one sealed), and
    /// deletes the sidecar too, the one the release journal says was read.
    @Test func aDeleteInterruptedAfterItsRenameIsFinishedAtTheNextStart() throws {
        let node = try Node()
        let paused = node.directory.file("paused")
        let library = try FaultInjection.preload(
            node, "pause-unlink",
            """
            int unlinkat(int dir, const char *name, int flags) {
                if (strstr_fd(dir, "/.custos-deleting")) {
                    fclose(fopen("\(paused)", "w"));
                    for (;;) pause();
                }
                return ((int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat"))(dir, name, flags);
            }
            """)
        try FileManager.default.createDirectory(atPath: node.inbox + "/H-2", withIntermediateDirectories: true)
        try node.directory.write("vault/inbox/H-2/evidence.bin.custos.yaml", "exhibit: H-2-A\n")
        try node.directory.write("vault/inbox/H-2/evidence.bin", randomBytes(4000))
        let daemon = try RunningDaemon(node, environment: ["CUSTOS_RELEASE": "delete", "LD_PRELOAD": library])
        #expect(waitUntil(timeout: 60) { FileManager.default.fileExists(atPath: paused) }, "\(daemon.log)")
        daemon.process.signal(SIGKILL)
        #expect(daemon.process.wait(timeout: 30) == 128 + SIGKILL)
        #expect(node.entryNames(under: node.sealedFolder + "/.custos-deleting").count == 1)
        let again = try RunningDaemon(node, environment: ["CUSTOS_RELEASE": "delete"])
        #expect(waitUntil(timeout: 30) { node.entryNames(under: node.sealedFolder + "/.custos-deleting").isEmpty })
        #expect(waitUntil(timeout: 30) { node.entryNames(under: node.inbox).isEmpty }, "\(again.log)")
        #expect(again.stop() == 0)
        #expect(try node.items().count == 1)
    }
}
