import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault
import Foundation
import Logging

/// A file sealed into the vault whose custody event is not yet recorded.
public struct PendingSeal: Sendable {
    public var request: SealRequest
    public var item: String
    public var digests: EvidenceDigests
    public var size: UInt64
    public var archive: Hash
    public var manifest: Hash
    public var sealedAt: String
    /// True when the same content was already in the vault and its archive is shared.
    public var deduplicated: Bool
    /// What the original was when it was read (identity, size, times): the daemon releases only
    /// this very file.
    public var original: FileStatus
    public var event: NewCustodyEvent
}

/// Seals files into a vault: one read of the file feeds the digests and the archive writer; the
/// archive lands by content address durably before the ledger records it.
public final class Sealer: Sendable {
    public let vault: Vault
    public let context: SealingContext
    private let logger: Logger
    private let digester = OpenSSLSHA256()

    public init(vault: Vault, context: SealingContext, logger: Logger = Logger(label: "custos.sealing")) {
        self.vault = vault
        self.context = context
        self.logger = logger
    }

    /// Seals one regular file: hashes and archives it in one pass, checks it did not change,
    /// places the archive and the manifest durably. The returned event still has to be recorded
    /// with `Ledger.append`. Nothing is recorded and no partial archive is left when this throws.
    ///
    /// With `durability: .batch` nothing is synced here: the caller makes a whole batch of seals
    /// durable with one `FileSystemSync` of the vault before recording any of them.
    public func seal(
        _ request: SealRequest, durability: Vault.Durability = .immediate, now: () -> String
    ) throws -> PendingSeal {
        do {
            let pending = try sealOnce(request, durability: durability, now: now)
            logger.debug(
                "archived",
                metadata: [
                    "item": "\(pending.item)", "case": "\(DisplayName.escape(Array(request.caseID.utf8)))",
                    "name": "\(request.path)", "sha256": "\(pending.digests.sha256.hex)", "size": "\(pending.size)",
                    "shared": "\(pending.deduplicated)",
                ])
            return pending
        } catch let error as SealingError {
            logger.debug(
                "not sealed",
                metadata: ["name": "\(request.path)", "code": "\(error.code)", "reason": "\(error.message)"])
            throw error
        }
    }

    /// Compression workers for a large file's zstd frames: one per processor, two to four.
    static let compressionThreads = min(max(ProcessInfo.processInfo.activeProcessorCount, 2), 4)

    private func sealOnce(
        _ request: SealRequest, durability: Vault.Durability, now: () -> String
    ) throws -> PendingSeal {
        let shown = request.path.description
        let file: FileDescriptor
        let before: FileStatus
        do {
            if let confined = request.confined {
                (file, before) = try confined.directory.openEvidence(confined.components)
            } else {
                (file, before) = try FileSystem.openEvidence(request.path)
            }
        } catch let error as FileSystemError {
            throw SealingError(.refused, file: shown, error.message, cause: error)
        }
        if request.requireClosed, file.isOpenForWritingElsewhere() == true {
            throw SealingError(
                .stillBeingWritten, file: shown,
                "is still open for writing by another process; it will be sealed once closed")
        }
        file.adviseSequential()
        // Bytes sent to the socket: the sender's file as it declared it, of the size received.
        let original = request.upload?.original ?? before
        guard original.size == before.size else {
            throw SealingError(
                .refused, file: shown,
                "its sender declared \(original.size) bytes but \(before.size) were received; nothing was recorded")
        }

        let item = Self.newItemIdentifier()
        let member = Manifest.safeMemberName(request.path.lastComponent, digester: digester)
        let configuration = vault.configuration
        let compression = configuration.compression

        let temporary = vault.temporaryPath.appending(Vault.temporaryName("seal-\(item)\(compression.suffix)"))
        let output: FileDescriptor
        do {
            try FileSystem.makeDirectory(vault.temporaryPath)
            output = try FileSystem.createExclusive(temporary, mode: 0o400)
        } catch {
            throw SealingError.storage(error, file: shown)
        }
        var placed = false
        defer { if !placed { FileSystem.remove(temporary) } }

        let sha256 = MessageDigest(.sha256)
        let md5 = configuration.md5 ? MessageDigest(.md5) : nil
        let sha1 = configuration.sha1 ? MessageDigest(.sha1) : nil
        let onePass = OnePass(expectedSize: before.size)
        let archiveDigest = BackgroundDigest(.sha256, inline: onePass.inline)
        let writer: ArchiveWriter
        do {
            writer = try ArchiveWriter(
                fileDescriptor: output.rawValue, path: temporary.description, compression: compression,
                level: configuration.compressionLevel, compressionThreads: onePass.inline ? 0 : Self.compressionThreads,
                tap: { archiveDigest.update($0) })
            try writer.beginFile(
                name: "evidence/" + member, size: before.size, permissions: original.mode,
                modified: original.modificationTime)
        } catch {
            throw SealingError.storage(error, file: shown)
        }

        // Lanes balanced for two cores: SHA-256 and SHA-1 (both SHA-NI), MD5 alone, the archive.
        var consumers: [OnePass.Consumer] = [
            { chunk in
                sha256.update(chunk)
                sha1?.update(chunk)
            }
        ]
        if let md5 { consumers.append { md5.update($0) } }
        var archived: Int64 = 0
        consumers.append { chunk in
            // A file that grows while it is read would overflow the size its header declared.
            archived += Int64(chunk.count)
            guard archived <= before.size else {
                throw SealingError(
                    .changedWhileReading, file: shown,
                    "changed while it was being read (it grew past the \(before.size) bytes it had when opened); "
                        + "nothing was recorded, seal it again once it is complete")
            }
            try writer.write(chunk)
        }

        let total: Int64
        do {
            total = try onePass.run(file: file, consumers: consumers)
        } catch let error as SealingError {
            throw error
        } catch let error as FileSystemError where error.call == "read" {
            throw SealingError(.refused, file: shown, "cannot be read: \(error.message)", cause: error)
        } catch {
            throw SealingError.storage(error, file: shown)
        }

        // Re-check: a file that changed while it was read is not recorded.
        let after: FileStatus
        do { after = try file.status() } catch { throw SealingError(.refused, file: shown, "\(error)", cause: error) }
        // Unlinked while read: the descriptor still reads it, but no name leads to it any more.
        if after.linkCount == 0 && before.linkCount > 0 {
            throw SealingError(
                .changedWhileReading, file: shown,
                "was removed while it was being read (it is gone); nothing was recorded")
        }
        guard total == before.size, after.isSameContent(as: before) else {
            throw SealingError(
                .changedWhileReading, file: shown,
                "changed while it was being read (\(before.size) bytes before, \(total) read, \(after.size) after); "
                    + "nothing was recorded, seal it again once it is complete")
        }

        let digests = EvidenceDigests(
            sha256: Hash(bytes: sha256.finish())!, md5: md5?.finish(), sha1: sha1?.finish())
        let sealedAt = now()
        let absolute = request.path.absolute
        let manifest = Manifest.build(
            item: item, request: request, absolutePath: absolute, status: original, digests: digests, member: member,
            origin: configuration.origin, bureau: configuration.bureau, context: context, sealedAt: sealedAt,
            compression: compression)
        let manifestHash = digester.sha256(manifest)

        let archiveHash: Hash
        var deduplicated = false
        do {
            try writer.addFile(name: "manifest.json", bytes: manifest, modified: original.modificationTime)
            try writer.addFile(
                name: "hashdeep.txt", bytes: Manifest.hashdeepList(member: member, size: total, digests: digests),
                modified: original.modificationTime)
            try writer.finish()
            // Immediate: fsync now. Batch: the caller's one syncfs for the batch flushes it, before
            // the ledger records anything of it.
            if durability == .immediate { try output.sync() }
            let computed = Hash(bytes: archiveDigest.finish())!
            switch try vault.objects.place(
                temporary: temporary, as: .archive(content: digests.sha256, compression: compression),
                durability: durability)
            {
            case .placed:
                placed = true
                archiveHash = computed
            case .alreadyStored(let existing):
                let stored = vault.objects.describe(existing)
                // The same content was sealed before: share its archive, once it is re-read and
                // proven to hold these very bytes. A damaged archive is never shared.
                let contents: VaultVerifier.ArchiveContents
                do {
                    contents = try VaultVerifier(vault: vault).readArchive(
                        existing, wantMD5: digests.md5 != nil, wantSHA1: digests.sha1 != nil)
                } catch {
                    throw SealingError(
                        .storage, file: shown,
                        "the stored archive \(stored) of the same SHA-256 cannot be read (\(error)); "
                            + "sealing stopped, run `custos verify`")
                }
                guard contents.digests == digests else {
                    throw SealingError(
                        .storage, file: shown,
                        "the stored archive \(stored) of the same SHA-256 does not hold these bytes; "
                            + "sealing stopped, run `custos verify`")
                }
                archiveHash = contents.archiveHash
                deduplicated = true
            }
            try vault.objects.store(manifest, as: .manifest(manifestHash), durability: durability)
        } catch let error as SealingError {
            throw error
        } catch {
            throw SealingError.storage(error, file: shown)
        }

        let record = ItemRecord(
            item: item, sequence: 0, caseID: request.caseID, exhibit: request.exhibit,
            name: request.path.lastComponent, sha256: digests.sha256, size: UInt64(total), archive: archiveHash,
            manifest: manifestHash, sealedAt: sealedAt)
        let event = NewCustodyEvent(
            type: .sealed, item: item, time: sealedAt, actor: context.operatorName,
            details: CustodyEntry.sealedDetails(
                digests: digests, size: UInt64(total), archive: archiveHash, manifest: manifestHash),
            record: record)
        return PendingSeal(
            request: request, item: item, digests: digests, size: UInt64(total), archive: archiveHash,
            manifest: manifestHash, sealedAt: sealedAt, deduplicated: deduplicated, original: before, event: event)
    }

    /// A new UUIDv7 item id from the real-time clock and the system's random generator.
    static func newItemIdentifier() -> String {
        let milliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
        var generator = SystemRandomNumberGenerator()
        return ItemIdentifier.uuidV7(milliseconds: milliseconds, random: (0..<10).map { _ in generator.next() })
    }
}
