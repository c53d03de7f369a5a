/// Reads stored tree hashes by their index in the stored-hash sequence.
///
/// A ledger stores, for every leaf, the leaf hash and the hashes of the complete subtrees that
/// the leaf closes, in the order of Go's `sumdb/tlog` (`StoredHashIndex`). Every proof then needs
/// O(log n) of them, read in one call.
public protocol StoredHashReader {
    /// The hashes at `indexes`, in the same order. Throws if any is missing.
    func readHashes(at indexes: [Int64]) throws -> [Hash]
}

/// The RFC 6962 tree over stored hashes: positions, roots and proofs, as Go's `sumdb/tlog`
/// computes them, so that its proofs match Go's byte for byte.
public enum StoredHashes {
    /// The index in the stored-hash sequence of the hash of the subtree at `level` and position
    /// `n` (the subtree over leaves `n << level ..< (n + 1) << level`).
    public static func index(level: Int, n: Int64) -> Int64 {
        var n = n
        for _ in 0..<level { n = 2 * n + 1 }
        var index: Int64 = 0
        while n > 0 {
            index += n
            n >>= 1
        }
        return index + Int64(level)
    }

    /// The leaf whose appending stored the hash at `index`, and the hash's place among the hashes
    /// stored with that leaf (0 for the leaf hash, then one per subtree it completed). Go's
    /// `SplitStoredHashIndex`, expressed by record.
    public static func storingLeaf(ofIndex index: Int64) -> (leaf: Int64, offset: Int) {
        var n = index / 2
        var indexN = self.index(level: 0, n: n)
        precondition(indexN <= index, "bad math in storingLeaf")
        while true {
            let next = indexN + 1 + Int64((UInt64(n) + 1).trailingZeroBitCount)
            if next > index { break }
            n += 1
            indexN = next
        }
        return (n, Int(index - indexN))
    }

    /// How many hashes a tree of `size` leaves stores.
    public static func count(treeSize size: Int64) -> Int64 {
        guard size > 0 else { return 0 }
        var count = index(level: 0, n: size - 1) + 1
        var i = UInt64(size - 1)
        while i & 1 != 0 {
            count += 1
            i >>= 1
        }
        return count
    }

    /// The indexes of the stored hashes that appending leaf `n` combines with.
    public static func indexesNeededToAppend(leaf n: Int64) -> [Int64] {
        let m = (UInt64(n) + 1).trailingZeroBitCount
        var indexes = [Int64](repeating: 0, count: m)
        for i in 0..<m {
            indexes[m - 1 - i] = index(level: i, n: (n >> Int64(i)) - 1)
        }
        return indexes
    }

    /// The hashes to store when appending leaf `n` with `leafHash`, given the hashes at
    /// `indexesNeededToAppend(leaf: n)`: the leaf hash first, then each subtree it completes.
    public static func hashesToAppend(
        leaf n: Int64, leafHash: Hash, neighbours: [Hash], hasher: MerkleHasher
    ) -> [Hash] {
        var hashes = [leafHash]
        var hash = leafHash
        let m = neighbours.count
        for i in 0..<m {
            hash = hasher.hashChildren(neighbours[m - 1 - i], hash)
            hashes.append(hash)
        }
        return hashes
    }

    /// The root of the tree of the first `size` leaves.
    public static func treeHash(size: Int64, reader: some StoredHashReader, hasher: MerkleHasher) throws -> Hash {
        guard size > 0 else { return hasher.emptyRoot }
        let indexes = subtreeIndexes(lo: 0, hi: size, into: [])
        let hashes = try reader.readHashes(at: indexes)
        var cursor = hashes[...]
        return subtreeHash(lo: 0, hi: size, hashes: &cursor, hasher: hasher)
    }

    /// The RFC 6962 inclusion proof (audit path, leaf sibling first) of leaf `index` in the tree
    /// of `size` leaves.
    public static func inclusionProof(
        index: Int64, size: Int64, reader: some StoredHashReader, hasher: MerkleHasher
    ) throws -> [Hash] {
        guard index >= 0, index < size else {
            throw FormatError(.badSize, "leaf \(index) is not in a tree of size \(size)")
        }
        let indexes = leafProofIndexes(lo: 0, hi: size, n: index, into: [])
        let hashes = try reader.readHashes(at: indexes)
        var cursor = hashes[...]
        return leafProof(lo: 0, hi: size, n: index, hashes: &cursor, hasher: hasher)
    }

    /// The RFC 6962 consistency proof from the tree of `oldSize` leaves to that of `newSize`.
    public static func consistencyProof(
        from oldSize: Int64, to newSize: Int64, reader: some StoredHashReader, hasher: MerkleHasher
    ) throws -> [Hash] {
        guard oldSize >= 1, oldSize <= newSize else {
            throw FormatError(.badSize, "no consistency proof from size \(oldSize) to size \(newSize)")
        }
        let indexes = treeProofIndexes(lo: 0, hi: newSize, n: oldSize, into: [])
        guard !indexes.isEmpty else { return [] }
        let hashes = try reader.readHashes(at: indexes)
        var cursor = hashes[...]
        return treeProof(lo: 0, hi: newSize, n: oldSize, hashes: &cursor, hasher: hasher)
    }

    // MARK: - The recursion of Go's tlog, kept close to it so the two can be read side by side.

    /// The largest power of two strictly below `n` (for n ≥ 2), and its log.
    private static func maxPow2(_ n: Int64) -> (k: Int64, level: Int) {
        var level = 0
        while (Int64(1) << (level + 1)) < n { level += 1 }
        return (Int64(1) << level, level)
    }

    private static func subtreeIndexes(lo: Int64, hi: Int64, into need: [Int64]) -> [Int64] {
        var need = need
        var lo = lo
        while lo < hi {
            let (k, level) = maxPow2(hi - lo + 1)
            precondition(lo & (k - 1) == 0, "bad math in subtreeIndexes")
            need.append(index(level: level, n: lo >> Int64(level)))
            lo += k
        }
        return need
    }

    private static func subtreeHash(
        lo: Int64, hi: Int64, hashes: inout ArraySlice<Hash>, hasher: MerkleHasher
    ) -> Hash {
        var count = 0
        var lo = lo
        while lo < hi {
            let (k, _) = maxPow2(hi - lo + 1)
            count += 1
            lo += k
        }
        let parts = hashes.prefix(count)
        hashes = hashes.dropFirst(count)
        var hash = parts[parts.endIndex - 1]
        var i = parts.endIndex - 2
        while i >= parts.startIndex {
            hash = hasher.hashChildren(parts[i], hash)
            i -= 1
        }
        return hash
    }

    private static func leafProofIndexes(lo: Int64, hi: Int64, n: Int64, into need: [Int64]) -> [Int64] {
        guard lo + 1 != hi else { return need }
        let (k, _) = maxPow2(hi - lo)
        if n < lo + k {
            return subtreeIndexes(lo: lo + k, hi: hi, into: leafProofIndexes(lo: lo, hi: lo + k, n: n, into: need))
        } else {
            return leafProofIndexes(lo: lo + k, hi: hi, n: n, into: subtreeIndexes(lo: lo, hi: lo + k, into: need))
        }
    }

    private static func leafProof(
        lo: Int64, hi: Int64, n: Int64, hashes: inout ArraySlice<Hash>, hasher: MerkleHasher
    ) -> [Hash] {
        guard lo + 1 != hi else { return [] }
        let (k, _) = maxPow2(hi - lo)
        var proof: [Hash]
        let sibling: Hash
        if n < lo + k {
            proof = leafProof(lo: lo, hi: lo + k, n: n, hashes: &hashes, hasher: hasher)
            sibling = subtreeHash(lo: lo + k, hi: hi, hashes: &hashes, hasher: hasher)
        } else {
            sibling = subtreeHash(lo: lo, hi: lo + k, hashes: &hashes, hasher: hasher)
            proof = leafProof(lo: lo + k, hi: hi, n: n, hashes: &hashes, hasher: hasher)
        }
        proof.append(sibling)
        return proof
    }

    private static func treeProofIndexes(lo: Int64, hi: Int64, n: Int64, into need: [Int64]) -> [Int64] {
        if n == hi {
            return lo == 0 ? need : subtreeIndexes(lo: lo, hi: hi, into: need)
        }
        let (k, _) = maxPow2(hi - lo)
        if n <= lo + k {
            return subtreeIndexes(lo: lo + k, hi: hi, into: treeProofIndexes(lo: lo, hi: lo + k, n: n, into: need))
        } else {
            return treeProofIndexes(lo: lo + k, hi: hi, n: n, into: subtreeIndexes(lo: lo, hi: lo + k, into: need))
        }
    }

    private static func treeProof(
        lo: Int64, hi: Int64, n: Int64, hashes: inout ArraySlice<Hash>, hasher: MerkleHasher
    ) -> [Hash] {
        if n == hi {
            return lo == 0 ? [] : [subtreeHash(lo: lo, hi: hi, hashes: &hashes, hasher: hasher)]
        }
        let (k, _) = maxPow2(hi - lo)
        var proof: [Hash]
        let other: Hash
        if n <= lo + k {
            proof = treeProof(lo: lo, hi: lo + k, n: n, hashes: &hashes, hasher: hasher)
            other = subtreeHash(lo: lo + k, hi: hi, hashes: &hashes, hasher: hasher)
        } else {
            other = subtreeHash(lo: lo, hi: lo + k, hashes: &hashes, hasher: hasher)
            proof = treeProof(lo: lo + k, hi: hi, n: n, hashes: &hashes, hasher: hasher)
        }
        proof.append(other)
        return proof
    }
}
