import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// Everything a shared folder, a careless user or the kernel can do to the inbox: each refused
    /// with a reason, retried, or sealed byte-exact, never lost and never sealed twice.
    @Suite("custos daemon: bad input in the inbox", .serialized, .timeLimit(.minutes(5)))
    struct DaemonBadInputTests {
        /// Reads the reason files in rejected/, by the name of the input they speak of.
        func reasons(_ node: Node) throws -> [String: String] {
            var found = [String: String]()
            for name in node.entryNames(under: node.rejectedFolder) where name.hasSuffix(".reason.txt") {
                let text = try String(contentsOfFile: node.rejectedFolder + "/" + name, encoding: .utf8)
                let input = text.split(separator: "\n").first { $0.hasPrefix("input:") }!.dropFirst(7)
                    .trimmingCharacters(in: .whitespaces)
                found[input] = text
            }
            return found
        }

        @Test func symbolicLinksAreRejectedNeverFollowed() throws {
            let node = try Node()
            // One real item first, so a link can point into the vault at its archive.
            #expect(try node.custos(["ingest", try node.directory.write("real.txt", "real")]).status == 0)
            let archive = node.archivePath(item: try node.items()[0])
            let outside = try node.directory.write("outside/secret.txt", "not evidence")
            try FileManager.default.createDirectory(atPath: node.inbox + "/L-1", withIntermediateDirectories: true)
            symlink(outside, node.inbox + "/L-1/to-outside")
            symlink(node.directory.file("nowhere"), node.inbox + "/L-1/dangling")
            symlink(node.inbox + "/L-1/loop", node.inbox + "/L-1/loop")
            symlink(archive, node.inbox + "/L-1/into-vault")
            let daemon = try RunningDaemon(node)
            #expect(waitUntil(timeout: 20) { node.entryNames(under: node.inbox).isEmpty })
            let found = try reasons(node)
            for name in ["to-outside", "dangling", "loop", "into-vault"] {
                #expect(
                    found["L-1/\(name)"]?.contains("is a symbolic link; refused, never followed") == true, "\(found)")
            }
            // The links were moved as links: their targets are where they were, unchanged.
            #expect(try String(contentsOfFile: outside, encoding: .utf8) == "not evidence")
            #expect(FileManager.default.fileExists(atPath: archive))
            #expect(try node.items().count == 1)
            #expect(daemon.stop() == 0)
            #expect(try node.verify().status == 0)
        }

        @Test func aHardLinkToAFileOutsideIsSealedFlaggedAndItsTargetKept() throws {
            let node = try Node()
            let outside = try node.directory.write("outside/original.bin", randomBytes(5000))
            let before = try sha256sum(outside)
            var status = stat()
            stat(outside, &status)
            #expect(link(outside, node.inbox + "/linked.bin") == 0)
            let daemon = try RunningDaemon(node)
            #expect(try node.waitForItems(1))
            let item = try #require(try node.items().first)
            #expect(item["sha256"] as? String == before)
            let shown = try node.custos(["show", "--json", item["item"] as! String])
            let manifest = (try JSONSerialization.jsonObject(with: Data(shown.stdout)) as! [String: Any])["manifest"]
            let inbox = (manifest as! [String: Any])["inbox"] as! [String: Any]
            #expect(inbox["flags"] as? [String] == ["hardLinked"])
            #expect(daemon.log.contains("hard-linked: the inbox's name is one of several links"))
            #expect(daemon.stop() == 0)
            // The target outside is neither changed nor removed.
            var after = stat()
            #expect(stat(outside, &after) == 0)
            #expect(after.st_ino == status.st_ino)
            #expect(try sha256sum(outside) == before)
        }

        @Test func fifosSocketsAndDevicesAreRejectedWithoutBlocking() throws {
            let node = try Node()
            #expect(mkfifo(node.inbox + "/pipe", 0o644) == 0)
            let socketPath = node.inbox + "/socket"
            let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                socketPath.utf8CString.withUnsafeBytes { raw.copyMemory(from: $0) }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            #expect(bound == 0)
            defer { close(sock) }
            if isRoot { #expect(mknod(node.inbox + "/device", S_IFCHR | 0o644, dev_t(1 << 8 | 3)) == 0) }
            let daemon = try RunningDaemon(node)
            #expect(waitUntil(timeout: 20) { node.entryNames(under: node.inbox).isEmpty })
            let found = try reasons(node)
            #expect(found["pipe"]?.contains("is a FIFO, not a regular file; refused without being opened") == true)
            #expect(found["socket"]?.contains("is a socket") == true)
            if isRoot { #expect(found["device"]?.contains("is a character device") == true) }
            // The daemon is not blocked: a regular file dropped next is sealed.
            try node.directory.write("next.txt", "next")
            #expect(rename(node.directory.file("next.txt"), node.inbox + "/next.txt") == 0)
            #expect(try node.waitForItems(1))
            #expect(daemon.stop() == 0)
        }

        @Test(.enabled(if: isRoot && haveProgram("setpriv"), "root reads any file: the daemon runs as nobody"))
        func anUnreadableFileIsReportedRetriedAndNeverDropped() throws {
            let directory = TemporaryDirectory("e2e-daemon-unreadable")
            chmod(directory.path, 0o755)
            let binary = directory.file("custos")
            #expect(try run("cp", [custosBinary, binary]).status == 0)
            chmod(binary, 0o755)
            let node = try Node(directory: directory)
            #expect(try run("chown", ["-R", "65534:65534", node.vault]).status == 0)
            let locked = try node.directory.write("vault/inbox/locked.bin", "locked away")
            chmod(locked, 0o000)  // Owned by root: nobody cannot read it.
            let daemon = try RunningDaemon(
                node, prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"], binary: binary)
            #expect(
                waitUntil(timeout: 20) { daemon.log.components(separatedBy: "cannot be read").count > 2 },
                "\(daemon.log)")
            #expect(daemon.log.contains("locked.bin") && daemon.log.contains("Permission denied"))
            #expect(FileManager.default.fileExists(atPath: locked))
            #expect(try node.items().isEmpty)
            // Readable again: sealed on the next try.
            chmod(locked, 0o644)
            #expect(try node.waitForItems(1, timeout: 30))
            #expect(daemon.stop() == 0)
        }

        @Test func oddNamesAreSealedByteExactEscapedInLogsAndNeverMerged() throws {
            let node = try Node()
            let names: [[UInt8]] = [
                [0x66, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e],  // not UTF-8
                Array("two\nlines.txt".utf8),
                Array("bell\u{7}.txt".utf8),
                Array(repeating: UInt8(ascii: "n"), count: 255),
                Array("caf\u{e9}.txt".utf8),  // é precomposed
                Array("cafe\u{301}.txt".utf8),  // e + combining acute: looks the same
                Array("paypal.txt".utf8),
                Array("p\u{430}yp\u{430}l.txt".utf8),  // Cyrillic а
            ]
            for (index, name) in names.enumerated() {
                writeRaw(Array(node.inbox.utf8) + [UInt8(ascii: "/")] + name, Array("content \(index)".utf8))
            }
            let daemon = try RunningDaemon(node)
            #expect(try node.waitForItems(names.count))
            #expect(waitUntil(timeout: 10) { node.entries(under: node.inbox).isEmpty })
            #expect(daemon.stop() == 0)
            // Every name arrives in sealed/ byte for byte; eight items, none merged.
            #expect(Set(node.entries(under: node.sealedFolder)) == Set(names))
            #expect(try node.items().count == names.count)
            // Log lines are escaped: no raw newline or bell inside a line.
            let log = daemon.log
            #expect(log.contains("two\\nlines.txt") && log.contains("bell\\u{7}.txt") || log.contains("bell\\a.txt"))
            #expect(!log.contains("two\nlines") && !log.contains("\u{7}"))
            #expect(try node.verify().status == 0)
        }

        @Test func aCaseFolderWhoseNameIsNotACaseNumberRefusesItsFilesWithTheReason() throws {
            let node = try Node()
            let caseFolder = Array(node.inbox.utf8) + [UInt8(ascii: "/"), 0x43, 0xff, 0x31]  // "C\xff1"
            #expect(withCString(caseFolder) { mkdir($0, 0o755) } == 0)
            writeRaw(caseFolder + Array("/photo.jpg".utf8), Array("jpeg".utf8))
            let daemon = try RunningDaemon(node)
            #expect(waitUntil(timeout: 20) { node.entries(under: node.inbox).isEmpty })
            // Moved byte-exact under rejected/<the same folder name>/, with the reason beside it.
            let rejected = node.entries(under: node.rejectedFolder)
            #expect(
                rejected.contains {
                    $0.starts(with: [0x43, 0xff, 0x31, UInt8(ascii: "/")]) && $0.suffix(9) == Array("photo.jpg".utf8)
                })
            let reasonFile = try #require(rejected.first { $0.suffix(11) == Array(".reason.txt".utf8) })
            let reason = String(
                decoding: readRaw(Array(node.rejectedFolder.utf8) + [UInt8(ascii: "/")] + reasonFile), as: UTF8.self)
            #expect(reason.contains("input:  C\\xff1/photo.jpg"), "\(reason)")
            #expect(reason.contains("is not a case number (printable UTF-8, at most 128 bytes)"), "\(reason)")
            #expect(try node.items().isEmpty)
            #expect(daemon.stop() == 0)
        }

        @Test func aFileRenamedOrDeletedBeforeItSettlesIsHandledQuietly() throws {
            let node = try Node()
            // Settle time long enough that a test thread slowed by a busy machine still renames
            // and deletes before the daemon seals.
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_SETTLE_SECONDS": "4"])
            try node.directory.write("a.txt", "renamed")
            try node.directory.write("b.txt", "deleted")
            #expect(rename(node.directory.file("a.txt"), node.inbox + "/first-name.txt") == 0)
            #expect(rename(node.directory.file("b.txt"), node.inbox + "/gone.txt") == 0)
            // Seen before they change: a folder made after them is watched once the daemon has
            // handled every event before its own.
            try FileManager.default.createDirectory(atPath: node.inbox + "/seen", withIntermediateDirectories: false)
            #expect(waitUntil(timeout: 20) { daemon.watches(node.inbox + "/seen") })
            #expect(rename(node.inbox + "/first-name.txt", node.inbox + "/final-name.txt") == 0)
            #expect(unlink(node.inbox + "/gone.txt") == 0)
            #expect(try node.waitForItems(1))
            // Released: the daemon is done with the one file left.
            #expect(waitUntil(timeout: 30) { node.entryNames(under: node.sealedFolder) == ["final-name.txt"] })
            let items = try node.items()
            #expect(items.count == 1 && itemName(items[0]) == "final-name.txt")
            #expect(node.entryNames(under: node.rejectedFolder).isEmpty)
            #expect(daemon.stop() == 0)
        }

        @Test(arguments: ["append", "truncate"])
        func aFileChangedWhileItIsHashedIsNeverRecordedWithAWrongDigest(_ change: String) throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            let path = node.inbox + "/growing.bin"
            try node.directory.write("growing.bin", randomBytes(96 << 20))
            #expect(rename(node.directory.file("growing.bin"), path) == 0)
            // Change it once its seal has begun (the archive being written in tmp/).
            #expect(waitUntil(timeout: 30) { !node.entryNames(under: node.vault + "/tmp").isEmpty })
            let fd = open(path, O_WRONLY | O_APPEND)
            if change == "append" {
                let more = randomBytes(1 << 20)
                _ = more.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            } else {
                ftruncate(fd, 1 << 20)
            }
            close(fd)
            #expect(try node.waitForItems(1, timeout: 60))
            #expect(daemon.stop() == 0)
            let items = try node.items()
            #expect(items.count == 1)
            // The digest recorded is that of the content released to sealed/, the final one.
            #expect(items.first?["sha256"] as? String == (try sha256sum(node.sealedFolder + "/growing.bin")))
            #expect(try node.verify().status == 0)
        }

        @Test func aWatchedFolderDeletedAndTheInboxRemovedAndRecreated() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node)
            try FileManager.default.createDirectory(atPath: node.inbox + "/C/sub", withIntermediateDirectories: true)
            #expect(waitUntil(timeout: 20) { daemon.watches(node.inbox + "/C/sub") })
            try FileManager.default.removeItem(atPath: node.inbox + "/C/sub")
            try FileManager.default.createDirectory(atPath: node.inbox + "/C/sub", withIntermediateDirectories: true)
            try node.directory.write("vault/inbox/C/sub/one.txt", "one")
            #expect(try node.waitForItems(1))
            // The whole inbox removed, then made again: the daemon watches the new one.
            try FileManager.default.removeItem(atPath: node.inbox)
            #expect(waitUntil(timeout: 20) { daemon.log.contains("the inbox was removed") }, "\(daemon.log)")
            #expect(daemon.process.isRunning)
            try FileManager.default.createDirectory(atPath: node.inbox + "/D", withIntermediateDirectories: true)
            try node.directory.write("vault/inbox/D/two.txt", "two")
            #expect(try node.waitForItems(2, timeout: 30))
            #expect(daemon.log.contains("the inbox was removed"))
            #expect(daemon.stop() == 0)
        }

        @Test func moreFilesThanTheInotifyQueueHoldsAreEachSealedOnce() throws {
            let node = try Node()
            let daemon = try RunningDaemon(node, environment: ["CUSTOS_RESCAN_SECONDS": "3600"])
            let limit =
                (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16384
            // Tens of thousands, each giving two events (created, closed): more than the queue holds.
            let count = Swift.max(20_000, limit / 2 + 500)
            // Stopped, the daemon reads no event while the files arrive: the kernel's queue overflows.
            try FileManager.default.createDirectory(atPath: node.inbox + "/Q", withIntermediateDirectories: true)
            #expect(waitUntil(timeout: 20) { daemon.watches(node.inbox + "/Q") })
            daemon.process.signal(SIGSTOP)
            for index in 0..<count {
                let fd = open(node.inbox + "/Q/f\(index)", O_WRONLY | O_CREAT, 0o644)
                _ = "\(index)".withCString { write(fd, $0, strlen($0)) }
                close(fd)
            }
            daemon.process.signal(SIGCONT)
            #expect(try node.waitForItems(count, timeout: 300))
            #expect(daemon.log.contains("overflowed"))
            #expect(waitUntil(timeout: 30) { node.entryNames(under: node.inbox).isEmpty })
            #expect(daemon.stop() == 0)
            #expect(try node.items().count == count)
            #expect(node.entryNames(under: node.sealedFolder).count == count)
        }
    }
}

extension DaemonSuites.DaemonBadInputTests {
    /// Files that arrive without a write (IN_CREATE, never IN_CLOSE_WRITE): a hard link made by
    /// `ln` and `cp -l`, and a file created read-only. Each is sealed once it has settled.
    @Test func filesThatArriveWithoutAWriteAreSealed() throws {
        let node = try Node()
        let daemon = try RunningDaemon(node)
        let first = try node.directory.write("first.bin", randomBytes(4000))
        let second = try node.directory.write("second.bin", randomBytes(5000))
        #expect(try run("ln", [first, node.inbox + "/linked-by-ln.bin"]).status == 0)
        #expect(try run("cp", ["-l", second, node.inbox + "/linked-by-cp.bin"]).status == 0)
        let fd = open(node.inbox + "/created-read-only.bin", O_CREAT | O_RDONLY, 0o444)
        #expect(fd >= 0)
        close(fd)
        #expect(try node.waitForItems(3, timeout: 30), "\(daemon.log)")
        #expect(waitUntil(timeout: 20) { node.entryNames(under: node.inbox).isEmpty })
        #expect(daemon.stop() == 0)
        let names = Set(try node.items().compactMap(itemName))
        #expect(names == ["linked-by-ln.bin", "linked-by-cp.bin", "created-read-only.bin"])
    }
}
