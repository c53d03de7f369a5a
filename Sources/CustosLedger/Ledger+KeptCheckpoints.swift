import CustosFormats

extension Ledger {
    /// Checks a checkpoint kept outside the vault (an earlier `custos checkpoint`, a court bundle,
    /// a peer's copy) against this log: it must be signed by one of `verifiers` (the node's key),
    /// name this origin, and be consistent with the log, by an RFC 6962 consistency proof from its
    /// size to the latest checkpoint's, served from the stored tree and checked against both
    /// roots. A checkpoint larger than the log (a rolled-back vault) or inconsistent with it (a
    /// rewritten one) is a fault naming both sizes and roots: together with the kept checkpoint,
    /// the vault's latest checkpoint is the portable proof.
    ///
    /// `name` says where the checkpoint came from (a file name), for the report.
    public func checkKeptCheckpoint(_ text: String, name: String, verifiers: [any NoteVerifier]) -> [VerificationFault]
    {
        let subject = "checkpoint \(name)"
        guard let note = try? SignedNote(parsing: text), let kept = try? Checkpoint(parsing: note.text) else {
            return [
                VerificationFault(
                    subject: subject, code: .keptCheckpointMalformed,
                    message: "refused: \(name) is not a signed checkpoint (C2SP signed note)")
            ]
        }
        do {
            _ = try note.verifiedSignatures(by: verifiers)
        } catch {
            return [
                VerificationFault(
                    subject: subject, code: .keptCheckpointSignature,
                    message: "refused: \(name) is not signed by the node's key: \(error)")
            ]
        }
        guard kept.origin == origin else {
            return [
                VerificationFault(
                    subject: subject, code: .keptCheckpointOrigin, message: "refused: \(name) is of another log",
                    expected: origin, found: kept.origin)
            ]
        }
        let keptText = "size \(kept.size) root \(kept.root.base64) (\(name))"
        let latest: Checkpoint
        let entryCount: UInt64
        do {
            latest = try Checkpoint(parsing: SignedNote(parsing: latestCheckpoint()).text)
            entryCount = try size()
        } catch {
            return [
                VerificationFault(
                    subject: subject, code: .keptCheckpointUnchecked,
                    message: "the vault's latest checkpoint cannot be read to check \(name) against: \(error)")
            ]
        }
        let latestText = "size \(latest.size) root \(latest.root.base64) (the vault's latest checkpoint)"
        func fault(_ code: VerificationFault.Code, _ message: String) -> [VerificationFault] {
            [VerificationFault(subject: subject, code: code, message: message, expected: keptText, found: latestText)]
        }
        if kept.size > latest.size {
            // The node once signed a larger tree than the vault now holds: it was rolled back, or
            // entries beyond its latest checkpoint are being passed off as never signed.
            let holds = entryCount >= kept.size ? ", though it holds \(entryCount) entries" : ""
            return fault(
                .keptCheckpointAhead,
                "the node signed a tree of \(kept.size) entries, larger than the vault's latest checkpoint "
                    + "(size \(latest.size)\(holds)): the vault was rolled back or rewritten")
        }
        if kept.size == latest.size {
            guard kept.root == latest.root else {
                return fault(
                    .keptCheckpointInconsistent,
                    "two checkpoints the node signed for size \(kept.size) have different roots: history was rewritten"
                )
            }
            return []
        }
        if kept.size == 0 {
            guard kept.root == hasher.emptyRoot else {
                return fault(.keptCheckpointInconsistent, "a checkpoint of the empty tree with another root")
            }
            return []
        }
        do {
            let proof = try consistencyProof(from: kept.size, to: latest.size)
            try MerkleProofs.verifyConsistency(
                size1: kept.size, size2: latest.size, proof: proof, root1: kept.root, root2: latest.root,
                hasher: hasher)
        } catch {
            return fault(
                .keptCheckpointInconsistent,
                "the vault's log does not extend the tree the node signed at size \(kept.size) "
                    + "(no consistency proof to size \(latest.size) holds): history was rewritten: \(error)")
        }
        return []
    }
}
