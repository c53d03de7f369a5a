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
    /// The time zone the node's reports give times in (an IANA name, `custos init --time-zone`);
    /// nil when not configured: `Asia/Taipei`, Taiwan time (`defaultTimeZone`).
    public var timeZone: String?

    /// The zone of a vault whose configuration names none.
    public static let defaultTimeZone = "Asia/Taipei"

    /// The zone the node's reports give times in: the configured one, or Taiwan time.
    public var reportTimeZone: String { timeZone ?? Self.defaultTimeZone }

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
        // Only the form: a zone this system no longer knows (after an upgrade of its time zone
        // data) refuses the reports, which give times in it, not the whole vault.
        if let timeZone, !Self.isTimeZoneNameForm(timeZone) {
            throw VaultError(
                .badConfiguration,
                "\(file): timeZone \"\(timeZone)\" is not the name of a time zone (an IANA name such as Asia/Taipei)"
            )
        }
        if let level = compressionLevel, !(1...19).contains(level) {
            throw VaultError(.badConfiguration, "\(file): compressionLevel \(level) is outside 1 to 19")
        }
    }

    /// True for the name of a time zone of the tz database that Foundation knows here
    /// (`Asia/Taipei`, `Europe/Berlin`, `UTC`). Foundation's own offset forms (`GMT+8`, which the
    /// tz database would read as UTC−08:00 in `Etc/GMT+8`) are refused: a name means one thing.
    /// Foundation reads the zones from the ICU data of the Swift runtime, not /usr/share/zoneinfo.
    public static func isTimeZoneName(_ name: String) -> Bool {
        guard isTimeZoneNameForm(name), let zone = TimeZone(identifier: name) else { return false }
        return zone.identifier == name || !(zone.identifier.hasPrefix("GMT+") || zone.identifier.hasPrefix("GMT-"))
    }

    /// The form of a tz database zone name: `UTC`, or `Area/Location` of a continent or ocean
    /// (`Asia/Taipei`, `America/Argentina/Buenos_Aires`). Abbreviations and legacy aliases are
    /// refused: `CST` is America/Chicago to the tz database and UTC+08:00 to a reader in Taiwan,
    /// `ROC`, `PRC` and `SystemV/…` are not zones of current tz data, and `Etc/GMT+8` is UTC−08:00.
    public static func isTimeZoneNameForm(_ name: String) -> Bool {
        if name == "UTC" { return true }
        let areas: Set<Substring> = [
            "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific",
        ]
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return (1...64).contains(name.utf8.count) && parts.count >= 2 && areas.contains(parts[0])
            && parts.dropFirst().allSatisfy { part in
                !part.isEmpty
                    && part.utf8.allSatisfy { byte in
                        (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                            || "_+-".utf8.contains(byte)
                    }
            }
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [0x0a]
    }
}
