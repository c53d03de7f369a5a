import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// A vault made in a fresh folder, as `custos init` makes it (without a time-stamping authority).
struct VaultFixture {
    static let now = "2026-12-01T00:00:00.000Z"
    let directory = TemporaryDirectory("vault")
    var root: RawPath { RawPath(directory.file("vault")) }

    func create() throws -> Vault {
        try Vault.create(
            at: root, configuration: VaultConfiguration(origin: "test.example.tw/vault"), now: Self.now,
            timeStampAuthority: nil)
    }
}

func mode(_ path: RawPath) throws -> UInt32? {
    try FileSystem.linkStatus(path).map { $0.mode & 0o7777 }
}

@Suite("the vault's layout and files", .timeLimit(.minutes(2)))
struct VaultTests {
    @Test func aCreatedVaultOpensAndIsClosedToOthers() throws {
        let fixture = VaultFixture()
        let created = try fixture.create()
        let opened = try Vault.open(at: fixture.root)
        #expect(opened.configuration == created.configuration)
        #expect(opened.configuration.origin == "test.example.tw/vault")
        #expect(try opened.signer().name == "test.example.tw/vault")
        #expect(try opened.verifierKey().key.text == created.verifierKey().key.text)
        // The ledger exists and holds the empty tree's checkpoint.
        #expect(try opened.openLedger(readOnly: true).size() == 0)
        #expect(try mode(fixture.root) == 0o700)
        #expect(try mode(opened.keyPath) == 0o600)
        let folders = StoredObject.Family.allCases.map(opened.local.folder) + [opened.temporaryPath, opened.inboxPath]
        for folder in folders {
            let found = try mode(folder)
            #expect(found == 0o700, "\(folder): \(String(found ?? 0, radix: 8))")
        }
    }

    /// The zone of the node's reports is kept in custos.json and read back; a vault that names
    /// none writes no `timeZone` (a vault of before reads as it did) and means Taiwan time; one
    /// that names a zone no one knows is refused, naming the file and the value.
    @Test func theReportsTimeZoneIsKeptAndAnUnknownOneRefused() throws {
        let plain = VaultFixture()
        let created = try plain.create()
        #expect(created.configuration.timeZone == nil && created.configuration.reportTimeZone == "Asia/Taipei")
        let text = String(decoding: try FileSystem.readFile(plain.root.appending("custos.json")), as: UTF8.self)
        #expect(!text.contains("timeZone"))

        let berlin = VaultFixture()
        var configuration = VaultConfiguration(origin: "test.example.tw/vault")
        configuration.timeZone = "Europe/Berlin"
        _ = try Vault.create(
            at: berlin.root, configuration: configuration, now: VaultFixture.now, timeStampAuthority: nil)
        #expect(try Vault.open(at: berlin.root).configuration.reportTimeZone == "Europe/Berlin")

        for name in ["Mars/Olympus", "GMT+8", "Asia/Taipei\u{202e}", "", "CST", "ROC"] {
            configuration.timeZone = name
            let refused = #expect(throws: VaultError.self) {
                try Vault.create(
                    at: VaultFixture().root, configuration: configuration, now: VaultFixture.now,
                    timeStampAuthority: nil)
            }
            #expect(refused?.code == .badConfiguration && refused?.message.contains("timeZone") == true)
        }
        // Edited by hand afterwards: a zone of the right form that this system does not know
        // (as after an upgrade of its time zone data) still opens the vault (the reports refuse
        // it); an abbreviation does not, and says why.
        let path = berlin.root.appending("custos.json")
        let original = String(decoding: try FileSystem.readFile(path), as: UTF8.self)
        #expect(chmod(path.description, 0o600) == 0)
        try Data(original.replacingOccurrences(of: "Europe/Berlin", with: "Europe/Atlantis").utf8).write(
            to: URL(fileURLWithPath: path.description))
        #expect(try Vault.open(at: berlin.root).configuration.reportTimeZone == "Europe/Atlantis")
        try Data(original.replacingOccurrences(of: "Europe/Berlin", with: "CST").utf8).write(
            to: URL(fileURLWithPath: path.description))
        let opened = #expect(throws: VaultError.self) { try Vault.open(at: berlin.root) }
        #expect(opened?.message.contains("CST") == true, "\(String(describing: opened))")
    }

    @Test func aSecondCreateAndANonEmptyFolderAreRefusedAndChangeNothing() throws {
        let fixture = VaultFixture()
        _ = try fixture.create()
        let configuration = try FileSystem.readFile(fixture.root.appending("custos.json"))
        let again = #expect(throws: VaultError.self) { try fixture.create() }
        #expect(again?.code == .alreadyExists)
        #expect(try FileSystem.readFile(fixture.root.appending("custos.json")) == configuration)

        let other = VaultFixture()
        try other.directory.write("vault/notes.txt", "mine")
        let notEmpty = #expect(throws: VaultError.self) { try other.create() }
        #expect(notEmpty?.code == .alreadyExists)
        #expect(try FileSystem.listDirectory(other.root) == [Array("notes.txt".utf8)])
    }

    @Test func openingWhatIsNoVaultSaysSo() throws {
        let fixture = VaultFixture()
        let missing = #expect(throws: VaultError.self) { try Vault.open(at: fixture.root) }
        #expect(missing?.code == .notFound)
        try fixture.directory.write("vault/readme", "not a vault")
        let bare = #expect(throws: VaultError.self) { try Vault.open(at: fixture.root) }
        #expect(bare?.code == .notInitialised)
    }

    /// A link where the vault keeps a folder or a file is refused, by `checkLayout` and by `open`,
    /// whether it leads into the vault or out of it.
    @Test(arguments: ["objects", "keys/node.key", "manifests/ab"])
    func aSymbolicLinkInPlaceOfAPartOfTheVaultIsRefused(_ part: String) throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        let replaced = RawPath(fixture.root.description + "/" + part)
        let elsewhere = fixture.directory.file("elsewhere")
        if part == "manifests/ab" {
            try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        } else {
            #expect(rename(replaced.description, elsewhere) == 0)
        }
        #expect(symlink(elsewhere, replaced.description) == 0)

        let checked = #expect(throws: VaultError.self) { try vault.checkLayout() }
        #expect(checked?.code == .badLayout)
        #expect(checked?.message.contains("symbolic link") == true, "\(String(describing: checked))")
        let opened = #expect(throws: VaultError.self) { try Vault.open(at: fixture.root) }
        #expect(opened?.code == .badLayout)
    }

    /// A private key is read only when the file read is a regular file of mode 0600: one of
    /// mode 0644, a FIFO (refused at once, never waited on), a link or none is named with why.
    /// (The one check, `readPrivateKeyFile`, reads the node's, the TSA's and the report signer's
    /// keys.)
    @Test(arguments: ["0644", "fifo", "link", "missing"])
    func aKeyThatIsNotAnOwnersRegularFileIsRefused(_ form: String) throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        let key = vault.keyPath.description
        let expected: String
        switch form {
        case "0644":
            #expect(chmod(key, 0o644) == 0)
            expected = "the signing key has mode 644; it must be 0600"
        case "fifo":
            #expect(unlink(key) == 0 && mkfifo(key, 0o600) == 0)
            expected = "the signing key is a FIFO, not a regular file"
        case "link":
            let elsewhere = fixture.directory.file("elsewhere.key")
            #expect(rename(key, elsewhere) == 0 && symlink(elsewhere, key) == 0)
            expected = "the signing key is a symbolic link; refused, not followed"
        default:
            #expect(unlink(key) == 0)
            expected = "the signing key is missing"
        }
        let error = #expect(throws: VaultError.self) { try vault.signer() }
        #expect(error?.code == .keyProblem)
        #expect(error?.message == "\(key): \(expected)", "\(String(describing: error))")
    }

    @Test func aRegularFileWhereAFolderBelongsIsRefused() throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        #expect(rmdir(vault.local.folder(.archives).description) == 0)
        try fixture.directory.write("vault/objects", "a file")
        let error = #expect(throws: VaultError.self) { try vault.checkLayout() }
        #expect(error?.code == .badLayout)
    }

    /// A vault made by an older version (0755 folders, 0644 files) loses its group and other bits.
    @Test func closeToOthersNarrowsAnOpenVault() throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        let manifest = Array("{}".utf8)
        try vault.objects.store(manifest, as: .manifest(OpenSSLSHA256().sha256(manifest)), durability: .immediate)
        let shard = vault.local.path(of: .manifest(OpenSSLSHA256().sha256(manifest))).parent
        let opened: [(RawPath, mode_t)] = [
            (fixture.root, 0o755), (vault.local.folder(.archives), 0o755), (vault.local.folder(.manifests), 0o755),
            (shard, 0o755),
            (vault.configurationPath, 0o644), (vault.ledgerPath, 0o644), (vault.keyPath, 0o644),
            (vault.inboxPath, 0o777),
        ]
        for (path, wide) in opened { #expect(chmod(path.description, wide) == 0) }

        vault.closeToOthers()
        for (path, wide) in opened {
            #expect(try mode(path) == UInt32(wide & ~0o077), "\(path)")
        }
    }

    /// With the inbox shared with a group (setgid, 2770), the vault's folder keeps the group's
    /// way in to it (0750) and the inbox keeps its mode; the rest is closed as usual.
    @Test func closeToOthersKeepsTheGroupsWayToASharedInbox() throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        #expect(chmod(fixture.root.description, 0o755) == 0)
        #expect(chmod(vault.inboxPath.description, 0o2770) == 0)
        #expect(chmod(vault.local.folder(.archives).description, 0o755) == 0)
        #expect(chmod(vault.keyPath.description, 0o640) == 0)
        vault.closeToOthers()
        #expect(try mode(fixture.root) == 0o750)
        #expect(try mode(vault.inboxPath) == 0o2770)
        #expect(try mode(vault.local.folder(.archives)) == 0o700)
        #expect(try mode(vault.keyPath) == 0o600)
    }

    /// Content-addressed: named by the SHA-256 of the bytes, under a shard of its first two hex
    /// digits, read-only; storing it again changes nothing.
    @Test func manifestsAndDetailsAreStoredByTheirDigestReadOnlyAndOnce() throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        let bytes = Array(#"{"item":"x"}"#.utf8)
        let hash = OpenSSLSHA256().sha256(bytes)
        for (store, path) in [
            (
                { try vault.objects.store(bytes, as: .manifest(hash), durability: .immediate) },
                vault.local.path(of: .manifest(hash))
            ),
            (
                { try vault.objects.store(bytes, as: .details(hash), durability: .immediate) },
                vault.local.path(of: .details(hash))
            ),
        ] as [(() throws -> Void, RawPath)] {
            try store()
            #expect(path.description.hasSuffix("/\(hash.hex.prefix(2))/\(hash.hex).json"))
            #expect(try FileSystem.readFile(path) == bytes)
            #expect(try mode(path) == 0o400)
            let first = try #require(try FileSystem.linkStatus(path))
            try store()
            let again = try #require(try FileSystem.linkStatus(path))
            #expect(again.inode == first.inode && again.isSameContent(as: first))
            #expect(try FileSystem.listDirectory(path.parent) == [path.lastComponent])
        }
        #expect(vault.local.path(of: .manifest(hash)).description.contains("/manifests/"))
        #expect(vault.local.path(of: .details(hash)).description.contains("/details/"))
    }

    /// A batch store writes and names the file at once (no sync): it reads back whole.
    @Test func aManifestStoredForABatchIsWholeAndReadOnly() throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        let bytes = randomBytes(10_000)
        let hash = OpenSSLSHA256().sha256(bytes)
        try vault.objects.store(bytes, as: .manifest(hash), durability: .batch)
        #expect(try FileSystem.readFile(vault.local.path(of: .manifest(hash))) == bytes)
        #expect(try mode(vault.local.path(of: .manifest(hash))) == 0o400)
    }

    /// What a dead process left is removed, what a live one writes is kept (with
    /// `ofDeadProcessesOnly`); the reconciliation (without) removes both.
    @Test func temporariesOfDeadProcessesAreRemovedAndThoseOfLiveOnesKept() throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        // A pid that is surely dead: a child that has ended and been waited for.
        let ended = try BackgroundProcess("true", [], logPath: fixture.directory.file("true.log"))
        #expect(ended.wait(timeout: 30) == 0)
        let dead = ended.pid
        #expect(!FileSystem.processIsAlive(dead))
        let live = getpid()
        let manifest = Array("{}".utf8)
        try vault.objects.store(manifest, as: .manifest(OpenSSLSHA256().sha256(manifest)), durability: .immediate)
        let shard = vault.local.path(of: .manifest(OpenSSLSHA256().sha256(manifest))).parent

        // keys/peers/ too: a peer's key or checkpoint is written beside its name first.
        try FileSystem.makeDirectory(vault.peersPath, mode: 0o700)
        let deadOnes = [
            vault.temporaryPath.appending("\(dead)-seal-1.tar.zst"), fixture.root.appending(".tmp-\(dead)-custos.json"),
            shard.appending(".tmp-\(dead)-abcd.json"), vault.peersPath.appending(".tmp-\(dead)-peer.example.vkey"),
        ]
        let liveOnes = [
            vault.temporaryPath.appending("\(live)-seal-2.tar.zst"), fixture.root.appending(".tmp-\(live)-custos.json"),
            shard.appending(".tmp-\(live)-abcd.json"), vault.peersPath.appending(".tmp-\(live)-peer.example.vkey"),
        ]
        for path in deadOnes + liveOnes { try FileSystem.writeDurably([1, 2, 3], to: path) }

        let removed = vault.removeTemporaries(ofDeadProcessesOnly: true)
        #expect(Set(removed) == Set(deadOnes.map(\.description)))
        for path in deadOnes { #expect(!FileSystem.exists(path), "\(path)") }
        for path in liveOnes { #expect(FileSystem.exists(path), "\(path)") }
        // The vault's own files are never temporaries.
        #expect(FileSystem.exists(vault.configurationPath))
        #expect(FileSystem.exists(vault.local.path(of: .manifest(OpenSSLSHA256().sha256(manifest)))))

        #expect(Set(vault.removeTemporaries(ofDeadProcessesOnly: false)) == Set(liveOnes.map(\.description)))
        for path in liveOnes { #expect(!FileSystem.exists(path), "\(path)") }
    }

    @Test func oneDaemonPerVault() throws {
        let fixture = VaultFixture()
        let vault = try fixture.create()
        #expect(!vault.daemonIsRunning)
        let lock = try vault.lockDaemon()
        // flock locks belong to the open file description: a second open, even in this process, conflicts.
        let second = #expect(throws: VaultError.self) { try vault.lockDaemon() }
        #expect(second?.code == .locked)
        #expect(second?.message.contains("pid \(getpid())") == true, "\(String(describing: second))")
        #expect(vault.daemonIsRunning)
        // Starting on the vault's own socket until it records that it serves.
        #expect(vault.daemonIsStartingOnItsOwnSocket)
        #expect(
            FileLock.holder(of: lock.path)
                == "pid \(getpid())\nstarting \(vault.ownSocket) (the vault's own socket)\n")
        lock.record(vault.daemonRecord(.serving, socket: vault.ownSocket))
        #expect(!vault.daemonIsStartingOnItsOwnSocket)
        // Starting on another socket: nothing for a command to wait for at the vault's own. A
        // shorter record replaces a longer one whole.
        lock.record(vault.daemonRecord(.starting, socket: RawPath("/run/custos/custos.sock")))
        #expect(!vault.daemonIsStartingOnItsOwnSocket)
        #expect(FileLock.holder(of: lock.path) == "pid \(getpid())\nstarting /run/custos/custos.sock\n")
        withExtendedLifetime(lock) {}
    }
}
