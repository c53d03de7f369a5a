extension CustodyEventType {
    /// An RFC 3161 time-stamp token was obtained for an item's SHA-256 or a checkpoint.
    public static let timestamped = CustodyEventType(rawValue: "timestamped")
}

/// What a `timestamped` entry records: which token, over what, from whom, saying when.
///
/// Members (beside the fixed ones): `subject` (`item` or `checkpoint`), `checkpoint` (its tree
/// size, for a checkpoint), `imprint` (the SHA-256 stamped: the item's content, or the
/// checkpoint's signed note body), `token` (the SHA-256 of the DER `TimeStampResp` kept in the
/// vault), `authority` (the TSA certificate's subject), `policy`, `serial`, `genTime`, and
/// `skew` (genTime minus the node's clock, seconds, for an external authority), `source` (`node`
/// for the node's own TSA, or the name an external authority is configured under), `anchors`
/// (for an external authority: the SHA-256 of the trust-anchor file kept in the vault that the
/// token was checked against) and `skewExceeded` (true when the skew was above the configured
/// bound: the node's clock was off).
public struct TimeStampRecord: Hashable, Sendable {
    public enum Subject: Hashable, Sendable {
        case item
        case checkpoint(size: UInt64)
    }

    public var subject: Subject
    public var imprint: Hash
    public var token: Hash
    public var authority: String
    public var policy: String
    public var serial: String
    public var genTime: String
    public var skewSeconds: Int64?
    /// `node`, or the configured name of an external authority.
    public var source: String
    /// The trust anchors (a PEM file kept by its SHA-256) an external token was checked against.
    public var anchors: Hash?
    public var skewExceeded: Bool

    /// The source of the node's own TSA's tokens.
    public static let nodeSource = "node"

    public init(
        subject: Subject, imprint: Hash, token: Hash, authority: String, policy: String, serial: String,
        genTime: String, skewSeconds: Int64? = nil, source: String = TimeStampRecord.nodeSource,
        anchors: Hash? = nil, skewExceeded: Bool = false
    ) {
        self.source = source
        self.anchors = anchors
        self.skewExceeded = skewExceeded
        self.subject = subject
        self.imprint = imprint
        self.token = token
        self.authority = authority
        self.policy = policy
        self.serial = serial
        self.genTime = genTime
        self.skewSeconds = skewSeconds
    }

    /// The entry's details.
    public var details: JSONObject {
        var object: JSONObject = [
            "imprint": .string(imprint.hex), "token": .string(token.hex), "authority": .string(authority),
            "policy": .string(policy), "serial": .string(serial), "genTime": .string(genTime),
        ]
        switch subject {
        case .item: object["subject"] = .string("item")
        case .checkpoint(let size):
            object["subject"] = .string("checkpoint")
            object["checkpoint"] = .integer(Int64(size))
        }
        if let skewSeconds { object["skew"] = .integer(skewSeconds) }
        if source != Self.nodeSource { object["source"] = .string(source) }
        if let anchors { object["anchors"] = .string(anchors.hex) }
        if skewExceeded { object["skewExceeded"] = .bool(true) }
        return object
    }

    /// Reads a `timestamped` entry; nil for any other entry or a malformed one.
    public init?(entry: CustodyEntry) {
        let details = entry.details
        guard entry.type == .timestamped, let subjectText = details["subject"]?.stringValue,
            let imprint = details["imprint"]?.stringValue.flatMap({ Hash(hex: $0) }),
            let token = details["token"]?.stringValue.flatMap({ Hash(hex: $0) }),
            let authority = details["authority"]?.stringValue, let policy = details["policy"]?.stringValue,
            let serial = details["serial"]?.stringValue, let genTime = details["genTime"]?.stringValue
        else { return nil }
        let subject: Subject
        switch subjectText {
        case "item": subject = .item
        case "checkpoint":
            guard let size = details["checkpoint"]?.integerValue, size >= 0 else { return nil }
            subject = .checkpoint(size: UInt64(size))
        default: return nil
        }
        self.init(
            subject: subject, imprint: imprint, token: token, authority: authority, policy: policy, serial: serial,
            genTime: genTime, skewSeconds: details["skew"]?.integerValue,
            source: details["source"]?.stringValue ?? Self.nodeSource,
            anchors: details["anchors"]?.stringValue.flatMap { Hash(hex: $0) },
            skewExceeded: details["skewExceeded"]?.boolValue ?? false)
    }

    /// The key of the ledger's index of stamps: the item id, or `checkpoint:<size>`.
    public func indexKey(item: String) -> String {
        switch subject {
        case .item: item
        case .checkpoint(let size): "checkpoint:\(size)"
        }
    }
}
