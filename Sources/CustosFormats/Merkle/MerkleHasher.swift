/// RFC 6962 / RFC 9162 hashing: a leaf is SHA-256(0x00 || data), an interior node
/// SHA-256(0x01 || left || right), the empty tree SHA-256 of nothing.
public struct MerkleHasher: Sendable {
    public let digester: any SHA256Digesting

    /// The byte a leaf's data is prefixed with (RFC 6962 section 2.1).
    public static let leafPrefix: UInt8 = 0x00
    /// The byte two children's hashes are prefixed with.
    public static let nodePrefix: UInt8 = 0x01

    public init(_ digester: any SHA256Digesting) {
        self.digester = digester
    }

    /// The root of the tree with no leaves.
    public var emptyRoot: Hash {
        [UInt8]().withUnsafeBytes { digester.sha256($0) }
    }

    /// The leaf hash of one entry's bytes.
    public func hashLeaf(_ data: some Collection<UInt8>) -> Hash {
        var buffer = [UInt8]()
        buffer.reserveCapacity(data.count + 1)
        buffer.append(Self.leafPrefix)
        buffer.append(contentsOf: data)
        return buffer.withUnsafeBytes { digester.sha256($0) }
    }

    /// The hash of an interior node.
    public func hashChildren(_ left: Hash, _ right: Hash) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 1) { buffer in
            buffer[0] = Self.nodePrefix
            left.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0) }
            right.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[33..<65]).copyMemory(from: $0) }
            return digester.sha256(UnsafeRawBufferPointer(buffer))
        }
    }
}
