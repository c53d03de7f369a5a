import CustosFormats
import CustosSQLite

extension Ledger {
    /// The `timestamped` entries about `subject` (an item id, or `checkpoint:<size>`), in order.
    public func stamps(of subject: String) throws -> [(entry: CustodyEntry, record: TimeStampRecord)] {
        try sql {
            var found = [(entry: CustodyEntry, record: TimeStampRecord)]()
            try db.forEachRow(
                "SELECT e.body FROM stamps s JOIN entries e ON e.seq = s.seq WHERE s.subject = ? ORDER BY s.seq",
                [.text(subject)]
            ) { row in
                if let entry = try? CustodyEntry(parsing: row.blob(0)), let record = TimeStampRecord(entry: entry) {
                    found.append((entry, record))
                }
            }
            return found
        }
    }

    /// The token kept beside `timestamped` entry `sequence` (a DER `TimeStampResp`), as stored:
    /// re-hash it against the entry's `token` before trusting it. Nil when there is none.
    public func stampToken(at sequence: UInt64) throws -> [UInt8]? {
        try sql {
            try db.firstRow("SELECT der FROM stamps WHERE seq = ?", [.integer(Int64(sequence))]) { $0.blob(0) }
        }
    }

    /// The subjects that have at least one token.
    public func stampedSubjects() throws -> Set<String> {
        try sql {
            var found = Set<String>()
            try db.forEachRow("SELECT DISTINCT subject FROM stamps") { row in found.insert(row.text(0) ?? "") }
            return found
        }
    }

    /// Each subject with the sources that stamped it.
    public func stampSources() throws -> [String: Set<String>] {
        try sql {
            var found = [String: Set<String>]()
            try db.forEachRow("SELECT DISTINCT subject, source FROM stamps") { row in
                found[row.text(0) ?? "", default: []].insert(row.text(1) ?? "")
            }
            return found
        }
    }

    /// Checks the stamps index against the `timestamped` entries, both ways.
    func auditStamps(entries: [CustodyEntry], faults: inout [VerificationFault]) throws {
        var rows = [UInt64: (subject: String, source: String, token: [UInt8])]()
        try db.forEachRow("SELECT seq, subject, source, token FROM stamps") { row in
            rows[UInt64(max(0, row.int64(0)))] = (row.text(1) ?? "", row.text(2) ?? "", row.blob(3))
        }
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
                || row?.token != record.token.bytes
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
    /// Keeps a token over checkpoint `size` whose root is `root`, inside the caller's transaction.
    func insertCheckpointStamp(size: UInt64, root: Hash, source: String, anchors: Hash?, token: [UInt8]) throws {
        try db.run(
            "INSERT INTO checkpoint_stamps (size, root, source, anchors, der) VALUES (?, ?, ?, ?, ?)",
            [
                .integer(Int64(size)), .text(root.base64), .text(source), anchors.map { .text($0.hex) } ?? .null,
                .blob(token),
            ])
    }

    /// Keeps an external authority's token over the signed checkpoint of `size` entries and root
    /// `root`; refused when the node signed no such checkpoint.
    public func recordCheckpointStamp(size: UInt64, root: Hash, source: String, anchors: Hash?, token: [UInt8])
        throws
    {
        try sql {
            try db.writeTransaction {
                let note = try db.firstRow(
                    "SELECT note FROM checkpoints WHERE size = ?", [.integer(Int64(size))], { $0.text(0) })
                guard let note, let note, let signed = try? Checkpoint(parsing: SignedNote(parsing: note).text),
                    signed.root == root
                else {
                    throw LedgerError(.invalid, "\(path): the node signed no checkpoint of size \(size) with that root")
                }
                try insertCheckpointStamp(size: size, root: root, source: source, anchors: anchors, token: token)
            }
        }
    }

    /// The tokens over checkpoints: of size `size`, or all when nil; by size, then source.
    public func checkpointStamps(size: UInt64? = nil) throws -> [CheckpointStamp] {
        try sql {
            var found = [CheckpointStamp]()
            let (filter, arguments): (String, [SQLiteValue]) =
                size.map { ("WHERE size = ?", [.integer(Int64($0))]) } ?? ("", [])
            try db.forEachRow(
                "SELECT size, root, source, anchors, der FROM checkpoint_stamps \(filter) ORDER BY size, source",
                arguments
            ) { row in
                found.append(
                    CheckpointStamp(
                        size: UInt64(max(0, row.int64(0))), root: row.text(1) ?? "", source: row.text(2) ?? "",
                        anchors: row.text(3).flatMap { Hash(hex: $0) }, token: row.blob(4)))
            }
            return found
        }
    }
}
