import CustosFormats
import CustosSQLite

extension Ledger {
    /// Every entry about `item`, in log order: its seal (`entries.item`), its time stamps
    /// (`stamps`) and its other events (`events`), found through the indexes; with
    /// `wholeVaultAfter`, also the whole-vault events (item `""`) after that entry. A schema-9
    /// ledger opened read-only has no events index: its entries are then read one by one. Each
    /// entry is parsed from its bytes and must name the item (an index row is not trusted
    /// further; `verify` checks the indexes).
    public func entries(about item: String, wholeVaultAfter: UInt64? = nil) throws -> [CustodyEntry] {
        try sql {
            try db.readTransaction {
                var found = [CustodyEntry]()
                func keep(_ body: [UInt8]) {
                    guard let entry = try? CustodyEntry(parsing: body) else { return }
                    if entry.item == item
                        || (entry.item.isEmpty && wholeVaultAfter.map { entry.sequence > $0 } == true
                            && entry.type != .sealed && entry.type != .timestamped)
                    {
                        found.append(entry)
                    }
                }
                guard hasEventsIndex else {
                    try db.forEachRow("SELECT body FROM entries ORDER BY seq") { keep($0.blob(0)) }
                    return found
                }
                var arguments: [SQLiteValue] = [.text(item), .text(item), .text(item)]
                var wholeVault = ""
                if let wholeVaultAfter {
                    wholeVault = " UNION SELECT seq FROM events WHERE item = '' AND seq > ?"
                    arguments.append(.integer(Int64(wholeVaultAfter)))
                }
                try db.forEachRow(
                    """
                    SELECT e.body FROM entries e WHERE e.seq IN (
                        SELECT seq FROM entries WHERE item = ? UNION SELECT seq FROM stamps WHERE subject = ?
                        UNION SELECT seq FROM events WHERE item = ?\(wholeVault))
                    ORDER BY e.seq
                    """, arguments
                ) { keep($0.blob(0)) }
                return found
            }
        }
    }

    /// The SHA-256 of every details document an entry names (its `document` member): what the
    /// vault's `details/` must keep. Read from the entry bytes.
    public func referencedDetails() throws -> Set<Hash> {
        try sql {
            var found = Set<Hash>()
            let member = Array("\"\(CustodyEntry.detailsDocumentMember)\":\"".utf8)
            try db.forEachRow("SELECT body FROM entries WHERE instr(body, ?) > 0", [.blob(member)]) { row in
                if let hash = (try? CustodyEntry(parsing: row.blob(0)))?.detailsDocument { found.insert(hash) }
            }
            return found
        }
    }

    /// Checks the events index against the entries, both ways: every entry that is neither a seal
    /// nor a time stamp has its row, naming its item, and every row names such an entry.
    func auditEvents(entries: [CustodyEntry], faults: inout [VerificationFault]) throws {
        guard hasEventsIndex else { return }
        var rows = [UInt64: String]()
        try db.forEachRow("SELECT seq, item FROM events") { row in
            rows[UInt64(max(0, row.int64(0)))] = row.text(1) ?? ""
        }
        for entry in entries where LedgerSchema.isIndexedAsEvent(entry.type) {
            let row = rows.removeValue(forKey: entry.sequence)
            if row != entry.item {
                faults.append(
                    VerificationFault(
                        subject: "entry \(entry.sequence)", code: .eventIndex,
                        message: row == nil
                            ? "the events index has no row for this \(entry.type) entry"
                            : "the events index disagrees with the \(entry.type) entry",
                        expected: "item \"\(entry.item)\"", found: row.map { "item \"\($0)\"" } ?? "no row"))
            }
        }
        for sequence in rows.keys.sorted() {
            faults.append(
                VerificationFault(
                    subject: "entry \(sequence)", code: .eventIndex,
                    message: "the events index names entry \(sequence), which is not a readable custody event"))
        }
    }
}
