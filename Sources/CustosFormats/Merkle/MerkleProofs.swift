/// Verification of RFC 9162 inclusion and consistency proofs (section 2.1.3 and 2.1.4), as
/// transparency-dev/merkle does it. Each check says why it failed.
public enum MerkleProofs {
    /// The root that an inclusion proof of `leafHash` at `index` in a tree of `size` implies.
    public static func rootFromInclusionProof(
        index: UInt64, size: UInt64, leafHash: Hash, proof: [Hash], hasher: MerkleHasher
    ) throws -> Hash {
        guard index < size else {
            throw FormatError(.badSize, "index \(index) is beyond the tree size \(size)")
        }
        let (inner, border) = decomposeInclusionProof(index: index, size: size)
        guard proof.count == inner + border else {
            throw FormatError(.badProof, "wrong proof size \(proof.count), want \(inner + border)")
        }
        let result = chainInner(seed: leafHash, proof: proof[..<inner], index: index, hasher: hasher)
        return chainBorderRight(seed: result, proof: proof[inner...], hasher: hasher)
    }

    /// Checks that `leafHash` is at `index` in the tree of `size` with `root`.
    public static func verifyInclusion(
        index: UInt64, size: UInt64, leafHash: Hash, proof: [Hash], root: Hash, hasher: MerkleHasher
    ) throws {
        let computed = try rootFromInclusionProof(
            index: index, size: size, leafHash: leafHash, proof: proof, hasher: hasher)
        guard computed == root else {
            throw FormatError(.rootMismatch, "the proof gives root \(computed.base64), want \(root.base64)")
        }
    }

    /// Checks that the tree of `size2` with `root2` extends the tree of `size1` with `root1`.
    public static func verifyConsistency(
        size1: UInt64, size2: UInt64, proof: [Hash], root1: Hash, root2: Hash, hasher: MerkleHasher
    ) throws {
        if size2 < size1 {
            throw FormatError(.badSize, "size2 (\(size2)) is smaller than size1 (\(size1))")
        }
        if size1 == 0 {
            throw FormatError(.badSize, "a consistency proof from the empty tree proves nothing")
        }
        if size1 == size2 {
            guard proof.isEmpty else {
                throw FormatError(.badProof, "the sizes are equal but the proof is not empty")
            }
            guard root1 == root2 else {
                throw FormatError(.rootMismatch, "the sizes are equal but the roots differ")
            }
            return
        }
        guard !proof.isEmpty else { throw FormatError(.badProof, "empty consistency proof") }

        var (inner, border) = decomposeInclusionProof(index: size1 - 1, size: size2)
        let shift = size1.trailingZeroBitCount
        inner -= shift
        var seed = proof[0]
        var start = 1
        if size1 == UInt64(1) << UInt64(shift) {
            seed = root1
            start = 0
        }
        guard proof.count == start + inner + border else {
            throw FormatError(.badProof, "wrong proof size \(proof.count), want \(start + inner + border)")
        }
        let path = proof[start...]
        let innerPath = path.prefix(inner)
        let borderPath = path.dropFirst(inner)
        let mask = (size1 - 1) >> UInt64(shift)

        var hash1 = chainInnerRight(seed: seed, proof: innerPath, index: mask, hasher: hasher)
        hash1 = chainBorderRight(seed: hash1, proof: borderPath, hasher: hasher)
        guard hash1 == root1 else {
            throw FormatError(.rootMismatch, "the proof gives old root \(hash1.base64), want \(root1.base64)")
        }
        var hash2 = chainInner(seed: seed, proof: innerPath, index: mask, hasher: hasher)
        hash2 = chainBorderRight(seed: hash2, proof: borderPath, hasher: hasher)
        guard hash2 == root2 else {
            throw FormatError(.rootMismatch, "the proof gives new root \(hash2.base64), want \(root2.base64)")
        }
    }

    private static func decomposeInclusionProof(index: UInt64, size: UInt64) -> (inner: Int, border: Int) {
        let inner = 64 - (index ^ (size - 1)).leadingZeroBitCount
        let border = (index >> UInt64(inner)).nonzeroBitCount
        return (inner, border)
    }

    private static func chainInner(
        seed: Hash, proof: ArraySlice<Hash>, index: UInt64, hasher: MerkleHasher
    ) -> Hash {
        var seed = seed
        for (i, hash) in proof.enumerated() {
            if (index >> UInt64(i)) & 1 == 0 {
                seed = hasher.hashChildren(seed, hash)
            } else {
                seed = hasher.hashChildren(hash, seed)
            }
        }
        return seed
    }

    private static func chainInnerRight(
        seed: Hash, proof: ArraySlice<Hash>, index: UInt64, hasher: MerkleHasher
    ) -> Hash {
        var seed = seed
        for (i, hash) in proof.enumerated() where (index >> UInt64(i)) & 1 == 1 {
            seed = hasher.hashChildren(hash, seed)
        }
        return seed
    }

    private static func chainBorderRight(seed: Hash, proof: ArraySlice<Hash>, hasher: MerkleHasher) -> Hash {
        var seed = seed
        for hash in proof { seed = hasher.hashChildren(hash, seed) }
        return seed
    }
}
