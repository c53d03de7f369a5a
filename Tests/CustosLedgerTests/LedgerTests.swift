import CustosFormats
import CustosLedger
import CustosLedgerSQLite
import CustosOpenSSL
import CustosSQLite
import CustosTestSupport
import Foundation
import Testing

/// A ledger in a fresh folder, with its signer.
struct LedgerFixture {
    let directory = TemporaryDirectory("ledger")
    let signer = try! Ed25519NoteSigner(name: "test.example.tw/ledger", key: Ed25519PrivateKey())
    var path: String { directory.file("ledger.sqlite") }
    var verifier: Ed25519NoteVerifier { Ed25519NoteVerifier(signer.verifierKey) }

    init() throws {
        try Ledger.create(path: path, origin: signer.name, signer: signer, now: "2026-11-25T00:00:00.000Z")
    }

    func open() throws -> Ledger { try Ledger(path: path, origin: signer.name) }

    static func event(_ n: Int) -> NewCustodyEvent {
        let digest = OpenSSLSHA256().sha256("content \(n)")
        let record = ItemRecord(
            item: "item-\(n)", sequence: 0, caseID: "case", exhibit: "E\(n)", name: Array("file-\(n)".utf8),
            sha256: digest, size: UInt64(n), archive: digest, manifest: digest, sealedAt: "t")
        return NewCustodyEvent(
            type: .sealed, item: "item-\(n)", time: "2026-11-25T00:00:00.000Z", actor: "tester",
            details: CustodyEntry.sealedDetails(
                digests: EvidenceDigests(sha256: digest), size: UInt64(n), archive: digest, manifest: digest),
            record: record)
    }

    /// Runs raw SQL on the ledger file as an attacker would (dropping the append-only triggers).
    func tamper(_ sql: String) throws {
        let db = try SQLiteConnection(path: path, mode: .readWrite)
        try db.execute(
            """
            DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete;
            DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS stamps_no_update;
            DROP TRIGGER IF EXISTS stamps_no_delete;
            \(sql)
            """)
    }
}

@Suite("the SQLite ledger", .timeLimit(.minutes(2)))
struct LedgerTests {
    @Test func appendChainsEntriesAndProofsVerify() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        var entries = [CustodyEntry]()
        for batch in 0..<5 {
            entries += try ledger.append((0..<(batch * 7 + 1)).map { LedgerFixture.event(batch * 100 + $0) })
        }
        #expect(try ledger.size() == UInt64(entries.count))
        var memory = MemoryHashStore(hasher: .openSSL)
        var previous = Hash.zero
        for (index, entry) in entries.enumerated() {
            #expect(entry.sequence == UInt64(index))
            #expect(entry.previous == previous)
            let bytes = try ledger.entryBytes(UInt64(index))
            #expect(bytes == entry.canonicalBytes)
            previous = OpenSSLSHA256().sha256(bytes)
            memory.append(leafHash: MerkleHasher.openSSL.hashLeaf(bytes))
        }
        let size = UInt64(entries.count)
        let root = try memory.root(size: Int64(size))
        #expect(try ledger.root(size: size) == root)
        for index in stride(from: 0, to: size, by: 3) {
            let proof = try ledger.inclusionProof(index: index, size: size)
            try MerkleProofs.verifyInclusion(
                index: index, size: size, leafHash: memory.hashes[Int(StoredHashes.index(level: 0, n: Int64(index)))],
                proof: proof, root: root, hasher: .openSSL)
        }
        for old in [1, 2, 7, 30, 60] where UInt64(old) <= size {
            let proof = try ledger.consistencyProof(from: UInt64(old), to: size)
            try MerkleProofs.verifyConsistency(
                size1: UInt64(old), size2: size, proof: proof, root1: try memory.root(size: Int64(old)), root2: root,
                hasher: .openSSL)
        }
    }

    @Test func largeBatchesEncodedAheadKeepTheChainAndTheTree() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        // 700 and 333 events: several encoding chunks, the last one partial, across two batches.
        let first = try ledger.append((0..<700).map(LedgerFixture.event))
        let second = try ledger.append((700..<1033).map(LedgerFixture.event))
        var memory = MemoryHashStore(hasher: .openSSL)
        var previous = Hash.zero
        for (index, entry) in (first + second).enumerated() {
            let bytes = try ledger.entryBytes(UInt64(index))
            #expect(entry.canonicalBytes == bytes)
            #expect(entry.previous == previous && entry.sequence == UInt64(index) && entry.item == "item-\(index)")
            previous = OpenSSLSHA256().sha256(bytes)
            memory.append(leafHash: MerkleHasher.openSSL.hashLeaf(bytes))
        }
        #expect(try ledger.root(size: 1033) == (try memory.root(size: 1033)))
        #expect(try ledger.root(size: 700) == (try memory.root(size: 700)))
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        #expect(try ledger.audit(verifiers: [fixture.verifier]).faults.isEmpty)
    }

    @Test func checkpointsAreSignedKeptAndOnlyGrow() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append([LedgerFixture.event(1), LedgerFixture.event(2)])
        let first = try ledger.checkpoint(signer: fixture.signer, now: "t1")
        #expect(try first.verifiedSignatures(by: [fixture.verifier]).count == 1)
        #expect(try Checkpoint(parsing: first.text).size == 2)
        // Unchanged tree: the same checkpoint, not a new one.
        #expect(try ledger.checkpoint(signer: fixture.signer, now: "t2") == first)
        _ = try ledger.append([LedgerFixture.event(3)])
        let second = try ledger.checkpoint(signer: fixture.signer, now: "t3")
        #expect(try Checkpoint(parsing: second.text).size == 3)
        #expect(try ledger.latestCheckpoint() == second.serialized)
        #expect(try ledger.checkpoints().map(\.size) == [0, 2, 3])
        let audit = try ledger.audit(verifiers: [fixture.verifier])
        #expect(audit.faults.isEmpty, "\(audit.faults)")
        #expect(audit.checkpointsChecked == 3)
    }

    @Test func aCheckpointsTokenIsKeptInItsTransactionAndNoEntryFollowsIt() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<3).map(LedgerFixture.event))
        // A stamp that fails: no checkpoint is recorded either.
        #expect(throws: LedgerError.self) {
            try ledger.checkpoint(signer: fixture.signer, now: "t") { _ in throw LedgerError(.invalid, "TSA down") }
        }
        #expect(try ledger.checkpoints().map(\.size) == [0])
        let note = try ledger.checkpoint(signer: fixture.signer, now: "t") { Array($0.text.utf8) }
        let checkpoint = try Checkpoint(parsing: note.text)
        #expect(try ledger.size() == 3 && checkpoint.size == 3)
        #expect(try ledger.checkpointStamps(size: 3).map(\.token) == [Array(note.text.utf8)])
        #expect(try ledger.checkpointStamps(size: 3).map(\.root) == [checkpoint.root.base64])
        #expect(try ledger.checkpoint(size: 3) == note.serialized)
        #expect(try ledger.checkpoint(size: 0) == (try ledger.checkpoints().first?.note))
        #expect { try ledger.checkpoint(size: 2) } throws: { ($0 as? LedgerError)?.code == .notFound }
        // Another authority's token, for a checkpoint the node signed, with its root only.
        #expect(throws: LedgerError.self) {
            try ledger.recordCheckpointStamp(size: 3, root: .zero, source: "gov", anchors: nil, token: [1])
        }
        try ledger.recordCheckpointStamp(size: 3, root: checkpoint.root, source: "gov", anchors: .zero, token: [1])
        #expect(try ledger.checkpointStamps().map(\.source) == ["gov", "node"])
        #expect(try ledger.audit(verifiers: [fixture.verifier]).faults.isEmpty)
    }

    @Test func entriesAfterTheLatestCheckpointAreUncovered() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<4).map(LedgerFixture.event))
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        _ = try ledger.append((4..<6).map(LedgerFixture.event))
        let audit = try ledger.audit(verifiers: [fixture.verifier])
        #expect(audit.faults.map(\.code.rawValue) == ["entries-uncovered"] && audit.faults.first?.subject == "entry 4")
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        #expect(try ledger.audit(verifiers: [fixture.verifier]).faults.isEmpty)
    }

    /// Checkpoints kept outside the ledger: consistent ones pass; a larger one, a fork of the
    /// same size, an inconsistent smaller one and one signed by another key are faults.
    @Test func keptCheckpointsAreHeldAgainstTheLog() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<5).map(LedgerFixture.event))
        let early = try ledger.checkpoint(signer: fixture.signer, now: "t")
        _ = try ledger.append((5..<9).map(LedgerFixture.event))
        let late = try ledger.checkpoint(signer: fixture.signer, now: "t")
        func codes(_ note: SignedNote) -> [String] {
            ledger.checkKeptCheckpoint(note.serialized, name: "kept.txt", verifiers: [fixture.verifier])
                .map(\.code.rawValue)
        }
        #expect(codes(early).isEmpty && codes(late).isEmpty)
        func signed(size: UInt64, root: Hash, by signer: Ed25519NoteSigner? = nil) throws -> SignedNote {
            try SignedNote.sign(
                text: Checkpoint(origin: fixture.signer.name, size: size, root: root).text,
                signers: [signer ?? fixture.signer])
        }
        let other = OpenSSLSHA256().sha256("another history")
        #expect(try codes(signed(size: 12, root: other)) == ["kept-checkpoint-ahead"])
        #expect(try codes(signed(size: 9, root: other)) == ["kept-checkpoint-inconsistent"])
        #expect(try codes(signed(size: 5, root: other)) == ["kept-checkpoint-inconsistent"])
        #expect(try codes(signed(size: 0, root: other)) == ["kept-checkpoint-inconsistent"])
        let stranger = try Ed25519NoteSigner(name: fixture.signer.name, key: Ed25519PrivateKey())
        #expect(try codes(signed(size: 5, root: ledger.root(size: 5), by: stranger)) == ["kept-checkpoint-signature"])
        #expect(codes(SignedNote(text: "not a checkpoint\n", signatures: [])) == ["kept-checkpoint-malformed"])
        let fault = ledger.checkKeptCheckpoint(
            try signed(size: 12, root: other).serialized, name: "kept.txt", verifiers: [fixture.verifier])[0]
        let latestRoot = try Checkpoint(parsing: late.text).root.base64
        #expect(fault.expected == "size 12 root \(other.base64) (kept.txt)")
        #expect(fault.found == "size 9 root \(latestRoot) (the vault's latest checkpoint)")
    }

    @Test func entriesAreAppendOnly() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append([LedgerFixture.event(1)])
        let db = try SQLiteConnection(path: fixture.path, mode: .readWrite)
        #expect(throws: SQLiteError.self) { try db.execute("UPDATE entries SET body = x'00' WHERE seq = 0") }
        #expect(throws: SQLiteError.self) { try db.execute("DELETE FROM entries") }
        #expect(throws: SQLiteError.self) { try db.execute("DELETE FROM checkpoints") }
    }

    @Test func aMissingLedgerIsNeverRecreated() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("ledger.sqlite")
        #expect { try Ledger(path: path, origin: "x") } throws: { ($0 as? LedgerError)?.code == .missing }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func anotherOriginsLedgerIsRefused() throws {
        let fixture = try LedgerFixture()
        #expect { try Ledger(path: fixture.path, origin: "other.example/log") } throws: {
            ($0 as? LedgerError)?.code == .wrongLedger
        }
    }

    @Test func aCorruptedDatabaseGivesAClearError() throws {
        let fixture = try LedgerFixture()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture.path)))
        for index in 0..<min(bytes.count, 4096) { bytes[index] = UInt8(truncatingIfNeeded: index * 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: fixture.path))
        try? FileManager.default.removeItem(atPath: fixture.path + "-wal")
        try? FileManager.default.removeItem(atPath: fixture.path + "-shm")
        #expect {
            try fixture.open()
        } throws: { error in
            let ledgerError = error as? LedgerError
            return ledgerError?.code == .corrupt && "\(error)".contains(fixture.path)
        }
    }

    @Test func auditFindsAnEditedEntry() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<6).map(LedgerFixture.event))
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        let edited = try ledger.entryBytes(2)
        let text = String(decoding: edited, as: UTF8.self).replacingOccurrences(of: "item-2", with: "item-X")
        try fixture.tamper("UPDATE entries SET body = x'\(Hex.encode(Array(text.utf8)))' WHERE seq = 2")
        let audit = try fixture.open().audit(verifiers: [fixture.verifier])
        let codes = Set(audit.faults.map(\.code.rawValue))
        #expect(codes.contains("chain-broken"))
        #expect(codes.contains("root-mismatch"))
        #expect(audit.faults.contains { $0.subject == "entry 2" })
    }

    @Test func auditFindsAnEditedItemIndex() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<3).map(LedgerFixture.event))
        try fixture.tamper(
            "UPDATE entries SET item = 'item-X' WHERE seq = 1; UPDATE entries SET item = NULL WHERE seq = 2")
        let audit = try fixture.open().audit(verifiers: [fixture.verifier])
        #expect(audit.faults.contains { $0.code == .indexMismatch && $0.subject == "item item-1" })
        #expect(audit.faults.contains { $0.code == .indexMissing && $0.subject == "item item-2" })
    }

    @Test func aMalformedSealingEntryMisreportsNoOtherItemAndItsIndexRowIsNamed() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<5).map(LedgerFixture.event))
        try fixture.tamper("UPDATE entries SET body = x'7b7d' WHERE seq = 1")
        let audit = try fixture.open().audit(verifiers: [fixture.verifier])
        #expect(audit.faults.contains { $0.code == .entryMalformed && $0.subject == "entry 1" })
        #expect(!audit.faults.contains { $0.code == .indexMissing }, "\(audit.faults)")
        #expect(
            audit.faults.contains {
                $0.code == .indexOrphan && $0.subject == "item item-1" && $0.message.contains("entry 1")
            }, "\(audit.faults)")
    }

    @Test func timeStampEntriesAreIndexedByTheirSubjectAndAudited() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        let sealed = LedgerFixture.event(0)
        let record = TimeStampRecord(
            subject: .item, imprint: OpenSSLSHA256().sha256("content 0"), token: OpenSSLSHA256().sha256("token"),
            authority: "CN=test TSA", policy: "1.2.3", serial: "0a", genTime: "20261125000000.123Z")
        let checkpointRecord = TimeStampRecord(
            subject: .checkpoint(size: 2), imprint: OpenSSLSHA256().sha256("note"),
            token: OpenSSLSHA256().sha256("token 2"), authority: "CN=test TSA", policy: "1.2.3", serial: "0b",
            genTime: "20261125000001.000Z")
        _ = try ledger.append([
            sealed,
            NewCustodyEvent(
                type: .timestamped, item: "item-0", time: "t", actor: "tester", details: record.details,
                token: Array("token".utf8)),
            NewCustodyEvent(
                type: .timestamped, item: "", time: "t", actor: "tester", details: checkpointRecord.details,
                token: Array("token 2".utf8)),
        ])
        // Each token is kept beside its entry.
        #expect(try ledger.stampToken(at: 1) == Array("token".utf8))
        #expect(try ledger.stampToken(at: 2) == Array("token 2".utf8))
        #expect(try ledger.stampToken(at: 0) == nil)
        // An event without its token, or with another one, is refused and nothing is appended.
        for token in [nil, Array("another token".utf8)] {
            #expect(throws: LedgerError.self) {
                try ledger.append([
                    NewCustodyEvent(
                        type: .timestamped, item: "item-0", time: "t", actor: "tester", details: record.details,
                        token: token)
                ])
            }
        }
        #expect(try ledger.size() == 3)
        let stamps = try ledger.stamps(of: "item-0")
        #expect(stamps.map(\.record) == [record] && stamps.first?.entry.sequence == 1)
        #expect(try ledger.stamps(of: "checkpoint:2").map(\.record) == [checkpointRecord])
        #expect(try ledger.stampedSubjects() == ["item-0", "checkpoint:2"])
        #expect(try ledger.items().count == 1)  // A time stamp is not an item.
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        #expect(try fixture.open().audit(verifiers: [fixture.verifier]).faults.isEmpty)
        try fixture.tamper("UPDATE stamps SET subject = 'item-9' WHERE seq = 1")
        let audit = try fixture.open().audit(verifiers: [fixture.verifier])
        #expect(audit.faults.contains { $0.code == .stampIndex && $0.subject == "entry 1" })
    }

    @Test func auditFindsATamperedTreeHash() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<8).map(LedgerFixture.event))
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        // Entry 7 completes the subtrees of 2, 4 and 8 leaves: forge the one of 4.
        try fixture.tamper(
            "UPDATE entries SET tree = substr(tree, 1, 64) || zeroblob(32) || substr(tree, 97) WHERE seq = 7")
        let audit = try fixture.open().audit(verifiers: [fixture.verifier])
        #expect(audit.faults.contains { $0.code == .treeMismatch && $0.subject == "entry 7" }, "\(audit.faults)")
    }

    @Test func everyStoredHashIndexMapsBackToTheLeafThatStoredIt() {
        for leaf in Int64(0)..<300 {
            let first = StoredHashes.index(level: 0, n: leaf)
            let count = 1 + (UInt64(leaf) + 1).trailingZeroBitCount
            for offset in 0..<count {
                let found = StoredHashes.storingLeaf(ofIndex: first + Int64(offset))
                #expect(found.leaf == leaf && found.offset == offset)
            }
        }
    }

    @Test func auditFindsADeletedEntry() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<5).map(LedgerFixture.event))
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        try fixture.tamper("DELETE FROM entries WHERE seq = 4")
        let audit = try fixture.open().audit(verifiers: [fixture.verifier])
        #expect(audit.faults.contains { $0.code == .entriesMissing && $0.subject == "checkpoint 5" })
    }

    @Test func auditFindsACheckpointWithABadSignature() throws {
        let fixture = try LedgerFixture()
        let ledger = try fixture.open()
        _ = try ledger.append((0..<3).map(LedgerFixture.event))
        let note = try ledger.checkpoint(signer: fixture.signer, now: "t")
        var signature = note.signatures[0].signature
        signature[10] ^= 0x01
        let forged = SignedNote(
            text: note.text,
            signatures: [
                NoteSignature(name: note.signatures[0].name, keyID: note.signatures[0].keyID, signature: signature)
            ])
        try fixture.tamper("UPDATE checkpoints SET note = '\(forged.serialized)' WHERE size = 3")
        let audit = try fixture.open().audit(verifiers: [fixture.verifier])
        #expect(audit.faults.contains { $0.code == .badSignature && $0.subject == "checkpoint 3" })
    }

    @Test func twoConnectionsAppendingAtOnceKeepOneChain() async throws {
        let fixture = try LedgerFixture()
        let path = fixture.path
        let origin = fixture.signer.name
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<2 {
                group.addTask {
                    // Each worker is its own connection, as two `custos ingest` processes are.
                    let ledger = try Ledger(path: path, origin: origin)
                    for n in 0..<40 { _ = try ledger.append([LedgerFixture.event(worker * 1000 + n)]) }
                }
            }
            try await group.waitForAll()
        }
        let ledger = try fixture.open()
        #expect(try ledger.size() == 80)
        try ledger.checkpoint(signer: fixture.signer, now: "t")
        let audit = try ledger.audit(verifiers: [fixture.verifier])
        #expect(audit.faults.isEmpty, "\(audit.faults)")
    }
}
