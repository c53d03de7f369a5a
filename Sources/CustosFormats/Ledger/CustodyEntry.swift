/// The kinds of custody event a ledger records.
public struct CustodyEventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A file was sealed into the vault.
    public static let sealed = CustodyEventType(rawValue: "sealed")
    /// An item was received from another node (`custos receive`): its content as the sender
    /// sealed it, with the sender's origin and entry index.
    public static let received = CustodyEventType(rawValue: "received")

    /// Whether an entry of this type brings an item's content into the vault (digests, size,
    /// archive, manifest) and has an item index row: `sealed` and `received`. `verify` checks
    /// the archive and manifest of both alike.
    public var recordsContent: Bool { self == .sealed || self == .received }

    public var description: String { rawValue }
}

/// One ledger entry: a custody event in RFC 8785 canonical JSON.
///
/// The entry holds digests, identifiers and times only; names, descriptions and other personal
/// details stay in the item's manifest inside the vault, which the entry commits to by digest,
/// so that entries can be mirrored to other bureaus.
public struct CustodyEntry: Hashable, Sendable {
    /// The position in the log, from 0.
    public var sequence: UInt64
    public var type: CustodyEventType
    /// The item the event is about.
    public var item: String
    /// The node's clock when the event was recorded (RFC 3339, UTC); informative only: order
    /// comes from `sequence`, trusted time from time-stamp tokens.
    public var time: String
    /// The log origin of the node that recorded the event.
    public var node: String
    /// The operating-system account that caused the event.
    public var actor: String
    /// The SHA-256 of the previous entry's bytes; all zeros for the first entry.
    public var previous: Hash
    /// Event-specific members (digests, size, archive and manifest digests for `sealed`).
    public var details: JSONObject

    public init(
        sequence: UInt64, type: CustodyEventType, item: String, time: String, node: String, actor: String,
        previous: Hash, details: JSONObject
    ) {
        self.sequence = sequence
        self.type = type
        self.item = item
        self.time = time
        self.node = node
        self.actor = actor
        self.previous = previous
        self.details = details
    }

    private static let fixedMembers: Set<String> = ["seq", "type", "item", "time", "node", "actor", "prev"]

    /// The fixed members, in canonical order.
    private static let fixedKeys = ["actor", "item", "node", "prev", "seq", "time", "type"]

    /// The exact bytes that are hashed into the log: RFC 8785, written directly (the fixed
    /// members merged in order with the details, which a `JSONObject` keeps ordered).
    public var canonicalBytes: [UInt8] { canonicalBytesLocatingPrevious.bytes }

    /// The canonical bytes, and where the 64 hex digits of `prev` sit in them: an entry can be
    /// encoded ahead, on another thread, and its chain link written in once the entry before it
    /// is known.
    public var canonicalBytesLocatingPrevious: (bytes: [UInt8], previousOffset: Int) {
        var previousOffset = 0
        var out = [UInt8]()
        out.reserveCapacity(640)
        out.append(UInt8(ascii: "{"))
        var first = true
        func separate(_ out: inout [UInt8]) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
        }
        let detailKeys = details.keys
        let detailValues = details.values
        var next = 0
        for (index, key) in Self.fixedKeys.enumerated() {
            while next < detailKeys.count, JSONObject.precedes(detailKeys[next], key) {
                separate(&out)
                CanonicalJSON.writeString(detailKeys[next], into: &out)
                out.append(UInt8(ascii: ":"))
                CanonicalJSON.write(detailValues[next], into: &out)
                next += 1
            }
            if next < detailKeys.count, detailKeys[next] == key { next += 1 }  // the fixed member wins
            separate(&out)
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: key.utf8)
            out.append(contentsOf: "\":".utf8)
            switch index {
            case 0: CanonicalJSON.writeString(actor, into: &out)
            case 1: CanonicalJSON.writeString(item, into: &out)
            case 2: CanonicalJSON.writeString(node, into: &out)
            case 3:
                out.append(UInt8(ascii: "\""))
                previousOffset = out.count
                Hex.append(previous, to: &out)
                out.append(UInt8(ascii: "\""))
            case 4: out.append(contentsOf: String(sequence).utf8)
            case 5: CanonicalJSON.writeString(time, into: &out)
            default: CanonicalJSON.writeString(type.rawValue, into: &out)
            }
        }
        while next < detailKeys.count {
            separate(&out)
            CanonicalJSON.writeString(detailKeys[next], into: &out)
            out.append(UInt8(ascii: ":"))
            CanonicalJSON.write(detailValues[next], into: &out)
            next += 1
        }
        out.append(UInt8(ascii: "}"))
        return (out, previousOffset)
    }

    /// Parses entry bytes, refusing any that are not exactly canonical.
    public init(parsing bytes: [UInt8]) throws {
        let value = try CanonicalJSON.parseCanonical(bytes)
        guard var members = value.objectValue else { throw FormatError(.malformed, "an entry is a JSON object") }
        guard let seq = members["seq"]?.integerValue, seq >= 0,
            let type = members["type"]?.stringValue,
            let item = members["item"]?.stringValue,
            let time = members["time"]?.stringValue,
            let node = members["node"]?.stringValue,
            let actor = members["actor"]?.stringValue,
            let prevText = members["prev"]?.stringValue, let previous = Hash(hex: prevText), previous.hex == prevText
        else {
            throw FormatError(.malformed, "an entry needs seq, type, item, time, node, actor and prev")
        }
        for key in Self.fixedMembers { members[key] = nil }
        self.init(
            sequence: UInt64(seq), type: CustodyEventType(rawValue: type), item: item, time: time, node: node,
            actor: actor, previous: previous, details: members)
    }
}

extension CustodyEntry {
    /// The digests of a `sealed` event.
    public var digests: EvidenceDigests? {
        details["digests"].flatMap { try? EvidenceDigests(json: $0) }
    }

    /// The file size of a `sealed` event.
    public var size: UInt64? {
        details["size"]?.integerValue.flatMap { $0 >= 0 ? UInt64($0) : nil }
    }

    /// The SHA-256 of the sealed archive.
    public var archive: Hash? { details["archive"]?.stringValue.flatMap { Hash(hex: $0) } }

    /// The SHA-256 of the item's manifest.
    public var manifest: Hash? { details["manifest"]?.stringValue.flatMap { Hash(hex: $0) } }

    /// The member of a custody event's entry that holds the SHA-256 (hex) of its details document
    /// (reasons, notes, names: kept in the vault's `details/`, never in the entry).
    public static let detailsDocumentMember = "document"

    /// The SHA-256 of the entry's details document; nil when it names none (or not as 64 hex digits).
    public var detailsDocument: Hash? {
        details[Self.detailsDocumentMember]?.stringValue.flatMap { text in
            Hash(hex: text).flatMap { $0.hex == text ? $0 : nil }
        }
    }

    /// The details of a `sealed` event.
    public static func sealedDetails(digests: EvidenceDigests, size: UInt64, archive: Hash, manifest: Hash)
        -> JSONObject
    {
        [
            "digests": digests.json,
            "size": .integer(Int64(size)),
            "archive": .string(archive.hex),
            "manifest": .string(manifest.hex),
        ]
    }
}
