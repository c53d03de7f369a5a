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
        // An origin is a note key name (no space, no control character, no `+`): anything else is
        // never put into VERIFY.md, whose prose and commands it would otherwise shape.
        guard let origin = entry.details["from"]?.stringValue, isValidNoteKeyName(origin), origin.utf8.count <= 200,
            let fromIndex = entry.details["fromIndex"]?.integerValue, fromIndex >= 0
        else {
            return (
                BundleClaim(
                    claim, passed: false,
                    detail: "the received entry names no sender (from, of a log's name, and fromIndex)"), nil
            )
        }
        let index = UInt64(fromIndex)
        let checkpointText = text(CourtBundleLayout.senderCheckpoint(item))
        let note = checkpointText.flatMap { try? SignedNote(parsing: $0) }
        let checkpoint = note.flatMap { try? Checkpoint(parsing: $0.text) }
        let facts = BundleGuide.Sender(
            origin: origin, index: index, received: entry.sequence, checkpointSize: checkpoint?.size ?? 0,
            same: BundleGuide.Sender.sameMembers(of: entry))
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
        let given = senderKeys.compactMap { try? Ed25519NoteVerifier(text: $0).key }.filter { $0.name == origin }
        if !given.isEmpty, !given.contains(verifier.key) {
            return fail(
                "the bundled key of \(origin), \(keyText), is not the given one (--sender-key \(given.map(\.text).joined(separator: ", ")))"
            )
        }
        // One signature line of the sender's name, by its key, which verifies: VERIFY.md checks
        // that line, so a second (before or after it) would leave open which one is checked; a
        // node signs its checkpoint once (cosignatures are of other names).
        let named = note?.signatures.filter { $0.name == origin } ?? []
        guard let note, let checkpoint, checkpoint.origin == origin, named.count == 1,
            named[0].keyID == verifier.keyID, verifier.verify(Array(note.text.utf8), signature: named[0].signature)
        else {
            return fail(
                "sender-checkpoint.txt is not a checkpoint of \(origin) signed by its key \(keyText) "
                    + "(one signature line of that name, which verifies)")
        }
        guard let entryBytes = members[CourtBundleLayout.senderEntry(item)]?.bytes,
            let sealed = try? CustodyEntry(parsing: entryBytes), sealed.type == .sealed, sealed.item == item,
            sealed.node == origin, sealed.sequence == index, sealed.digests == entry.digests,
            sealed.size == entry.size, sealed.manifest == entry.manifest,
            // As VERIFY.md compares them: the same JSON in both entries.
            ["digests", "size", "manifest"].allSatisfy({ sealed.details[$0] == entry.details[$0] })
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

    /// The origins the bundle's items were received from (their `received` entries' `from`),
    /// each once, in the bundle's order.
    func senderOrigins(_ items: [String], _ members: [String: Member]) -> [String] {
        var origins = [String]()
        for item in items {
            guard let bytes = members[CourtBundleLayout.entry(item)]?.bytes,
                let entry = try? CustodyEntry(parsing: bytes), entry.type == .received, entry.item == item,
                let origin = entry.details["from"]?.stringValue, !origins.contains(origin)
            else { continue }
            origins.append(origin)
        }
        return origins
    }

    /// Each `--sender-key` is a verifier key of a sender some item of the bundle was received
    /// from: one that is not would be passed over without a word (a typo, another bureau's key),
    /// and the expert would take the sender's seal for checked with it. Nil when none is given.
    func checkSenderKeys(origins: [String]) -> BundleClaim? {
        guard !senderKeys.isEmpty else { return nil }
        var problems = [String]()
        var names = [String]()
        for given in senderKeys {
            guard let key = try? Ed25519NoteVerifier(text: given).key else {
                problems.append("--sender-key \(given): not a verifier key")
                continue
            }
            if origins.contains(key.name) {
                if !names.contains(key.name) { names.append(key.name) }
            } else {
                problems.append("--sender-key for \(key.name): no item of this bundle was received from \(key.name)")
            }
        }
        return problems.isEmpty
            ? BundleClaim(
                "sender keys", passed: true,
                detail: "each --sender-key is of a sender of this bundle's items (\(names.joined(separator: ", ")))")
            : BundleClaim("sender keys", passed: false, detail: problems.joined(separator: "; "))
    }

    /// The NOTEs, in Traditional Chinese and English, of what was checked only with the bundle's
    /// own keys: the checkpoint when no `--key` was given, and the checkpoint of each sender of
    /// `origins` no `--sender-key` was given of.
    func keyNotes(origins: [String]) -> [String] {
        var notes = [String]()
        if key == nil {
            // The bundle vouched for itself: its own key signed its checkpoint.
            notes.append(
                "注意 / NOTE: 未指定 --key：檢查點係以本包內之 verifier.vkey 驗證；請向節點之機關取得其驗證金鑰後以 --key 再驗證。"
                    + " No --key: the checkpoint was checked with the bundle's own verifier.vkey; obtain the node's key from its bureau and check again with --key."
            )
        }
        let given = Set(senderKeys.compactMap { try? Ed25519NoteVerifier(text: $0).key.name })
        for origin in origins where !given.contains(origin) {
            notes.append(
                "注意 / NOTE: 未指定 \(origin) 之 --sender-key：其檢查點係以本包內之 sender.vkey 驗證；請向 \(origin) 之機關取得其驗證金鑰後以 --sender-key 再驗證。"
                    + " No --sender-key for \(origin): its checkpoint was checked with the bundle's own sender.vkey; obtain its key from the bureau of \(origin) and check again with --sender-key."
            )
        }
        return notes
    }
}
