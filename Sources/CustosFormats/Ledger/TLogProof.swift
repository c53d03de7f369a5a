import Foundation

/// A C2SP tlog-proof (`c2sp.org/tlog-proof@v1`): an entry's index, its inclusion proof and the
/// checkpoint it is proven against, with the entry itself as the `extra` data, so the file alone
/// proves that the entry is in the log.
public struct TLogProof: Hashable, Sendable {
    public static let header = "c2sp.org/tlog-proof@v1"

    public var extra: [UInt8]?
    public var index: UInt64
    public var proof: [Hash]
    public var checkpoint: SignedNote

    public init(extra: [UInt8]?, index: UInt64, proof: [Hash], checkpoint: SignedNote) {
        self.extra = extra
        self.index = index
        self.proof = proof
        self.checkpoint = checkpoint
    }

    public var serialized: String {
        var text = Self.header + "\n"
        if let extra { text += "extra \(Base64.encode(extra))\n" }
        text += "index \(index)\n"
        for hash in proof { text += hash.base64 + "\n" }
        return text + "\n" + checkpoint.serialized
    }

    public init(parsing text: String) throws {
        guard let split = text.range(of: "\n\n") else {
            throw FormatError(.malformed, "a tlog-proof has an empty line")
        }
        var lines = text[..<split.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard lines.first == Substring(Self.header) else { throw FormatError(.malformed, "not a tlog-proof v1") }
        lines = lines.dropFirst()
        var extra: [UInt8]?
        if let line = lines.first, line.hasPrefix("extra ") {
            guard let bytes = Base64.decode(line.dropFirst(6)) else { throw FormatError(.malformed, "bad extra line") }
            extra = bytes
            lines = lines.dropFirst()
        }
        guard let line = lines.first, line.hasPrefix("index "),
            line.dropFirst(6).allSatisfy({ $0.isASCII && $0.isNumber }), let index = UInt64(line.dropFirst(6)),
            String(index) == line.dropFirst(6)
        else {
            throw FormatError(.malformed, "a tlog-proof names its index")
        }
        let proof = try lines.dropFirst().map { line in
            guard let hash = Hash(base64: line), Base64.decode(line) != nil else {
                throw FormatError(.malformed, "bad proof hash line \(line)")
            }
            return hash
        }
        let checkpoint = try SignedNote(parsing: String(text[split.upperBound...]))
        self.init(extra: extra, index: index, proof: proof, checkpoint: checkpoint)
    }
}
