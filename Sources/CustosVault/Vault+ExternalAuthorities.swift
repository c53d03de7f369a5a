import CustosFileSystem
import CustosFormats
import CustosOpenSSL

/// External time-stamping authorities, as the vault keeps them:
///
/// ```
/// tsa/anchors/<sha256>.pem   each trust-anchor file an external token was checked against,
///                            kept by its SHA-256 (the `anchors` of a `timestamped` entry)
/// tsa/external.json          the authorities the daemon was last started with: name, URL, anchors
/// ```
///
/// The anchors are kept so that `custos verify` and an exported bundle can check the tokens
/// years later; an expert can instead give anchors obtained from the authority itself
/// (`custos verify --tsa-anchor`).
extension Vault {
    /// One configured external authority, as recorded in `tsa/external.json`.
    public struct ExternalAuthorityRecord: Sendable, Equatable {
        public var name: String
        public var url: String
        public var anchors: Hash

        public init(name: String, url: String, anchors: Hash) {
            self.name = name
            self.url = url
            self.anchors = anchors
        }
    }

    public var anchorsFolder: RawPath { root.appending("tsa").appending("anchors") }
    public var externalAuthoritiesPath: RawPath { root.appending("tsa").appending("external.json") }

    public func anchorsPath(_ hash: Hash) -> RawPath {
        anchorsFolder.appending(component: Array((hash.hex + ".pem").utf8))
    }

    /// Keeps a trust-anchor file (PEM) by its SHA-256, durably; returns that SHA-256.
    @discardableResult
    public func storeAnchors(_ pem: [UInt8]) throws -> Hash {
        let hash = OpenSSLSHA256().sha256(pem)
        try storeByHash(pem, at: anchorsPath(hash), in: root.appending("tsa"), durability: .immediate)
        return hash
    }

    /// The anchors kept under `hash`, re-hashed: nil when missing or altered.
    public func keptAnchors(_ hash: Hash) -> [Certificate]? {
        guard let pem = try? FileSystem.readFile(anchorsPath(hash)), OpenSSLSHA256().sha256(pem) == hash else {
            return nil
        }
        return try? Certificate.all(pem: pem)
    }

    /// Records the external authorities the daemon runs with (for `list`, `show` and export).
    public func recordExternalAuthorities(_ authorities: [ExternalAuthorityRecord]) throws {
        let list = JSONValue.array(
            authorities.map {
                .object(["name": .string($0.name), "url": .string($0.url), "anchors": .string($0.anchors.hex)])
            })
        try FileSystem.makeDirectory(root.appending("tsa"))
        try FileSystem.writeDurably(CanonicalJSON.encode(list) + [0x0A], to: externalAuthoritiesPath)
    }

    /// Whose tokens every item should have: `node` when the vault has a TSA, then each external
    /// authority the daemon was last started with.
    public var expectedTimeStampSources: [String] {
        (configuration.timeStampPolicy != nil ? [TimeStampRecord.nodeSource] : []) + externalAuthorities().map(\.name)
    }

    /// The sources among `expected` (`expectedTimeStampSources`, read once for many items) whose
    /// token an item stamped by `stampedBy` still awaits, in their order: what `list`, `show`
    /// and the exported tokens say the item is awaiting.
    public static func awaitedTimeStampSources(expected: [String], stampedBy: Set<String>) -> [String] {
        expected.filter { !stampedBy.contains($0) }
    }

    /// The external authorities the daemon was last started with; none when never configured.
    public func externalAuthorities() -> [ExternalAuthorityRecord] {
        guard let bytes = try? FileSystem.readFile(externalAuthoritiesPath),
            case .array(let list)? = try? CanonicalJSON.parse(bytes)
        else { return [] }
        return list.compactMap { value in
            guard let name = value["name"]?.stringValue, let url = value["url"]?.stringValue,
                let anchors = value["anchors"]?.stringValue.flatMap({ Hash(hex: $0) })
            else { return nil }
            return ExternalAuthorityRecord(name: name, url: url, anchors: anchors)
        }
    }
}
