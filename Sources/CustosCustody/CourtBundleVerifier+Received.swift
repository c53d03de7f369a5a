import CustosFormats
import CustosOpenSSL

extension BundleVerifier {
    /// Of an item received from another node (`entry`, this node's `received` entry, names the
    /// sender and its entry): the sender's `sealed` entry is that entry, about this item, of the
    /// digests, size and manifest the `received` entry records; its inclusion proof leads to the
    /// sender's checkpoint; that checkpoint is of the sender's log and signed by the bundled key of
    /// the sender. Returns the claim, and what VERIFY.md says of the sender.
    func checkSender(_ item: String, entry: CustodyEntry, _ members: [String: Member]) -> (
        BundleClaim, BundleGuide.Sender?
    ) {
        let claim = "item \(item) sender's seal"
        func text(_ name: String) -> String? {
            members[name]?.bytes.flatMap { String(validating: $0, as: UTF8.self) }
        }
        guard let origin = entry.details["from"]?.stringValue, let fromIndex = entry.details["fromIndex"]?.integerValue,
            fromIndex >= 0
        else {
            return (
                BundleClaim(claim, passed: false, detail: "the received entry names no sender (from, fromIndex)"), nil
            )
        }
        let index = UInt64(fromIndex)
        let checkpointText = text(CourtBundleLayout.senderCheckpoint(item))
        let note = checkpointText.flatMap { try? SignedNote(parsing: $0) }
        let checkpoint = note.flatMap { try? Checkpoint(parsing: $0.text) }
        let facts = BundleGuide.Sender(
            origin: origin, index: index, received: entry.sequence, checkpointSize: checkpoint?.size ?? 0)
        func fail(_ detail: String) -> (BundleClaim, BundleGuide.Sender?) {
            (BundleClaim(claim, passed: false, detail: detail), facts)
        }
        let names = [
            CourtBundleLayout.senderEntry(item), CourtBundleLayout.senderProof(item),
            CourtBundleLayout.senderCheckpoint(item), CourtBundleLayout.senderKey(item),
        ]
        let missing = names.filter { members[$0] == nil }
        guard missing.isEmpty else {
            return fail(
                "received from \(origin): \(missing.joined(separator: ", ")) missing; the sender's seal cannot be checked"
            )
        }
        // The key's one line (the file ends with a newline).
        let keyLine = text(CourtBundleLayout.senderKey(item)).map { String($0.prefix { $0 != "\n" && $0 != "\r" }) }
        guard let keyText = keyLine, let verifier = try? Ed25519NoteVerifier(text: keyText), verifier.key.name == origin
        else { return fail("sender.vkey is not a verifier key of \(origin)") }
        let given = senderKeys.filter { $0.split(separator: "+").first.map(String.init) == origin }
        if !given.isEmpty, !given.contains(keyText) {
            return fail(
                "the bundled key of \(origin), \(keyText), is not the given one (--sender-key \(given.joined(separator: ", ")))"
            )
        }
        guard let note, let checkpoint, checkpoint.origin == origin,
            (try? note.verifiedSignatures(by: [verifier]))?.isEmpty == false
        else { return fail("sender-checkpoint.txt is not a checkpoint of \(origin) signed by its key \(keyText)") }
        guard let entryBytes = members[CourtBundleLayout.senderEntry(item)]?.bytes,
            let sealed = try? CustodyEntry(parsing: entryBytes), sealed.type == .sealed, sealed.item == item,
            sealed.node == origin, sealed.sequence == index, sealed.digests == entry.digests,
            sealed.size == entry.size, sealed.manifest == entry.manifest
        else {
            return fail(
                "sender-entry.json is not the sealed entry \(index) of \(origin) about this item, of the digests, "
                    + "size and manifest the received entry \(entry.sequence) records")
        }
        guard let proofText = text(CourtBundleLayout.senderProof(item)), let proof = try? TLogProof(parsing: proofText),
            proof.extra == entryBytes, proof.index == index, proof.checkpoint == note,
            (try? MerkleProofs.verifyInclusion(
                index: index, size: checkpoint.size, leafHash: MerkleHasher.openSSL.hashLeaf(entryBytes),
                proof: proof.proof, root: checkpoint.root, hasher: MerkleHasher.openSSL)) != nil
        else {
            return fail(
                "sender-proof.tlog does not prove the sender's entry \(index) in its checkpoint of size \(checkpoint.size)"
            )
        }
        let notChecked = CustodyBeforeReceipt.notChecked(origin: origin, index: index, holder: .bundle)
        return (
            BundleClaim(
                claim, passed: true,
                detail:
                    "received from \(origin) (entry \(entry.sequence)): its sealed entry \(index), of the same digests, size and manifest, is in its checkpoint of size \(checkpoint.size), signed by \(keyText) (compare it with the key obtained from \(origin) itself). 未驗證項目 / Not checked: \(notChecked.zh) \(notChecked.en)"
            ), facts
        )
    }
}
