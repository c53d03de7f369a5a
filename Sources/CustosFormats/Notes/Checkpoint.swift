/// A C2SP tlog-checkpoint: the origin, the tree size and the root hash, and optional extension lines.
public struct Checkpoint: Hashable, Sendable {
    public let origin: String
    public let size: UInt64
    public let root: Hash
    public let extensions: [String]

    public init(origin: String, size: UInt64, root: Hash, extensions: [String] = []) {
        self.origin = origin
        self.size = size
        self.root = root
        self.extensions = extensions
    }

    /// The checkpoint body, the text that is signed.
    public var text: String {
        ([origin, String(size), root.base64] + extensions).map { $0 + "\n" }.joined()
    }

    /// Parses a checkpoint body (the text of a signed note).
    public init(parsing text: String) throws {
        guard text.hasSuffix("\n") else { throw FormatError(.malformed, "a checkpoint ends in a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3 else { throw FormatError(.malformed, "a checkpoint has at least three lines") }
        let sizeText = lines[1]
        guard !lines[0].isEmpty,
            !sizeText.isEmpty, sizeText.allSatisfy({ $0.isASCII && $0.isNumber }),
            sizeText == "0" || !sizeText.hasPrefix("0"),
            let size = UInt64(sizeText)
        else {
            throw FormatError(.malformed, "malformed checkpoint origin or size")
        }
        guard let root = Hash(base64: lines[2]), Base64.decode(lines[2]) != nil else {
            throw FormatError(.malformed, "malformed checkpoint root hash")
        }
        let extensions = lines.dropFirst(3).map(String.init)
        guard !extensions.contains(where: \.isEmpty) else {
            throw FormatError(.malformed, "a checkpoint has no empty line")
        }
        self.init(origin: String(lines[0]), size: size, root: root, extensions: extensions)
    }
}
