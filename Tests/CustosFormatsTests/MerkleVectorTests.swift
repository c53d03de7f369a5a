import CustosFormats
import CustosOpenSSL
import Foundation
import Testing

/// transparency-dev/merkle's RFC 6962 cases: a correct verifier accepts exactly the happy paths.
@Suite("RFC 6962 proof verification against transparency-dev vectors", .timeLimit(.minutes(2)))
struct MerkleVectorTests {
    static let inclusionFolder = "transparency-dev-merkle/inclusion"
    static let consistencyFolder = "transparency-dev-merkle/consistency"

    /// Decodes a base64 proof element or root. The typed API cannot hold a value that is not
    /// 32 bytes; such a value becomes the SHA-256 of its bytes, which keeps equal values equal and
    /// never matches a real hash, so the verifier still sees exactly what the vector means.
    static func hash(_ value: Any?) -> Hash? {
        guard let text = value as? String, let bytes = Data(base64Encoded: text) else { return nil }
        return Hash(bytes: bytes) ?? OpenSSLSHA256().sha256([UInt8](bytes) + [0xff])
    }

    static func hashes(_ value: Any?) -> [Hash]? {
        guard let list = value as? [String] else { return value is NSNull || value == nil ? [] : nil }
        let decoded = list.map { hash($0) }
        return decoded.contains(where: { $0 == nil }) ? nil : decoded.map { $0! }
    }

    @Test("inclusion", arguments: Vectors.files(under: inclusionFolder))
    func inclusion(file: String) throws {
        let vector = try Vectors.load(Self.inclusionFolder, file)
        let wantError = vector["wantErr"] as! Bool
        let index = (vector["leafIdx"] as! NSNumber).uint64Value
        let size = (vector["treeSize"] as! NSNumber).uint64Value
        var rejected = false
        // A leaf hash must be a hash: transparency-dev refuses one of another length outright.
        let leaf = (vector["leafHash"] as? String).flatMap { Data(base64Encoded: $0) }.flatMap { Hash(bytes: $0) }
        if let leaf, let root = Self.hash(vector["root"]),
            let proof = Self.hashes(vector["proof"])
        {
            do {
                try MerkleProofs.verifyInclusion(
                    index: index, size: size, leafHash: leaf, proof: proof, root: root, hasher: .openSSL)
            } catch is FormatError {
                rejected = true
            }
        } else {
            rejected = true
        }
        #expect(rejected == wantError, "\(file): \(vector["desc"] ?? "")")
    }

    @Test("consistency", arguments: Vectors.files(under: consistencyFolder))
    func consistency(file: String) throws {
        let vector = try Vectors.load(Self.consistencyFolder, file)
        let wantError = vector["wantErr"] as! Bool
        let size1 = (vector["size1"] as! NSNumber).uint64Value
        let size2 = (vector["size2"] as! NSNumber).uint64Value
        var rejected = false
        if let root1 = Self.hash(vector["root1"]), let root2 = Self.hash(vector["root2"]),
            let proof = Self.hashes(vector["proof"])
        {
            do {
                try MerkleProofs.verifyConsistency(
                    size1: size1, size2: size2, proof: proof, root1: root1, root2: root2, hasher: .openSSL)
            } catch is FormatError {
                rejected = true
            }
        } else {
            rejected = true
        }
        #expect(rejected == wantError, "\(file): \(vector["desc"] ?? "")")
    }

    @Test("the vector set is complete: every case was found")
    func vectorCount() {
        #expect(Vectors.files(under: Self.inclusionFolder).count > 80)
        #expect(Vectors.files(under: Self.consistencyFolder).count > 90)
    }
}
