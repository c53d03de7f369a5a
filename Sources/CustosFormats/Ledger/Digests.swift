/// The digests of one evidence file: SHA-256 always, MD5 and SHA-1 where configured.
public struct EvidenceDigests: Hashable, Sendable {
    public var sha256: Hash
    /// 16 bytes, or nil when MD5 is switched off.
    public var md5: [UInt8]?
    /// 20 bytes, or nil when SHA-1 is switched off.
    public var sha1: [UInt8]?

    public init(sha256: Hash, md5: [UInt8]? = nil, sha1: [UInt8]? = nil) {
        self.sha256 = sha256
        self.md5 = md5
        self.sha1 = sha1
    }

    /// The JSON object `{"md5":…, "sha1":…, "sha256":…}` in lower-case hex.
    public var json: JSONValue {
        var members: JSONObject = ["sha256": .string(sha256.hex)]
        if let md5 { members["md5"] = .string(Hex.encode(md5)) }
        if let sha1 { members["sha1"] = .string(Hex.encode(sha1)) }
        return .object(members)
    }

    public init(json: JSONValue) throws {
        guard let sha = json["sha256"]?.stringValue, let sha256 = Hash(hex: sha), sha == sha256.hex else {
            throw FormatError(.malformed, "digests need a lower-case hex sha256")
        }
        func optional(_ key: String, count: Int) throws -> [UInt8]? {
            guard let value = json[key] else { return nil }
            guard let text = value.stringValue, let bytes = Hex.decode(text), bytes.count == count,
                Hex.encode(bytes) == text
            else {
                throw FormatError(.malformed, "digest \(key) is not \(count) bytes of lower-case hex")
            }
            return bytes
        }
        self.init(sha256: sha256, md5: try optional("md5", count: 16), sha1: try optional("sha1", count: 20))
    }
}
