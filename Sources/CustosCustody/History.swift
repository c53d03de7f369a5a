import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

/// One event of an item's custody timeline, as the ledger records it.
public struct HistoryEvent: Sendable {
    /// What the event's details document gave: none named, the document (re-hashed), or why it
    /// cannot be trusted.
    public enum Document: Sendable {
        case none
        case verified(JSONObject)
        case missing(String)
        case altered(String)

        public var fault: String? {
            switch self {
            case .missing(let reason), .altered(let reason): reason
            case .none, .verified: nil
            }
        }
    }

    /// Whether the entry is the one the node signed: proven by an RFC 6962 inclusion proof to the
    /// latest checkpoint, its signature checked with the node's key (`history` trusts an entry
    /// no more than its details document).
    public enum Proof: Sendable {
        case inCheckpoint(size: UInt64)
        /// After the latest checkpoint: a running daemon's next one covers it.
        case notYetCovered
        case failed(String)

        public var fault: String? { if case .failed(let reason) = self { reason } else { nil } }
    }

    public var entry: CustodyEntry
    public var proof: Proof
    /// A whole-vault event (item `""`: a verification of the whole vault, a checkpoint exported)
    /// after the item's seal.
    public var wholeVault: Bool
    public var document: Document
    /// For a `sealed` entry: the examiner the acquisition names, from the item's manifest
    /// (re-hashed against the entry); seals keep their details in the manifest, not in a details
    /// document.
    public var acquisitionExaminer: String?
    /// For a `sealed` entry: the actor as its manifest keeps it when the kernel named it (bytes
    /// sent to the daemon's socket).
    public var sealingActor: JSONObject?

    /// The actor as the event's details document (or a seal's manifest) keeps it.
    private var actorDocument: JSONObject? {
        if case .verified(let object) = document { return object["actor"]?.objectValue }
        return sealingActor
    }

    public var sequence: UInt64 { entry.sequence }
    public var type: CustodyEventType { entry.type }
    /// The account that acted (from the entry).
    public var actor: String { entry.actor }

    private func documentText(_ key: String) -> String? {
        if case .verified(let object) = document { object[key]?.stringValue } else { nil }
    }

    /// The examiner named with the event (from its details document, or for a seal from its
    /// manifest).
    public var examiner: String? {
        if case .verified(let object) = document { return object["actor"]?["examiner"]?.stringValue }
        return acquisitionExaminer
    }
    /// How the actor was known: `kernel` when the daemon read the caller's credentials from its
    /// socket; `process` when the recording process named its own account (a command on a vault
    /// its account owns, the daemon's own seals, and every event recorded before version 0.2).
    public var actorVerification: ActorVerification {
        actorDocument?["verifiedBy"]?.stringValue.flatMap(ActorVerification.init(rawValue:)) ?? .process
    }
    /// The groups whose role granted the action, as the daemon recorded them.
    public var actorGroups: [String] {
        actorDocument?["groups"]?.arrayValue?.compactMap(\.stringValue) ?? []
    }
    /// The reason given (extract, export, transfer, …), from the details document.
    public var reason: String? { documentText("reason") }
    /// The note of an `annotated` event, from the details document.
    public var note: String? { documentText("note") }
    /// The retention date a `retention-set` event gave its case, from the details document.
    public var retainUntil: String? { documentText("retainUntil") }
    /// The case a `retention-set` event is about, from the details document.
    public var caseID: String? { documentText("case") }
    /// To whom a `return` is made, from a `disposal-requested` event's details document.
    public var recipient: String? { documentText("recipient") }
    /// The disposal mode (`destroy`, `return`) of a `disposal-requested` or `disposed` entry.
    public var mode: String? { entry.details["mode"]?.stringValue }
    /// The request a `disposed` entry carries out (its id: the sequence number of the request's
    /// first entry).
    public var request: String? { entry.details["request"]?.stringValue }
    /// The `held` entry a `hold-released` entry releases.
    public var releasedHold: UInt64? { entry.details["hold"]?.integerValue.flatMap(UInt64.init(exactly:)) }
    /// The event's result (`ok`, `failed`, `pass`, `fail`), from the entry.
    public var result: String? { entry.details["result"]?.stringValue }

    /// The entry's time (the node's clock, UTC) written as ISO 8601 with its offset (`+00:00`).
    public var time: String {
        entry.time.hasSuffix("Z") ? String(entry.time.dropLast()) + "+00:00" : entry.time
    }
}

/// An item's whole custody timeline, oldest first, from the ledger alone.
public struct ItemHistory: Sendable {
    public var record: ItemRecord
    public var events: [HistoryEvent]

    /// The events whose details document is missing or altered, or whose entry is not proven
    /// in the node's signed checkpoint.
    public var faults: [HistoryEvent] { events.filter { $0.document.fault != nil || $0.proof.fault != nil } }
}

extension CustodySession {
    /// The custody timeline of an item, in log order: its seal, its time stamps, every other event
    /// about it (verified, extracted, exported, annotated, transferred, received, held,
    /// hold-released, disposal-requested, disposed, and any type a later version records), and the
    /// whole-vault events after its seal (of the `retention-set` ones, those of its own case). Each details document
    /// is re-hashed against its entry; one that is missing or altered is reported as such
    /// (`HistoryEvent.Document`), never trusted.
    public func history(of record: ItemRecord) throws -> ItemHistory {
        try history(of: record, signed: signedCheckpoint())
    }

    /// The custody timeline of an item, its entries proven against `checkpoint`: the latest
    /// checkpoint, whose signature the caller has checked with the vault's verifier key (a
    /// report on many items checks it once, not once per item).
    public func history(of record: ItemRecord, checkpoint: Checkpoint) throws -> ItemHistory {
        try history(of: record, signed: .success(checkpoint))
    }

    private func history(of record: ItemRecord, signed: Result<Checkpoint, CustodyError>) throws -> ItemHistory {
        let entries = try ledger.entries(about: record.item, wholeVaultAfter: record.sequence)
        var events = entries.map { entry in
            let document: HistoryEvent.Document
            if entry.details[detailsDocumentMember] == nil {
                document = .none
            } else {
                do {
                    document = try detailsDocument(of: entry).map { .verified($0) } ?? .none
                } catch let error as CustodyError where error.code == .missing {
                    document = .missing(error.message)
                } catch {
                    document = .altered((error as? CustodyError)?.message ?? "\(error)")
                }
            }
            var examiner: String?
            var sealingActor: JSONObject?
            if entry.type == .sealed {
                let manifest = StoredManifest.read(entry: .object(entry.details), vault: vault)
                examiner = manifest.value?["acquisition"]?["examiner"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
                sealingActor = manifest.value?["sealing"]?["actor"]?.objectValue
            }
            return HistoryEvent(
                entry: entry, proof: proof(of: entry, in: signed), wholeVault: entry.item.isEmpty, document: document,
                acquisitionExaminer: examiner, sealingActor: sealingActor)
        }
        // A case's retention is an event about the whole vault: the item's history shows those
        // of its own case (and any whose document cannot be read, with its fault), not others'.
        events.removeAll {
            $0.wholeVault && $0.type == .retentionSet && $0.document.fault == nil && $0.caseID != record.caseID
        }
        return ItemHistory(record: record, events: events)
    }

    /// The latest checkpoint, its signature checked with the vault's verifier key; why not when
    /// it cannot be read or does not verify.
    private func signedCheckpoint() -> Result<Checkpoint, CustodyError> {
        do {
            let note = try SignedNote(parsing: ledger.latestCheckpoint())
            _ = try note.verifiedSignatures(by: [try vault.verifierKey()])
            return .success(try Checkpoint(parsing: note.text))
        } catch {
            return .failure(
                CustodyError(.altered, "the latest checkpoint does not verify with the node's key", cause: error))
        }
    }

    /// The entry's inclusion in the signed checkpoint, proven from its exact bytes.
    private func proof(of entry: CustodyEntry, in signed: Result<Checkpoint, CustodyError>) -> HistoryEvent.Proof {
        let checkpoint: Checkpoint
        switch signed {
        case .failure(let error): return .failed(error.message)
        case .success(let value): checkpoint = value
        }
        guard entry.sequence < checkpoint.size else { return .notYetCovered }
        do {
            try MerkleProofs.verifyInclusion(
                index: entry.sequence, size: checkpoint.size,
                leafHash: MerkleHasher.openSSL.hashLeaf(entry.canonicalBytes),
                proof: try ledger.inclusionProof(index: entry.sequence, size: checkpoint.size), root: checkpoint.root,
                hasher: MerkleHasher.openSSL)
            return .inCheckpoint(size: checkpoint.size)
        } catch {
            return .failed("entry \(entry.sequence) is not the one the node signed in checkpoint \(checkpoint.size)")
        }
    }

    /// The items of a case, in ledger order; refused (`unknownItem`) when it has none.
    public func items(ofCase caseID: String) throws -> [ItemRecord] {
        let records = try ledger.items(caseID: caseID)
        guard !records.isEmpty else { throw CustodyError(.unknownItem, "case \(caseID): no item was sealed in it") }
        return records
    }
}
