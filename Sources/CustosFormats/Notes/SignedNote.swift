import Foundation

/// Makes the signature of a signed note (Ed25519 through an adapter).
public protocol NoteSigner: Sendable {
    var name: String { get }
    var keyID: UInt32 { get }
    /// The raw signature of `message`.
    func sign(_ message: [UInt8]) throws -> [UInt8]
}

/// Checks the signature of a signed note.
public protocol NoteVerifier: Sendable {
    var name: String { get }
    var keyID: UInt32 { get }
    func verify(_ message: [UInt8], signature: [UInt8]) -> Bool
}

/// One signature line of a signed note: `— name base64(keyID || signature)`.
public struct NoteSignature: Hashable, Sendable {
    public let name: String
    public let keyID: UInt32
    public let signature: [UInt8]

    public init(name: String, keyID: UInt32, signature: [UInt8]) {
        self.name = name
        self.keyID = keyID
        self.signature = signature
    }

    public var line: String {
        let id: [UInt8] = [
            UInt8(keyID >> 24), UInt8(keyID >> 16 & 0xff), UInt8(keyID >> 8 & 0xff), UInt8(keyID & 0xff),
        ]
        return "\u{2014} \(name) \(Base64.encode(id + signature))\n"
    }
}

/// A C2SP signed note: a text that ends in a newline, an empty line, and signature lines.
public struct SignedNote: Hashable, Sendable {
    /// The signed text, ending in a newline.
    public let text: String
    public let signatures: [NoteSignature]

    public init(text: String, signatures: [NoteSignature]) {
        self.text = text
        self.signatures = signatures
    }

    /// Signs `text` with each signer.
    public static func sign(text: String, signers: [any NoteSigner]) throws -> SignedNote {
        try checkText(text)
        let message = Array(text.utf8)
        let signatures = try signers.map { signer in
            NoteSignature(name: signer.name, keyID: signer.keyID, signature: try signer.sign(message))
        }
        return SignedNote(text: text, signatures: signatures)
    }

    /// Parses a signed note, refusing anything outside the C2SP form.
    public init(parsing serialized: String) throws {
        guard serialized.utf8.count <= 1_000_000 else { throw FormatError(.malformed, "note too large") }
        guard serialized.hasSuffix("\n") else { throw FormatError(.malformed, "a signed note ends in a newline") }
        guard !serialized.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) else {
            throw FormatError(.malformed, "a signed note holds no control characters")
        }
        guard let split = serialized.range(of: "\n\n", options: .backwards) else {
            throw FormatError(.malformed, "a signed note has an empty line before its signatures")
        }
        let text = String(serialized[..<split.lowerBound]) + "\n"
        try Self.checkText(text)
        let block = serialized[split.upperBound...]
        var signatures = [NoteSignature]()
        for line in block.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            guard line.hasPrefix("\u{2014} ") else {
                throw FormatError(.malformed, "a signature line starts with an em dash and a space")
            }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, isValidNoteKeyName(String(fields[0])), let bytes = Base64.decode(fields[1]),
                bytes.count >= 5
            else {
                throw FormatError(.malformed, "malformed signature line: \(line)")
            }
            let keyID = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
            signatures.append(NoteSignature(name: String(fields[0]), keyID: keyID, signature: Array(bytes[4...])))
        }
        guard !signatures.isEmpty else { throw FormatError(.malformed, "a signed note has at least one signature") }
        self.init(text: text, signatures: signatures)
    }

    /// The note as it is written and sent: text, empty line, signature lines.
    public var serialized: String {
        text + "\n" + signatures.map(\.line).joined()
    }

    /// The signatures that verify under `verifiers` (matched by name and key ID). Throws if a
    /// known key's signature is bad, or if none of the verifiers signed.
    public func verifiedSignatures(by verifiers: [any NoteVerifier]) throws -> [NoteSignature] {
        let message = Array(text.utf8)
        var verified = [NoteSignature]()
        for signature in signatures {
            guard let verifier = verifiers.first(where: { $0.name == signature.name && $0.keyID == signature.keyID })
            else { continue }
            guard verifier.verify(message, signature: signature.signature) else {
                throw FormatError(.badSignature, "the signature of \(signature.name) does not verify")
            }
            verified.append(signature)
        }
        guard !verified.isEmpty else {
            throw FormatError(.unknownKey, "the note is signed by none of the known keys")
        }
        return verified
    }

    private static func checkText(_ text: String) throws {
        guard text.hasSuffix("\n"), !text.isEmpty else {
            throw FormatError(.malformed, "note text must end in a newline")
        }
        guard !text.contains("\n\n") else { throw FormatError(.malformed, "note text holds no empty line") }
    }
}
