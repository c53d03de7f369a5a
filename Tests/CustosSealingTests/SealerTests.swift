import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// A vault in a fresh folder, made as `custos init` makes one (without a time-stamping
/// authority: these tests are about the bytes), and a sealer for it.
struct SealingFixture {
    static let now = "2026-12-01T00:00:00.000Z"
    let directory = TemporaryDirectory("sealing")
    let vault: Vault
    let sealer: Sealer

    init(compression: Compression = .zstd) throws {
        vault = try Vault.create(
            at: RawPath(directory.file("vault")),
            configuration: VaultConfiguration(origin: "test.example.tw/sealing", compression: compression),
            now: Self.now, timeStampAuthority: nil)
        sealer = Sealer(
            vault: vault,
            context: SealingContext(host: "test-host", operatorName: "tester", operatorUID: 0, tool: "custos-tests"))
    }

    /// Writes `bytes` to `name` in the test folder (outside the vault) and seals it.
    func seal(_ name: String, _ bytes: [UInt8]) throws -> PendingSeal {
        try sealer.seal(SealRequest(path: RawPath(try directory.write("evidence/" + name, bytes))), now: { Self.now })
    }

    func seal(path: String) throws -> PendingSeal {
        try sealer.seal(SealRequest(path: RawPath(path)), now: { Self.now })
    }

    /// Every regular file below `folder` of the vault (recursively), as paths.
    func files(in folder: RawPath) throws -> [RawPath] {
        try FileSystem.walk(folder)
    }
}

/// What a tool outside Custos says of a file: the first word of `sha256sum FILE` and its kin.
func digestByTool(_ tool: String, _ path: String) throws -> String {
    let result = try run(tool, ["--", path])
    #expect(result.status == 0, "\(tool): \(result.stderr)")
    return String(result.output.prefix { $0 != " " })
}

@Suite("sealing a file into a vault", .timeLimit(.minutes(2)))
struct SealerTests {
    @Test(arguments: [("small.bin", 4096), ("large.bin", (3 << 20) + 12345)])
    func theDigestsAreThoseOfIndependentToolsAndTheArchiveIsAtItsContentAddress(_ name: String, _ size: Int) throws {
        let fixture = try SealingFixture()
        let content = randomBytes(size)
        let seal = try fixture.seal(name, content)
        let original = fixture.directory.file("evidence/" + name)

        #expect(seal.size == UInt64(size))
        #expect(seal.digests.sha256.hex == (try digestByTool("sha256sum", original)))
        #expect(seal.digests.md5.map(Hex.encode) == (try digestByTool("md5sum", original)))
        #expect(seal.digests.sha1.map(Hex.encode) == (try digestByTool("sha1sum", original)))
        #expect(!seal.deduplicated)

        // The archive at objects/<aa>/<sha256 of the evidence>.tar.zst, the archive's own digest
        // as sha256sum reads it, read-only.
        let archive = fixture.vault.local.path(of: .archive(content: seal.digests.sha256, compression: .zstd))
        #expect(
            archive.description.hasSuffix(
                "/objects/\(seal.digests.sha256.hex.prefix(2))/\(seal.digests.sha256.hex).tar.zst"))
        #expect(try fixture.files(in: fixture.vault.local.folder(.archives)) == [archive])
        #expect(try digestByTool("sha256sum", archive.description) == seal.archive.hex)
        #expect((try FileSystem.linkStatus(archive)?.mode).map { $0 & 0o777 } == 0o400)

        // The manifest by its own SHA-256.
        let manifest = fixture.vault.local.path(of: .manifest(seal.manifest))
        #expect(try fixture.files(in: fixture.vault.local.folder(.manifests)) == [manifest])
        #expect(try digestByTool("sha256sum", manifest.description) == seal.manifest.hex)

        // bsdtar gives back the very bytes, and the manifest the archive holds is the stored one.
        let members = try run("bsdtar", ["-tf", archive.description])
        #expect(members.status == 0, "\(members.stderr)")
        let names = members.output.split(separator: "\n").map(String.init)
        #expect(names == ["evidence/\(name)", "manifest.json", "hashdeep.txt"])
        let extracted = try run("bsdtar", ["-xOf", archive.description, "evidence/\(name)"])
        #expect(extracted.status == 0 && extracted.stdout == content, "\(extracted.stderr)")
        let archivedManifest = try run("bsdtar", ["-xOf", archive.description, "manifest.json"])
        #expect(archivedManifest.stdout == (try FileSystem.readFile(manifest)))

        // Nothing is left in tmp/.
        #expect(try FileSystem.listDirectory(fixture.vault.temporaryPath).isEmpty)
    }

    @Test func theSameContentSealedTwiceSharesOneArchive() throws {
        let fixture = try SealingFixture()
        let content = randomBytes(1 << 16)
        let first = try fixture.seal("first.bin", content)
        let second = try fixture.seal("second.bin", content)
        #expect(!first.deduplicated && second.deduplicated)
        #expect(first.item != second.item)
        #expect(first.digests == second.digests)
        // The second entry names the stored archive; its own was discarded.
        #expect(second.archive == first.archive)
        #expect(try fixture.files(in: fixture.vault.local.folder(.archives)).count == 1)
        // Two names, two manifests.
        #expect(first.manifest != second.manifest)
        #expect(try fixture.files(in: fixture.vault.local.folder(.manifests)).count == 2)
        #expect(try FileSystem.listDirectory(fixture.vault.temporaryPath).isEmpty)
    }

    @Test func aSymbolicLinkIsRefusedAndNotFollowed() throws {
        let fixture = try SealingFixture()
        let target = try fixture.directory.write("evidence/target.bin", randomBytes(100))
        let link = fixture.directory.file("evidence/link.bin")
        #expect(symlink(target, link) == 0)
        let error = #expect(throws: SealingError.self) { try fixture.seal(path: link) }
        #expect(error?.code == .refused)
        #expect(error?.message.contains("symbolic link") == true, "\(String(describing: error))")
        #expect(try fixture.files(in: fixture.vault.local.folder(.archives)).isEmpty)
        #expect(try FileSystem.listDirectory(fixture.vault.temporaryPath).isEmpty)
    }

    @Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let fixture = try SealingFixture()
        let fifo = fixture.directory.file("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        let error = #expect(throws: SealingError.self) { try fixture.seal(path: fifo) }
        #expect(error?.code == .refused)
        #expect(error?.message.contains("FIFO") == true, "\(String(describing: error))")
        #expect(try fixture.files(in: fixture.vault.local.folder(.archives)).isEmpty)
    }

    /// A file that reads longer than the size it had when opened (it grew while read) is not
    /// sealed. A kernel file whose `stat` size is 0 but that reads as text behaves exactly so,
    /// every time: no race to win.
    @Test func aFileThatGrowsWhileReadIsRefusedAndLeavesNothing() throws {
        let fixture = try SealingFixture()
        let grows = "/proc/\(getpid())/status"
        #expect(try FileSystem.linkStatus(RawPath(grows))?.isRegularFile == true)
        #expect(try FileSystem.linkStatus(RawPath(grows))?.size == 0)
        let error = #expect(throws: SealingError.self) { try fixture.seal(path: grows) }
        #expect(error?.code == .changedWhileReading, "\(String(describing: error))")
        #expect(try fixture.files(in: fixture.vault.local.folder(.archives)).isEmpty)
        #expect(try fixture.files(in: fixture.vault.local.folder(.manifests)).isEmpty)
        #expect(try FileSystem.listDirectory(fixture.vault.temporaryPath).isEmpty)
    }

    /// A file that another process keeps appending to while it is sealed: refused as changed.
    /// The writer is seen to write before the seal begins and writes without pause until it is
    /// stopped. Should the scheduler give it no turn during a whole 32 MiB read, the seal is of
    /// a file that did not change while read: then what it recorded must be exactly the file's
    /// bytes as they were (a prefix of them now), and the seal is tried again, up to five times.
    @Test func aFileAppendedToWhileReadIsRefused() throws {
        var refusals = 0
        for _ in 0..<5 where refusals == 0 {
            let fixture = try SealingFixture()
            let content = randomBytes(32 << 20)
            let path = try fixture.directory.write("evidence/growing.log", content)
            let writer = try BackgroundProcess(
                "sh", ["-c", "while :; do echo line >> \"$0\"; done", path],
                logPath: fixture.directory.file("writer.log"))
            defer {
                writer.signal(SIGKILL)
                writer.wait(timeout: 10)
            }
            #expect(try waitUntil(timeout: 30) { try FileSystem.linkStatus(RawPath(path))!.size > 32 << 20 })
            do {
                let seal = try fixture.seal(path: path)
                let now = try FileSystem.readFile(RawPath(path))
                let sealed = Array(now.prefix(Int(seal.size)))
                #expect(sealed.starts(with: content))
                let copy = try fixture.directory.write("sealed-prefix", sealed)
                #expect(try digestByTool("sha256sum", copy) == seal.digests.sha256.hex)
            } catch let error as SealingError {
                #expect(error.code == .changedWhileReading, "\(error)")
                #expect(try fixture.files(in: fixture.vault.local.folder(.archives)).isEmpty)
                #expect(try FileSystem.listDirectory(fixture.vault.temporaryPath).isEmpty)
                refusals += 1
            }
        }
        #expect(refusals == 1, "five seals of a file appended to all along, and none refused")
    }
}

@Suite("verifying a vault's archives", .timeLimit(.minutes(2)))
struct VaultVerifierTests {
    /// Seals `count` files, records them and signs a checkpoint over them.
    func sealAndRecord(_ fixture: SealingFixture, count: Int) throws -> [PendingSeal] {
        let seals = try (0..<count).map { try fixture.seal("item-\($0).bin", randomBytes(20_000 + $0)) }
        let ledger = try fixture.vault.openLedger()
        _ = try ledger.append(seals.map(\.event))
        try ledger.checkpoint(signer: fixture.vault.signer(), now: SealingFixture.now)
        return seals
    }

    @Test(arguments: [Compression.zstd, .none])
    func aCleanVaultPasses(_ compression: Compression) throws {
        let fixture = try SealingFixture(compression: compression)
        _ = try sealAndRecord(fixture, count: 3)
        let report = try VaultVerifier(vault: fixture.vault).verify(ledger: try fixture.vault.openLedger())
        #expect(report.passed, "\(report.faults)")
        #expect(report.itemsChecked == 3 && report.archivesRehashed == 3)
        #expect(report.unrecordedFiles.isEmpty, "\(report.unrecordedFiles)")
    }

    /// Entries after the latest checkpoint are a fault, unless the caller had signed a checkpoint
    /// covering every entry and these came after it (another writer's, its checkpoint to follow),
    /// or a process seals now: then a note. A caller whose checkpoint is not the latest gets the
    /// fault.
    @Test func entriesAfterTheCallersCheckpointAreANoteNotAFault() throws {
        let fixture = try SealingFixture(compression: .zstd)
        let seals = try sealAndRecord(fixture, count: 2)
        let ledger = try fixture.vault.openLedger()
        let covered = try ledger.size()
        _ = try ledger.append([try fixture.seal("late.bin", randomBytes(5_000)).event])
        let verifier = VaultVerifier(vault: fixture.vault)

        let alone = try verifier.verify(ledger: ledger)
        #expect(alone.faults.map(\.code.rawValue) == ["entries-uncovered"], "\(alone.faults)")
        let after = try verifier.verify(ledger: ledger, checkpointed: covered)
        #expect(after.passed, "\(after.faults)")
        #expect(
            after.notes.contains { $0.contains("another writer") && $0.contains("entries \(covered)") },
            "\(after.notes)")
        let before = try verifier.verify(ledger: ledger, checkpointed: covered + 1)
        #expect(before.faults.map(\.code.rawValue) == ["entries-uncovered"], "\(before.faults)")
        #expect(before.ledgerFaults == 1)
        // While a process seals (it holds the sealing lock, as `custos ingest` does until its
        // last file is sealed and its checkpoint signed): a note; once it lets go, the fault.
        do {
            let sealing = try fixture.vault.lockSealing(exclusive: false)
            let during = try verifier.verify(ledger: ledger)
            #expect(during.passed, "\(during.faults)")
            #expect(during.notes.contains { $0.contains("a process seals into this vault") }, "\(during.notes)")
            // A caller whose own checkpoint is not the latest still gets the fault.
            let stale = try verifier.verify(ledger: ledger, checkpointed: covered + 1)
            #expect(stale.faults.map(\.code.rawValue) == ["entries-uncovered"], "\(stale.faults)")
            withExtendedLifetime(sealing) {}
        }
        #expect(try verifier.verify(ledger: ledger).faults.map(\.code.rawValue) == ["entries-uncovered"])

        // An archive changed as well: its fault stays the item's, not the ledger's (a report
        // tells them apart by `ledgerFaults`).
        let altered = try #require(fixture.vault.archiveFile(content: seals[0].digests.sha256))
        var bytes = try FileSystem.readFile(altered)
        bytes[bytes.count / 2] ^= 0x01
        #expect(chmod(altered.description, 0o600) == 0)
        try Data(bytes).write(to: URL(fileURLWithPath: altered.description))
        let tampered = try verifier.verify(ledger: ledger, checkpointed: covered)
        #expect(tampered.ledgerFaults == 0, "\(tampered.faults)")
        #expect(!tampered.faults.isEmpty && tampered.faults.allSatisfy { $0.subject == "item \(seals[0].item)" })
    }

    /// One byte of one archive changed: that item is faulted by its archive's digest, the others pass.
    @Test(arguments: [Compression.zstd, .none])
    func anAlteredArchiveByteIsFound(_ compression: Compression) throws {
        let fixture = try SealingFixture(compression: compression)
        let seals = try sealAndRecord(fixture, count: 3)
        let altered = try #require(fixture.vault.archiveFile(content: seals[1].digests.sha256))
        var bytes = try FileSystem.readFile(altered)
        bytes[bytes.count / 2] ^= 0x01
        #expect(chmod(altered.description, 0o600) == 0)
        try Data(bytes).write(to: URL(fileURLWithPath: altered.description))

        let report = try VaultVerifier(vault: fixture.vault).verify(ledger: try fixture.vault.openLedger())
        #expect(!report.passed)
        #expect(Set(report.faults.map(\.subject)) == ["item \(seals[1].item)"], "\(report.faults)")
        let codes = Set(report.faults.map(\.code.rawValue))
        // Uncompressed, the archive still reads and both its own digest and the content's differ;
        // compressed, zstd's frame checksum may stop the read first.
        if compression == .none {
            #expect(codes == ["archive-digest", "content-sha256", "content-md5", "content-sha1"], "\(codes)")
        } else {
            #expect(codes.contains("archive-digest") || codes.contains("archive-unreadable"), "\(codes)")
        }
    }
}
