import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault

extension Custody {
    /// Why a verification of this vault cannot be recorded, or nil when it can: `verify` records
    /// only what it may write without changing what it checks. Not in an expert's independent
    /// check (with a pinned key, kept checkpoints or anchors of their own: a copy checked must not
    /// change, and a checkpoint signed on a copy would be a second history), nor when a daemon
    /// runs (it is the vault's writer) or another process seals into the vault, nor on a
    /// read-only file system, nor for an account that
    /// cannot write the ledger and `details/` or read the signing key, nor when the ledger's own
    /// audit failed (nothing is appended to, nor signed over, a log that does not verify).
    /// `byDaemon`: the vault's daemon asks (it records beside itself: it is the writer).
    public func verificationRecordingRefusal(
        _ report: VerificationReport, independentCheck: Bool, byDaemon: Bool = false
    ) -> String? {
        if independentCheck {
            return "an expert's check (--key, --checkpoint, --tsa-anchor) never writes the vault it checks"
        }
        if !byDaemon, vault.daemonIsRunning { return "a daemon runs for this vault; it is the vault's only writer" }
        // Its checkpoint would cover entries of that process this verification did not vouch for.
        if !byDaemon, vault.sealingIsUnderWay {
            return "a process seals into this vault now (custos ingest or receive); run verify again when it is done"
        }
        if report.ledgerFaults > 0 {
            return "the ledger itself failed verification; nothing is appended to it or signed over it"
        }
        if FileSystem.isOnReadOnlyFileSystem(vault.root) { return "the vault is on a read-only file system" }
        for path in [vault.ledgerPath, vault.root] where FileSystem.exists(path) && !FileSystem.mayWrite(path) {
            return "\(path): this account may not write it"
        }
        if let refusal = vault.objects.refusalToStore(.details) { return refusal }
        if FileSystem.exists(vault.keyPath) && !FileSystem.mayRead(vault.keyPath) {
            return "\(vault.keyPath): this account may not read it"
        }
        return nil
    }
}

extension CustodySession {
    /// Verifies the ledger whole and the items whose ids are in `items` (all when nil): every
    /// entry re-hashed, the tree rebuilt, every checkpoint and token checked, every archive and
    /// details document re-read (`VaultVerifier`). `key` pins the node's verifier key,
    /// `timeStampAnchors` are anchors an expert obtained on their own, `keptCheckpoints` are
    /// checkpoints kept elsewhere. Nothing is written: `recordVerification` records the result.
    public func verify(
        items: Set<String>? = nil, key: Ed25519NoteVerifier? = nil, timeStampAnchors: [Certificate]? = nil,
        keptCheckpoints: [(name: String, note: String)] = [], progress: (String) -> Void = { _ in }
    ) throws -> VerificationReport {
        try VaultVerifier(vault: vault).verify(
            ledger: ledger, items: items, key: key, timeStampAnchors: timeStampAnchors,
            keptCheckpoints: keptCheckpoints, progress: progress)
    }

    /// Records a `verified` event after a verification: about the whole vault (item `""`) when
    /// `items` is nil, else one entry per item checked. Its facts are the `result` (`pass` or
    /// `fail`) and `faults` (the distinct fault codes, sorted); the details document holds the
    /// counts and each fault's subject and code. Call it after the audit: the entry it appends is
    /// then covered by the checkpoint it signs, and changes nothing the report says.
    @discardableResult
    public func recordVerification(_ report: VerificationReport, items: [String]?) throws -> RecordedEvent {
        let codes = Set(report.faults.map(\.code.rawValue)).sorted()
        let facts: JSONObject = [
            "result": .string(report.passed ? "pass" : "fail"), "faults": .array(codes.map { .string($0) }),
        ]
        let details: JSONObject = [
            "entries": .integer(Int64(report.entries)),
            "latestCheckpointSize": .integer(Int64(report.latestCheckpointSize)),
            "itemsChecked": .integer(Int64(report.itemsChecked)),
            "bytesRehashed": .integer(report.bytesRehashed),
            "timeStampsChecked": .integer(Int64(report.timeStampsChecked)),
            "detailsChecked": .integer(Int64(report.detailsChecked)),
            "handoversChecked": .integer(Int64(report.handoversChecked)),
            "unrecordedFiles": .integer(Int64(report.unrecordedFiles.count)),
            "faults": .array(
                report.faults.map { .object(["subject": .string($0.subject), "code": .string($0.code.rawValue)]) }),
        ]
        return try recordEvent(.verified, items: items.map { $0.sorted() } ?? [""], facts: facts, details: details)
    }
}
