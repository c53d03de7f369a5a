import CustosFormats
import CustosOpenSSL
import Foundation
import Testing

@Suite("signed notes and checkpoints", .timeLimit(.minutes(2)))
struct SignedNoteTests {
    let signer = try! Ed25519NoteSigner(name: "test.example.tw/log", key: Ed25519PrivateKey())

    func signedCheckpoint() throws -> String {
        let checkpoint = Checkpoint(origin: "test.example.tw/log", size: 3, root: OpenSSLSHA256().sha256("x"))
        return try SignedNote.sign(text: checkpoint.text, signers: [signer]).serialized
    }

    @Test func roundTripAndVerify() throws {
        let text = try signedCheckpoint()
        let note = try SignedNote(parsing: text)
        #expect(note.serialized == text)
        #expect(try note.verifiedSignatures(by: [Ed25519NoteVerifier(signer.verifierKey)]).count == 1)
    }

    @Test func aFlippedBitInTheBodyFailsTheSignature() throws {
        let text = try signedCheckpoint().replacingOccurrences(of: "\n3\n", with: "\n4\n")
        let note = try SignedNote(parsing: text)
        #expect(throws: FormatError(.badSignature, "")) {
            try note.verifiedSignatures(by: [Ed25519NoteVerifier(signer.verifierKey)])
        }
    }

    @Test func anotherKeyIsUnknown() throws {
        let other = try Ed25519NoteSigner(name: "test.example.tw/log", key: try Ed25519PrivateKey())
        let note = try SignedNote(parsing: try signedCheckpoint())
        #expect(throws: FormatError(.unknownKey, "")) {
            try note.verifiedSignatures(by: [Ed25519NoteVerifier(other.verifierKey)])
        }
    }

    @Test(
        "malformed notes are refused",
        arguments: [
            "", "no newline", "a\n\n", "a\n\n\u{2014} name AAAA\n", "a\n\n- name AAAAAAA=\n",
            "a\n\n\u{2014} na me AAAAAAA=\n", "a\n\n\u{2014} name not-base64\n", "a\r\n\n\u{2014} n AAAAAAA=\n",
        ])
    func malformedNotes(text: String) {
        #expect(throws: FormatError.self) { try SignedNote(parsing: text) }
    }

    @Test(
        "malformed checkpoints are refused",
        arguments: [
            "origin\n1\n", "origin\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "origin\n1\nAAAA\n",
            "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        ])
    func malformedCheckpoints(text: String) {
        #expect(throws: FormatError.self) { try Checkpoint(parsing: text) }
    }

    @Test func verifierKeyWithWrongHashIsRefused() throws {
        var text = signer.verifierKey.text
        let plus = text.firstIndex(of: "+")!
        let hashStart = text.index(after: plus)
        let first = text[hashStart]
        text.replaceSubrange(hashStart...hashStart, with: first == "0" ? "1" : "0")
        #expect(throws: FormatError.self) { try Ed25519NoteVerifier(text: text) }
    }
}
