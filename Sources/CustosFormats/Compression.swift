/// How a sealed archive is compressed: the one representation, parsed once where a setting is
/// read (`custos.json`, the daemon's settings, `init --compression`); a name that is not one is
/// an error naming that setting, never a default. zstd is the default for a new vault: it is the
/// only one that keeps up with hashing (gzip and xz are 20 to 200 times slower on this hardware).
public enum Compression: String, Sendable, CaseIterable, Codable {
    case zstd, none, gzip, xz

    /// The file-name suffix of an archive with this compression.
    public var suffix: String {
        switch self {
        case .zstd: ".tar.zst"
        case .none: ".tar"
        case .gzip: ".tar.gz"
        case .xz: ".tar.xz"
        }
    }

    /// The names, for messages: `zstd, none, gzip, xz`.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// The names as a choice, for messages: `zstd, none, gzip or xz`.
    public static var choice: String {
        allCases.dropLast().map(\.rawValue).joined(separator: ", ") + " or " + allCases.last!.rawValue
    }

    /// A name met where a compression was expected.
    public struct UnknownName: Error, CustomStringConvertible {
        public let name: String
        public init(name: String) { self.name = name }
        public var description: String { "compression \"\(name)\" is not one of \(Compression.names)" }
    }

    /// Reads the name; one that is not a compression throws `UnknownName`, so that the reader of
    /// the file can say which file and setting it was.
    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let compression = Compression(rawValue: name) else { throw UnknownName(name: name) }
        self = compression
    }
}
