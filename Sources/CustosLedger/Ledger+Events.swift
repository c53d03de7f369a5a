import CustosFormats

extension Ledger {
    /// Every entry about `item`, in log order: its seal (`entries.item`), its time stamps
    /// (`stamps`) and its other events (`events`), found through the indexes; with
    /// `wholeVaultAfter`, also the whole-vault events (item `""`) after that entry. A schema-9
    /// ledger opened read-only has no events index: its entries are then read one by one. Each
    /// entry is parsed from its bytes and must name the item (an index row is not trusted
    /// further; `verify` checks the indexes).
    public func entries(about item: String, wholeVaultAfter: UInt64? = nil) throws -> [CustodyEntry] {
        try store.readTransaction {
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
            if hasEventsIndex {
                for body in try store.entryBodies(about: item, wholeVaultAfter: wholeVaultAfter) { keep(body) }
            } else {
                try store.forEachEntry { _, body, _ in keep(body) }
            }
            return found
        }
    }

    /// The SHA-256 of every details document an entry names (its `document` member): what the
    /// vault's `details/` must keep. Read from the entry bytes.
    public func referencedDetails() throws -> Set<Hash> {
        let member = Array("\"\(CustodyEntry.detailsDocumentMember)\":\"".utf8)
        return Set(
            try store.entryBodies(containing: member).compactMap { try? CustodyEntry(parsing: $0).detailsDocument })
    }

    /// Checks the events index against the entries, both ways: every entry that is neither a seal
    /// nor a time stamp has its row, naming its item, and every row names such an entry.
    func auditEvents(entries: [CustodyEntry], faults: inout [VerificationFault]) throws {
        guard hasEventsIndex else { return }
        var rows = try store.eventIndex()
        for entry in entries where EntryRow.isIndexedAsEvent(entry.type) {
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
