import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// Whoever can write into the inbox reaches nothing outside it (invariant 9): a folder renamed
    /// away while its files are being sealed and replaced by a symbolic link to a folder outside
    /// the vault leads the daemon nowhere. Nothing outside is read, sealed, moved or deleted.
    @Suite("custos daemon: the inbox is a confinement", .serialized, .timeLimit(.minutes(3)))
    struct InboxConfinementTests {
        static let fileCount = 160
        static let fileSize = 1 << 20

        @Test(arguments: ["move", "delete"])
        func aFolderSwappedForALinkMidSealLeadsNowhere(release: String) throws {
            let node = try Node()
            let block = randomBytes(Self.fileSize)
            let sub = node.inbox + "/C-1/sub"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            // The outside folder holds files of the very names the daemon has queued.
            let outside = node.directory.file("outside")
            try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
            var outsideDigests = Set<String>()
            for index in 0..<Self.fileCount {
                let name = String(format: "f%04d.bin", index)
                writeRaw(Array((sub + "/" + name).utf8), Array("inbox \(index)\n".utf8) + block)
                let target = outside + "/" + name
                writeRaw(Array(target.utf8), Array("outside \(index)\n".utf8) + block)
                outsideDigests.insert(try sha256sum(target))
            }
            let daemon = try RunningDaemon(
                node, environment: ["CUSTOS_WORKERS": "2", "CUSTOS_RELEASE": release, "CUSTOS_SETTLE_SECONDS": "0.2"])
            #expect(try node.waitForItems(1, timeout: 60))
            // Sealing has started: take the folder away and keep a link in its place.
            #expect(rename(sub, node.inbox + "/C-1/away") == 0)
            // Attacks for as long as the daemon seals (every 2 ms: the attacker's pace, the point of
            // the test), checking the ledger every 100 rounds.
            let until = Date().addingTimeInterval(120)
            var round = 0
            while Date() < until {
                var status = stat()
                if lstat(sub, &status) != 0 { symlink(outside, sub) }
                round += 1
                if round % 100 == 0, (try? node.items().count) ?? 0 >= Self.fileCount { break }
                usleep(2000)
            }
            unlink(sub)
            // Everything that was in the inbox is sealed in the end; the daemon stays up. Counted by
            // content: a file sealed in the folder before it was taken away is found again under
            // its new name (`away/`), and may be sealed there a second time, before the last ones
            // (seen on a loaded machine); the count of items alone would stop waiting too early.
            #expect(
                try waitUntil(timeout: 120) {
                    Set(try node.items().compactMap { $0["sha256"] as? String }).count >= Self.fileCount
                })
            #expect(daemon.stop() == 0, "\(daemon.log)")

            // Not one outside file read, moved or deleted.
            let left = try FileManager.default.contentsOfDirectory(atPath: outside)
            #expect(left.count == Self.fileCount, "outside files gone: \(Self.fileCount - left.count)")
            for name in left { #expect(outsideDigests.contains(try sha256sum(outside + "/" + name))) }
            let sealedDigests = Set(try node.items().compactMap { $0["sha256"] as? String })
            #expect(sealedDigests.intersection(outsideDigests).count == 0, "outside files were sealed")
            #expect(sealedDigests.count == Self.fileCount)
            // Nor moved into sealed/ or rejected/: only the links themselves may be there, as links.
            for folder in [node.sealedFolder, node.rejectedFolder] {
                for name in node.entryNames(under: folder) {
                    var status = stat()
                    #expect(lstat(folder + "/" + name, &status) == 0)
                    guard status.st_mode & S_IFMT == S_IFREG else { continue }
                    #expect(!outsideDigests.contains(try sha256sum(folder + "/" + name)), "\(name)")
                }
            }
            #expect(try node.verify().status == 0)
        }
    }
}

extension DaemonSuites.InboxConfinementTests {
    /// A watched folder moved out of the inbox by one of its writers keeps its inotify watch
    /// (a watch follows the inode, not the path): its events would be taken for the inbox's. The
    /// daemon drops such a watch at its first event and reads nothing there; the folder made in
    /// its place is watched and its files sealed.
    @Test func aWatchedFolderMovedOutOfTheInboxIsNoLongerWatched() throws {
        let node = try Node()
        let daemon = try RunningDaemon(node)
        let sub = node.inbox + "/C-2/sub"
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        #expect(waitUntil(timeout: 20) { daemon.watches(sub) })
        let away = node.directory.file("away")
        #expect(rename(sub, away) == 0)
        _ = try node.directory.write("away/outside.txt", "not evidence")
        #expect(waitUntil(timeout: 20) { !daemon.watches(away) }, "\(daemon.log)")
        // A folder of the same name made again in the inbox: watched, its file sealed.
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        #expect(waitUntil(timeout: 20) { daemon.watches(sub) })
        try node.directory.write("vault/inbox/C-2/sub/inside.txt", "evidence")
        #expect(try node.waitForItems(1))
        #expect(daemon.stop() == 0)
        #expect(try node.items().compactMap(itemName) == ["inside.txt"])
        #expect(FileManager.default.fileExists(atPath: away + "/outside.txt"))
    }
}
