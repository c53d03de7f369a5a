import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosTimeStamping
import CustosVault
import Foundation

/// What `transfer` wrote and recorded.
public struct TransferReceipt: Sendable {
    /// The handover file as the event names it (`transfer`'s `recordedAs`, else its `output`).
    public var file: RawPath
    /// The SHA-256 of `handover.json` (the `handover` fact of the `transferred` entries).
    public var document: Hash
    /// The checkpoint the handover's proofs lead to.
    public var checkpointSize: UInt64
    public var event: RecordedEvent
}

/// How a handover's checkpoint compares with those kept from its sender
/// (`HandoverReader.compareWithKeptCheckpoint` gives the rule); its `name` is recorded in the
/// receipt's details document (`checkpointComparison`).
public enum PeerCheckpointComparison: Sendable, Equatable {
    /// None was kept: this is the first.
    case first
    /// Of a size kept, with the same root.
    case same(UInt64)
    /// Larger than the largest kept (of that size); not proven consistent with it.
    case larger(than: UInt64)
    /// Of a size not kept, smaller than the largest kept (of that size); not proven consistent.
    case smaller(than: UInt64)

    /// Whether the handover's checkpoint is kept beside those kept (it is of a size not kept yet).
    public var isNewSize: Bool {
        switch self {
        case .first, .larger, .smaller: true
        case .same: false
        }
    }

    public var name: String {
        switch self {
        case .first: "first"
        case .same: "same"
        case .larger: "larger"
        case .smaller: "smaller"
        }
    }

    /// The size of the kept checkpoint it was compared with: the one of its size, or else the largest.
    public var keptSize: UInt64? {
        switch self {
        case .first: nil
        case .same(let size), .larger(than: let size), .smaller(than: let size): size
        }
    }
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
    /// How the sender's checkpoint compared with those this vault kept from it.
    public var checkpointComparison: PeerCheckpointComparison
}

// MARK: - transfer

extension CustodySession {
    /// Checks a transfer before anything is built, written or recorded: the recipient is another
    /// node's origin, the reason and the examiner are acceptable, and items are named. Returns
    /// the items once each (the daemon's planning call runs this alone).
    public func checkTransfer(_ records: [ItemRecord], to recipient: String, reason: String) throws -> [ItemRecord] {
        try CustodyText.check(recipient, what: "the recipient bureau", subject: "--to", limit: 256)
        // The recipient is named as `peer add` names peers, by its origin: the receiving node
        // compares it with its own and refuses a handover addressed to another node.
        guard isValidNoteKeyName(recipient), recipient.utf8.count <= 200 else {
            throw CustodyError(
                .refused,
                "--to \"\(recipient)\": not a node's origin (the name in its checkpoints and in its custos key, "
                    + "e.g. court.example.tw/evidence: no spaces, no '+')")
        }
        guard recipient != vault.configuration.origin else {
            throw CustodyError(.refused, "--to \(recipient): is this node's own origin; a handover is for another node")
        }
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        guard !records.isEmpty else { throw CustodyError(.refused, "transfer: no items named") }
        var seen = Set<String>()
        return records.filter { seen.insert($0.item).inserted }
    }

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
    ///
    /// `recordedAs` is the file the event names (its details' `file`) when that is not `output`:
    /// the daemon writes the handover into the vault's `tmp/` (it cannot write into the caller's
    /// folder) and streams it to its client, which gives it the name the client declared.
    public func transfer(
        _ records: [ItemRecord], to recipient: String, reason: String, output: RawPath, recordedAs: RawPath? = nil,
        now: String = SystemClock.now()
    ) throws -> TransferReceipt {
        let records = try checkTransfer(records, to: recipient, reason: reason)
        guard (try? FileSystem.linkStatus(output)) == nil else {
            throw CustodyError(.exists, "\(output): already exists; a handover file is never overwritten")
        }
        let named = recordedAs ?? output

        let builder = HandoverBuilder(session: self)
        let note = try checkpoint(now: now)
        let checkpoint = try Checkpoint(parsing: note.text)
        let items = try records.map { try builder.provenItem($0, checkpoint: checkpoint) }
        let signer = try vault.signer()
        let document = HandoverDocument(
            origin: vault.configuration.origin, key: signer.verifierKey.text, recipient: recipient, time: now,
            nonce: Hex.encode(try SecureRandom.bytes(16)), checkpointSize: checkpoint.size,
            checkpointRoot: checkpoint.root, items: items.map(\.proven))
        let documentBytes = document.canonicalBytes
        let documentHash = OpenSSLSHA256().sha256(documentBytes)
        let signature = try SignedNote.sign(
            text: HandoverSignature.text(origin: vault.configuration.origin, document: documentHash),
            signers: [signer])
        let event = try builder.write(
            output, document: documentBytes, checkpoint: note.serialized, signature: signature.serialized,
            items: items
        ) {
            // Recorded before the file takes its name: no handover file exists that the log does
            // not record. Should this fail, the temporary is removed and nothing is handed over.
            try recordEvent(
                .transferred, items: records.map(\.item), facts: ["handover": .string(documentHash.hex)],
                details: [
                    "to": .string(recipient), "reason": .string(reason), "file": .byteString(named.bytes),
                    "checkpoint": .integer(Int64(checkpoint.size)),
                ], now: now)
        }
        return TransferReceipt(file: named, document: documentHash, checkpointSize: checkpoint.size, event: event)
    }

}

// MARK: - receive

extension CustodySession {
    /// Receives a handover file from another node. Checks, in this order, refusing with the
    /// file's name and the reason, and recording nothing on refusal:
    ///
    /// 1. the tar is readable and holds exactly the expected members (no other names, no links);
    /// 2. `handover.sig` is signed by a known peer (`keys/peers/`) and names the SHA-256 of
    ///    `handover.json` (`.untrusted` for an unknown node, `.altered` for another digest), and
    ///    the handover is addressed to this node: its `to` (`transfer --to`) is this vault's
    ///    origin (`.refused` otherwise);
    /// 3. `checkpoint.txt` is signed by the same key, of the sender's origin, of the size and
    ///    root that `handover.json` names;
    /// 4. every entry parses, is a `sealed` (or, for stamps, `timestamped`) entry of that origin
    ///    about the item, and its inclusion proof leads to the checkpoint's root; every token
    ///    re-hashes to its entry's `token`;
    /// 5. every manifest's SHA-256 is the entry's `manifest`;
    /// 6. (under the receive lock) the checkpoint is consistent, as far as can be proven, with
    ///    every one kept from this sender (`HandoverReader.compareWithKeptCheckpoint`: of the
    ///    same size, the same root; `.altered` for a fork);
    /// 7. every archive's raw SHA-256 is the entry's `archive`, and its original re-hashes to the
    ///    entry's digests and size (`VaultVerifier.readArchive`, in a temporary under `tmp/`);
    /// 8. no item is in this vault already (`.duplicate`).
    ///
    /// Then the archives are placed by content address (shared, once re-read, when the content
    /// is there already), the manifests stored, the sender's checkpoint kept when none of its size
    /// was, and one `received` event recorded: an entry per item with the
    /// sealed entry's content members, `from` and `fromIndex`, and its index row.
    ///
    /// `shown`: the file as its sender named it, when the daemon received it into a temporary
    /// (`path` then): messages and the details document name it.
    public func receive(
        _ path: RawPath, shown: RawPath? = nil, reason: String?, now: String = SystemClock.now()
    ) throws -> ReceiveReceipt {
        let file = shown ?? path
        if let reason { try CustodyText.check(reason, what: "the reason", subject: "--reason") }
        try checkExaminer()
        let reader = try HandoverReader(vault: vault, file: path, shown: shown)
        let carried = try reader.readDocuments()
        let checked = try reader.check(carried)
        // One receive at a time, and none beside the daemon's reconciliation (which removes
        // archives that no entry records).
        let (sealingLock, _) = try vault.beginSealing()
        let receiveLock = try FileLock(vault.locksPath.appending("receive.lock"), exclusive: true, wait: true)
        defer { withExtendedLifetime((sealingLock, receiveLock)) {} }
        let checkpointComparison = try reader.compareWithKeptCheckpoint(checked)
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
                switch try vault.objects.place(
                    temporary: archive.temporary, as: .archive(content: content, compression: archive.compression),
                    durability: .immediate)
                {
                case .placed(let placed):
                    // The temporary's name could have been given to other bytes after they were
                    // re-read: what the vault now keeps under the archive's name is read back and
                    // must be the bytes checked. A mismatch is refused and the object left where
                    // it is: a seal of the same content may already share it, and removing it is
                    // the daemon's reconciliation's to do (under the exclusive sealing lock).
                    guard try reader.placedHoldsTheBytesChecked(archive, as: placed) else {
                        throw CustodyError(
                            .altered,
                            "\(file): \(vault.objects.describe(placed)) does not hold the archive that was checked "
                                + "(its temporary, \(archive.temporary), was replaced); nothing was received, "
                                + "run custos verify")
                    }
                    storedArchive[content] = archive.archiveHash
                case .alreadyStored(let existing):
                    let contents = try VaultVerifier(vault: vault).readArchive(
                        existing, wantMD5: archive.digests.md5 != nil, wantSHA1: archive.digests.sha1 != nil)
                    guard contents.digests == archive.digests else {
                        throw CustodyError(
                            .altered,
                            "\(file): the archive this vault keeps of the same content "
                                + "(\(vault.objects.describe(existing))) does not hold these bytes; nothing was "
                                + "received, run custos verify")
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
        for item in checked.items {
            try vault.objects.store(item.manifestBytes, as: .manifest(item.manifest), durability: .immediate)
        }
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
        details["checkpointComparison"] = .string(checkpointComparison.name)
        if let keptSize = checkpointComparison.keptSize { details["keptCheckpoint"] = .integer(Int64(keptSize)) }
        // Kept before the receipt is recorded: a recorded receipt's checkpoint was compared and
        // kept by its size (never replacing one), for every later handover of this sender to be
        // compared with.
        if checkpointComparison.isNewSize {
            do {
                try vault.keepPeerCheckpoint(carried.checkpoint, size: checked.checkpoint.size, origin: checked.origin)
            } catch {
                throw CustodyError(.missing, "\(file): \(error); nothing was received", cause: error)
            }
        }
        let event = try recordEvent(.received, entries: entries, details: details, now: now)
        return ReceiveReceipt(
            origin: checked.origin, document: checked.documentHash, event: event, shared: shared,
            stampFailure: stampFailure, checkpointComparison: checkpointComparison)
    }
}
