/// The key ID of a signed-note key: the first four bytes of
/// SHA-256(name || "\n" || 0x01 || public key), big-endian.
public func noteKeyID(name: String, publicKey: [UInt8], digester: some SHA256Digesting) -> UInt32 {
    let hash = digester.sha256(Array(name.utf8) + [0x0a, NoteAlgorithm.ed25519] + publicKey)
    let bytes = hash.bytes
    return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
}

/// The signature algorithm identifiers of C2SP signed-note.
public enum NoteAlgorithm {
    /// Ed25519.
    public static let ed25519: UInt8 = 0x01
}

/// Checks a key name as C2SP signed-note requires: not empty, no Unicode spaces, no plus sign.
public func isValidNoteKeyName(_ name: String) -> Bool {
    !name.isEmpty && !name.unicodeScalars.contains { $0 == "+" || $0.properties.isWhitespace || $0.value < 0x20 }
}

/// A verifier key in the signed-note text form `name+hash+base64(0x01 || public key)`.
public struct NoteVerifierKey: Hashable, Sendable {
    public let name: String
    public let keyID: UInt32
    public let publicKey: [UInt8]

    public init(name: String, publicKey: [UInt8], digester: some SHA256Digesting) throws {
        guard isValidNoteKeyName(name) else { throw FormatError(.malformed, "invalid key name \"\(name)\"") }
        guard publicKey.count == 32 else { throw FormatError(.malformed, "an Ed25519 public key has 32 bytes") }
        self.name = name
        self.publicKey = publicKey
        self.keyID = noteKeyID(name: name, publicKey: publicKey, digester: digester)
    }

    /// Parses the text form and checks that its hash matches its name and key.
    public init(parsing text: String, digester: some SHA256Digesting) throws {
        let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1].count == 8, let hash = UInt32(parts[1], radix: 16),
            let key = Base64.decode(parts[2]), key.count == 33, key[0] == NoteAlgorithm.ed25519
        else {
            throw FormatError(.malformed, "not a signed-note verifier key: \(text)")
        }
        try self.init(name: String(parts[0]), publicKey: Array(key[1...]), digester: digester)
        guard keyID == hash else { throw FormatError(.malformed, "the verifier key's hash does not match its key") }
    }

    /// The text form, as `custos key` prints it and Go's `note.NewVerifier` reads it.
    public var text: String {
        "\(name)+\(hex8(keyID))+\(Base64.encode([NoteAlgorithm.ed25519] + publicKey))"
    }
}

/// A signer key in the signed-note text form `PRIVATE+KEY+name+hash+base64(0x01 || seed)`.
public struct NoteSignerKey: Sendable {
    public let name: String
    public let keyID: UInt32
    /// The 32-byte Ed25519 seed (the private key).
    public let seed: [UInt8]

    public init(name: String, keyID: UInt32, seed: [UInt8]) throws {
        guard isValidNoteKeyName(name) else { throw FormatError(.malformed, "invalid key name \"\(name)\"") }
        guard seed.count == 32 else { throw FormatError(.malformed, "an Ed25519 private key has 32 bytes") }
        self.name = name
        self.keyID = keyID
        self.seed = seed
    }

    /// Parses the text form; the caller checks the hash against the derived public key.
    public init(parsing text: String) throws {
        let trimmed = text.hasSuffix("\n") ? String(text.dropLast()) : text
        let parts = trimmed.split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY", parts[3].count == 8,
            let hash = UInt32(parts[3], radix: 16), let key = Base64.decode(parts[4]), key.count == 33,
            key[0] == NoteAlgorithm.ed25519
        else {
            throw FormatError(.malformed, "not a signed-note private key")
        }
        try self.init(name: String(parts[2]), keyID: hash, seed: Array(key[1...]))
    }

    public var text: String {
        "PRIVATE+KEY+\(name)+\(hex8(keyID))+\(Base64.encode([NoteAlgorithm.ed25519] + seed))"
    }
}

func hex8(_ value: UInt32) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
}
