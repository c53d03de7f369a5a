import CustosFormats
import CustosOpenSSL
import CustosVault

extension VaultVerifier {
    /// Re-proves, with no network, that a `received` entry's item was in its sender's signed log:
    /// the handover's signed parts (`handover.json`, `checkpoint.txt`, `handover.sig`) are kept
    /// verbatim in the receipt's details document, itself stored by the SHA-256 the entry names
    /// (`document`). Each is re-checked as `receive` checked it: `handover.json` re-hashes to the
    /// entry's `handover`; `handover.sig` verifies with the sender's kept key
    /// (`keys/peers/<origin>.vkey`) and names that digest; `checkpoint.txt` is signed by the same
    /// key, of the sender's origin, of the size and root `handover.json` names; the sender's
    /// `sealed` entry for the item, at the entry's `fromIndex`, is proven in that checkpoint by its
    /// inclusion proof, and has the digests, size and manifest the `received` entry records.
    ///
    /// Each failure is a `handover-proof` fault naming the entry and what does not hold.
    public func checkHandoverProof(of entry: CustodyEntry) -> [VerificationFault] {
        guard entry.type == .received else { return [] }
        let subject = "item \(entry.item)"
        func fault(_ message: String, expected: String? = nil, found: String? = nil) -> [VerificationFault] {
            [
                VerificationFault(
                    subject: subject, code: .handoverProof,
                    message: "received entry \(entry.sequence): \(message)", expected: expected, found: found)
            ]
        }
        guard let origin = entry.details["from"]?.stringValue,
            let fromIndex = entry.details["fromIndex"]?.integerValue, fromIndex >= 0,
            let documentHash = entry.details["handover"]?.stringValue.flatMap({ Hash(hex: $0) })
        else { return fault("lacks its sender (from), the sender's index (fromIndex) or the handover's digest") }

        // The signed parts, as kept in the receipt's details document (re-hashed against the entry).
        guard let detailsHash = entry.detailsDocument,
            let bytes = try? vault.objects.read(.details(detailsHash)), OpenSSLSHA256().sha256(bytes) == detailsHash,
            let details = try? CanonicalJSON.parse(bytes)
        else {
            return fault(
                "the handover's signed parts cannot be re-checked: the details document that keeps them is missing "
                    + "or altered")
        }
        guard let kept = details["handover"], let documentText = kept["document"]?.stringValue,
            let document = Base64.decode(documentText), let checkpointText = kept["checkpoint"]?.stringValue,
            let signatureText = kept["signature"]?.stringValue
        else {
            return fault(
                "its details document (\(vault.objects.describe(.details(detailsHash)))) does not keep the handover's "
                    + "handover.json, checkpoint.txt and handover.sig")
        }
        let found = OpenSSLSHA256().sha256(document)
        guard found == documentHash else {
            return fault(
                "the handover.json kept is not the one the entry names", expected: documentHash.hex, found: found.hex)
        }

        // The sender's key, as this vault keeps it.
        let keyPath = vault.peerKeyPath(origin: origin)
        let key: NoteVerifierKey
        do {
            guard let known = try vault.peerKey(origin: origin) else {
                return fault(
                    "the key of its sender \(origin) is not kept (\(keyPath)): its signature cannot be re-checked")
            }
            key = known
        } catch {
            return fault("the key of its sender \(origin) (\(keyPath)) cannot be read: \(error)")
        }
        let signer = Ed25519NoteVerifier(key)

        // handover.sig: by that key, over this handover.json.
        guard let signature = try? SignedNote(parsing: signatureText),
            (try? signature.verifiedSignatures(by: [signer])) != nil,
            let signed = HandoverSignature.parse(signature.text), signed.origin == origin,
            signed.document == documentHash
        else {
            return fault(
                "the kept handover.sig is not a signature of \(origin) (\(keyPath)) over the handover.json kept")
        }
        // The recipient is not required to be this node's origin: `receive` checks it when it
        // takes a handover, and handovers received before that check named a bureau in words.
        guard let handover = try? HandoverDocument(parsing: document), handover.origin == origin else {
            return fault("the kept handover.json is malformed, or not from \(origin)")
        }

        // checkpoint.txt: by the same key, of the sender's log, the one handover.json names.
        guard let note = try? SignedNote(parsing: checkpointText), (try? note.verifiedSignatures(by: [signer])) != nil,
            let checkpoint = try? Checkpoint(parsing: note.text), checkpoint.origin == origin,
            checkpoint.size == handover.checkpointSize, checkpoint.root == handover.checkpointRoot
        else {
            return fault(
                "the kept checkpoint.txt is not the checkpoint of \(origin), signed by its key, that handover.json names"
            )
        }

        // The sender's sealed entry, proven in that checkpoint, of the content this entry records.
        guard let item = handover.items.first(where: { $0.item == entry.item }),
            item.sealed.index == UInt64(fromIndex)
        else { return fault("the kept handover.json carries no entry \(fromIndex) of item \(entry.item)") }
        do {
            try MerkleProofs.verifyInclusion(
                index: item.sealed.index, size: checkpoint.size,
                leafHash: MerkleHasher.openSSL.hashLeaf(item.sealed.entry),
                proof: item.sealed.proof, root: checkpoint.root, hasher: MerkleHasher.openSSL)
        } catch {
            return fault(
                "the sender's entry \(fromIndex) is not proven in its checkpoint of size \(checkpoint.size) "
                    + "(root \(checkpoint.root.base64)): \(error)")
        }
        guard let sealed = try? CustodyEntry(parsing: item.sealed.entry), sealed.type == .sealed,
            sealed.node == origin, sealed.item == entry.item, sealed.sequence == UInt64(fromIndex)
        else { return fault("the sender's entry \(fromIndex) is not a sealed entry of \(origin) about this item") }
        guard sealed.digests == entry.digests, sealed.size == entry.size, sealed.manifest == entry.manifest else {
            return fault(
                "the sender's sealed entry \(fromIndex) records other digests, size or manifest than this entry")
        }
        return []
    }
}
