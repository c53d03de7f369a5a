import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import Foundation
import Testing

/// Tampering with a sealed vault: `custos verify` exits 1 and names each fault.
@Suite("custos verify finds tampering", .serialized, .timeLimit(.minutes(2)))
struct TamperingTests {
    /// A vault with three sealed items.
    func sealedNode() throws -> (Node, [[String: Any]]) {
        let node = try Node()
        let files = try (0..<3).map { try node.directory.write("item\($0).bin", randomBytes(200_000 + $0)) }
        let result = try node.custos(["ingest", "--case", "T-1"] + files)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try node.verify().status == 0)
        return (node, try node.items())
    }

    /// Runs SQL on the ledger as an attacker with the sqlite3 shell would, triggers dropped first.
    func tamperLedger(_ node: Node, _ sql: String) throws {
        let statements = """
            DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete;
            DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS latest_no_delete;
            \(sql)
            """
        let result = try run("sqlite3", [node.vault + "/ledger.sqlite"], stdin: Array(statements.utf8))
        #expect(result.status == 0, "\(result.stderr)")
    }

    func expectFault(_ node: Node, code: String, subject: String) throws {
        let result = try node.custos(["verify", "--json"])
        #expect(result.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(result.stdout)) as! [String: Any]
        #expect(report["result"] as? String == "failed")
        let faults = report["faults"] as! [[String: String]]
        #expect(
            faults.contains { $0["code"] == code && $0["subject"]!.contains(subject) },
            "want \(code) on \(subject), got \(faults)")
        let text = try node.verify()
        #expect(text.status == 1)
        #expect(text.output.contains("verification FAILED") && text.output.contains(subject))
    }

    @Test func aFlippedByteInAnArchive() throws {
        let (node, items) = try sealedNode()
        let path = node.archivePath(item: items[1])
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x01
        chmod(path, 0o644)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let item = items[1]["item"] as! String
        let result = try node.custos(["verify", "--json"])
        #expect(result.status == 1)
        let faults =
            (try JSONSerialization.jsonObject(with: Data(result.stdout)) as! [String: Any])["faults"]
            as! [[String: String]]
        #expect(faults.contains { $0["subject"] == "item \(item)" })
        #expect(!faults.contains { $0["subject"] == "item \(items[0]["item"] as! String)" })
    }

    @Test func aReplacedArchive() throws {
        let (node, items) = try sealedNode()
        // The attacker puts another item's (valid) archive in place of the first one.
        let target = node.archivePath(item: items[0])
        chmod(target, 0o644)
        try FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: node.archivePath(item: items[2]), toPath: target)
        try expectFault(node, code: "archive-digest", subject: items[0]["item"] as! String)
        try expectFault(node, code: "content-sha256", subject: items[0]["item"] as! String)
    }

    @Test func aDeletedArchive() throws {
        let (node, items) = try sealedNode()
        try FileManager.default.removeItem(atPath: node.archivePath(item: items[2]))
        try expectFault(node, code: "archive-missing", subject: items[2]["item"] as! String)
    }

    @Test func anEditedLedgerRow() throws {
        let (node, items) = try sealedNode()
        let sha = items[1]["sha256"] as! String
        let sequence = items[1]["sequence"] as! Int
        let forged = String(repeating: "0", count: 64)
        try tamperLedger(
            node,
            "UPDATE entries SET body = CAST(replace(CAST(body AS TEXT), '\(sha)', '\(forged)') AS BLOB) WHERE seq = \(sequence);"
        )
        try expectFault(node, code: "chain-broken", subject: "entry \(sequence + 1)")
        try expectFault(node, code: "root-mismatch", subject: "checkpoint 6")
    }

    @Test func aDeletedLedgerRow() throws {
        let (node, _) = try sealedNode()
        try tamperLedger(node, "DELETE FROM entries WHERE seq = 1;")
        try expectFault(node, code: "entry-missing", subject: "entry 1")
        try expectFault(node, code: "chain-broken", subject: "entry 2")
    }

    @Test func aCheckpointWithABadSignature() throws {
        let (node, _) = try sealedNode()
        let note = try node.custos(["checkpoint"]).output
        let parsed = try SignedNote(parsing: note)
        var signature = parsed.signatures[0].signature
        signature[0] ^= 0x80
        let forged = SignedNote(
            text: parsed.text,
            signatures: [
                NoteSignature(name: parsed.signatures[0].name, keyID: parsed.signatures[0].keyID, signature: signature)
            ])
        try tamperLedger(
            node,
            "UPDATE checkpoints SET note = '\(forged.serialized)' WHERE size = 6; UPDATE latest_checkpoint SET note = '\(forged.serialized)';"
        )
        try expectFault(node, code: "bad-signature", subject: "checkpoint 6")
    }

    @Test func aKeyFromElsewhereDoesNotVerifyTheCheckpoints() throws {
        let (node, _) = try sealedNode()
        let own = try node.custos(["key"]).output.trimmingCharacters(in: .newlines)
        #expect(try node.custos(["verify", "--key", own]).status == 0)
        // A key another node made for the same origin: every checkpoint fails.
        let other = try Node(origin: "e2e.example.tw/evidence")
        let foreign = try other.custos(["key"]).output.trimmingCharacters(in: .newlines)
        let result = try node.custos(["verify", "--key", foreign])
        #expect(result.status == 1)
        #expect(result.output.contains("[bad-signature] checkpoint 6"))
    }

    @Test func anAlteredManifest() throws {
        let (node, items) = try sealedNode()
        let manifest = items[0]["manifest"] as! String
        let path = "\(node.vault)/manifests/\(manifest.prefix(2))/\(manifest).json"
        chmod(path, 0o644)
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "T-1", with: "T-2")
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        try expectFault(node, code: "manifest-digest", subject: items[0]["item"] as! String)
    }
}

/// The proofs `custos` writes, checked as an outsider would: with the formats alone, the verifier
/// key, and the bytes.
@Suite("custos proof, entry, checkpoint and consistency", .serialized, .timeLimit(.minutes(2)))
struct ProofEndToEndTests {
    @Test func proofsVerifyOffline() throws {
        let node = try Node()
        for round in 0..<3 {
            let files = try (0..<(round + 2)).map {
                try node.directory.write("r\(round)/f\($0).bin", randomBytes(1000 + $0))
            }
            #expect(try node.custos(["ingest"] + files).status == 0)
        }
        let verifier = try Ed25519NoteVerifier(text: try node.custos(["key"]).output.trimmingCharacters(in: .newlines))
        let checkpointText = try node.custos(["checkpoint"]).output
        let note = try SignedNote(parsing: checkpointText)
        #expect(try note.verifiedSignatures(by: [verifier]).count == 1)
        let checkpoint = try Checkpoint(parsing: note.text)
        // Each round: a seal and its time stamp per file, then a checkpoint that covers them all.
        #expect(checkpoint.size == 18)

        for item in try node.items() {
            let sequence = item["sequence"] as! Int
            // The entry's exact bytes: the SHA-256 of the entry before is its prev.
            let entry = try node.custos(["entry", String(sequence)]).stdout
            let parsed = try CustodyEntry(parsing: entry)
            let previous =
                sequence == 0
                ? Hash.zero : OpenSSLSHA256().sha256(try node.custos(["entry", String(sequence - 1)]).stdout)
            #expect(parsed.previous == previous)
            #expect(parsed.digests?.sha256.hex == item["sha256"] as? String)

            let proofText = try node.custos(["proof", item["item"] as! String]).output
            let proof = try TLogProof(parsing: proofText)
            #expect(proof.index == UInt64(sequence))
            #expect(proof.extra == entry)
            #expect(try proof.checkpoint.verifiedSignatures(by: [verifier]).count == 1)
            let signed = try Checkpoint(parsing: proof.checkpoint.text)
            try MerkleProofs.verifyInclusion(
                index: proof.index, size: signed.size, leafHash: MerkleHasher.openSSL.hashLeaf(entry),
                proof: proof.proof,
                root: signed.root, hasher: .openSSL)
        }

        // Consistency from every earlier checkpoint size to the latest.
        for old in [4, 10] {
            let lines = try node.custos(["consistency", "--from", String(old), "--to", "18"]).output
                .split(separator: "\n").map { Hash(base64: $0)! }
            let oldRoot = try rootOfFirst(old, node: node)
            try MerkleProofs.verifyConsistency(
                size1: UInt64(old), size2: 18, proof: lines, root1: oldRoot, root2: checkpoint.root, hasher: .openSSL)
        }
        let bad = try node.custos(["consistency", "--from", "5", "--to", "99"])
        #expect(bad.status == 2)
    }

    /// The root of the first `size` entries, from their bytes alone.
    func rootOfFirst(_ size: Int, node: Node) throws -> Hash {
        var store = MemoryHashStore(hasher: .openSSL)
        for sequence in 0..<size {
            store.append(leafHash: MerkleHasher.openSSL.hashLeaf(try node.custos(["entry", String(sequence)]).stdout))
        }
        return try store.root(size: Int64(size))
    }
}
