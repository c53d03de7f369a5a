/// RFC 6962 / RFC 9162 hashing: a leaf is SHA-256(0x00 || data), an interior node
/// SHA-256(0x01 || left || right), the empty tree SHA-256 of nothing.
public struct MerkleHasher: Sendable {
    public let digester: any SHA256Digesting

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
        buffer.append(0x00)
        buffer.append(contentsOf: data)
        return buffer.withUnsafeBytes { digester.sha256($0) }
    }

    /// The hash of an interior node.
    public func hashChildren(_ left: Hash, _ right: Hash) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: 65, alignment: 1) { buffer in
            buffer[0] = 0x01
            left.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[1..<33]).copyMemory(from: $0) }
            right.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[33..<65]).copyMemory(from: $0) }
            return digester.sha256(UnsafeRawBufferPointer(buffer))
        }
    }
}
