/// A whole tree's stored hashes in memory: what `verify` rebuilds from the entries alone, to
/// compare with what the ledger stored and the checkpoints signed.
public struct MemoryHashStore: StoredHashReader, Sendable {
    public private(set) var hashes: [Hash] = []
    public private(set) var size: Int64 = 0
    public let hasher: MerkleHasher

    public init(hasher: MerkleHasher) {
        self.hasher = hasher
    }

    /// Appends one leaf by its leaf hash; returns the stored hashes it added.
    @discardableResult
    public mutating func append(leafHash: Hash) -> [Hash] {
        let needed = StoredHashes.indexesNeededToAppend(leaf: size)
        let neighbours = needed.map { hashes[Int($0)] }
        let added = StoredHashes.hashesToAppend(leaf: size, leafHash: leafHash, neighbours: neighbours, hasher: hasher)
        hashes.append(contentsOf: added)
        size += 1
        return added
    }

    public func readHashes(at indexes: [Int64]) throws -> [Hash] {
        try indexes.map { index in
            guard index >= 0, index < hashes.count else {
                throw FormatError(.badSize, "no stored hash at index \(index)")
            }
            return hashes[Int(index)]
        }
    }

    /// The root of the first `size` leaves.
    public func root(size: Int64) throws -> Hash {
        try StoredHashes.treeHash(size: size, reader: self, hasher: hasher)
    }
}
