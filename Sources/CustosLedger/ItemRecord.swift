import CustosFormats

/// The index row of one sealed item: what `list` and `show` print without opening the archive.
/// It is derived from the entry and the manifest, and `verify` checks it against both.
public struct ItemRecord: Hashable, Sendable {
    public var item: String
    public var sequence: UInt64
    public var caseID: String
    public var exhibit: String
    /// The original file name, byte-exact.
    public var name: [UInt8]
    public var sha256: Hash
    public var size: UInt64
    public var archive: Hash
    public var manifest: Hash
    public var sealedAt: String

    public init(
        item: String, sequence: UInt64, caseID: String, exhibit: String, name: [UInt8], sha256: Hash, size: UInt64,
        archive: Hash, manifest: Hash, sealedAt: String
    ) {
        self.item = item
        self.sequence = sequence
        self.caseID = caseID
        self.exhibit = exhibit
        self.name = name
        self.sha256 = sha256
        self.size = size
        self.archive = archive
        self.manifest = manifest
        self.sealedAt = sealedAt
    }
}

/// A custody event to append; the ledger gives it its sequence number and `prev`.
public struct NewCustodyEvent: Sendable {
    public var type: CustodyEventType
    public var item: String
    public var time: String
    public var actor: String
    public var details: JSONObject
    /// The index row to write in the same transaction, for `sealed` events.
    public var record: ItemRecord?
    /// The DER time-stamp response a `timestamped` event records, kept in the same transaction.
    public var token: [UInt8]?

    public init(
        type: CustodyEventType, item: String, time: String, actor: String, details: JSONObject,
        record: ItemRecord? = nil, token: [UInt8]? = nil
    ) {
        self.token = token
        self.type = type
        self.item = item
        self.time = time
        self.actor = actor
        self.details = details
        self.record = record
    }
}
