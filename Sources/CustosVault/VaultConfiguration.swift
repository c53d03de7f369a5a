import CustosFormats
import Foundation

/// The vault's configuration, `custos.json` at its top.
public struct VaultConfiguration: Codable, Sendable, Equatable {
    public static let formatName = "custos-vault/1"

    /// Always `custos-vault/1`.
    public var format: String
    /// The log origin, e.g. `mjib.example.tw/evidence`; also the signing key's name.
    public var origin: String
    /// How archives are compressed (zstd by default).
    public var compression: Compression
    /// The compressor's level; nil for its default.
    public var compressionLevel: Int?
    /// Compute MD5 beside SHA-256 (for older tools).
    public var md5: Bool
    /// Compute SHA-1 beside SHA-256.
    public var sha1: Bool
    /// The policy OID of the node's time-stamping authority (nil in a vault without one).
    public var timeStampPolicy: String?
    /// The bureau the node belongs to, as its seals and reports name it (`法務部調查局`); nil
    /// when not configured (reports then name the node's origin alone).
    public var bureau: String?

    public init(
        origin: String, compression: Compression = .zstd, compressionLevel: Int? = nil, md5: Bool = true,
        sha1: Bool = true
    ) {
        self.format = Self.formatName
        self.origin = origin
        self.compression = compression
        self.compressionLevel = compressionLevel
        self.md5 = md5
        self.sha1 = sha1
    }

    /// Checks the values; the message names the file and the field.
    public func validate(file: String) throws {
        guard format == Self.formatName else {
            throw VaultError(.badConfiguration, "\(file): format is \"\(format)\", expected \"\(Self.formatName)\"")
        }
        guard isValidNoteKeyName(origin), origin.count <= 200 else {
            throw VaultError(
                .badConfiguration, "\(file): origin \"\(origin)\" must be non-empty, without spaces or '+'")
        }
        if let bureau {
            guard !bureau.isEmpty, bureau.count <= 200,
                !bureau.unicodeScalars.contains(where: DisplayName.isInvisibleOrControl)
            else {
                throw VaultError(
                    .badConfiguration,
                    "\(file): bureau must be 1 to 200 characters, without control or invisible characters")
            }
        }
        if let level = compressionLevel, !(1...19).contains(level) {
            throw VaultError(.badConfiguration, "\(file): compressionLevel \(level) is outside 1 to 19")
        }
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0a]
    }
}
