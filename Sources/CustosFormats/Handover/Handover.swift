/// `handover.json`: what a node hands over to another bureau with items (`custos transfer`). For
/// each item, the exact bytes of its `sealed` entry, its index and RFC 6962 inclusion proof to
/// the checkpoint carried beside it (`checkpoint.txt`), and its `timestamped` entries with their
/// tokens and proofs: the receiver checks that the sender's log holds them without asking the
/// sender anything. Canonical JSON (RFC 8785); `handover.sig` signs its SHA-256.
public struct HandoverDocument: Hashable, Sendable {
    public static let format = "custos-handover/1"

    /// One entry of the sender's log, with where it is and the proof that it is there.
    public struct ProvenEntry: Hashable, Sendable {
        public var index: UInt64
        /// The entry's exact bytes, as hashed into the sender's log.
        public var entry: [UInt8]
        /// Its RFC 6962 inclusion proof in the tree of the carried checkpoint.
        public var proof: [Hash]

        public init(index: UInt64, entry: [UInt8], proof: [Hash]) {
            self.index = index
            self.entry = entry
            self.proof = proof
        }
    }

    /// A `timestamped` entry about the item, with its token (a DER `TimeStampResp`).
    public struct Stamp: Hashable, Sendable {
        public var proven: ProvenEntry
        public var token: [UInt8]

        public init(proven: ProvenEntry, token: [UInt8]) {
            self.proven = proven
            self.token = token
        }
    }

    public struct Item: Hashable, Sendable {
        public var item: String
        /// The item's `sealed` entry.
        public var sealed: ProvenEntry
        /// The SHA-256 of the archive and of the manifest carried (as the entry names them).
        public var archive: Hash
        public var manifest: Hash
        public var stamps: [Stamp]

        public init(item: String, sealed: ProvenEntry, archive: Hash, manifest: Hash, stamps: [Stamp]) {
            self.item = item
            self.sealed = sealed
            self.archive = archive
            self.manifest = manifest
            self.stamps = stamps
        }
    }

    /// The sender's log origin and its verifier key (signed-note form).
    public var origin: String
    public var key: String
    /// The recipient bureau, as the sender named it.
    public var recipient: String
    /// The sender's clock (informative).
    public var time: String
    /// 128 random bits, hex: the `transferred` entries hold the SHA-256 of this document, and
    /// without it the recipient (one of a few bureaus) could be guessed from that digest.
    public var nonce: String
    /// The size and root of the checkpoint the proofs lead to.
    public var checkpointSize: UInt64
    public var checkpointRoot: Hash
    public var items: [Item]

    public init(
        origin: String, key: String, recipient: String, time: String, nonce: String, checkpointSize: UInt64,
        checkpointRoot: Hash, items: [Item]
    ) {
        self.nonce = nonce
        self.origin = origin
        self.key = key
        self.recipient = recipient
        self.time = time
        self.checkpointSize = checkpointSize
        self.checkpointRoot = checkpointRoot
        self.items = items
    }

    // MARK: - Encoding

    public var json: JSONValue {
        .object([
            "format": .string(Self.format),
            "origin": .string(origin),
            "key": .string(key),
            "to": .string(recipient),
            "time": .string(time),
            "nonce": .string(nonce),
            "checkpoint": .object(["size": .integer(Int64(checkpointSize)), "root": .string(checkpointRoot.base64)]),
            "items": .array(
                items.map { item in
                    var object = Self.json(item.sealed)
                    object["item"] = .string(item.item)
                    object["archive"] = .string(item.archive.hex)
                    object["manifest"] = .string(item.manifest.hex)
                    object["timestamps"] = .array(
                        item.stamps.map { stamp in
                            var stampObject = Self.json(stamp.proven)
                            stampObject["token"] = .string(Base64.encode(stamp.token))
                            return .object(stampObject)
                        })
                    return .object(object)
                }),
        ])
    }

    /// The exact bytes of `handover.json`.
    public var canonicalBytes: [UInt8] { CanonicalJSON.encode(json) }

    private static func json(_ proven: ProvenEntry) -> JSONObject {
        [
            "index": .integer(Int64(proven.index)), "entry": .string(Base64.encode(proven.entry)),
            "proof": .array(proven.proof.map { .string($0.base64) }),
        ]
    }

    // MARK: - Parsing

    /// Parses `handover.json`, refusing anything but canonical JSON of this format.
    public init(parsing bytes: [UInt8]) throws {
        let value = try CanonicalJSON.parseCanonical(bytes)
        guard value["format"]?.stringValue == Self.format else {
            throw FormatError(.malformed, "not a \(Self.format) document")
        }
        func string(_ value: JSONValue?, _ what: String) throws -> String {
            guard let text = value?.stringValue else { throw FormatError(.malformed, "\(what) is missing") }
            return text
        }
        func index(_ value: JSONValue?, _ what: String) throws -> UInt64 {
            guard let number = value?.integerValue, number >= 0 else {
                throw FormatError(.malformed, "\(what) is not an index")
            }
            return UInt64(number)
        }
        func hex(_ value: JSONValue?, _ what: String) throws -> Hash {
            guard let text = value?.stringValue, let hash = Hash(hex: text), hash.hex == text else {
                throw FormatError(.malformed, "\(what) is not a lower-case hex SHA-256")
            }
            return hash
        }
        func base64(_ value: JSONValue?, _ what: String) throws -> [UInt8] {
            guard let text = value?.stringValue, let bytes = Base64.decode(text) else {
                throw FormatError(.malformed, "\(what) is not base64")
            }
            return bytes
        }
        func proven(_ value: JSONValue, _ what: String) throws -> ProvenEntry {
            guard case .array(let hashes)? = value["proof"] else {
                throw FormatError(.malformed, "\(what) has no proof")
            }
            let proof = try hashes.map { hash in
                guard let text = hash.stringValue, let decoded = Hash(base64: text), Base64.decode(text) != nil else {
                    throw FormatError(.malformed, "\(what): a proof hash is not base64 of 32 bytes")
                }
                return decoded
            }
            return ProvenEntry(
                index: try index(value["index"], "\(what)'s index"),
                entry: try base64(value["entry"], "\(what)'s entry"),
                proof: proof)
        }
        guard case .array(let itemValues)? = value["items"], !itemValues.isEmpty else {
            throw FormatError(.malformed, "the handover names no items")
        }
        let items = try itemValues.map { itemValue in
            let item = try string(itemValue["item"], "an item's id")
            // An id as Custos makes them (a UUID, lower-case hex), so it can be shown as it is.
            guard item.utf8.count == 36,
                item.utf8.enumerated().allSatisfy({ index, byte in
                    [8, 13, 18, 23].contains(index)
                        ? byte == UInt8(ascii: "-") : (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte)
                })
            else {
                throw FormatError(.malformed, "an item's id is not a lower-case UUID")
            }
            guard case .array(let stampValues)? = itemValue["timestamps"] else {
                throw FormatError(.malformed, "item \(item) lists no timestamps")
            }
            return Item(
                item: item, sealed: try proven(itemValue, "item \(item)"),
                archive: try hex(itemValue["archive"], "item \(item)'s archive"),
                manifest: try hex(itemValue["manifest"], "item \(item)'s manifest"),
                stamps: try stampValues.map { stamp in
                    Stamp(
                        proven: try proven(stamp, "a time stamp of item \(item)"),
                        token: try base64(stamp["token"], "a token of item \(item)"))
                })
        }
        guard let rootText = value["checkpoint"]?["root"]?.stringValue, let root = Hash(base64: rootText),
            Base64.decode(rootText) != nil
        else {
            throw FormatError(.malformed, "the checkpoint's root is missing or malformed")
        }
        let origin = try string(value["origin"], "the origin")
        guard isValidNoteKeyName(origin) else { throw FormatError(.malformed, "the origin is not a valid log origin") }
        self.init(
            origin: origin, key: try string(value["key"], "the key"),
            recipient: try string(value["to"], "the recipient"), time: try string(value["time"], "the time"),
            nonce: try string(value["nonce"], "the nonce"), checkpointSize: try index(value["checkpoint"]?["size"], "the checkpoint's size"), checkpointRoot: root,
            items: items)
    }
}

/// The text that `handover.sig` signs (a C2SP signed note by the sender's node key): three lines
/// naming the format, the sender's origin and the SHA-256 of `handover.json`. It cannot be
/// mistaken for a checkpoint (its second line is not a tree size).
public enum HandoverSignature {
    public static let header = "custos.handover/v1"

    public static func text(origin: String, document: Hash) -> String {
        "\(header)\n\(origin)\n\(document.hex)\n"
    }

    /// The origin and digest a signed text names; nil when it is not one.
    public static func parse(_ text: String) -> (origin: String, document: Hash)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 4, lines[0] == Substring(header), lines[3].isEmpty, !lines[1].isEmpty,
            let hash = Hash(hex: lines[2]), hash.hex == lines[2]
        else { return nil }
        return (String(lines[1]), hash)
    }
}

/// The names of the members of a handover file (a pax tar): the three documents, and the carried
/// archives and manifests under `objects/` and `manifests/`, by SHA-256.
public enum HandoverMember: Hashable, Sendable {
    case document, checkpoint, signature
    /// `objects/<sha256 of the evidence><suffix of its compression>`: an archive as the sender
    /// stores it.
    case archive(content: Hash, compression: Compression)
    /// `manifests/<sha256>.json`.
    case manifest(Hash)

    public static let documentName = "handover.json"
    public static let checkpointName = "checkpoint.txt"
    public static let signatureName = "handover.sig"

    public var name: String {
        switch self {
        case .document: Self.documentName
        case .checkpoint: Self.checkpointName
        case .signature: Self.signatureName
        case .archive(let content, let compression): "objects/\(content.hex)\(compression.suffix)"
        case .manifest(let hash): "manifests/\(hash.hex).json"
        }
    }

    /// The member a name stands for; nil for any other name (a path with other folders, `..`,
    /// upper-case hex, an unknown suffix).
    public init?(name: [UInt8]) {
        guard let text = String(validating: name, as: UTF8.self) else { return nil }
        switch text {
        case Self.documentName: self = .document
        case Self.checkpointName: self = .checkpoint
        case Self.signatureName: self = .signature
        default:
            func hash(_ hex: Substring) -> Hash? {
                guard hex.count == 64, let hash = Hash(hex: hex), hash.hex == hex else { return nil }
                return hash
            }
            if text.hasPrefix("manifests/"), text.hasSuffix(".json"),
                let hash = hash(text.dropFirst(10).dropLast(5))
            {
                self = .manifest(hash)
            } else if text.hasPrefix("objects/"), text.utf8.count > 8 + 64,
                let content = hash(text.dropFirst(8).prefix(64)),
                let compression = Compression.allCases.first(where: { String(text.dropFirst(8 + 64)) == $0.suffix })
            {
                self = .archive(content: content, compression: compression)
            } else {
                return nil
            }
        }
    }
}
