import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// The contract of `ObjectStore`, held against the local folder's driver on real files: what a
/// second driver must keep too (the checks of files, modes and links are the local driver's own).
@Suite("the object store's contract, on the local folder", .timeLimit(.minutes(2)))
struct ObjectStoreTests {
    /// A fresh vault, its object store, and a way to make finished temporaries as sealing does.
    struct Fixture {
        let vaultFixture = VaultFixture()
        let vault: Vault
        var store: any ObjectStore { vault.objects }
        var local: LocalFolderObjectStore { vault.local }

        init() throws { vault = try vaultFixture.create() }

        /// A finished, synced, read-only temporary under `tmp/`, as the sealer leaves one.
        func temporary(_ name: String, _ bytes: [UInt8]) throws -> RawPath {
            let path = vault.temporaryPath.appending(name)
            try FileSystem.writeDurably(bytes, to: path, mode: 0o400)
            return path
        }
    }

    static func content(_ text: String) -> Hash { OpenSSLSHA256().sha256(Array(text.utf8)) }

    @Test func theVaultKeepsItsObjectsInItsOwnFolders() throws {
        let fixture = try Fixture()
        #expect(fixture.store is LocalFolderObjectStore)
        let reopened = try Vault.open(at: fixture.vaultFixture.root)
        let hash = Self.content("evidence")
        let archive = StoredObject.archive(content: hash, compression: .zstd)
        #expect(reopened.objects.describe(archive) == fixture.local.path(of: archive).description)
        #expect(
            fixture.local.path(of: archive).description
                == "\(fixture.vaultFixture.root)/objects/\(hash.hex.prefix(2))/\(hash.hex).tar.zst")
        let name = "\(hash.hex.prefix(2))/\(hash.hex).json"
        #expect(fixture.local.path(of: .manifest(hash)).description.hasSuffix("/manifests/\(name)"))
        #expect(fixture.local.path(of: .details(hash)).description.hasSuffix("/details/\(name)"))
    }

    /// A second archive of the same content never replaces the first: it is left where it was,
    /// and the store names the one it keeps, for the caller to re-read and share.
    @Test(arguments: [Vault.Durability.immediate, .batch])
    func placeNeverReplacesAStoredArchive(_ durability: Vault.Durability) throws {
        let fixture = try Fixture()
        let archive = StoredObject.archive(content: Self.content("evidence"), compression: .zstd)
        let first = try fixture.temporary("first", Array("first archive".utf8))
        let second = try fixture.temporary("second", Array("second archive".utf8))

        #expect(try fixture.store.place(temporary: first, as: archive, durability: durability) == .placed(archive))
        #expect(!FileSystem.exists(first), "the temporary took the archive's name")
        #expect(try fixture.store.contains(archive))
        let placed = try #require(try FileSystem.linkStatus(fixture.local.path(of: archive)))

        #expect(
            try fixture.store.place(temporary: second, as: archive, durability: durability) == .alreadyStored(archive))
        #expect(FileSystem.exists(second), "the second temporary is left to its caller")
        #expect(try fixture.store.read(archive) == Array("first archive".utf8))
        let kept = try #require(try FileSystem.linkStatus(fixture.local.path(of: archive)))
        #expect(kept.inode == placed.inode && kept.isSameContent(as: placed))
    }

    /// The same content sealed with another compression later shares the archive kept: one
    /// archive per content, whatever its compression.
    @Test func placeInAnotherCompressionSharesTheStoredArchive() throws {
        let fixture = try Fixture()
        let content = Self.content("evidence")
        let zstd = StoredObject.archive(content: content, compression: .zstd)
        let gzip = StoredObject.archive(content: content, compression: .gzip)
        _ = try fixture.store.place(
            temporary: try fixture.temporary("a", [1]), as: zstd, durability: .immediate)
        #expect(
            try fixture.store.place(temporary: try fixture.temporary("b", [2]), as: gzip, durability: .immediate)
                == .alreadyStored(zstd))
        #expect(try !fixture.store.contains(gzip))
        #expect(try fixture.store.list(.archives).objects == [zstd])
    }

    @Test func findArchiveFindsEachCompression() throws {
        let fixture = try Fixture()
        for compression in Compression.allCases {
            let archive = StoredObject.archive(
                content: Self.content("evidence \(compression)"), compression: compression)
            #expect(try fixture.store.findArchive(content: archive.hash) == nil)
            _ = try fixture.store.place(
                temporary: try fixture.temporary("\(compression)", Array("\(compression)".utf8)), as: archive,
                durability: .immediate)
            let found = try fixture.store.findArchive(content: archive.hash)
            #expect(found == archive)
            #expect(found?.compression == compression)
        }
        #expect(try fixture.store.findArchive(content: Self.content("never sealed")) == nil)
    }

    /// What is stored reads back whole, by `read` and as a stream.
    @Test func readAndOpenForReadingGiveTheStoredBytes() throws {
        let fixture = try Fixture()
        let bytes = randomBytes(200_000)
        let archive = StoredObject.archive(content: Self.content("big"), compression: .none)
        _ = try fixture.store.place(temporary: try fixture.temporary("big", bytes), as: archive, durability: .immediate)
        #expect(try fixture.store.read(archive) == bytes)
        #expect(try fixture.store.openForReading(archive).readAll() == bytes)
        #expect(throws: (any Error).self) { try fixture.store.read(.manifest(Self.content("missing"))) }
    }

    /// Storing the same bytes again changes nothing; other bytes under the same name are refused,
    /// and the stored file keeps its bytes.
    @Test(arguments: [StoredObject.Kind.manifest, .details])
    func storeKeepsOnceAndRefusesOtherBytesUnderTheSameName(_ kind: StoredObject.Kind) throws {
        let fixture = try Fixture()
        let bytes = Array(#"{"item":"x"}"#.utf8)
        let object = StoredObject(kind, hash: OpenSSLSHA256().sha256(bytes))
        try fixture.store.store(bytes, as: object, durability: .immediate)
        let path = fixture.local.path(of: object)
        let first = try #require(try FileSystem.linkStatus(path))
        try fixture.store.store(bytes, as: object, durability: .immediate)
        let again = try #require(try FileSystem.linkStatus(path))
        #expect(again.inode == first.inode && again.isSameContent(as: first))

        let refused = #expect(throws: VaultError.self) {
            try fixture.store.store(Array(#"{"item":"y"}"#.utf8), as: object, durability: .immediate)
        }
        #expect(refused?.code == .badLayout)
        #expect(try fixture.store.read(object) == bytes)

        // A stored file altered in place is never taken for the one a new entry names.
        #expect(chmod(path.description, 0o600) == 0)
        try Data(Array(#"{"item":"z"}"#.utf8)).write(to: URL(fileURLWithPath: path.description))
        let altered = #expect(throws: VaultError.self) {
            try fixture.store.store(bytes, as: object, durability: .batch)
        }
        #expect(altered?.code == .badLayout)
        #expect(altered?.message.contains(path.description) == true, "\(String(describing: altered))")
    }

    /// `list` gives each family's objects, and what lies among them but is none as strays (never
    /// removed by the store); `remove` takes one object away, and a second remove is no error.
    @Test func listAndRemove() throws {
        let fixture = try Fixture()
        let archives = try ["one", "two"].map { text in
            let archive = StoredObject.archive(content: Self.content(text), compression: .zstd)
            _ = try fixture.store.place(
                temporary: try fixture.temporary(text, Array(text.utf8)), as: archive, durability: .batch)
            return archive
        }
        let manifest = Array("{}".utf8)
        try fixture.store.store(manifest, as: .manifest(OpenSSLSHA256().sha256(manifest)), durability: .batch)
        let details = Array(#"{"note":"n"}"#.utf8)
        try fixture.store.store(details, as: .details(OpenSSLSHA256().sha256(details)), durability: .immediate)

        let hex = archives[0].hash.hex
        let shard = String(hex.prefix(2))
        let strays = [
            "objects/\(shard)/notes.txt", "objects/\(shard)/\(hex).zip",
            "objects/\(shard == "00" ? "01" : "00")/\(hex).tar.zst",  // under the wrong shard
            "objects/\(shard)/\(hex.uppercased()).tar.zst", "objects/zz",  // a file where a shard belongs
        ]
        for stray in strays { try fixture.vaultFixture.directory.write("vault/" + stray, "x") }
        let root = fixture.vaultFixture.root.description

        let listed = try fixture.store.list(.archives)
        #expect(Set(listed.objects) == Set(archives))
        #expect(Set(listed.strays) == Set(strays.map { root + "/" + $0 }))
        #expect(try fixture.store.list(.manifests).objects == [.manifest(OpenSSLSHA256().sha256(manifest))])
        #expect(try fixture.store.list(.details).objects == [.details(OpenSSLSHA256().sha256(details))])
        #expect(try fixture.store.list(.manifests).strays.isEmpty)

        try fixture.store.remove(archives[0])
        #expect(try !fixture.store.contains(archives[0]))
        #expect(try fixture.store.list(.archives).objects == [archives[1]])
        try fixture.store.remove(archives[0])
        for stray in strays { #expect(FileManager.default.fileExists(atPath: root + "/" + stray), "\(stray)") }
    }

    /// A family's folder that a vault made before it lacks is made when first needed; nothing
    /// is listed from a folder that is not there.
    @Test func aMissingFolderIsEmptyAndMadeWhenFirstNeeded() throws {
        let fixture = try Fixture()
        #expect(rmdir(fixture.local.folder(.details).description) == 0)
        #expect(try fixture.store.list(.details).objects.isEmpty)
        let bytes = Array(#"{"reason":"r"}"#.utf8)
        try fixture.store.store(bytes, as: .details(OpenSSLSHA256().sha256(bytes)), durability: .immediate)
        #expect(try mode(fixture.local.folder(.details)) == 0o700)
        #expect(try fixture.store.read(.details(OpenSSLSHA256().sha256(bytes))) == bytes)
    }

    /// Stored files are read-only to their owner, and the folders and shards made for them are
    /// the owner's alone.
    @Test func filesAre0400AndFoldersAre0700() throws {
        let fixture = try Fixture()
        let manifest = Array("{}".utf8)
        let details = Array(#"{"note":"n"}"#.utf8)
        let archive = StoredObject.archive(content: Self.content("evidence"), compression: .zstd)
        let objects: [StoredObject] = [
            .manifest(OpenSSLSHA256().sha256(manifest)), .details(OpenSSLSHA256().sha256(details)), archive,
        ]
        try fixture.store.store(manifest, as: objects[0], durability: .immediate)
        try fixture.store.store(details, as: objects[1], durability: .batch)
        _ = try fixture.store.place(temporary: try fixture.temporary("a", [1]), as: archive, durability: .immediate)
        for object in objects {
            let path = fixture.local.path(of: object)
            #expect(try mode(path) == 0o400, "\(path)")
            #expect(try mode(path.parent) == 0o700, "\(path.parent)")
            #expect(try mode(path.parent.parent) == 0o700, "\(path.parent.parent)")
        }
    }

    /// A symbolic link in place of a shard is refused by every write, look-up and read, and by
    /// `checkLayout`: the folder it leads to gets nothing, what it holds under the objects' very
    /// names is never taken for stored, and the temporary is left to its caller.
    @Test func aSymbolicLinkInPlaceOfAShardIsRefused() throws {
        let fixture = try Fixture()
        let manifest = Array("{}".utf8)
        let hash = OpenSSLSHA256().sha256(manifest)
        let archive = StoredObject.archive(content: hash, compression: .zstd)
        let elsewhere = fixture.vaultFixture.directory.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        for family in [StoredObject.Family.archives, .manifests] {
            let shard = fixture.local.folder(family).appending(String(hash.hex.prefix(2)))
            #expect(symlink(elsewhere, shard.description) == 0)
        }
        // Behind the link, files under the very names the objects would have.
        let planted = fixture.local.path(of: archive).lastComponent
        #expect(FileManager.default.createFile(atPath: elsewhere + "/" + String(decoding: planted, as: UTF8.self), contents: Data([9])))
        let plantedManifest = fixture.local.path(of: .manifest(hash)).lastComponent
        #expect(FileManager.default.createFile(atPath: elsewhere + "/" + String(decoding: plantedManifest, as: UTF8.self), contents: Data(manifest)))
        let temporary = try fixture.temporary("archive", [1, 2, 3])

        #expect(throws: VaultError.self) { try fixture.store.findArchive(content: hash) }
        #expect(throws: VaultError.self) { try fixture.store.contains(.manifest(hash)) }
        #expect(throws: VaultError.self) { try fixture.store.read(.manifest(hash)) }
        let placed = #expect(throws: VaultError.self) {
            try fixture.store.place(temporary: temporary, as: archive, durability: .immediate)
        }
        #expect(placed?.code == .badLayout)
        #expect(placed?.message.contains("symbolic link") == true, "\(String(describing: placed))")
        let stored = #expect(throws: VaultError.self) {
            try fixture.store.store(manifest, as: .manifest(hash), durability: .immediate)
        }
        #expect(stored?.code == .badLayout)
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).count == 2, "nothing added behind the link")
        #expect(FileSystem.exists(temporary))
        #expect(throws: (any Error).self) { try fixture.store.openForReading(archive) }

        let checked = #expect(throws: VaultError.self) { try fixture.store.checkLayout() }
        #expect(checked?.code == .badLayout)
    }

    /// What a writer that died left beside its target is removed; a live writer's is kept until
    /// the reconciliation removes every one.
    @Test func temporariesInShardsAreRemoved() throws {
        let fixture = try Fixture()
        let manifest = Array("{}".utf8)
        try fixture.store.store(manifest, as: .manifest(OpenSSLSHA256().sha256(manifest)), durability: .immediate)
        let shard = fixture.local.path(of: .manifest(OpenSSLSHA256().sha256(manifest))).parent
        let live = shard.appending(".tmp-\(getpid())-x.json")
        try FileSystem.writeDurably([1], to: live)
        #expect(fixture.store.removeTemporaries(ofDeadProcessesOnly: true).isEmpty)
        #expect(fixture.store.removeTemporaries(ofDeadProcessesOnly: false) == [live.description])
        #expect(!FileSystem.exists(live))
        #expect(try fixture.store.contains(.manifest(OpenSSLSHA256().sha256(manifest))))
    }
}
