import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault
import Foundation
import Glibc

/// What `transfer` wrote and recorded.
public struct TransferReceipt: Sendable {
    public var file: RawPath
    /// The SHA-256 of `handover.json` (the `handover` fact of the `transferred` entries).
    public var document: Hash
    /// The checkpoint the handover's proofs lead to.
    public var checkpointSize: UInt64
    public var event: RecordedEvent
}

/// What `receive` checked, stored and recorded.
public struct ReceiveReceipt: Sendable {
    public var origin: String
    public var document: Hash
    /// One `received` entry per item, in the handover's order.
    public var event: RecordedEvent
    /// The items whose content was already in the vault (their archive is shared).
    public var shared: Set<String>
    /// Why the items have no time stamp of this node's TSA (nil when stamped, or without a TSA).
    public var stampFailure: String?
}

// MARK: - transfer

extension CustodySession {
    /// Hands items over to another bureau: writes the handover file `output` (a pax tar: the
    /// items' `sealed` entries with their inclusion proofs, their `timestamped` entries with their
    /// tokens and proofs, the latest signed checkpoint, the archives and manifests as stored, and
    /// the node's signature over `handover.json`), then records one `transferred` event for the
    /// items. A checkpoint is signed first when the tree grew, so the proofs lead to a checkpoint
    /// that covers them.
    ///
    /// Every archive and manifest is re-hashed before it is packed (invariant 4): an archive whose
    /// bytes are not those recorded refuses the transfer (`.altered`), and nothing is recorded.
    /// `output` must not exist: it is written as a temporary beside it, fsynced, and renamed to
    /// its name without replacing anything (`.exists` when something took the name meanwhile).
    public func transfer(
        _ records: [ItemRecord], to recipient: String, reason: String, output: RawPath,
        now: String = SystemClock.now()
    ) throws -> TransferReceipt {
        try checkLine(recipient, what: "the recipient bureau (--to)")
        try checkLine(reason, what: "the reason (--reason)", limit: 4096)
        guard !records.isEmpty else { throw CustodyError(.refused, "transfer: no items named") }
        guard (try? FileSystem.linkStatus(output)) == nil else {
            throw CustodyError(.exists, "\(output): already exists; a handover file is never overwritten")
        }
        var seen = Set<String>()
        let records = records.filter { seen.insert($0.item).inserted }

        let builder = HandoverBuilder(session: self)
        let note = try checkpoint(now: now)
        let checkpoint = try Checkpoint(parsing: note.text)
        let items = try records.map { try builder.provenItem($0, checkpoint: checkpoint) }
        let signer = try vault.signer()
        let document = HandoverDocument(
            origin: vault.configuration.origin, key: signer.verifierKey.text, recipient: recipient, time: now,
            checkpointSize: checkpoint.size, checkpointRoot: checkpoint.root, items: items.map(\.proven))
        let documentBytes = document.canonicalBytes
        let documentHash = OpenSSLSHA256().sha256(documentBytes)
        let signature = try SignedNote.sign(
            text: HandoverSignature.text(origin: vault.configuration.origin, document: documentHash),
            signers: [signer])
        try builder.write(
            output, document: documentBytes, checkpoint: note.serialized, signature: signature.serialized,
            items: items)
        do {
            let event = try recordEvent(
                .transferred, items: records.map(\.item), facts: ["handover": .string(documentHash.hex)],
                details: [
                    "to": .string(recipient), "reason": .string(reason), "file": .byteString(output.bytes),
                    "checkpoint": .integer(Int64(checkpoint.size)),
                ], now: now)
            return TransferReceipt(file: output, document: documentHash, checkpointSize: checkpoint.size, event: event)
        } catch {
            // Nothing records this handover: it is not handed over.
            FileSystem.remove(output)
            throw CustodyError(
                .missing, "\(output): the transfer could not be recorded, the file was removed", cause: error)
        }
    }

    /// Refuses an empty value, one with control characters, or one longer than `limit` bytes.
    fileprivate func checkLine(_ text: String, what: String, limit: Int = 256) throws {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CustodyError(.refused, "\(what) is required and may not be empty")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CustodyError(.refused, "\(what) may not hold control characters (one line of text)")
        }
        guard text.utf8.count <= limit else { throw CustodyError(.refused, "\(what) is longer than \(limit) bytes") }
    }
}

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
        var archivePath: RawPath
        var archiveSuffix: String
        var manifest: [UInt8]
    }

    func provenItem(_ record: ItemRecord, checkpoint: Checkpoint) throws -> PackedItem {
        let ledger = session.ledger
        let vault = session.vault
        let bytes = try ledger.entryBytes(record.sequence)
        let entry = try CustodyEntry(parsing: bytes)
        guard entry.type == .sealed, entry.item == record.item else {
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
            guard let token = try ledger.stampToken(at: stampEntry.sequence), digester.sha256(token) == stampRecord.token
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
        let manifestPath = vault.manifestPath(manifest)
        let manifestBytes: [UInt8]
        do { manifestBytes = try FileSystem.readFile(manifestPath) } catch {
            throw CustodyError(.missing, "\(manifestPath): the manifest of item \(record.item) is missing", cause: error)
        }
        guard digester.sha256(manifestBytes) == manifest else {
            throw CustodyError(
                .altered, "\(manifestPath): the manifest of item \(record.item) was altered; run custos verify")
        }
        guard let archivePath = vault.findArchive(content: digests.sha256) else {
            throw CustodyError(.missing, "item \(record.item): its archive is missing from the vault")
        }
        let contents: VaultVerifier.ArchiveContents
        do {
            contents = try VaultVerifier(vault: vault).readArchive(
                archivePath, wantMD5: digests.md5 != nil, wantSHA1: digests.sha1 != nil)
        } catch {
            throw CustodyError(.altered, "\(archivePath): the archive of item \(record.item) cannot be read", cause: error)
        }
        guard contents.archiveHash == archive, contents.digests == digests, UInt64(contents.size) == entry.size else {
            throw CustodyError(
                .altered,
                "\(archivePath): the archive of item \(record.item) is not the one sealed (its SHA-256 is "
                    + "\(contents.archiveHash.hex), entry \(record.sequence) records \(archive.hex)); nothing was "
                    + "handed over, run custos verify")
        }
        let name = String(decoding: archivePath.lastComponent, as: UTF8.self)
        return PackedItem(
            proven: HandoverDocument.Item(
                item: record.item, sealed: sealed, archive: archive, manifest: manifest, stamps: stamps),
            content: digests.sha256, archivePath: archivePath, archiveSuffix: String(name.dropFirst(64)),
            manifest: manifestBytes)
    }

    /// Writes the handover file: a temporary beside `output`, fsynced, renamed to `output` without
    /// replacing anything, and the folder fsynced. The temporary is removed on every failure.
    func write(
        _ output: RawPath, document: [UInt8], checkpoint: String, signature: String, items: [PackedItem]
    ) throws {
        let folder = output.parent
        let temporary = folder.appending(
            component: Array(".".utf8) + output.lastComponent + Array(".\(Vault.temporaryName("part"))".utf8))
        let file: FileDescriptor
        do { file = try FileSystem.createExclusive(temporary, mode: 0o600) } catch {
            throw CustodyError(.refused, "\(output): cannot be written", cause: error)
        }
        var done = false
        defer { if !done { FileSystem.remove(temporary) } }
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
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
        do {
            try FileSystem.renameNoReplace(temporary, to: output)
        } catch let error as FileSystemError where error.code == .exists {
            throw CustodyError(.exists, "\(output): already exists; a handover file is never overwritten")
        }
        done = true
        do { try FileSystem.syncDirectory(folder) } catch {
            // Not durable: not handed over (nothing is recorded).
            FileSystem.remove(output)
            throw CustodyError(.refused, "\(output): could not be made durable; it was removed", cause: error)
        }
    }

    /// Copies an archive into the handover, hashing the bytes copied: they must still be those
    /// checked (an archive replaced in between refuses the transfer).
    private func pack(_ item: PackedItem, into writer: ArchiveWriter, modified: timespec) throws {
        let source = try FileSystem.openForReading(item.archivePath)
        source.adviseSequential()
        let size = try source.status().size
        try writer.beginFile(
            name: HandoverMember.archive(content: item.content, suffix: item.archiveSuffix).name, size: size,
            permissions: 0o444, modified: modified)
        let digest = MessageDigest(.sha256)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var copied: Int64 = 0
        while true {
            let count = try source.read(into: buffer)
            if count == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
            copied += Int64(count)
            guard copied <= size else { break }
            digest.update(chunk)
            try writer.write(chunk)
        }
        guard copied == size, Hash(bytes: digest.finish()) == item.proven.archive else {
            throw CustodyError(
                .altered, "\(item.archivePath): the archive of item \(item.proven.item) changed while it was packed")
        }
    }
}

// MARK: - receive

extension CustodySession {
    /// Receives a handover file from another node. Checks, in this order, refusing with the
    /// file's name and the reason, and recording nothing on refusal:
    ///
    /// 1. the tar is readable and holds exactly the expected members (no other names, no links);
    /// 2. `handover.sig` is signed by a known peer (`keys/peers/`) and names the SHA-256 of
    ///    `handover.json` (`.untrusted` for an unknown node, `.altered` for another digest);
    /// 3. `checkpoint.txt` is signed by the same key, of the sender's origin, of the size and
    ///    root that `handover.json` names;
    /// 4. every entry parses, is a `sealed` (or, for stamps, `timestamped`) entry of that origin
    ///    about the item, and its inclusion proof leads to the checkpoint's root; every token
    ///    re-hashes to its entry's `token`;
    /// 5. every manifest's SHA-256 is the entry's `manifest`;
    /// 6. every archive's raw SHA-256 is the entry's `archive`, and its original re-hashes to the
    ///    entry's digests and size (`VaultVerifier.readArchive`, in a temporary under `tmp/`);
    /// 7. no item is in this vault already (`.duplicate`).
    ///
    /// Then the archives are placed by content address (shared, once re-read, when the content
    /// is there already), the manifests stored, and one `received` event recorded: an entry per
    /// item with the sealed entry's content members, `from` and `fromIndex`, and its index row.
    public func receive(_ file: RawPath, reason: String?, now: String = SystemClock.now()) throws -> ReceiveReceipt {
        if let reason { try checkLine(reason, what: "the reason (--reason)", limit: 4096) }
        let reader = HandoverReader(vault: vault, file: file)
        let carried = try reader.readDocuments()
        let checked = try reader.check(carried)
        // One receive at a time, and none beside the daemon's reconciliation (which removes
        // archives that no entry records).
        let (sealingLock, _) = try vault.beginSealing()
        let receiveLock = try FileLock(vault.locksPath.appending("receive.lock"), exclusive: true, wait: true)
        defer { withExtendedLifetime((sealingLock, receiveLock)) {} }
        let archives = try reader.extractArchives(checked)
        defer { for archive in archives.values { FileSystem.remove(archive.temporary) } }
        for item in checked.items {
            let existing = try ledger.items(matching: item.item).filter { $0.item == item.item }
            if let first = existing.first {
                let how = (try? CustodyEntry(parsing: ledger.entryBytes(first.sequence))).map { entry in
                    entry.type == .received
                        ? "received from \(entry.details["from"]?.stringValue ?? "?"), its entry "
                            + "\(entry.details["fromIndex"]?.integerValue.map(String.init) ?? "?")"
                        : "\(entry.type) here"
                }
                throw CustodyError(
                    .duplicate,
                    "\(file): item \(item.item) is already in this vault (entry \(first.sequence), \(how ?? "recorded")); "
                        + "nothing was received")
            }
        }
        // Store: archives by content address, manifests by their digest, durably, before any
        // entry names them.
        var storedArchive = [Hash: Hash]()  // content -> the SHA-256 of the archive this vault keeps
        var shared = Set<String>()
        for (content, archive) in archives {
            do {
                switch try vault.placeArchive(
                    temporary: archive.temporary, content: content, compression: archive.compression)
                {
                case .placed: storedArchive[content] = archive.archiveHash
                case .alreadyStored(let existing):
                    let contents = try VaultVerifier(vault: vault).readArchive(
                        existing, wantMD5: archive.digests.md5 != nil, wantSHA1: archive.digests.sha1 != nil)
                    guard contents.digests == archive.digests else {
                        throw CustodyError(
                            .altered,
                            "\(existing): the stored archive of the same SHA-256 does not hold these bytes; "
                                + "nothing was received, run custos verify")
                    }
                    storedArchive[content] = contents.archiveHash
                    shared.formUnion(checked.items.filter { $0.digests.sha256 == content }.map(\.item))
                }
            } catch let error as CustodyError {
                throw error
            } catch {
                throw CustodyError(.missing, "\(file): the archives could not be stored in the vault", cause: error)
            }
        }
        for item in checked.items { try vault.storeManifest(item.manifestBytes, hash: item.manifest) }
        // This node's TSA stamps each item's content as it is received: when it came into this
        // node's custody, from a signed source (invariant 6). A failed stamp does not stop the
        // receipt (the item awaits a stamp, as a seal whose stamp failed does).
        var stampFailure: String?
        var stamper: NodeTimeStamper?
        do { stamper = try NodeTimeStamper.make(vault: vault) } catch { stampFailure = "\(error)" }
        let entries = checked.items.map { item in
            var facts = CustodyEntry.sealedDetails(
                digests: item.digests, size: item.size, archive: storedArchive[item.digests.sha256] ?? item.archive,
                manifest: item.manifest)
            facts["from"] = .string(checked.origin)
            facts["fromIndex"] = .integer(Int64(item.index))
            facts["handover"] = .string(checked.documentHash.hex)
            let record = ItemRecord(
                item: item.item, sequence: 0, caseID: item.caseID, exhibit: item.exhibit, name: item.name,
                sha256: item.digests.sha256, size: item.size,
                archive: storedArchive[item.digests.sha256] ?? item.archive, manifest: item.manifest, sealedAt: now)
            var stamp: NewCustodyEvent?
            if let stamper, stampFailure == nil {
                do {
                    stamp = try stamper.stamp(
                        .item, imprint: item.digests.sha256, item: item.item, actor: custody.actor.account, now: now)
                } catch {
                    stampFailure = "\(error)"
                }
            }
            return EventEntry(item: item.item, facts: facts, record: record, stamp: stamp)
        }
        var details: JSONObject = [
            "from": .string(checked.origin), "file": .byteString(file.bytes),
            // The sender's proof, kept whole: its entries, proofs and time-stamp tokens, its
            // checkpoint and its signature, so this node can show later what it was handed.
            "handover": .object([
                "document": .string(Base64.encode(carried.document)), "checkpoint": .string(carried.checkpoint),
                "signature": .string(carried.signature),
            ]),
        ]
        if let reason { details["reason"] = .string(reason) }
        let event = try recordEvent(.received, entries: entries, details: details, now: now)
        return ReceiveReceipt(
            origin: checked.origin, document: checked.documentHash, event: event, shared: shared,
            stampFailure: stampFailure)
    }
}

/// Reads and checks a handover file for `receive`. Nothing it reads is written to disk by the
/// name it has in the file: small members are read into memory, archives into temporaries this
/// node names under the vault's `tmp/`.
struct HandoverReader {
    let vault: Vault
    let file: RawPath
    private let digester = OpenSSLSHA256()

    init(vault: Vault, file: RawPath) {
        self.vault = vault
        self.file = file
    }

    /// The small members, as carried, and the names of the archives.
    struct Carried {
        var document: [UInt8]
        var checkpoint: String
        var signature: String
        var manifests: [Hash: [UInt8]]
        var archives: [Hash: String]  // content -> suffix
    }

    /// An item, checked against the sender's signed log.
    struct CheckedItem {
        var item: String
        var index: UInt64
        var digests: EvidenceDigests
        var size: UInt64
        var archive: Hash
        var manifest: Hash
        var manifestBytes: [UInt8]
        var caseID: String
        var exhibit: String
        var name: [UInt8]
    }

    struct Checked {
        var origin: String
        var documentHash: Hash
        var items: [CheckedItem]
    }

    /// An archive taken out of the handover into a temporary, and what re-reading it gave.
    struct ExtractedArchive {
        var temporary: RawPath
        var compression: String
        var archiveHash: Hash
        var digests: EvidenceDigests
    }

    private func refuse(_ code: CustodyError.Code, _ reason: String, cause: (any Error)? = nil) -> CustodyError {
        CustodyError(code, "\(file): \(reason); nothing was received", cause: cause)
    }

    /// Bad input: refused (`.refused`).
    private func refuse(_ reason: String, cause: (any Error)? = nil) -> CustodyError {
        refuse(.refused, reason, cause: cause)
    }

    /// Visits every member of the tar in order (each header checked: a regular file under a
    /// name a handover holds, no link); `body` reads the member or leaves it.
    private func forEachMember(_ body: (HandoverMember, ArchiveEntryHeader, ArchiveReader) throws -> Void) throws {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileSystem.openForReading(file)
            guard try descriptor.status().isRegularFile else { throw refuse("is not a regular file") }
        } catch let error as CustodyError {
            throw error
        } catch {
            throw refuse("cannot be read", cause: error)
        }
        do {
            let reader = try ArchiveReader(fileDescriptor: descriptor.rawValue, path: file.description)
            var seen = Set<String>()
            while let header = try reader.nextEntry() {
                let shown = DisplayName.escape(header.pathname)
                guard let member = HandoverMember(name: header.pathname) else {
                    throw refuse("holds \"\(shown)\", which is not a member of a handover file")
                }
                guard header.isRegularFile, !header.isLink else {
                    throw refuse("its member \(shown) is not a regular file (a link or a folder)")
                }
                guard seen.insert(member.name).inserted else { throw refuse("holds \(shown) twice") }
                try body(member, header, reader)
            }
        } catch let error as CustodyError {
            throw error
        } catch {
            throw refuse("is not a readable handover file (pax tar)", cause: error)
        }
    }

    /// Step 1: the tar is readable and holds exactly the members its `handover.json` names.
    func readDocuments() throws -> Carried {
        var document: [UInt8]?
        var checkpoint: [UInt8]?
        var signature: [UInt8]?
        var manifests = [Hash: [UInt8]]()
        var archives = [Hash: String]()
        try forEachMember { member, _, reader in
            switch member {
            case .document: document = try reader.readAll(limit: 256 << 20)
            case .checkpoint: checkpoint = try reader.readAll(limit: 1 << 20)
            case .signature: signature = try reader.readAll(limit: 1 << 20)
            case .manifest(let hash): manifests[hash] = try reader.readAll(limit: 16 << 20)
            case .archive(let content, let suffix):
                guard archives.updateValue(suffix, forKey: content) == nil else {
                    throw refuse("holds two archives of content \(content.hex)")
                }
            }
        }
        guard let document, let checkpoint, let signature else {
            throw refuse("lacks handover.json, checkpoint.txt or handover.sig")
        }
        guard let checkpointText = String(validating: checkpoint, as: UTF8.self),
            let signatureText = String(validating: signature, as: UTF8.self)
        else { throw refuse("its checkpoint or signature is not UTF-8 text") }
        let parsed: HandoverDocument
        do { parsed = try HandoverDocument(parsing: document) } catch {
            throw refuse("handover.json is malformed", cause: error)
        }
        var contents = Set<Hash>()
        for item in parsed.items {
            guard let digests = (try? CustodyEntry(parsing: item.sealed.entry))?.digests else {
                throw refuse("item \(item.item): its entry is malformed or names no digests")
            }
            contents.insert(digests.sha256)
        }
        let missing =
            contents.subtracting(archives.keys).map { "objects/\($0.hex).tar…" }
            + Set(parsed.items.map(\.manifest)).subtracting(manifests.keys).map { "manifests/\($0.hex).json" }
        let extra =
            Set(archives.keys).subtracting(contents).map { HandoverMember.archive(content: $0, suffix: archives[$0]!).name }
            + Set(manifests.keys).subtracting(parsed.items.map(\.manifest)).map { HandoverMember.manifest($0).name }
        guard missing.isEmpty else { throw refuse("lacks \(missing.sorted().joined(separator: ", "))") }
        guard extra.isEmpty else {
            throw refuse("holds \(extra.sorted().joined(separator: ", ")), which handover.json does not name")
        }
        return Carried(
            document: document, checkpoint: checkpointText, signature: signatureText, manifests: manifests,
            archives: archives)
    }

    /// Steps 2 to 5: the signature, the checkpoint, the entries and their proofs, the tokens and
    /// the manifests.
    func check(_ carried: Carried) throws -> Checked {
        // 2. Signed by a known peer, over this handover.json.
        let signature: SignedNote
        do { signature = try SignedNote(parsing: carried.signature) } catch {
            throw refuse("handover.sig is not a signed note", cause: error)
        }
        let peers = try vault.peerKeys().map(Ed25519NoteVerifier.init)
        let signer: Ed25519NoteVerifier
        do {
            let verified = try signature.verifiedSignatures(by: peers)
            signer = peers.first { $0.name == verified[0].name && $0.keyID == verified[0].keyID }!
        } catch let error as FormatError where error.code == .unknownKey {
            let names = signature.signatures.map(\.name).joined(separator: ", ")
            throw refuse(
                .untrusted,
                "signed by an unknown node (\(names)); this vault receives only from nodes added with custos peer add")
        } catch {
            throw refuse(.altered, "handover.sig does not verify: it was altered", cause: error)
        }
        let documentHash = digester.sha256(carried.document)
        guard let signed = HandoverSignature.parse(signature.text), signed.origin == signer.name else {
            throw refuse(.altered, "handover.sig does not sign a handover of \(signer.name)")
        }
        guard signed.document == documentHash else {
            throw refuse(
                .altered,
                "handover.json was altered: its SHA-256 is \(documentHash.hex), the signature names \(signed.document.hex)")
        }
        let document: HandoverDocument
        do { document = try HandoverDocument(parsing: carried.document) } catch {
            throw refuse("handover.json is malformed", cause: error)
        }
        let origin = signer.name
        guard document.origin == origin, document.key == signer.key.text else {
            throw refuse(.altered, "handover.json names another origin or key than the one that signed it")
        }
        // 3. The checkpoint: signed by the same key, of the sender's log, the one the proofs lead to.
        let checkpoint: Checkpoint
        do {
            let note = try SignedNote(parsing: carried.checkpoint)
            _ = try note.verifiedSignatures(by: [signer])
            checkpoint = try Checkpoint(parsing: note.text)
        } catch {
            throw refuse(.altered, "checkpoint.txt is not a checkpoint signed by \(origin)", cause: error)
        }
        guard checkpoint.origin == origin, checkpoint.size == document.checkpointSize,
            checkpoint.root == document.checkpointRoot
        else {
            throw refuse(
                .altered,
                "checkpoint.txt (\(checkpoint.origin), size \(checkpoint.size)) is not the checkpoint handover.json "
                    + "names (\(origin), size \(document.checkpointSize))")
        }
        // 4 and 5. Each entry in the sender's log, each token and manifest the one it names.
        var items = [CheckedItem]()
        var ids = Set<String>()
        for item in document.items {
            guard ids.insert(item.item).inserted else { throw refuse("names item \(item.item) twice") }
            let entry = try provenEntry(item.sealed, item: item.item, checkpoint: checkpoint, what: "its sealed entry")
            guard entry.type == .sealed, entry.node == origin else {
                throw refuse(
                    .altered, "item \(item.item): entry \(item.sealed.index) is a \(entry.type) entry of \(entry.node), "
                        + "not a sealed entry of \(origin)")
            }
            guard let digests = entry.digests, let size = entry.size, entry.archive == item.archive,
                entry.manifest == item.manifest
            else {
                throw refuse(.altered, "item \(item.item): handover.json names other digests than its sealed entry")
            }
            for stamp in item.stamps {
                let stampEntry = try provenEntry(
                    stamp.proven, item: item.item, checkpoint: checkpoint, what: "a time stamp entry")
                guard stampEntry.node == origin, let record = TimeStampRecord(entry: stampEntry),
                    case .item = record.subject, record.imprint == digests.sha256
                else {
                    throw refuse(
                        .altered, "item \(item.item): entry \(stamp.proven.index) is not a time stamp of its content")
                }
                guard digester.sha256(stamp.token) == record.token else {
                    throw refuse(
                        .altered,
                        "item \(item.item): the token of time stamp entry \(stamp.proven.index) is not the one its entry names")
                }
            }
            guard let manifestBytes = carried.manifests[item.manifest], digester.sha256(manifestBytes) == item.manifest
            else {
                throw refuse(.altered, "manifests/\(item.manifest.hex).json: its SHA-256 is not the one its entry names")
            }
            guard let manifest = try? CanonicalJSON.parse(manifestBytes), manifest["item"]?.stringValue == item.item,
                let name = manifest["original"]?["name"]?.byteStringValue
            else {
                throw refuse(.altered, "manifests/\(item.manifest.hex).json does not describe item \(item.item)")
            }
            items.append(
                CheckedItem(
                    item: item.item, index: item.sealed.index, digests: digests, size: size, archive: item.archive,
                    manifest: item.manifest, manifestBytes: manifestBytes,
                    caseID: manifest["acquisition"]?["case"]?.stringValue ?? "",
                    exhibit: manifest["acquisition"]?["exhibit"]?.stringValue ?? "", name: name))
        }
        return Checked(origin: origin, documentHash: documentHash, items: items)
    }

    /// An entry of the sender's log about `item`, at the index it names, proven in the checkpoint.
    private func provenEntry(
        _ proven: HandoverDocument.ProvenEntry, item: String, checkpoint: Checkpoint, what: String
    ) throws -> CustodyEntry {
        let entry: CustodyEntry
        do { entry = try CustodyEntry(parsing: proven.entry) } catch {
            throw refuse(.altered, "item \(item): \(what) is not a canonical entry", cause: error)
        }
        guard entry.item == item, entry.sequence == proven.index else {
            throw refuse(.altered, "item \(item): \(what) names another item or index (\(entry.item), \(entry.sequence))")
        }
        do {
            try MerkleProofs.verifyInclusion(
                index: proven.index, size: checkpoint.size, leafHash: MerkleHasher.openSSL.hashLeaf(proven.entry),
                proof: proven.proof, root: checkpoint.root, hasher: MerkleHasher.openSSL)
        } catch {
            throw refuse(
                .altered,
                "item \(item): \(what) (index \(proven.index)) is not in the sender's log at checkpoint size \(checkpoint.size)",
                cause: error)
        }
        return entry
    }

    /// Step 6: each archive, copied out of the tar into a temporary under `tmp/` (a name this node
    /// gives), fsynced, and re-read: its raw SHA-256 and its original's digests and size must be
    /// those its entries record. The caller removes the temporaries.
    func extractArchives(_ checked: Checked) throws -> [Hash: ExtractedArchive] {
        var wanted = [Hash: CheckedItem]()
        for item in checked.items {
            if let other = wanted[item.digests.sha256], other.archive != item.archive || other.size != item.size {
                throw refuse(.altered, "items \(other.item) and \(item.item) name one content with two archives")
            }
            wanted[item.digests.sha256] = item
        }
        var extracted = [Hash: ExtractedArchive]()
        var temporaries = [RawPath]()
        var done = false
        defer { if !done { for path in temporaries { FileSystem.remove(path) } } }
        try FileSystem.makeDirectory(vault.temporaryPath)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        try forEachMember { member, _, reader in
            guard case .archive(let content, let suffix) = member, let item = wanted[content] else { return }
            let temporary = vault.temporaryPath.appending(Vault.temporaryName("receive-\(content.hex)\(suffix)"))
            let output: FileDescriptor
            do { output = try FileSystem.createExclusive(temporary, mode: 0o400) } catch {
                throw CustodyError(.missing, "\(temporary): cannot be written", cause: error)
            }
            temporaries.append(temporary)
            while true {
                let count = try reader.read(into: buffer)
                if count == 0 { break }
                do { try output.write(UnsafeRawBufferPointer(rebasing: buffer[..<count])) } catch {
                    throw CustodyError(.missing, "\(temporary): cannot be written", cause: error)
                }
            }
            do { try output.sync() } catch {
                throw CustodyError(.missing, "\(temporary): cannot be written", cause: error)
            }
            let contents: VaultVerifier.ArchiveContents
            do {
                contents = try VaultVerifier(vault: vault).readArchive(
                    temporary, wantMD5: item.digests.md5 != nil, wantSHA1: item.digests.sha1 != nil)
            } catch {
                throw refuse(.altered, "objects/\(content.hex)\(suffix) is not a readable sealed archive", cause: error)
            }
            guard contents.archiveHash == item.archive else {
                throw refuse(
                    .altered,
                    "objects/\(content.hex)\(suffix): its SHA-256 is \(contents.archiveHash.hex), the entry of item "
                        + "\(item.item) names \(item.archive.hex)")
            }
            guard contents.digests == item.digests, UInt64(contents.size) == item.size else {
                throw refuse(
                    .altered,
                    "objects/\(content.hex)\(suffix): the original it holds has SHA-256 \(contents.digests.sha256.hex) "
                        + "and \(contents.size) bytes, the entry of item \(item.item) names \(item.digests.sha256.hex) "
                        + "and \(item.size)")
            }
            extracted[content] = ExtractedArchive(
                temporary: temporary, compression: Self.compression(suffix: suffix), archiveHash: contents.archiveHash,
                digests: contents.digests)
        }
        guard extracted.count == wanted.count else {
            throw refuse("changed while it was read (an archive is gone)")
        }
        done = true
        return extracted
    }

    static func compression(suffix: String) -> String {
        ArchiveCompression.allCases.first { $0.suffix == suffix }?.rawValue ?? "zstd"
    }
}
