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
                        subject: "entry \(entry.sequence)", code: "stamp-malformed",
                        message: "a timestamped entry lacks its subject, imprint, token, authority, serial or genTime"))
                continue
            }
            let row = rows.removeValue(forKey: entry.sequence)
            if row?.subject != record.indexKey(item: entry.item) || row?.source != record.source
                || row?.token != record.token.bytes
            {
                faults.append(
                    VerificationFault(
                        subject: "entry \(entry.sequence)", code: "stamp-index",
                        message: "the stamps index disagrees with the timestamped entry"))
            }
        }
        for sequence in rows.keys.sorted() {
            faults.append(
                VerificationFault(
                    subject: "entry \(sequence)", code: "stamp-index",
                    message: "the stamps index names entry \(sequence), which is not a time stamp"))
        }
    }
}
