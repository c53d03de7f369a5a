import CustosFormats

/// What a full audit of the ledger found: every entry re-hashed, the chain and the tree rebuilt
/// from the entry bytes alone, every checkpoint's signature and root checked against them.
public struct LedgerAudit: Sendable {
    /// The entries that parsed, by sequence number (what the vault's archives are checked against).
    public var entries: [CustodyEntry]
    public var faults: [VerificationFault]
    /// The number of entry rows read.
    public var entryCount: UInt64
    /// The size of the log the rows read give: the last row's sequence number plus one (more
    /// than `entryCount` when a row is missing).
    public var size: UInt64 = 0
    /// The size of the latest checkpoint.
    public var latestCheckpointSize: UInt64
    public var checkpointsChecked: Int
}

extension Ledger {
    /// Re-hashes every entry, rebuilds the hash chain and the Merkle tree from the entry bytes,
    /// compares them with what is stored and with every signed checkpoint, and checks the index
    /// of items against the entries. Each fault found is reported; none stops the audit.
    public func audit(verifiers: [any NoteVerifier], progress: (UInt64) -> Void = { _ in }) throws -> LedgerAudit {
        try store.readTransaction {
            var faults = [VerificationFault]()
            var entries = [CustodyEntry]()
            var rebuilt = MemoryHashStore(hasher: hasher)
            var previous = Hash.zero
            var expected: UInt64 = 0
            var chainIntact = true
            var rowsRead: UInt64 = 0

            var treeMismatches = 0
            var firstMismatch: UInt64?
            try store.forEachEntry { seq, body, stored in
                rowsRead += 1
                if seq != expected {
                    faults.append(
                        VerificationFault(
                            subject: "entry \(expected)", code: .entryMissing,
                            message: "entries \(expected) to \(seq - 1) are missing from the ledger",
                            expected: "entry \(expected)", found: "entry \(seq)"))
                    chainIntact = false
                    expected = seq
                }
                let bodyHash = digester.sha256(body)
                do {
                    let entry = try CustodyEntry(parsing: body)
                    if entry.sequence != seq {
                        faults.append(
                            VerificationFault(
                                subject: "entry \(seq)", code: .entrySequence,
                                message: "the entry names another position", expected: "\(seq)",
                                found: "\(entry.sequence)"))
                    }
                    if entry.previous != previous {
                        faults.append(
                            VerificationFault(
                                subject: "entry \(seq)", code: .chainBroken,
                                message: "prev does not name the hash of the entry before it",
                                expected: previous.hex, found: entry.previous.hex))
                    }
                    if entry.node != origin {
                        faults.append(
                            VerificationFault(
                                subject: "entry \(seq)", code: .entryNode,
                                message: "the entry names another node",
                                expected: origin, found: entry.node))
                    }
                    entries.append(entry)
                } catch {
                    faults.append(
                        VerificationFault(
                            subject: "entry \(seq)", code: .entryMalformed,
                            message: "the entry is not a canonical custody event: \(error)"))
                }
                previous = bodyHash
                if chainIntact {
                    // The tree hashes stored with the entry must be those its bytes give, or
                    // proofs served from them would lie.
                    let added = rebuilt.append(leafHash: hasher.hashLeaf(body))
                    if stored != added.flatMap(\.bytes) {
                        treeMismatches += 1
                        if firstMismatch == nil { firstMismatch = seq }
                    }
                }
                expected = seq + 1
                if expected % 4096 == 0 { progress(expected) }
            }
            let entryCount = rowsRead

            if treeMismatches > 0 {
                faults.append(
                    VerificationFault(
                        subject: "entry \(firstMismatch ?? 0)", code: .treeMismatch,
                        message:
                            "\(treeMismatches) entries store tree hashes that differ from those the entries give, "
                            + "the first being entry \(firstMismatch ?? 0)"))
            }

            let (checked, latestSize) = auditCheckpoints(
                verifiers: verifiers, rebuilt: rebuilt, entryCount: entryCount, chainIntact: chainIntact,
                faults: &faults)
            try auditItems(entries: entries, faults: &faults)
            try auditStamps(entries: entries, faults: &faults)
            try auditEvents(entries: entries, faults: &faults)
            return LedgerAudit(
                entries: entries, faults: faults, entryCount: entryCount, size: expected,
                latestCheckpointSize: latestSize,
                checkpointsChecked: checked)
        }
    }

    private func auditCheckpoints(
        verifiers: [any NoteVerifier], rebuilt: MemoryHashStore, entryCount: UInt64, chainIntact: Bool,
        faults: inout [VerificationFault]
    ) -> (checked: Int, latestSize: UInt64) {
        var checked = 0
        var signed = [(Checkpoint, String)]()
        let all: [(size: UInt64, note: String, signedAt: String)]
        do {
            all = try checkpoints()
        } catch {
            faults.append(VerificationFault(subject: "checkpoints", code: .unreadable, message: "\(error)"))
            return (0, 0)
        }
        for stored in all {
            let subject = "checkpoint \(stored.size)"
            checked += 1
            guard let note = try? SignedNote(parsing: stored.note), let checkpoint = try? Checkpoint(parsing: note.text)
            else {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .checkpointMalformed, message: "not a signed checkpoint"))
                continue
            }
            do {
                _ = try note.verifiedSignatures(by: verifiers)
            } catch {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .badSignature,
                        message: "the node's signature does not verify: \(error)"))
                continue
            }
            if checkpoint.origin != origin || checkpoint.size != stored.size {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .checkpointMismatch, message: "the signed origin or size differs",
                        expected: "\(origin) \(stored.size)", found: "\(checkpoint.origin) \(checkpoint.size)"))
                continue
            }
            signed.append((checkpoint, stored.note))
            if checkpoint.size > entryCount {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .entriesMissing,
                        message: "the node signed \(checkpoint.size) entries, but the ledger holds \(entryCount)",
                        expected: "\(checkpoint.size) entries", found: "\(entryCount)"))
            } else if chainIntact, let root = try? rebuilt.root(size: Int64(checkpoint.size)), root != checkpoint.root {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .rootMismatch,
                        message: "the entries do not give the root the node signed", expected: checkpoint.root.base64,
                        found: root.base64))
            }
        }

        // The latest checkpoint: the largest signed one, and every other one consistent with it
        // by a proof served from the stored tree.
        guard let latestText = try? latestCheckpoint(), let latestNote = try? SignedNote(parsing: latestText),
            (try? latestNote.verifiedSignatures(by: verifiers)) != nil,
            let latest = try? Checkpoint(parsing: latestNote.text)
        else {
            faults.append(
                VerificationFault(
                    subject: "latest checkpoint", code: .badSignature,
                    message: "the latest checkpoint is missing, malformed or not signed by the node"))
            return (checked, 0)
        }
        if let largest = signed.last, largest.1 != latestText {
            faults.append(
                VerificationFault(
                    subject: "latest checkpoint", code: .latestMismatch,
                    message: "the latest checkpoint is not the largest one the node signed",
                    expected: "size \(largest.0.size)", found: "size \(latest.size)"))
        }
        if latest.size < entryCount {
            // Once a command has ended, the latest checkpoint covers every entry. Entries beyond it
            // are committed to by no signature: they could be removed, or others put in their place,
            // unnoticed.
            faults.append(
                VerificationFault(
                    subject: "entry \(latest.size)", code: .entriesUncovered,
                    message:
                        "entries \(latest.size) to \(entryCount - 1) come after the latest checkpoint (size \(latest.size)): "
                        + "no signed checkpoint covers them (a daemon that was killed leaves them; "
                        + "`custos checkpoint --sign` signs one)",
                    expected: "a checkpoint of size \(entryCount)", found: "size \(latest.size)"))
        }
        if chainIntact, latest.size <= entryCount {
            for (checkpoint, _) in signed where checkpoint.size >= 1 && checkpoint.size < latest.size {
                do {
                    let proof = try consistencyProof(from: checkpoint.size, to: latest.size)
                    try MerkleProofs.verifyConsistency(
                        size1: checkpoint.size, size2: latest.size, proof: proof, root1: checkpoint.root,
                        root2: latest.root, hasher: hasher)
                } catch {
                    faults.append(
                        VerificationFault(
                            subject: "checkpoint \(checkpoint.size)", code: .inconsistent,
                            message: "not consistent with the latest checkpoint (size \(latest.size)): \(error)"))
                }
            }
        }
        return (checked, latest.size)
    }

    /// Walks the sealed entries and the item index side by side, both in sequence order: every
    /// sealing entry has its index row, naming the same item and content.
    /// Each index row is matched to its entry by sequence number, so an entry that could not be
    /// read leaves no other item misreported, and every row that seals nothing is named.
    private func auditItems(entries: [CustodyEntry], faults: inout [VerificationFault]) throws {
        var rows = try store.itemIndex()
        var parsed = Set<UInt64>()
        for entry in entries {
            parsed.insert(entry.sequence)
            let item = rows.removeValue(forKey: entry.sequence)
            guard entry.type.recordsContent else {
                if let item {
                    faults.append(
                        VerificationFault(
                            subject: "item \(item)", code: .indexOrphan,
                            message: "the item index names entry \(entry.sequence), which does not seal it"))
                }
                continue
            }
            guard let item else {
                faults.append(
                    VerificationFault(
                        subject: "item \(entry.item)", code: .indexMissing,
                        message: "entry \(entry.sequence) sealed this item, but the item index has no row for it"))
                continue
            }
            if item != entry.item {
                faults.append(
                    VerificationFault(
                        subject: "item \(entry.item)", code: .indexMismatch,
                        message: "the item index disagrees with ledger entry \(entry.sequence)",
                        expected: "item \(entry.item)", found: "item \(item)"))
            }
        }
        // Rows left: their entries could not be read (already a fault of their own) or are gone.
        for (sequence, item) in rows.sorted(by: { $0.key < $1.key }) {
            faults.append(
                VerificationFault(
                    subject: "item \(item)", code: .indexOrphan,
                    message: parsed.contains(sequence)
                        ? "the item index names entry \(sequence), which does not seal it"
                        : "the item index names entry \(sequence), which is not a readable sealing entry"))
        }
    }
}
