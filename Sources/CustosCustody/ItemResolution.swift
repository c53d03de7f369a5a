import CustosFormats
import CustosLedger

/// How a person names an item on a command line: its id, a unique start of its id or of its
/// SHA-256, or a start of a SHA-256 that several items hold (the same content sealed more than
/// once). One function for every command that takes items (`show`, `proof`, `verify`, `extract`,
/// `annotate`, `history`, `timestamp export`, …).
public enum ItemResolution {
    /// The items `text` names: the item with that id, the one item whose id or SHA-256 starts
    /// with it, or, when it is a start of one content's SHA-256, every item sealed with that
    /// content. Throws `CustodyError.unknownItem` when none matches, and `.refused` (listing the
    /// candidates) when the start names several different items.
    public static func items(_ text: String, in ledger: Ledger) throws -> [ItemRecord] {
        let found = try ledger.items(matching: text)
        guard !found.isEmpty else { throw CustodyError(.unknownItem, "no item matches \"\(text)\"") }
        let lowered = text.lowercased()
        if let exact = found.first(where: { $0.item == lowered }) { return [exact] }
        if found.count == 1 { return found }
        if Set(found.map(\.sha256)).count == 1, found.allSatisfy({ $0.sha256.hex.hasPrefix(lowered) }) {
            return found
        }
        throw ambiguity(text, found, "give more of the id or of the SHA-256")
    }

    /// Exactly one item, by id or a unique start of its id or SHA-256 (see `items`).
    public static func item(_ text: String, in ledger: Ledger) throws -> ItemRecord {
        let found = try items(text, in: ledger)
        guard found.count == 1 else {
            throw ambiguity(text, found, "this content was sealed more than once; give the id")
        }
        return found[0]
    }

    /// The refusal of a prefix that names several items: each candidate on a line of its own.
    private static func ambiguity(_ text: String, _ found: [ItemRecord], _ advice: String) -> CustodyError {
        let shown = 20
        var lines = ["\"\(text)\" matches \(found.count) items; \(advice):"]
        lines += found.prefix(shown).map { "  \($0.candidateLine)" }
        if found.count > shown { lines.append("  … and \(found.count - shown) more") }
        return CustodyError(.refused, lines.joined(separator: "\n"))
    }
}

extension ItemRecord {
    /// The original name, escaped for display.
    public var displayName: String { DisplayName.escape(name) }

    /// Id, time sealed, SHA-256, case and name, as a candidate is listed.
    public var candidateLine: String {
        let caseText = caseID.isEmpty ? "-" : DisplayName.escape(Array(caseID.utf8))
        return "\(item)  \(sealedAt)  \(sha256.hex)  case \(caseText)  \(displayName)"
    }
}

extension CustodySession {
    /// Exactly one item, named as `ItemResolution.item` says.
    public func resolveItem(_ text: String) throws -> ItemRecord { try ItemResolution.item(text, in: ledger) }
}
