import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

/// The checks of every RFC 3161 token a vault holds, for `custos verify`: the items' tokens (in
/// the ledger's `stamps` table, named by `timestamped` entries) and the checkpoints' tokens
/// (`checkpoint_stamps`), each against its own source's anchors or an expert's.
public struct TimeStampAudit {
    public let vault: Vault

    public init(vault: Vault) {
        self.vault = vault
    }

    /// Checks every `timestamped` entry: its token is in the vault and re-hashes to the digest
    /// the entry names; it verifies (signature, ESS binding, chain to a trust anchor valid at
    /// genTime, timeStamping usage); it stamps what the entry says (the item's SHA-256, or the
    /// checkpoint's note body); and its serial and genTime are those recorded.
    ///
    /// The node's tokens chain to the anchor in `tsa/chain.pem`; an external authority's, to the
    /// anchors kept in the vault under the SHA-256 its entry records (re-hashed first). An expert's
    /// `anchorsOverride` replaces both.
    public func check(
        entries: [CustodyEntry], ledger: Ledger, items: Set<String>?, anchorsOverride: [Certificate]?
    ) throws -> (checked: Int, faults: [VerificationFault]) {
        // The node's anchor, read once. Missing or unreadable, it is one fault of its own, and the
        // node's tokens are left unchecked (not counted as verified), unless the expert gave anchors.
        var nodeChain = [Certificate]()
        var nodeChainProblem: String?
        do {
            nodeChain = try vault.timeStampChain()
            if nodeChain.isEmpty { nodeChainProblem = "it holds no certificate" }
        } catch {
            nodeChainProblem = "\(error)"
        }
        let nodeTokensUncheckable = anchorsOverride == nil && nodeChainProblem != nil
        var nodeTokensUnchecked = 0
        // Each kept anchors file is read and re-hashed once, however many tokens it serves.
        var anchorsRead = [Hash: [Certificate]?]()
        func keptAnchors(_ hash: Hash) -> [Certificate]? {
            if let read = anchorsRead[hash] { return read }
            let read = vault.keptAnchors(hash)
            anchorsRead[hash] = read
            return read
        }
        var contentOfItem = [String: Hash]()
        for entry in entries where entry.type.recordsContent {
            if let digests = entry.digests { contentOfItem[entry.item] = digests.sha256 }
        }
        var noteBodies = [UInt64: Hash]()
        for checkpoint in try ledger.checkpoints() {
            if let note = try? SignedNote(parsing: checkpoint.note) {
                noteBodies[checkpoint.size] = OpenSSLSHA256().sha256(Array(note.text.utf8))
            }
        }
        var checked = 0
        var faults = [VerificationFault]()
        for entry in entries where entry.type == .timestamped {
            guard let record = TimeStampRecord(entry: entry) else { continue }  // The audit reports it.
            if case .item = record.subject, let items, !items.contains(entry.item) { continue }
            let subject: String
            let expected: Hash?
            switch record.subject {
            case .item:
                subject = "item \(entry.item)"
                expected = contentOfItem[entry.item]
            case .checkpoint(let size):
                subject = "checkpoint \(size)"
                expected = noteBodies[size]
            }
            func fault(
                _ code: VerificationFault.Code, _ message: String, expected: String? = nil, found: String? = nil
            ) {
                faults.append(
                    VerificationFault(
                        subject: subject, code: code, message: "time stamp (entry \(entry.sequence)): \(message)",
                        expected: expected, found: found))
            }
            guard let expected else {
                fault(.stampSubject, "it stamps something the ledger does not hold")
                continue
            }
            if record.imprint != expected {
                fault(.stampImprint, "it stamps another digest", expected: expected.hex, found: record.imprint.hex)
            }
            guard let token = try ledger.stampToken(at: entry.sequence) else {
                fault(.stampTokenMissing, "the token is missing from the ledger's stamps table")
                continue
            }
            let found = OpenSSLSHA256().sha256(token)
            guard found == record.token else {
                fault(
                    .stampTokenAltered, "the token kept in the ledger's stamps table was altered",
                    expected: record.token.hex, found: found.hex)
                continue
            }
            let anchors: [Certificate]
            if let anchorsOverride {
                anchors = anchorsOverride
            } else if record.source == TimeStampRecord.nodeSource {
                if nodeTokensUncheckable {
                    nodeTokensUnchecked += 1
                    continue
                }
                anchors = Array(nodeChain.suffix(1))
            } else if let hash = record.anchors, let kept = keptAnchors(hash) {
                anchors = kept
            } else {
                let path = record.anchors.map { vault.anchorsPath($0).description } ?? "(none recorded)"
                fault(
                    .stampAnchorsMissing,
                    "the trust anchors of \(record.source), \(path), are missing or altered; give them with --tsa-anchor"
                )
                continue
            }
            let check = TimeStampVerifier.check(
                response: token, request: TimeStampRequest(sha256: record.imprint, nonce: nil), anchors: anchors,
                intermediates: record.source == TimeStampRecord.nodeSource ? nodeChain : [])
            guard check.passed, let info = check.info else {
                fault(.stampInvalid, "the token does not verify: \(check.problems.joined(separator: "; "))")
                continue
            }
            if info.serial != record.serial || info.genTime != record.genTime {
                fault(
                    .stampMismatch, "the entry's serial or genTime is not the token's",
                    expected: "\(record.serial) \(record.genTime)", found: "\(info.serial) \(info.genTime)")
                continue
            }
            checked += 1
        }
        let checkpoints = try checkCheckpointStamps(
            ledger: ledger, nodeChain: nodeTokensUncheckable ? nil : nodeChain, keptAnchors: keptAnchors,
            anchorsOverride: anchorsOverride)
        nodeTokensUnchecked += checkpoints.unchecked
        if nodeTokensUnchecked > 0, let nodeChainProblem {
            faults.insert(
                VerificationFault(
                    subject: vault.timeStampChainPath.description, code: .tsaChainMissing,
                    message:
                        "the node TSA's trust anchor cannot be read (\(nodeChainProblem)): its \(nodeTokensUnchecked) "
                        + "tokens were not checked; give the chain the bureau handed over with --tsa-anchor"),
                at: 0)
        }
        return (checked + checkpoints.checked, faults + checkpoints.faults)
    }

    /// Checks the tokens over checkpoints (kept in `checkpoint_stamps`, outside the log): each is
    /// over the SHA-256 of the text of the checkpoint the node signed for its size and root, and
    /// verifies to its source's anchors. Every checkpoint of a non-empty tree has the node's own
    /// token when the vault has a TSA (it is made in the checkpoint's own transaction).
    /// `nodeChain` is nil when the node's anchor cannot be read: its tokens are then counted as
    /// unchecked, neither verified nor faults of their own.
    private func checkCheckpointStamps(
        ledger: Ledger, nodeChain: [Certificate]?, keptAnchors: (Hash) -> [Certificate]?,
        anchorsOverride: [Certificate]?
    ) throws -> (checked: Int, unchecked: Int, faults: [VerificationFault]) {
        // Both in one snapshot: read one after the other, a checkpoint and its token committed
        // by another writer in between gave a token "for a checkpoint the node did not sign" (or a
        // checkpoint with no token).
        let (checkpoints, stamps) = try ledger.checkpointsAndStamps()
        var signed = [UInt64: (root: String, body: Hash)]()
        for checkpoint in checkpoints {
            if let note = try? SignedNote(parsing: checkpoint.note), let parsed = try? Checkpoint(parsing: note.text) {
                signed[checkpoint.size] = (parsed.root.base64, OpenSSLSHA256().sha256(Array(note.text.utf8)))
            }
        }
        var checked = 0
        var faults = [VerificationFault]()
        var unchecked = 0
        var nodeStamped = Set<UInt64>()
        for stamp in stamps {
            let subject = "checkpoint \(stamp.size)"
            func fault(
                _ code: VerificationFault.Code, _ message: String, expected: String? = nil, found: String? = nil
            ) {
                faults.append(
                    VerificationFault(
                        subject: subject, code: code, message: "time stamp [\(stamp.source)]: \(message)",
                        expected: expected, found: found))
            }
            guard let checkpoint = signed[stamp.size], checkpoint.root == stamp.root else {
                fault(
                    .stampSubject, "it is kept for a checkpoint the node did not sign",
                    expected: signed[stamp.size].map { "root \($0.root)" }, found: "root \(stamp.root)")
                continue
            }
            let anchors: [Certificate]
            if let anchorsOverride {
                anchors = anchorsOverride
            } else if stamp.source == TimeStampRecord.nodeSource {
                guard let nodeChain else {
                    // Unchecked, not missing: the fault is the anchor's, reported once.
                    unchecked += 1
                    nodeStamped.insert(stamp.size)
                    continue
                }
                anchors = Array(nodeChain.suffix(1))
            } else if let hash = stamp.anchors, let kept = keptAnchors(hash) {
                anchors = kept
            } else {
                let path = stamp.anchors.map { vault.anchorsPath($0).description } ?? "(none recorded)"
                fault(
                    .stampAnchorsMissing,
                    "the trust anchors of \(stamp.source), \(path), are missing or altered; give them with --tsa-anchor"
                )
                continue
            }
            // The token must stamp this checkpoint's text, re-hashed from the note kept.
            let check = TimeStampVerifier.check(
                response: stamp.token, request: TimeStampRequest(sha256: checkpoint.body, nonce: nil),
                anchors: anchors, intermediates: stamp.source == TimeStampRecord.nodeSource ? nodeChain ?? [] : [])
            guard check.passed else {
                fault(.stampInvalid, "the token does not verify: \(check.problems.joined(separator: "; "))")
                continue
            }
            checked += 1
            if stamp.source == TimeStampRecord.nodeSource { nodeStamped.insert(stamp.size) }
        }
        if vault.configuration.timeStampPolicy != nil {
            for size in signed.keys.sorted() where size > 0 && !nodeStamped.contains(size) {
                faults.append(
                    VerificationFault(
                        subject: "checkpoint \(size)", code: .checkpointUnstamped,
                        message:
                            "the checkpoint has no valid time stamp of the node's TSA (it is made with the checkpoint)")
                )
            }
        }
        return (checked, unchecked, faults)
    }
}
