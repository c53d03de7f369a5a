import CustosFormats
import CustosOpenSSL
import CustosSealing
import CustosVault

/// What a node holds of the sender's proof of an item it received (kept from the handover in the
/// `received` entry's details document, and the sender's key in `keys/peers/`): the sender's
/// `sealed` entry, its inclusion proof in the sender's signed checkpoint, that checkpoint and the
/// key that signs it. A court bundle carries them beside the item (`items/ITEM/sender-*`), so an
/// expert checks that the sender's log held the seal of these very digests; what happened to the
/// item at the sender after its seal (its transfer included) is in the sender's ledger, which
/// neither the node nor the bundle holds.
struct SenderProof {
    /// The sender's origin and the index of its `sealed` entry (the `received` entry's `from`
    /// and `fromIndex`).
    var origin: String
    var index: UInt64
    /// The `received` entry of this node.
    var received: UInt64
    /// The sender's `sealed` entry, its exact bytes.
    var entry: [UInt8]
    /// Its tlog-proof in the sender's checkpoint (which it carries).
    var proof: TLogProof
    /// The sender's signed checkpoint, verbatim as the handover carried it.
    var checkpoint: String
    var checkpointSize: UInt64
    /// The sender's verifier key, as this node keeps it (signed-note form).
    var key: String
    /// The members of the `received` entry the sender's entry holds the same
    /// (`BundleGuide.Sender.sameMembers(of:)`).
    var same: [String]

    /// What VERIFY.md says of it (`BundleGuide`).
    var guide: BundleGuide.Sender {
        BundleGuide.Sender(
            origin: origin, index: index, received: received, checkpointSize: checkpointSize, same: same)
    }
}

/// What a court bundle's VERIFY.md, `verify-bundle` and a chain-of-custody report say is not
/// checked of an item received from another node: its custody before receipt, which the sender's
/// ledger proves. Written once, for all three.
public enum CustodyBeforeReceipt {
    /// What holds the words: a court bundle or a report.
    public enum Holder: Sendable {
        case bundle, report

        var words: (zh: String, en: String) {
            switch self {
            case .bundle: ("本資料夾", "this bundle")
            case .report: ("本報告", "this report")
            }
        }
    }

    /// In Traditional Chinese and in English: the custody of the item before this node received
    /// it is proven by the ledger of `origin` (its `sealed` entry `index`), which `holder` does not
    /// hold; the events at `origin` after that entry (its transfer included) are not checked.
    public static func notChecked(origin: String, index: UInt64, holder: Holder) -> (zh: String, en: String) {
        let words = holder.words
        return (
            "接收前之證據監管鏈，由 \(origin) 之帳本（其帳本紀錄 \(index)）證明，\(words.zh)未含該帳本；\(origin) "
                + "於該帳本紀錄以後之監管事件（含移交）未經驗證。",
            "The custody before receipt is proven by the ledger of \(origin) (its entry \(index)), which \(words.en) "
                + "does not hold; the custody events at \(origin) after that entry (its transfer included) are not "
                + "checked."
        )
    }
}

extension CustodySession {
    /// The sender's proof of a `received` entry's item, as this node keeps it, re-checked first as
    /// `verify` re-checks it (`VaultVerifier.checkHandoverProof`: the kept handover's signature
    /// and checkpoint by the sender's kept key, the sender's entry proven in that checkpoint, of
    /// the same digests): one that does not hold refuses the export (`.altered`), nothing recorded.
    func senderProof(of entry: CustodyEntry) throws -> SenderProof {
        let faults = VaultVerifier(vault: vault).checkHandoverProof(of: entry)
        if let fault = faults.first {
            throw CustodyError(
                .altered,
                "item \(entry.item): the sender's proof kept with its received entry \(entry.sequence) does not "
                    + "hold (\(fault.message)); nothing was exported, run custos verify")
        }
        // Checked just now: each part is there and holds.
        guard let origin = entry.details["from"]?.stringValue, let fromIndex = entry.details["fromIndex"]?.integerValue,
            let detailsHash = entry.detailsDocument,
            let details = try? CanonicalJSON.parse(try vault.objects.read(.details(detailsHash))),
            let document = details["handover"]?["document"]?.stringValue.flatMap({ Base64.decode($0) }),
            let checkpointText = details["handover"]?["checkpoint"]?.stringValue,
            let handover = try? HandoverDocument(parsing: document),
            let item = handover.items.first(where: { $0.item == entry.item }),
            let note = try? SignedNote(parsing: checkpointText), let key = try vault.peerKey(origin: origin)
        else {
            throw CustodyError(
                .altered,
                "item \(entry.item): the sender's proof kept with its received entry \(entry.sequence) cannot be read; "
                    + "nothing was exported, run custos verify")
        }
        return SenderProof(
            origin: origin, index: UInt64(fromIndex), received: entry.sequence, entry: item.sealed.entry,
            proof: TLogProof(
                extra: item.sealed.entry, index: item.sealed.index, proof: item.sealed.proof, checkpoint: note),
            checkpoint: checkpointText, checkpointSize: handover.checkpointSize, key: key.text,
            same: BundleGuide.Sender.sameMembers(of: entry))
    }
}
