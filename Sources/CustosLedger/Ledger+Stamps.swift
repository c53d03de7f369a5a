import CustosFormats

extension Ledger {
    /// The `timestamped` entries about `subject` (an item id, or `checkpoint:<size>`), in order.
    public func stamps(of subject: String) throws -> [(entry: CustodyEntry, record: TimeStampRecord)] {
        try store.entryBodies(stamping: subject).compactMap { body in
            guard let entry = try? CustodyEntry(parsing: body), let record = TimeStampRecord(entry: entry) else {
                return nil
            }
            return (entry, record)
        }
    }

    /// The token kept beside `timestamped` entry `sequence` (a DER `TimeStampResp`), as stored:
    /// re-hash it against the entry's `token` before trusting it. Nil when there is none.
    public func stampToken(at sequence: UInt64) throws -> [UInt8]? {
        try store.stampToken(at: sequence)
    }

    /// The subjects that have at least one token.
    public func stampedSubjects() throws -> Set<String> {
        Set(try store.stampSources().map(\.subject))
    }

    /// Each subject with the sources that stamped it.
    public func stampSources() throws -> [String: Set<String>] {
        var found = [String: Set<String>]()
        for (subject, source) in try store.stampSources() { found[subject, default: []].insert(source) }
        return found
    }

    /// Checks the stamps index against the `timestamped` entries, both ways.
    func auditStamps(entries: [CustodyEntry], faults: inout [VerificationFault]) throws {
        var rows = try store.stampIndex()
        for entry in entries where entry.type == .timestamped {
            guard let record = TimeStampRecord(entry: entry) else {
                faults.append(
                    VerificationFault(
                        subject: "entry \(entry.sequence)", code: .stampMalformed,
                        message: "a timestamped entry lacks its subject, imprint, token, authority, serial or genTime"))
                continue
            }
            let row = rows.removeValue(forKey: entry.sequence)
            if row?.subject != record.indexKey(item: entry.item) || row?.source != record.source
                || row?.tokenDigest != record.token.bytes
            {
                faults.append(
                    VerificationFault(
                        subject: "entry \(entry.sequence)", code: .stampIndex,
                        message: "the stamps index disagrees with the timestamped entry"))
            }
        }
        for sequence in rows.keys.sorted() {
            faults.append(
                VerificationFault(
                    subject: "entry \(sequence)", code: .stampIndex,
                    message: "the stamps index names entry \(sequence), which is not a time stamp"))
        }
    }
}

/// An RFC 3161 token over a checkpoint, as kept in `checkpoint_stamps`: outside the log, keyed by
/// the checkpoint's size and root. It stamps the SHA-256 of the checkpoint's signed text; `verify`
/// re-hashes the note the ledger kept for that size and checks the token against it.
public struct CheckpointStamp: Sendable, Hashable {
    public var size: UInt64
    /// The checkpoint's root, base64 as in its note.
    public var root: String
    /// `node`, or the configured name of an external authority.
    public var source: String
    /// For an external authority: the SHA-256 of the trust-anchor file kept in the vault.
    public var anchors: Hash?
    /// The DER `TimeStampResp`, as stored.
    public var token: [UInt8]

    public init(size: UInt64, root: String, source: String, anchors: Hash?, token: [UInt8]) {
        self.size = size
        self.root = root
        self.source = source
        self.anchors = anchors
        self.token = token
    }
}

extension Ledger {
    /// Keeps an external authority's token over the signed checkpoint of `size` entries and root
    /// `root`; refused when the node signed no such checkpoint.
    public func recordCheckpointStamp(size: UInt64, root: Hash, source: String, anchors: Hash?, token: [UInt8])
        throws
    {
        try store.writeTransaction {
            guard let note = try store.checkpoint(size: size),
                let signed = try? Checkpoint(parsing: SignedNote(parsing: note).text), signed.root == root
            else {
                throw LedgerError(.invalid, "\(location): the node signed no checkpoint of size \(size) with that root")
            }
            try store.insertCheckpointStamp(
                CheckpointStamp(size: size, root: root.base64, source: source, anchors: anchors, token: token))
        }
    }

    /// The tokens over checkpoints: of size `size`, or all when nil; by size, then source.
    public func checkpointStamps(size: UInt64? = nil) throws -> [CheckpointStamp] {
        try store.checkpointStamps(size: size)
    }

    /// Every checkpoint and every token kept over one, read in one snapshot: a checkpoint and
    /// its token committed by another writer meanwhile are both read or neither.
    public func checkpointsAndStamps() throws -> (
        checkpoints: [(size: UInt64, note: String, signedAt: String)], stamps: [CheckpointStamp]
    ) {
        try store.readTransaction { (try store.checkpoints(), try store.checkpointStamps(size: nil)) }
    }
}
