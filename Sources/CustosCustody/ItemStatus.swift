import CustosFormats
import CustosLedger
import CustosVault

/// What an item has, from the ledger: its index record, the sources whose time stamps it has,
/// and those it still awaits (the node's TSA, and each external authority the daemon was last
/// started with).
public struct ItemStatus: Sendable {
    public var record: ItemRecord
    public var stampedBy: Set<String>
    public var awaiting: [String]

    public var item: String { record.item }
}

extension CustodySession {
    /// The status of every item (of one case when `caseID` is given), in ledger order.
    public func statuses(caseID: String? = nil) throws -> [ItemStatus] {
        let sources = try ledger.stampSources()
        let expected = vault.expectedTimeStampSources
        return try ledger.items(caseID: caseID).map { record in
            let stamped = sources[record.item] ?? []
            return ItemStatus(
                record: record, stampedBy: stamped,
                awaiting: Vault.awaitedTimeStampSources(expected: expected, stampedBy: stamped))
        }
    }
}
