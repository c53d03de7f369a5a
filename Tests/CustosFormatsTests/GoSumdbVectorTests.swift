import CustosFormats
import CustosOpenSSL
import Foundation
import Testing

/// Vectors made by Go's golang.org/x/mod/sumdb/note and sumdb/tlog: Custos must match them byte
/// for byte so that Go's tools can check a Custos ledger.
@Suite("byte-for-byte agreement with Go's sumdb note and tlog", .timeLimit(.minutes(2)))
struct GoSumdbVectorTests {
    struct Fixture {
        let json: [String: Any]
        let entries: [String]
        let store: MemoryHashStore

        init() throws {
            json = try Vectors.load("go-sumdb", "tlog-and-notes.json")
            entries = json["entries"] as! [String]
            var store = MemoryHashStore(hasher: .openSSL)
            for entry in entries { store.append(leafHash: MerkleHasher.openSSL.hashLeaf(Array(entry.utf8))) }
            self.store = store
        }

        func hashes(_ value: Any?) -> [Hash] {
            ((value as? [String]) ?? []).map { Hash(base64: $0)! }
        }
    }

    @Test func leafHashesAndRoots() throws {
        let fixture = try Fixture()
        let leafHashes = fixture.hashes(fixture.json["leafHashes"])
        let roots = fixture.hashes(fixture.json["roots"])
        #expect(leafHashes.count == 70 && roots.count == 70)
        for (index, entry) in fixture.entries.enumerated() {
            #expect(MerkleHasher.openSSL.hashLeaf(Array(entry.utf8)) == leafHashes[index])
            #expect(try fixture.store.root(size: Int64(index + 1)) == roots[index], "root at size \(index + 1)")
        }
        #expect(StoredHashes.count(treeSize: 70) == Int64(fixture.store.hashes.count))
    }

    @Test func inclusionProofsMatchGo() throws {
        let fixture = try Fixture()
        let roots = fixture.hashes(fixture.json["roots"])
        let cases = fixture.json["inclusion"] as! [[String: Any]]
        #expect(cases.count > 10)
        for item in cases {
            let index = (item["index"] as! NSNumber).int64Value
            let size = (item["treeSize"] as! NSNumber).int64Value
            let want = fixture.hashes(item["proof"])
            let proof = try StoredHashes.inclusionProof(
                index: index, size: size, reader: fixture.store, hasher: .openSSL)
            #expect(proof == want, "inclusion of \(index) in \(size)")
            let leaf = MerkleHasher.openSSL.hashLeaf(Array(fixture.entries[Int(index)].utf8))
            try MerkleProofs.verifyInclusion(
                index: UInt64(index), size: UInt64(size), leafHash: leaf, proof: proof, root: roots[Int(size) - 1],
                hasher: .openSSL)
        }
    }

    @Test func consistencyProofsMatchGo() throws {
        let fixture = try Fixture()
        let roots = fixture.hashes(fixture.json["roots"])
        let cases = fixture.json["consistency"] as! [[String: Any]]
        for item in cases {
            let size1 = (item["size1"] as! NSNumber).int64Value
            let size2 = (item["size2"] as! NSNumber).int64Value
            let want = fixture.hashes(item["proof"])
            let proof = try StoredHashes.consistencyProof(
                from: size1, to: size2, reader: fixture.store, hasher: .openSSL)
            #expect(proof == want, "consistency \(size1) to \(size2)")
            try MerkleProofs.verifyConsistency(
                size1: UInt64(size1), size2: UInt64(size2), proof: proof, root1: roots[Int(size1) - 1],
                root2: roots[Int(size2) - 1], hasher: .openSSL)
        }
    }

    @Test func signedCheckpointsMatchGoByteForByte() throws {
        let fixture = try Fixture()
        let signer = try Ed25519NoteSigner(privateKeyText: fixture.json["signerKey"] as! String)
        let verifierText = fixture.json["verifierKey"] as! String
        #expect(signer.verifierKey.text == verifierText)
        #expect(signer.privateKeyText == fixture.json["signerKey"] as! String)
        #expect(String(signer.keyID, radix: 16) == fixture.json["keyHash"] as! String)
        let verifier = try Ed25519NoteVerifier(text: verifierText)
        let origin = fixture.json["origin"] as! String

        for item in fixture.json["checkpoints"] as! [[String: Any]] {
            let size = (item["size"] as! NSNumber).int64Value
            let want = item["signedNote"] as! String
            let checkpoint = Checkpoint(origin: origin, size: UInt64(size), root: try fixture.store.root(size: size))
            let note = try SignedNote.sign(text: checkpoint.text, signers: [signer])
            #expect(note.serialized == want)

            let parsed = try SignedNote(parsing: want)
            #expect(try parsed.verifiedSignatures(by: [verifier]).count == 1)
            #expect(try Checkpoint(parsing: parsed.text) == checkpoint)
        }
    }
}
