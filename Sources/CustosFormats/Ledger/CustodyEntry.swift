/// The kinds of custody event a ledger records.
public struct CustodyEventType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A file was sealed into the vault.
    public static let sealed = CustodyEventType(rawValue: "sealed")

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

    /// The exact bytes that are hashed into the log.
    public var canonicalBytes: [UInt8] {
        // The fixed members, already in canonical order, merged with the (ordered) details.
        let fixed: [(String, JSONValue)] = [
            ("actor", .string(actor)), ("item", .string(item)), ("node", .string(node)), ("prev", .string(previous.hex)),
            ("seq", .integer(Int64(sequence))), ("time", .string(time)), ("type", .string(type.rawValue)),
        ]
        var keys = [String]()
        var values = [JSONValue]()
        keys.reserveCapacity(fixed.count + details.count)
        values.reserveCapacity(fixed.count + details.count)
        var extra = details.makeIterator()
        var next = extra.next()
        for (key, value) in fixed {
            while let (detailKey, detailValue) = next, JSONObject.precedes(detailKey, key) {
                keys.append(detailKey)
                values.append(detailValue)
                next = extra.next()
            }
            if let (detailKey, _) = next, detailKey == key { next = extra.next() }  // the fixed member wins
            keys.append(key)
            values.append(value)
        }
        while let (detailKey, detailValue) = next {
            keys.append(detailKey)
            values.append(detailValue)
            next = extra.next()
        }
        return CanonicalJSON.encode(.object(JSONObject(orderedKeys: keys, values: values)))
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
