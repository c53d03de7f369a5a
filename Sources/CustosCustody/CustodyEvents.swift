import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

extension CustodyEventType {
    /// The integrity of the vault, or of items, was checked (`custos verify`, later the scrubber).
    public static let verified = CustodyEventType(rawValue: "verified")
    /// An original was taken out of the vault (`custos extract`).
    public static let extracted = CustodyEventType(rawValue: "extracted")
    /// Time stamps, a report or a bundle about the item left the vault.
    public static let exported = CustodyEventType(rawValue: "exported")
    /// A note was added to the item's record (`custos annotate`).
    public static let annotated = CustodyEventType(rawValue: "annotated")
    /// The item was handed over to another bureau (`custos transfer`).
    public static let transferred = CustodyEventType(rawValue: "transferred")
}

/// The member of an entry that holds the SHA-256 of its details document.
public let detailsDocumentMember = CustodyEntry.detailsDocumentMember

/// One entry of a custody event: the item, its public facts, and, when the event brings the
/// item's content into the vault (`received`), its index row and the node's time stamp over it.
public struct EventEntry: Sendable {
    public var item: String
    public var facts: JSONObject
    public var record: ItemRecord?
    /// A `timestamped` event over the item's content, appended right after its entry.
    public var stamp: NewCustodyEvent?

    public init(item: String, facts: JSONObject = [:], record: ItemRecord? = nil, stamp: NewCustodyEvent? = nil) {
        self.item = item
        self.facts = facts
        self.record = record
        self.stamp = stamp
    }
}

/// A custody event as recorded: its entries (one per item) and its details document.
public struct RecordedEvent: Sendable {
    public var entries: [CustodyEntry]
    /// The `timestamped` entries recorded with them (a received item's stamp).
    public var stampEntries: [CustodyEntry] = []
    /// The SHA-256 of the details document the entries name.
    public var document: Hash
    /// The details document's exact bytes (canonical JSON).
    public var documentBytes: [UInt8]
    /// Why no checkpoint covers the entries yet, when signing it failed after they were
    /// appended: the event is recorded all the same (a caller must not act as if it were not),
    /// and `custos checkpoint --sign` covers it.
    public var checkpointFailure: String?
}

extension CustodySession {
    /// Records a custody event about `items`: one entry per item, in one transaction, each with
    /// the public `facts` (digests, results, codes: what may be mirrored to other bureaus) and the
    /// SHA-256 of one details document. The document holds what stays in the bureau: the event,
    /// the items, the actor (account and examiner), the node's time, `details` (reasons, notes,
    /// names) and a random salt, so that its digest reveals nothing of a short note. It is stored
    /// durably (`details/`) before the entries are appended; whoever holds it can prove it is the
    /// one recorded. A checkpoint is then signed, so the latest one still covers every entry.
    @discardableResult
    public func recordEvent(
        _ type: CustodyEventType, items: [String], facts: JSONObject = [:], details: JSONObject = [:],
        now: String = SystemClock.now()
    ) throws -> RecordedEvent {
        try recordEvent(type, entries: items.map { EventEntry(item: $0, facts: facts) }, details: details, now: now)
    }

    /// Records a custody event whose entries differ by item (`received`: each item's digests and
    /// where it came from), as `recordEvent(_:items:facts:details:now:)` does: one details
    /// document, then one entry per `entries`, with its index row when it has one, in one
    /// transaction, then a checkpoint.
    @discardableResult
    public func recordEvent(
        _ type: CustodyEventType, entries: [EventEntry], details: JSONObject = [:], now: String = SystemClock.now()
    ) throws -> RecordedEvent {
        precondition(!entries.isEmpty, "a custody event is about at least one item (\"\" for the whole vault)")
        precondition(entries.allSatisfy { $0.facts[detailsDocumentMember] == nil })
        let items = entries.map(\.item)
        // The key and TSA first: nothing is appended that the checkpoint below could not cover.
        try prepareSigning()
        var document = details
        document["event"] = .string(type.rawValue)
        document["items"] = .array(items.map { .string($0) })
        document["time"] = .string(now)
        document["node"] = .string(vault.configuration.origin)
        document["actor"] = .object(custody.actor.json)
        document["salt"] = .string(Hex.encode(try SecureRandom.bytes(16)))
        let bytes = CanonicalJSON.encode(.object(document))
        let hash = OpenSSLSHA256().sha256(bytes)
        try vault.objects.store(bytes, as: .details(hash), durability: .immediate)
        var events = [NewCustodyEvent]()
        var isStamp = [Bool]()
        for entry in entries {
            var members = entry.facts
            members[detailsDocumentMember] = .string(hash.hex)
            events.append(
                NewCustodyEvent(
                    type: type, item: entry.item, time: now, actor: custody.actor.account, details: members,
                    record: entry.record))
            isStamp.append(false)
            if let stamp = entry.stamp {
                events.append(stamp)
                isStamp.append(true)
            }
        }
        let appended = try ledger.append(events)
        // Appended: the event is recorded whatever happens next. A checkpoint that cannot be
        // signed now is reported with it, never as if nothing had been recorded.
        var checkpointFailure: String?
        do { try checkpoint() } catch {
            checkpointFailure = "\(error)"
            uncoveredSince = uncoveredSince ?? appended.first?.sequence
        }
        return RecordedEvent(
            entries: zip(appended, isStamp).filter { !$0.1 }.map(\.0),
            stampEntries: zip(appended, isStamp).filter { $0.1 }.map(\.0), document: hash, documentBytes: bytes,
            checkpointFailure: checkpointFailure)
    }

    /// The details document an entry names, re-hashed: nil when the entry names none; throws
    /// `CustodyError` when it is missing or its bytes are not the ones recorded.
    public func detailsDocument(of entry: CustodyEntry) throws -> JSONObject? {
        guard let text = entry.details[detailsDocumentMember]?.stringValue else { return nil }
        guard let hash = Hash(hex: text) else {
            throw CustodyError(.altered, "entry \(entry.sequence): its details digest is malformed")
        }
        let path = vault.objects.describe(.details(hash))
        let bytes: [UInt8]
        do { bytes = try vault.objects.read(.details(hash)) } catch {
            throw CustodyError(
                .missing, "\(path): the details document of entry \(entry.sequence) is missing", cause: error)
        }
        guard OpenSSLSHA256().sha256(bytes) == hash, let object = try? CanonicalJSON.parse(bytes).objectValue else {
            throw CustodyError(.altered, "\(path): the details document of entry \(entry.sequence) was altered")
        }
        return object
    }
}
