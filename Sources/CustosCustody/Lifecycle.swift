import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing

// The evidence lifecycle: legal holds, a retention date per case, and disposal (a request, then a
// second account's approval). Every state is derived from the ledger's entries and their details
// documents (each re-hashed), never from a table beside them: what `lifecycle(of:)` says is what
// the log proves.
//
// What goes where (entries are mirrored to other bureaus; details documents stay in the bureau):
//
// | event                | item          | entry facts                    | details document          |
// |----------------------|---------------|--------------------------------|---------------------------|
// | `held`               | each item     | none                           | `reason`                  |
// | `hold-released`      | each item     | `hold` (the `held` entry)      | `reason`                  |
// | `retention-set`      | `""` (vault)  | none                           | `case`, `retainUntil`, `reason` (when given) |
// | `disposal-requested` | each item     | `mode`                         | `mode`, `reason`, `recipient` (when given) |
// | `disposed`           | each item     | `mode`, `request`              | `request`                 |

extension CustodyEventType {
    /// A legal hold was placed on the item (`custos hold`): it may not be disposed of until the
    /// hold is released.
    public static let held = CustodyEventType(rawValue: "held")
    /// A legal hold was released (`custos release-hold`); the entry's `hold` names the `held` entry.
    public static let holdReleased = CustodyEventType(rawValue: "hold-released")
    /// A case's retention date was set (`custos case set --retain-until`): an event about the
    /// whole vault whose details document names the case and the date.
    public static let retentionSet = CustodyEventType(rawValue: "retention-set")
    /// Disposal of items was requested (`custos dispose`); a second account must approve it.
    public static let disposalRequested = CustodyEventType(rawValue: "disposal-requested")
    // `disposed` is declared in CustosSealing, beside `verify`, which reads it.
}

/// How an item leaves custody.
public enum DisposalMode: String, Sendable, CaseIterable {
    /// The original's bytes are removed from the vault's archive store; the manifest, the details
    /// documents and every entry stay (and `verify` still proves them).
    case destroy
    /// The original is handed over to its owner; the vault keeps its archive.
    case `return`
}

/// Where an item stands in its lifecycle, as the ledger proves it.
public struct ItemLifecycle: Sendable {
    /// A legal hold in force: its `held` entry and the reason from its details document.
    public struct Hold: Sendable {
        public var entry: CustodyEntry
        public var reason: String?
    }

    /// The retention date of the item's case: the latest `retention-set` event about that case.
    public struct Retention: Sendable {
        /// The last day (YYYY-MM-DD, UTC) the item must be kept; disposal is allowed from the day
        /// after, by the node's clock in UTC.
        public var until: String
        public var entry: CustodyEntry
        public var reason: String?
    }

    /// How the item was disposed of.
    public struct Disposal: Sendable {
        public var mode: DisposalMode
        /// The `disposed` entry.
        public var entry: CustodyEntry
        /// The request approved (see `DisposalRequest.id`).
        public var request: String
    }

    public var record: ItemRecord
    /// The legal holds in force (at most one: `hold` refuses an item already on hold).
    public var holds: [Hold]
    public var retention: Retention?
    /// A disposal request that waits for its approval.
    public var pendingRequest: DisposalRequest?
    public var disposal: Disposal?

    public var isOnHold: Bool { !holds.isEmpty }
    /// Whether the original's bytes were destroyed (the archive may still be shared with another
    /// item of the same content, or its removal may not have finished).
    public var isDestroyed: Bool { disposal?.mode == .destroy }
}

extension CustodySession {
    // MARK: - Legal holds

    /// Places a legal hold on `records`: one `held` entry per item, the reason in the details
    /// document. All or nothing: an item already on hold, or already disposed of, refuses the
    /// whole call (`forbiddenByLifecycle`, naming the item and the entry), and so does an item given
    /// twice or a reason `CustodyText.check` refuses; nothing is recorded then.
    @discardableResult
    public func hold(_ records: [ItemRecord], reason: String, now: String = SystemClock.now()) throws
        -> RecordedEvent
    {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        try checkDistinct(records)
        var retentions = RetentionCache()
        for record in records {
            let state = try lifecycle(of: record, withPendingRequest: false, retentions: &retentions)
            if let hold = state.holds.first {
                throw CustodyError(
                    .forbiddenByLifecycle,
                    "item \(record.item): already on legal hold since entry \(hold.entry.sequence)\(Self.quoted(hold.reason)); nothing recorded"
                )
            }
            if let disposal = state.disposal {
                throw CustodyError(
                    .forbiddenByLifecycle,
                    "item \(record.item): already disposed of (\(disposal.mode.rawValue), entry \(disposal.entry.sequence)); nothing recorded"
                )
            }
        }
        return try recordEvent(
            .held, items: records.map(\.item), details: ["reason": .string(reason)], now: now)
    }

    /// Releases the legal hold of each of `records`: one `hold-released` entry per item, whose
    /// `hold` fact is the sequence number of the `held` entry released; the reason in the details
    /// document. An item not on hold refuses the whole call (`forbiddenByLifecycle`); nothing is
    /// recorded then.
    @discardableResult
    public func releaseHold(_ records: [ItemRecord], reason: String, now: String = SystemClock.now()) throws
        -> RecordedEvent
    {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        try checkDistinct(records)
        var entries = [EventEntry]()
        var retentions = RetentionCache()
        for record in records {
            guard let hold = try lifecycle(of: record, withPendingRequest: false, retentions: &retentions).holds.first
            else {
                throw CustodyError(
                    .forbiddenByLifecycle, "item \(record.item): is not on legal hold; nothing recorded")
            }
            entries.append(EventEntry(item: record.item, facts: ["hold": .integer(Int64(hold.entry.sequence))]))
        }
        return try recordEvent(.holdReleased, entries: entries, details: ["reason": .string(reason)], now: now)
    }

    // MARK: - Retention

    /// Sets the retention date of a case: its items may not be disposed of before the day after
    /// `until` (YYYY-MM-DD, a real calendar date; compared with the node's clock in UTC). One
    /// `retention-set` entry about the whole vault (item `""`), so that it binds the case's items
    /// sealed later too; the case, the date and the reason are in its details document, never in
    /// the entry. A later call replaces the date (earlier or later: the log keeps both). Refuses a
    /// malformed or impossible date, an empty case, or one with no item (`unknownItem`).
    @discardableResult
    public func setRetention(caseID: String, until: String, reason: String?, now: String = SystemClock.now())
        throws -> RecordedEvent
    {
        try Self.checkDate(until)
        guard !caseID.isEmpty else { throw CustodyError(.refused, "--case: the case is empty; nothing recorded") }
        if let reason { try CustodyText.check(reason, what: "the reason", subject: "--reason") }
        try checkExaminer()
        _ = try items(ofCase: caseID)
        var details: JSONObject = ["case": .string(caseID), "retainUntil": .string(until)]
        if let reason { details["reason"] = .string(reason) }
        return try recordEvent(.retentionSet, items: [""], details: details, now: now)
    }

    /// The retention of a case: its latest `retention-set` event (the whole-vault events are read
    /// through the events index, each `retention-set` one's details document re-hashed; one that
    /// is missing or altered throws, as the case it binds cannot be known). Nil when none was set.
    public func retention(ofCase caseID: String) throws -> ItemLifecycle.Retention? {
        guard !caseID.isEmpty else { return nil }
        var found: ItemLifecycle.Retention?
        for entry in try ledger.entries(about: "") where entry.type == .retentionSet {
            let document = try requiredDocument(of: entry)
            guard document["case"]?.stringValue == caseID else { continue }
            guard let until = document["retainUntil"]?.stringValue, (try? Self.checkDate(until)) != nil else {
                throw CustodyError(.altered, "entry \(entry.sequence): its details document holds no retention date")
            }
            found = ItemLifecycle.Retention(until: until, entry: entry, reason: document["reason"]?.stringValue)
        }
        return found
    }

    /// Refuses a date that is not YYYY-MM-DD or not a day of the calendar (2026-02-29, 2026-13-01).
    static func checkDate(_ text: String) throws {
        let bytes = Array(text.utf8)
        let digit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            bytes.enumerated().allSatisfy({ $0.offset == 4 || $0.offset == 7 || digit($0.element) })
        else {
            throw CustodyError(
                .refused, "--retain-until: \"\(DisplayName.escape(bytes))\" is not a date YYYY-MM-DD; nothing recorded")
        }
        let number = { (range: Range<Int>) in range.reduce(0) { $0 * 10 + Int(bytes[$1] - UInt8(ascii: "0")) } }
        let (year, month, day) = (number(0..<4), number(5..<7), number(8..<10))
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard year >= 1, (1...12).contains(month), (1...days[month - 1]).contains(day) else {
            throw CustodyError(.refused, "--retain-until: \(text) is not a day of the calendar; nothing recorded")
        }
    }

    // MARK: - State

    /// Where `record` stands: the holds in force, its case's retention date, a pending disposal
    /// request, its disposal. From the item's entries (through the ledger's indexes) and the
    /// details documents they name, re-hashed: a missing or altered document throws
    /// (`CustodyError` `.missing` or `.altered`), as a state that cannot be proven is none to act on.
    public func lifecycle(of record: ItemRecord) throws -> ItemLifecycle {
        var retentions = RetentionCache()
        return try lifecycle(of: record, withPendingRequest: true, retentions: &retentions)
    }

    /// `lifecycle(of:)`, with each case's retention read once over a call about many items.
    func lifecycle(of record: ItemRecord, withPendingRequest: Bool, retentions: inout RetentionCache) throws
        -> ItemLifecycle
    {
        var holds = [ItemLifecycle.Hold]()
        var requested = [UInt64]()
        var disposal: ItemLifecycle.Disposal?
        for entry in try ledger.entries(about: record.item) {
            switch entry.type {
            case .held:
                let document = try requiredDocument(of: entry)
                holds.append(ItemLifecycle.Hold(entry: entry, reason: document["reason"]?.stringValue))
            case .holdReleased:
                let released = entry.details["hold"]?.integerValue
                holds.removeAll { Int64(clamping: $0.entry.sequence) == released }
            case .disposalRequested:
                requested.append(try requestID(of: entry))
            case .disposed:
                guard let mode = entry.details["mode"]?.stringValue.flatMap(DisposalMode.init(rawValue:)),
                    let request = entry.details["request"]?.stringValue, let id = UInt64(request)
                else {
                    throw CustodyError(
                        .altered, "entry \(entry.sequence): a disposed entry without its mode or request")
                }
                requested.removeAll { $0 == id }
                if disposal == nil { disposal = ItemLifecycle.Disposal(mode: mode, entry: entry, request: request) }
            default:
                continue
            }
        }
        let pending =
            withPendingRequest && disposal == nil ? try requested.last.flatMap { try disposalRequest(String($0)) } : nil
        return ItemLifecycle(
            record: record, holds: holds, retention: try retentions.retention(ofCase: record.caseID, in: self),
            pendingRequest: pending, disposal: disposal)
    }

    /// The details document of a lifecycle entry, which must have one.
    func requiredDocument(of entry: CustodyEntry) throws -> JSONObject {
        guard let document = try detailsDocument(of: entry) else {
            throw CustodyError(.altered, "entry \(entry.sequence): this \(entry.type) entry names no details document")
        }
        return document
    }

    /// Refuses no item at all, or an item given twice.
    func checkDistinct(_ records: [ItemRecord]) throws {
        guard !records.isEmpty else { throw CustodyError(.refused, "no item given; nothing recorded") }
        var seen = Set<String>()
        for record in records where !seen.insert(record.item).inserted {
            throw CustodyError(.refused, "item \(record.item): given twice; nothing recorded")
        }
    }

    static func quoted(_ reason: String?) -> String { reason.map { " (reason: \($0))" } ?? "" }
}

/// Each case's retention, read once (`CustodySession.retention(ofCase:)` reads every whole-vault
/// event) over a call about many items.
struct RetentionCache {
    private var known = [String: ItemLifecycle.Retention?]()

    mutating func retention(ofCase caseID: String, in session: CustodySession) throws -> ItemLifecycle.Retention? {
        if let found = known[caseID] { return found }
        let found = try session.retention(ofCase: caseID)
        known[caseID] = found
        return found
    }
}
