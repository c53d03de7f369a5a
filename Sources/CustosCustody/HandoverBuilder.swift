import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault
import Foundation

/// Gathers what a handover carries from the sender's ledger and vault, re-hashed, and writes the
/// handover file.
struct HandoverBuilder {
    let session: CustodySession
    private let digester = OpenSSLSHA256()

    init(session: CustodySession) { self.session = session }

    /// An item with what is packed beside it: its archive and manifest as stored.
    struct PackedItem {
        var proven: HandoverDocument.Item
        var content: Hash
        var archive: StoredObject
        var compression: Compression
        var manifest: [UInt8]
    }

    /// The item's entry (`sealed`; or, when `received` allows it, as a court bundle takes an
    /// item received from another node, `received`) with its proof in `checkpoint`, its
    /// time stamps, and its archive and manifest re-hashed.
    func provenItem(_ record: ItemRecord, checkpoint: Checkpoint, received: Bool = false) throws -> PackedItem {
        let ledger = session.ledger
        let vault = session.vault
        let bytes = try ledger.entryBytes(record.sequence)
        let entry = try CustodyEntry(parsing: bytes)
        guard entry.type == .sealed || (received && entry.type == .received), entry.item == record.item else {
            throw CustodyError(
                .refused,
                "item \(record.item): its entry \(record.sequence) is a \(entry.type) entry; only items sealed "
                    + "by this node are handed over")
        }
        guard let digests = entry.digests, let archive = entry.archive, let manifest = entry.manifest else {
            throw CustodyError(.altered, "item \(record.item): entry \(record.sequence) lacks its digests")
        }
        let sealed = HandoverDocument.ProvenEntry(
            index: record.sequence, entry: bytes,
            proof: try ledger.inclusionProof(index: record.sequence, size: checkpoint.size))
        var stamps = [HandoverDocument.Stamp]()
        for (stampEntry, stampRecord) in try ledger.stamps(of: record.item) {
            guard case .item = stampRecord.subject, stampEntry.sequence < checkpoint.size else { continue }
            guard let token = try ledger.stampToken(at: stampEntry.sequence),
                digester.sha256(token) == stampRecord.token
            else {
                throw CustodyError(
                    .altered,
                    "item \(record.item): the token of time stamp entry \(stampEntry.sequence) is missing or is not "
                        + "the one recorded; run custos verify")
            }
            stamps.append(
                HandoverDocument.Stamp(
                    proven: HandoverDocument.ProvenEntry(
                        index: stampEntry.sequence, entry: try ledger.entryBytes(stampEntry.sequence),
                        proof: try ledger.inclusionProof(index: stampEntry.sequence, size: checkpoint.size)),
                    token: token))
        }
        // The manifest and the archive, re-hashed: never packed on the strength of a stored digest.
        let manifestLocation = vault.objects.describe(.manifest(manifest))
        let manifestBytes: [UInt8]
        do { manifestBytes = try vault.objects.read(.manifest(manifest)) } catch {
            throw CustodyError(
                .missing, "\(manifestLocation): the manifest of item \(record.item) is missing", cause: error)
        }
        guard digester.sha256(manifestBytes) == manifest else {
            throw CustodyError(
                .altered, "\(manifestLocation): the manifest of item \(record.item) was altered; run custos verify")
        }
        let stored: StoredObject?
        do { stored = try vault.objects.findArchive(content: digests.sha256) } catch {
            throw CustodyError(
                .missing, "item \(record.item): its archive cannot be looked up in the vault", cause: error)
        }
        guard let stored, let compression = stored.compression else {
            throw CustodyError(.missing, "item \(record.item): its archive is missing from the vault")
        }
        let location = vault.objects.describe(stored)
        let contents: VaultVerifier.ArchiveContents
        do {
            contents = try VaultVerifier(vault: vault).readArchive(
                stored, wantMD5: digests.md5 != nil, wantSHA1: digests.sha1 != nil)
        } catch {
            throw CustodyError(
                .altered, "\(location): the archive of item \(record.item) cannot be read", cause: error)
        }
        guard contents.archiveHash == archive, contents.digests == digests, UInt64(contents.size) == entry.size else {
            throw CustodyError(
                .altered,
                "\(location): the archive of item \(record.item) is not the one sealed (its SHA-256 is "
                    + "\(contents.archiveHash.hex), entry \(record.sequence) records \(archive.hex)); nothing was "
                    + "handed over, run custos verify")
        }
        return PackedItem(
            proven: HandoverDocument.Item(
                item: record.item, sealed: sealed, archive: archive, manifest: manifest, stamps: stamps),
            content: digests.sha256, archive: stored, compression: compression,
            manifest: manifestBytes)
    }

    /// Writes the handover file: a temporary beside `output`, fsynced; then `record` (the
    /// `transferred` event), then the temporary renamed to `output` without replacing anything,
    /// and the folder fsynced. So no handover file is ever placed that the log does not record.
    /// Before `record` succeeds, the temporary is removed on every failure; after it, the file is
    /// kept (under its temporary name if it cannot take its own), and the error names it.
    func write<Recorded>(
        _ output: RawPath, document: [UInt8], checkpoint: String, signature: String, items: [PackedItem],
        record: () throws -> Recorded
    ) throws -> Recorded {
        // The folder is held by a descriptor: the temporary, the rename and the sync all act on it,
        // so a link put in place of the folder meanwhile leads nowhere else (the way extract writes).
        let folder: HeldDirectory
        do { folder = try HeldDirectory(output.parent, create: false) } catch {
            throw CustodyError(.refused, "\(output): its folder cannot be used", cause: error)
        }
        let name = output.lastComponent
        guard !folder.contains(name) else {
            throw CustodyError(.exists, "\(output): already exists; a handover file is never overwritten")
        }
        let (temporary, file) = try folder.createTemporary(for: name, output: output)
        var done = false
        defer { if !done { folder.remove(temporary) } }
        let clock = SystemClock.fileTimeNow()
        do {
            let writer = try ArchiveWriter(fileDescriptor: file.rawValue, path: output.description, compression: .none)
            try writer.addFile(name: HandoverMember.documentName, bytes: document, modified: clock)
            try writer.addFile(name: HandoverMember.checkpointName, bytes: Array(checkpoint.utf8), modified: clock)
            try writer.addFile(name: HandoverMember.signatureName, bytes: Array(signature.utf8), modified: clock)
            var manifests = Set<Hash>()
            for item in items where manifests.insert(item.proven.manifest).inserted {
                try writer.addFile(
                    name: HandoverMember.manifest(item.proven.manifest).name, bytes: item.manifest, modified: clock)
            }
            var archives = Set<Hash>()
            for item in items where archives.insert(item.content).inserted {
                try pack(item, into: writer, modified: clock)
            }
            try writer.finish()
            try file.sync()
        } catch let error as CustodyError {
            throw error
        } catch {
            throw CustodyError(.refused, "\(output): could not be written", cause: error)
        }
        let recorded = try record()
        done = true  // recorded: the file is kept, whatever happens next
        try folder.placeRecorded(temporary, as: name, output: output, what: "handover")
        return recorded
    }

    /// Copies an archive into the handover, hashing the bytes copied: they must still be those
    /// checked (an archive replaced in between refuses the transfer).
    private func pack(_ item: PackedItem, into writer: ArchiveWriter, modified: FileStatus.Time) throws {
        let source = try session.vault.objects.openForReading(item.archive)
        source.adviseSequential()
        let size = try source.status().size
        try writer.beginFile(
            name: HandoverMember.archive(content: item.content, compression: item.compression).name,
            size: size,
            permissions: 0o444, modified: modified)
        let (copied, hash) = try writer.copyHashing(from: source, size: size)
        guard copied == size, hash == item.proven.archive else {
            throw CustodyError(
                .altered,
                "\(session.vault.objects.describe(item.archive)): the archive of item \(item.proven.item) changed "
                    + "while it was packed")
        }
    }
}

extension HeldDirectory {
    /// A new file for `name`'s bytes, `.NAME.part-…` beside it (`O_EXCL`, mode 0600): written,
    /// synced, recorded, then given its name by `placeRecorded`.
    func createTemporary(for name: [UInt8], output: RawPath) throws -> ([UInt8], FileDescriptor) {
        let temporary = Array(".".utf8) + name + Array(".\(Vault.temporaryName("part"))".utf8)
        do { return (temporary, try createExclusive(temporary, mode: 0o600)) } catch {
            throw CustodyError(.refused, "\(output): cannot be written", cause: error)
        }
    }

    /// A recorded file's temporary takes its name, never replacing a file, then the folder is
    /// synced. It was recorded: on failure it is kept, and the message says so (and where).
    func placeRecorded(_ temporary: [UInt8], as name: [UInt8], output: RawPath, what: String) throws {
        do { try renameNoReplace(temporary, to: name) } catch {
            throw CustodyError(
                .exists,
                "\(output): the \(what) was recorded, but the file could not take its name (kept as \(path(of: temporary)))",
                cause: error)
        }
        do { try sync() } catch {
            throw CustodyError(
                .refused, "\(output): the \(what) was recorded, but its folder could not be synced", cause: error)
        }
    }
}
