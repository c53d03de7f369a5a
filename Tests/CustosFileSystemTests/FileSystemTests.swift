import CustosFileSystem
import CustosFormats
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// A UNIX socket bound at `path` (a file of kind socket), closed when the value goes away.
final class BoundSocket {
    let fd: Int32

    init(_ path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    }

    deinit { close(fd) }
}

func components(_ path: String) -> ConfinedDirectory.Components {
    path.split(separator: "/").map { Array($0.utf8) }
}

@Suite("opening evidence", .timeLimit(.minutes(2)))
struct OpenEvidenceTests {
    @Test func aRegularFileOpensWithItsStatus() throws {
        let directory = TemporaryDirectory("fs")
        let path = try directory.write("file.bin", randomBytes(1000))
        let (file, status) = try FileSystem.openEvidence(RawPath(path))
        #expect(status.isRegularFile && status.size == 1000)
        #expect(try file.readAll().count == 1000)
    }

    /// Each is refused by its kind, from `lstat`, and never opened (a FIFO would block, a device
    /// read forever, a link lead anywhere).
    @Test func whatIsNotARegularFileIsRefusedByItsKind() throws {
        let directory = TemporaryDirectory("fs")
        let target = try directory.write("target.bin", [1, 2, 3])
        #expect(symlink(target, directory.file("link")) == 0)
        #expect(mkfifo(directory.file("fifo"), 0o600) == 0)
        let socket = try BoundSocket(directory.file("socket"))
        try FileManager.default.createDirectory(atPath: directory.file("folder"), withIntermediateDirectories: false)
        let cases: [(String, FileSystemError.Code, String)] = [
            (directory.file("link"), .symlink, "symbolic link"), (directory.file("fifo"), .notRegularFile, "FIFO"),
            (directory.file("socket"), .notRegularFile, "socket"), ("/dev/zero", .notRegularFile, "character device"),
            (directory.file("folder"), .notRegularFile, "directory"), (directory.file("missing"), .notFound, "no such"),
        ]
        for (path, code, kind) in cases {
            let error = #expect(throws: FileSystemError.self) { try FileSystem.openEvidence(RawPath(path)) }
            #expect(error?.code == code, "\(path): \(String(describing: error))")
            #expect(error?.message.contains(kind) == true, "\(path): \(String(describing: error))")
        }
        withExtendedLifetime(socket) {}
    }

    /// The same refusals below a confined folder.
    @Test func theConfinedOpenRefusesTheSameKinds() throws {
        let directory = TemporaryDirectory("fs")
        try directory.write("inbox/case/file.bin", [1, 2, 3])
        #expect(symlink(directory.file("inbox/case/file.bin"), directory.file("inbox/case/link")) == 0)
        #expect(mkfifo(directory.file("inbox/case/fifo"), 0o600) == 0)
        let inbox = ConfinedDirectory(RawPath(directory.file("inbox")))
        let (file, status) = try inbox.openEvidence(components("case/file.bin"))
        #expect(try status.size == 3 && file.readAll() == [1, 2, 3])
        for (name, code) in [("case/link", FileSystemError.Code.symlink), ("case/fifo", .notRegularFile)] {
            let error = #expect(throws: FileSystemError.self) { try inbox.openEvidence(components(name)) }
            #expect(error?.code == code, "\(name): \(String(describing: error))")
        }
    }
}

@Suite("a confined folder (openat2 beneath, no links)", .timeLimit(.minutes(2)))
struct ConfinedDirectoryTests {
    let directory = TemporaryDirectory("confined")
    let inbox: ConfinedDirectory

    init() throws {
        try directory.write("inbox/case/file.bin", [1, 2, 3])
        try directory.write("outside/secret.txt", "secret")
        inbox = ConfinedDirectory(RawPath(directory.file("inbox")))
    }

    /// `..`, `.`, an empty name, and a name holding `/` (an absolute path, or several components
    /// in one) are not single components: refused before anything is opened, by every operation
    /// (an `*at` call given `..` or an absolute name would act outside the folder). `ABS` stands
    /// for the absolute path of a file outside the folder.
    @Test(arguments: [
        ["..", "outside", "secret.txt"], ["case", "..", "..", "outside", "secret.txt"], ["ABS"], [".."],
        ["case/file.bin"], ["."], [""], ["case", "."], ["case", "ABS"],
    ])
    func aNameThatIsNotOneComponentIsRefused(_ names: [String]) throws {
        let secret = directory.file("outside/secret.txt")
        let parts = names.map { Array(($0 == "ABS" ? secret : $0).utf8) }
        let before = try #require(try FileSystem.linkStatus(RawPath(secret)))
        let parentBefore = try #require(try FileSystem.linkStatus(RawPath(directory.path)))
        let error = #expect(throws: FileSystemError.self) { try inbox.openEvidence(parts) }
        #expect(error?.message.contains("not a single component") == true, "\(String(describing: error))")
        #expect(throws: FileSystemError.self) { try inbox.status(parts) }
        #expect(throws: FileSystemError.self) { try inbox.list(parts) }
        #expect(throws: FileSystemError.self) { try inbox.setMode(parts, 0o666) }
        #expect(throws: FileSystemError.self) { try inbox.remove(parts) }
        #expect(throws: FileSystemError.self) { try inbox.moveNoReplace(parts, to: inbox, components("case/taken")) }
        #expect(throws: FileSystemError.self) { try inbox.moveNoReplace(components("case/file.bin"), to: inbox, parts) }
        #expect(throws: FileSystemError.self) { try inbox.writeSynced([1], to: parts) }
        // Nothing outside changed.
        #expect(try FileSystem.linkStatus(RawPath(secret)) == before)
        #expect(try FileSystem.linkStatus(RawPath(directory.path))?.mode == parentBefore.mode)
        #expect(try FileSystem.readFile(RawPath(secret)) == Array("secret".utf8))
        #expect(try inbox.status(components("case/file.bin")) != nil)
    }

    /// A link anywhere on the way, to outside or to inside the folder, is refused with
    /// `.symlink`, never followed: what it leads to is not opened, listed or moved.
    @Test(arguments: [true, false])
    func aSymbolicLinkOnTheWayIsRefused(_ leadsOutside: Bool) throws {
        let target = leadsOutside ? directory.file("outside") : directory.file("inbox/case")
        #expect(symlink(target, directory.file("inbox/linked")) == 0)
        let name = leadsOutside ? "linked/secret.txt" : "linked/file.bin"
        let opened = #expect(throws: FileSystemError.self) { try inbox.openEvidence(components(name)) }
        #expect(opened?.code == .symlink, "\(String(describing: opened))")
        let listed = #expect(throws: FileSystemError.self) { try inbox.list(components("linked")) }
        #expect(listed?.code == .symlink, "\(String(describing: listed))")
        let status = #expect(throws: FileSystemError.self) { try inbox.status(components(name)) }
        #expect(status?.code == .symlink, "\(String(describing: status))")
        let made = #expect(throws: FileSystemError.self) { try inbox.makeDirectories(components("linked/new")) }
        #expect(made?.code == .symlink, "\(String(describing: made))")
        #expect(!FileManager.default.fileExists(atPath: target + "/new"))
        let moved = #expect(throws: FileSystemError.self) {
            try inbox.moveNoReplace(components(name), to: inbox, components("case/moved"))
        }
        #expect(moved?.code == .symlink, "\(String(describing: moved))")
        // The link itself is what `status` sees as the last name: a link, not its target.
        #expect((try inbox.status(components("linked"))?.mode).map { $0 & S_IFMT } == S_IFLNK)
    }

    @Test func theRootItselfMustNotBeALink() throws {
        #expect(symlink(directory.file("inbox"), directory.file("alias")) == 0)
        let aliased = ConfinedDirectory(RawPath(directory.file("alias")))
        let error = #expect(throws: FileSystemError.self) { try aliased.openEvidence(components("case/file.bin")) }
        #expect(error?.code == .symlink, "\(String(describing: error))")
    }

    @Test func moveNoReplaceNeverReplacesAName() throws {
        try directory.write("inbox/case/other.bin", [9, 9])
        let sealed = ConfinedDirectory(RawPath(directory.file("sealed")))
        try FileSystem.makeDirectory(sealed.root)
        try sealed.makeDirectories(components("case"))
        try inbox.moveNoReplace(components("case/file.bin"), to: sealed, components("case/file.bin"))
        #expect(try FileSystem.readFile(sealed.root.appending("case").appending("file.bin")) == [1, 2, 3])
        #expect(try inbox.status(components("case/file.bin")) == nil)

        // A second file to the same name: refused, both left as they were.
        let error = #expect(throws: FileSystemError.self) {
            try inbox.moveNoReplace(components("case/other.bin"), to: sealed, components("case/file.bin"))
        }
        #expect(error?.code == .exists, "\(String(describing: error))")
        #expect(try FileSystem.readFile(sealed.root.appending("case").appending("file.bin")) == [1, 2, 3])
        #expect(try FileSystem.readFile(RawPath(directory.file("inbox/case/other.bin"))) == [9, 9])
    }

    /// With `expected`, only that very file (device and inode) is moved: a file put in its place
    /// under the same name stays where it is.
    @Test func moveNoReplaceChecksTheFilesIdentity() throws {
        let before = try #require(try inbox.status(components("case/file.bin")))
        // Replaced by another file of the same name and content (the first kept, so that its
        // inode is not reused).
        #expect(rename(directory.file("inbox/case/file.bin"), directory.file("inbox/case/old.bin")) == 0)
        try directory.write("inbox/case/file.bin", [1, 2, 3])
        let error = #expect(throws: FileSystemError.self) {
            try inbox.moveNoReplace(
                components("case/file.bin"), to: inbox, components("moved.bin"),
                expected: (before.device, before.inode))
        }
        #expect(error?.code == .changedWhileReading, "\(String(describing: error))")
        #expect(try inbox.status(components("moved.bin")) == nil)
        #expect(try inbox.status(components("case/file.bin")) != nil)

        // The file itself moves.
        let now = try #require(try inbox.status(components("case/file.bin")))
        try inbox.moveNoReplace(
            components("case/file.bin"), to: inbox, components("moved.bin"), expected: (now.device, now.inode))
        #expect(try inbox.status(components("moved.bin"))?.inode == now.inode)
    }

    @Test func removeWithAnIdentityRemovesOnlyThatFile() throws {
        let before = try #require(try inbox.status(components("case/file.bin")))
        #expect(rename(directory.file("inbox/case/file.bin"), directory.file("inbox/case/old.bin")) == 0)
        try directory.write("inbox/case/file.bin", [4])
        let error = #expect(throws: FileSystemError.self) {
            try inbox.remove(components("case/file.bin"), expected: (before.device, before.inode))
        }
        #expect(error?.code == .changedWhileReading)
        #expect(try inbox.status(components("case/file.bin")) != nil)
        try inbox.remove(components("case/file.bin"))
        #expect(try inbox.status(components("case/file.bin")) == nil)
        // Already gone: not an error.
        try inbox.remove(components("case/file.bin"))
    }

    /// Group and other write bits are what the usual umask (022) takes away: they survive. (The
    /// umask is the process's, shared by tests running beside each other: it is not changed here.)
    @Test(arguments: [0o600 as mode_t, 0o400, 0o660, 0o666])
    func writeSyncedLeavesTheModeAskedWhateverTheUmask(_ mode: mode_t) throws {
        try inbox.writeSynced(Array("sidecar".utf8), to: components("case/written.txt"), mode: mode)
        let status = try #require(try inbox.status(components("case/written.txt")))
        #expect(status.mode & 0o7777 == UInt32(mode))
        #expect(try FileSystem.readFile(RawPath(directory.file("inbox/case/written.txt"))) == Array("sidecar".utf8))
        // No temporary is left beside it.
        #expect(try inbox.list(components("case")).allSatisfy { !$0.starts(with: Array(".tmp-".utf8)) })
    }
}

@Suite("durable writes and locks", .timeLimit(.minutes(2)))
struct DurableWriteTests {
    /// As for `writeSynced`: modes the usual umask (022) would narrow survive.
    @Test(arguments: [0o600 as mode_t, 0o400, 0o660, 0o666])
    func writeDurablyLeavesTheModeAskedWhateverTheUmask(_ mode: mode_t) throws {
        let directory = TemporaryDirectory("fs")
        let path = RawPath(directory.file("file.json"))
        try FileSystem.writeDurably(Array("one".utf8), to: path, mode: mode)
        #expect((try FileSystem.linkStatus(path)?.mode).map { $0 & 0o7777 } == UInt32(mode))
        #expect(try FileSystem.readFile(path) == Array("one".utf8))
        #expect(try FileSystem.listDirectory(RawPath(directory.path)) == [Array("file.json".utf8)])
    }

    /// A durable write replaces the whole file (temporary then rename): a reader holding the old
    /// file keeps reading the old bytes; the name gives the new ones.
    @Test func writeDurablyReplacesTheFileWhole() throws {
        let directory = TemporaryDirectory("fs")
        let path = RawPath(directory.file("file.json"))
        try FileSystem.writeDurably(Array("old content".utf8), to: path)
        let reader = try FileSystem.openForReading(path)
        try FileSystem.writeDurably(Array("new".utf8), to: path)
        #expect(try reader.readAll() == Array("old content".utf8))
        #expect(try FileSystem.readFile(path) == Array("new".utf8))
    }

    @Test func renameNoReplaceAndLinkDurablyNeverReplace() throws {
        let directory = TemporaryDirectory("fs")
        let a = RawPath(try directory.write("a", "a"))
        let b = RawPath(try directory.write("b", "b"))
        let renamed = #expect(throws: FileSystemError.self) { try FileSystem.renameNoReplace(a, to: b) }
        #expect(renamed?.code == .exists)
        let linked = #expect(throws: FileSystemError.self) { try FileSystem.linkDurably(a, to: b) }
        #expect(linked?.code == .exists)
        #expect(try FileSystem.readFile(a) == Array("a".utf8) && FileSystem.readFile(b) == Array("b".utf8))
        let c = RawPath(directory.file("c"))
        try FileSystem.linkDurably(a, to: c)
        #expect(try !FileSystem.exists(a) && FileSystem.readFile(c) == Array("a".utf8))
    }

    @Test func createExclusiveRefusesAnExistingNameAndALink() throws {
        let directory = TemporaryDirectory("fs")
        let existing = RawPath(try directory.write("existing", "x"))
        let error = #expect(throws: FileSystemError.self) { try FileSystem.createExclusive(existing) }
        #expect(error?.code == .exists)
        #expect(symlink(directory.file("target"), directory.file("link")) == 0)
        #expect(throws: FileSystemError.self) { try FileSystem.createExclusive(RawPath(directory.file("link"))) }
        #expect(!FileManager.default.fileExists(atPath: directory.file("target")))
    }

    /// flock locks belong to the open file description: two opens conflict even in one process.
    @Test func anExclusiveLockExcludesEveryOtherAndSharedOnesCoexist() throws {
        let directory = TemporaryDirectory("fs")
        let path = RawPath(directory.file("sealing.lock"))
        do {
            let first = try FileLock(path, exclusive: false, wait: false)
            let second = try FileLock(path, exclusive: false, wait: false)
            let exclusive = #expect(throws: FileSystemError.self) { try FileLock(path, exclusive: true, wait: false) }
            #expect(exclusive?.code == .exists)
            #expect(!FileLock.isHeldExclusively(path))
            #expect(FileLock.isHeld(path))
            withExtendedLifetime((first, second)) {}
        }
        do {
            let exclusive = try FileLock(path, exclusive: true, wait: false)
            exclusive.record("pid 42\n")
            #expect(FileLock.isHeldExclusively(path) && FileLock.isHeld(path))
            #expect(FileLock.holder(of: path) == "pid 42\n")
            let shared = #expect(throws: FileSystemError.self) { try FileLock(path, exclusive: false, wait: false) }
            #expect(shared?.code == .exists)
            withExtendedLifetime(exclusive) {}
        }
        // Released with the value: both kinds can be taken again.
        #expect(!FileLock.isHeldExclusively(path) && !FileLock.isHeld(path))
        _ = try FileLock(path, exclusive: true, wait: false)
        // A FIFO in the lock's place (a hostile copy of a vault) is asked about without waiting
        // for a writer to open it.
        let fifo = RawPath(directory.file("fifo.lock"))
        #expect(mkfifo(fifo.description, 0o600) == 0)
        #expect(!FileLock.isHeldExclusively(fifo) && !FileLock.isHeld(fifo))
    }

    /// A waiting lock is granted once the holder lets go, in another process: `flock` takes the
    /// exclusive lock and holds it until its stdin closes.
    @Test func aWaitingLockIsGrantedWhenTheHolderLetsGo() throws {
        let directory = TemporaryDirectory("fs")
        let path = directory.file("sealing.lock")
        let ready = directory.file("ready")
        let holder = try BackgroundProcess(
            "flock",
            ["-x", path, "sh", "-c", "touch \"$0\"; while [ ! -e \"$0.release\" ]; do sleep 0.05; done", ready],
            logPath: directory.file("flock.log"))
        #expect(waitUntil(timeout: 30) { FileManager.default.fileExists(atPath: ready) })
        #expect(FileLock.isHeldExclusively(RawPath(path)))
        #expect(throws: FileSystemError.self) { try FileLock(RawPath(path), exclusive: false, wait: false) }
        try directory.write("ready.release", "")
        let lock = try FileLock(RawPath(path), exclusive: true, wait: true)
        #expect(holder.wait(timeout: 30) == 0)
        withExtendedLifetime(lock) {}
    }
}

@Suite("a held folder (extract and exports write through it)", .timeLimit(.minutes(2)))
struct HeldDirectoryTests {
    /// `-o court/2026/a`: the folder is made with its missing parents, each 0700.
    @Test func aMissingFolderIsMadeWithItsParents() throws {
        let directory = TemporaryDirectory("held")
        let nested = RawPath(directory.file("court/2026/a"))
        let held = try HeldDirectory(nested, create: true)
        #expect(held.path == nested)
        for folder in [nested, nested.parent, nested.parent.parent] {
            let status = try #require(try FileSystem.linkStatus(folder))
            #expect(status.isDirectory && status.mode & 0o777 == 0o700, "\(folder)")
        }
    }

    /// The folder itself is never a symbolic link, even one its caller asked to be made.
    @Test func aFolderThatIsALinkIsRefused() throws {
        let directory = TemporaryDirectory("held")
        let target = directory.file("target")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let link = directory.file("link")
        #expect(symlink(target, link) == 0)
        let error = try #require(throws: FileSystemError.self) { try HeldDirectory(RawPath(link), create: true) }
        #expect(error.code == .symlink)
    }
}

@Suite("the writer of a temporary (pid and start time)", .timeLimit(.minutes(2)))
struct TemporaryWriterNameTests {
    /// A process's command name may hold spaces and ") ": the start time is field 22 counted
    /// after the last ')' of /proc/<pid>/stat, as an independent reading (python) gives it.
    @Test func theStartTimeOfAProcessWhoseNameHoldsAParenthesisAndSpaces() throws {
        let directory = TemporaryDirectory("comm")
        let program = directory.file("x) 1 2 (y")
        #expect(try run("cp", ["/bin/sleep", program]).status == 0)
        let sleeper = try BackgroundProcess(program, ["30"], logPath: directory.file("sleep.log"))
        defer {
            sleeper.signal(SIGKILL)
            _ = sleeper.wait(timeout: 10)
        }
        let pid = sleeper.pid
        // Until its exec the child carries its parent thread's name: wait for the new one.
        func comm() -> String { (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "" }
        #expect(waitUntil(timeout: 10) { comm().hasPrefix("x) 1 2 (y") }, "\(comm())")
        let independent = try run(
            "python3",
            [
                "-c", "import sys; print(open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')', 1)[1].split()[19])",
                "\(pid)",
            ])
        #expect(independent.status == 0, "\(independent.stderr)")
        let expected = UInt64(independent.output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(expected != nil && ThisProcess.startTime(of: pid) == expected)
        #expect(FileSystem.processIsAlive(pid, startedAt: expected))
        #expect(!FileSystem.processIsAlive(pid, startedAt: expected.map { $0 + 1 }))
    }

    @Test func aTemporarysNameGivesItsWriter() {
        func writer(_ name: String, after prefix: String = ".tmp-") -> String {
            FileSystem.temporaryWriter(of: Array(name.utf8), after: prefix).map {
                "\($0.pid) \($0.startTime.map(String.init) ?? "-")"
            }
                ?? "none"
        }
        #expect(writer(".tmp-123.456-manifest.json") == "123 456")
        // A name of an older version: the pid alone.
        #expect(writer(".tmp-123-manifest.json") == "123 -")
        #expect(writer("123.456-seal.tar.zst", after: "") == "123 456")
        #expect(writer(".tmp-manifest.json") == "none")
        #expect(writer("manifest.json") == "none")
    }
}
