import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

extension VaultVerifier {
    /// Checks every `timestamped` entry: its token is in the vault and re-hashes to the digest
    /// the entry names; it verifies (signature, ESS binding, chain to a trust anchor valid at
    /// genTime, timeStamping usage); it stamps what the entry says (the item's SHA-256, or the
    /// checkpoint's note body); and its serial and genTime are those recorded.
    ///
    /// The node's tokens chain to the anchor in `tsa/chain.pem`; an external authority's, to the
    /// anchors kept in the vault under the SHA-256 its entry records (re-hashed first). An expert's
    /// `anchorsOverride` replaces both.
    func checkTimeStamps(
        entries: [CustodyEntry], ledger: Ledger, items: Set<String>?, anchorsOverride: [Certificate]?
    ) throws -> (checked: Int, faults: [VerificationFault]) {
        let nodeChain = (try? vault.timeStampChain()) ?? []
        // Each kept anchors file is read and re-hashed once, however many tokens it serves.
        var anchorsRead = [Hash: [Certificate]?]()
        func keptAnchors(_ hash: Hash) -> [Certificate]? {
            if let read = anchorsRead[hash] { return read }
            let read = vault.keptAnchors(hash)
            anchorsRead[hash] = read
            return read
        }
        var contentOfItem = [String: Hash]()
        for entry in entries where entry.type == .sealed {
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
            checked += 1
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
            func fault(_ code: String, _ message: String, expected: String? = nil, found: String? = nil) {
                faults.append(
                    VerificationFault(
                        subject: subject, code: code, message: "time stamp (entry \(entry.sequence)): \(message)",
                        expected: expected, found: found))
            }
            guard let expected else {
                fault("stamp-subject", "it stamps something the ledger does not hold")
                continue
            }
            if record.imprint != expected {
                fault("stamp-imprint", "it stamps another digest", expected: expected.hex, found: record.imprint.hex)
            }
            guard let token = try ledger.stampToken(at: entry.sequence) else {
                fault("stamp-token-missing", "the token is missing from the ledger's stamps table")
                continue
            }
            let found = OpenSSLSHA256().sha256(token)
            guard found == record.token else {
                fault(
                    "stamp-token-altered", "the token kept in the ledger's stamps table was altered",
                    expected: record.token.hex, found: found.hex)
                continue
            }
            let anchors: [Certificate]
            if let anchorsOverride {
                anchors = anchorsOverride
            } else if record.source == TimeStampRecord.nodeSource {
                anchors = Array(nodeChain.suffix(1))
            } else if let hash = record.anchors, let kept = keptAnchors(hash) {
                anchors = kept
            } else {
                let path = record.anchors.map { vault.anchorsPath($0).description } ?? "(none recorded)"
                fault(
                    "stamp-anchors-missing",
                    "the trust anchors of \(record.source), \(path), are missing or altered; give them with --tsa-anchor"
                )
                continue
            }
            let check = TimeStampVerifier.check(
                response: token, request: TimeStampRequest(sha256: record.imprint, nonce: nil), anchors: anchors,
                intermediates: record.source == TimeStampRecord.nodeSource ? nodeChain : [])
            guard check.passed, let info = check.info else {
                fault("stamp-invalid", "the token does not verify: \(check.problems.joined(separator: "; "))")
                continue
            }
            if info.serial != record.serial || info.genTime != record.genTime {
                fault(
                    "stamp-mismatch", "the entry's serial or genTime is not the token's",
                    expected: "\(record.serial) \(record.genTime)", found: "\(info.serial) \(info.genTime)")
            }
        }
        return (checked, faults)
    }
}
