import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault
import Foundation

/// Reads and checks a handover file for `receive`. Nothing it reads is written to disk by the
/// name it has in the file: small members are read into memory, archives into temporaries this
/// node names under the vault's `tmp/`.
///
/// The file is opened once, here, and every pass reads that descriptor from its start: the
/// documents checked and the archives taken are of one file, even if its name is given to
/// another file meanwhile.
struct HandoverReader {
    let vault: Vault
    /// The file as messages name it (as its sender named it, for one sent to the daemon).
    let file: RawPath
    private let descriptor: FileDescriptor
    private let digester = OpenSSLSHA256()

    /// Opens `path`; messages name it `shown` (the sender's name of a file the daemon received
    /// into a temporary), or `path`.
    init(vault: Vault, file path: RawPath, shown: RawPath? = nil) throws {
        self.vault = vault
        let file = shown ?? path
        self.file = file
        let refusal = { (reason: String, cause: (any Error)?) in
            CustodyError(.refused, "\(file): \(reason); nothing was received", cause: cause)
        }
        do {
            descriptor = try FileSystem.openForReading(path)
        } catch {
            throw refusal("cannot be read", error)
        }
        let isRegularFile: Bool
        do { isRegularFile = try descriptor.status().isRegularFile } catch { throw refusal("cannot be read", error) }
        guard isRegularFile else { throw refusal("is not a regular file", nil) }
    }

    /// The small members, as carried, and the names of the archives.
    struct Carried {
        var document: [UInt8]
        var checkpoint: String
        var signature: String
        var manifests: [Hash: [UInt8]]
        var archives: [Hash: Compression]  // content -> its compression
    }

    /// An item, checked against the sender's signed log.
    struct CheckedItem {
        var item: String
        /// The sender's `sealed` entry, proven in its checkpoint.
        var entry: CustodyEntry
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
        /// The sender's checkpoint (`checkpoint.txt`), its signature checked, and the key that did.
        var checkpoint: Checkpoint
        var signer: Ed25519NoteVerifier
    }

    /// An archive taken out of the handover into a temporary, and what re-reading it gave.
    struct ExtractedArchive {
        var temporary: RawPath
        var compression: Compression
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
    /// name a handover holds, no link), reading the one descriptor from its start; `body` reads
    /// the member or leaves it.
    private func forEachMember(_ body: (HandoverMember, ArchiveEntryHeader, ArchiveReader) throws -> Void) throws {
        do { try descriptor.rewind() } catch { throw refuse("cannot be read", cause: error) }
        do {
            // A handover is a plain tar (zstd read too): no other decompressor runs on untrusted bytes.
            let reader = try ArchiveReader(
                fileDescriptor: descriptor.rawValue, path: file.description, compressions: [.none, .zstd])
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

    /// The most bytes of documents and manifests held before the signature is checked.
    static let unauthenticatedBytesLimit = 512 << 20
    /// The most members a handover may hold.
    static let membersLimit = 200_000

    /// Step 1: the tar is readable and holds exactly the members its `handover.json` names.
    func readDocuments() throws -> Carried {
        var document: [UInt8]?
        var checkpoint: [UInt8]?
        var signature: [UInt8]?
        var manifests = [Hash: [UInt8]]()
        var archives = [Hash: Compression]()
        // Nothing is authenticated yet: what is held in memory is bounded as a whole, not only
        // member by member, and so is the number of members.
        var held = 0
        var members = 0
        func hold(_ bytes: [UInt8]) throws -> [UInt8] {
            held += bytes.count
            guard held <= Self.unauthenticatedBytesLimit else {
                throw refuse("holds more than \(Self.unauthenticatedBytesLimit >> 20) MiB of documents and manifests")
            }
            return bytes
        }
        try forEachMember { member, _, reader in
            members += 1
            guard members <= Self.membersLimit else { throw refuse("holds more than \(Self.membersLimit) members") }
            switch member {
            case .document: document = try hold(reader.readAll(limit: 256 << 20))
            case .checkpoint: checkpoint = try hold(reader.readAll(limit: 1 << 20))
            case .signature: signature = try hold(reader.readAll(limit: 1 << 20))
            case .manifest(let hash): manifests[hash] = try hold(reader.readAll(limit: 16 << 20))
            case .archive(let content, let compression):
                guard archives.updateValue(compression, forKey: content) == nil else {
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
            Set(archives.keys).subtracting(contents).map {
                HandoverMember.archive(content: $0, compression: archives[$0]!).name
            }
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
            let names = signature.signatures.map { DisplayName.escape(Array($0.name.utf8)) }.joined(separator: ", ")
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
                "handover.json was altered: its SHA-256 is \(documentHash.hex), the signature names \(signed.document.hex)"
            )
        }
        let document: HandoverDocument
        do { document = try HandoverDocument(parsing: carried.document) } catch {
            throw refuse("handover.json is malformed", cause: error)
        }
        let origin = signer.name
        guard document.origin == origin, document.key == signer.key.text else {
            throw refuse(.altered, "handover.json names another origin or key than the one that signed it")
        }
        // Addressed to this node: `transfer --to` names the recipient by its origin, as `peer add`
        // names peers. A handover signed for another node is refused here, whoever brings it.
        guard document.recipient == vault.configuration.origin else {
            throw refuse(
                "it is addressed to \(DisplayName.escape(Array(document.recipient.utf8))), not to this node "
                    + "(\(vault.configuration.origin))")
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
                    .altered,
                    "item \(item.item): entry \(item.sealed.index) is a "
                        + "\(DisplayName.escape(Array(entry.type.rawValue.utf8))) entry of "
                        + "\(DisplayName.escape(Array(entry.node.utf8))), "
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
                        "item \(item.item): the token of time stamp entry \(stamp.proven.index) is not the one its entry names"
                    )
                }
            }
            guard let manifestBytes = carried.manifests[item.manifest], digester.sha256(manifestBytes) == item.manifest
            else {
                throw refuse(
                    .altered, "manifests/\(item.manifest.hex).json: its SHA-256 is not the one its entry names")
            }
            // Every check `verify` will make of the stored manifest, made now: a manifest that would
            // fail it later is refused, never recorded (the ledger keeps what it records).
            let manifestFaults = VaultVerifier(vault: vault).checkManifest(
                bytes: manifestBytes, at: RawPath("manifests/\(item.manifest.hex).json"), entry: entry, record: nil)
            guard manifestFaults.isEmpty else {
                throw refuse(
                    .altered,
                    "manifests/\(item.manifest.hex).json would fail verification: "
                        + manifestFaults.map { "[\($0.code)] \($0.message)" }.joined(separator: "; "))
            }
            guard let manifest = try? CanonicalJSON.parse(manifestBytes), manifest["item"]?.stringValue == item.item,
                let name = manifest["original"]?["name"]?.byteStringValue
            else {
                throw refuse(.altered, "manifests/\(item.manifest.hex).json does not describe item \(item.item)")
            }
            items.append(
                CheckedItem(
                    item: item.item, entry: entry, index: item.sealed.index, digests: digests, size: size,
                    archive: item.archive,
                    manifest: item.manifest, manifestBytes: manifestBytes,
                    caseID: manifest["acquisition"]?["case"]?.stringValue ?? "",
                    exhibit: manifest["acquisition"]?["exhibit"]?.stringValue ?? "", name: name))
        }
        return Checked(
            origin: origin, documentHash: documentHash, items: items, checkpoint: checkpoint, signer: signer)
    }

    /// Step 6, under the receive lock: the handover's checkpoint against every checkpoint this
    /// vault kept from the same sender (`keys/peers/<origin>.checkpoints/<size>`, one per size).
    ///
    /// The rule, and why: a node that shows two bureaus two different logs (a split view) signs
    /// two checkpoints that are not consistent. Of the same size, they must have the same root:
    /// two roots are a fork, proven by the two signatures, and the handover is refused (`.altered`)
    /// naming both roots and both files (the kept one and this handover's `checkpoint.txt`),
    /// whatever larger checkpoint was received since. Of different sizes, consistency is proven
    /// only by an RFC 6962 consistency proof between them, and the sender cannot carry one: it
    /// does not know which checkpoints this node kept. So a checkpoint of a size not kept yet is
    /// accepted and kept beside the others; the receipt records how it compared with the largest
    /// kept (`checkpointComparison`, `keptCheckpoint`), and every checkpoint stays signed, kept
    /// verbatim, so a consistency proof asked of the sender later (`custos consistency`) settles it.
    ///
    /// Each kept checkpoint is re-checked first: signed by the sender's key, of its origin, of the
    /// size its file is named by. One that is not refuses the handover (`.altered`), never trusted.
    func compareWithKeptCheckpoint(_ checked: Checked) throws -> PeerCheckpointComparison {
        let folder = vault.peerCheckpointsPath(origin: checked.origin)
        let keptFiles: [Vault.KeptPeerCheckpoint]
        do { keptFiles = try vault.keptPeerCheckpoints(origin: checked.origin) } catch {
            throw refuse(
                .missing, "the checkpoints kept from \(checked.origin) (\(folder)) cannot be read", cause: error)
        }
        var kept = [(checkpoint: Checkpoint, path: RawPath)]()
        for file in keptFiles {
            do {
                let note = try SignedNote(parsing: file.text)
                _ = try note.verifiedSignatures(by: [checked.signer])
                let checkpoint = try Checkpoint(parsing: note.text)
                guard checkpoint.origin == checked.origin else {
                    throw CustodyError(.altered, "it is a checkpoint of \(checkpoint.origin)")
                }
                guard checkpoint.size == file.size else {
                    throw CustodyError(.altered, "it is of size \(checkpoint.size), not of the size its name gives")
                }
                kept.append((checkpoint, file.path))
            } catch {
                throw refuse(
                    .altered, "\(file.path), a checkpoint kept from \(checked.origin), is not one it signed",
                    cause: error)
            }
        }
        let seen = checked.checkpoint
        if let same = kept.first(where: { $0.checkpoint.size == seen.size }) {
            guard same.checkpoint.root == seen.root else {
                throw refuse(
                    .altered,
                    "\(checked.origin) signed two different logs of size \(seen.size) (a fork): its checkpoint.txt "
                        + "has root \(seen.root.base64), the checkpoint this vault kept from it (\(same.path)) has root "
                        + "\(same.checkpoint.root.base64); the two signed files are the proof")
            }
            return .same(seen.size)
        }
        guard let largest = kept.last?.checkpoint.size else { return .first }
        return seen.size > largest ? .larger(than: largest) : .smaller(than: largest)
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
            throw refuse(
                .altered,
                "item \(item): \(what) names another item or index "
                    + "(\(DisplayName.escape(Array(entry.item.utf8))), \(entry.sequence))")
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

    /// Step 7: each archive, copied out of the tar into a temporary under `tmp/` (a name this node
    /// gives), its raw SHA-256 computed from the bytes as they are written, fsynced, and re-read:
    /// its raw SHA-256 and its original's digests and size must be those its entries record.
    ///
    /// The bytes kept are the bytes checked: the raw SHA-256 (the sealed entry's `archive`,
    /// which fixes the original inside) is of the bytes written through the temporary's
    /// descriptor; the re-read goes through a descriptor opened on the temporary and refused
    /// unless it is that same file (device and inode, on the descriptor); and the caller, once it
    /// has placed an archive, reads back what the vault keeps (`placedHoldsTheBytesChecked`).
    /// The caller removes the temporaries.
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
        try forEachMember { member, header, reader in
            guard case .archive(let content, let compression) = member, let item = wanted[content] else { return }
            let suffix = compression.suffix
            // A sealed archive is its original, a manifest and a hashdeep line in a tar, compressed
            // or not: one much larger than that is refused before it is copied into the vault.
            let largest = item.size + item.size / 32 + (16 << 20)
            guard header.size >= 0, UInt64(header.size) <= largest else {
                throw refuse(
                    .altered,
                    "objects/\(content.hex)\(suffix) is \(header.size) bytes, more than an archive of \(item.size) bytes can be"
                )
            }
            let temporary = vault.temporaryPath.appending(Vault.temporaryName("receive-\(content.hex)\(suffix)"))
            let output: FileDescriptor
            do { output = try FileSystem.createExclusive(temporary, mode: 0o400) } catch {
                throw CustodyError(.missing, "\(temporary): cannot be written", cause: error)
            }
            temporaries.append(temporary)
            let copied = MessageDigest(.sha256)
            while true {
                let count = try reader.read(into: buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                copied.update(chunk)
                do { try output.write(chunk) } catch {
                    throw CustodyError(.missing, "\(temporary): cannot be written", cause: error)
                }
            }
            do { try output.sync() } catch {
                throw CustodyError(.missing, "\(temporary): cannot be written", cause: error)
            }
            let copiedHash = copied.finishHash()
            guard copiedHash == item.archive else {
                throw refuse(
                    .altered,
                    "objects/\(content.hex)\(suffix): its SHA-256 is \(copiedHash.hex), the entry of item "
                        + "\(item.item) names \(item.archive.hex)")
            }
            let written: FileStatus
            do { written = try output.status() } catch {
                throw CustodyError(.missing, "\(temporary): cannot be examined", cause: error)
            }
            let contents: VaultVerifier.ArchiveContents
            do {
                // Re-read through a descriptor that is the file written (same device and inode,
                // checked on the descriptor itself): the original re-hashed is the one in the bytes kept.
                let reading = try FileSystem.openForReading(temporary)
                let opened = try reading.status()
                guard opened.device == written.device, opened.inode == written.inode else {
                    throw CustodyError(.altered, "replaced")
                }
                contents = try VaultVerifier(vault: vault).readArchive(
                    file: reading, location: temporary.description, wantMD5: item.digests.md5 != nil,
                    wantSHA1: item.digests.sha1 != nil)
            } catch let error as CustodyError {
                throw refuse(
                    .altered,
                    "\(temporary), the copy of objects/\(content.hex)\(suffix), was replaced while it was re-read",
                    cause: error)
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
            // Every check `verify` will make of the stored archive (hashdeep.txt, the manifest inside),
            // made now: an archive that would fail it later is refused, never stored.
            let archiveFaults = VaultVerifier(vault: vault).checkArchive(contents, entry: item.entry)
            guard archiveFaults.isEmpty else {
                throw refuse(
                    .altered,
                    "objects/\(content.hex)\(suffix) would fail verification: "
                        + archiveFaults.map { "[\($0.code)] \($0.message)" }.joined(separator: "; "))
            }
            extracted[content] = ExtractedArchive(
                temporary: temporary, compression: compression, archiveHash: contents.archiveHash,
                digests: contents.digests)
        }
        guard extracted.count == wanted.count else {
            throw refuse("changed while it was read (an archive is gone)")
        }
        done = true
        return extracted
    }

    /// Whether the object `placed`, read back from the store, holds the bytes that were checked:
    /// the archive's SHA-256 and the original's digests, re-hashed (the temporary's name could
    /// have been given to other bytes before it was placed). Any driver can answer it: the kept
    /// bytes are read, not a file's identity compared. Throws when the object cannot be read.
    func placedHoldsTheBytesChecked(_ archive: ExtractedArchive, as placed: StoredObject) throws -> Bool {
        let kept = try VaultVerifier(vault: vault).readArchive(
            placed, wantMD5: archive.digests.md5 != nil, wantSHA1: archive.digests.sha1 != nil)
        return kept.archiveHash == archive.archiveHash && kept.digests == archive.digests
    }
}
