import COpenSSL
import CustosFormats

/// An Ed25519 private key. Owns one `EVP_PKEY`, freed in `deinit`. OpenSSL keys are safe to
/// share for signing across threads (each signature uses its own context).
/// Sendable: the `EVP_PKEY` never changes after init; each signature makes its own context.
public final class Ed25519PrivateKey: @unchecked Sendable {
    private let key: OpaquePointer

    /// A new key from OpenSSL's random generator.
    public convenience init() throws {
        var seed = [UInt8](repeating: 0, count: 32)
        guard RAND_bytes(&seed, 32) == 1 else { throw OpenSSLError(call: "RAND_bytes") }
        try self.init(seed: seed)
    }

    /// The key with this 32-byte seed (the RFC 8032 private key).
    public init(seed: [UInt8]) throws {
        guard seed.count == 32 else {
            throw OpenSSLError(call: "Ed25519PrivateKey", message: "an Ed25519 seed has 32 bytes")
        }
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, 32) else {
            throw OpenSSLError(call: "EVP_PKEY_new_raw_private_key")
        }
        self.key = key
    }

    deinit { EVP_PKEY_free(key) }

    public var seed: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        precondition(EVP_PKEY_get_raw_private_key(key, &out, &length) == 1 && length == 32)
        return out
    }

    public var publicKey: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 32
        precondition(EVP_PKEY_get_raw_public_key(key, &out, &length) == 1 && length == 32)
        return out
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw OpenSSLError(call: "EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, nil, nil, key) == 1 else {
            throw OpenSSLError(call: "EVP_DigestSignInit")
        }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1, length == 64 else {
            throw OpenSSLError(call: "EVP_DigestSign")
        }
        return signature
    }
}

/// Checks Ed25519 signatures with a raw 32-byte public key.
public enum Ed25519 {
    public static func verify(publicKey: [UInt8], message: [UInt8], signature: [UInt8]) -> Bool {
        guard publicKey.count == 32, signature.count == 64,
            let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, publicKey, 32)
        else { return false }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { return false }
        let ok = EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
        _ = OpenSSLError.drainQueue()
        return ok
    }
}

/// A signed-note signer with an Ed25519 key.
public struct Ed25519NoteSigner: NoteSigner {
    public let name: String
    public let keyID: UInt32
    public let key: Ed25519PrivateKey
    /// The public half, in the signed-note verifier-key form.
    public let verifierKey: NoteVerifierKey

    /// Reads the `PRIVATE+KEY+…` text form and checks that its hash matches the key.
    public init(privateKeyText: String) throws {
        let parsed = try NoteSignerKey(parsing: privateKeyText)
        let key = try Ed25519PrivateKey(seed: parsed.seed)
        let id = noteKeyID(name: parsed.name, publicKey: key.publicKey, digester: OpenSSLSHA256())
        guard id == parsed.keyID else {
            throw FormatError(.malformed, "the private key's hash does not match its key")
        }
        try self.init(name: parsed.name, key: key)
    }

    /// A signer named `name` (a valid signed-note key name: no spaces, no `+`).
    public init(name: String, key: Ed25519PrivateKey) throws {
        self.name = name
        self.key = key
        self.verifierKey = try NoteVerifierKey(name: name, publicKey: key.publicKey, digester: OpenSSLSHA256())
        self.keyID = verifierKey.keyID
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] { try key.sign(message) }

    /// The private key in the signed-note text form (keep it mode 0600).
    public var privateKeyText: String {
        // The name was checked and the seed has 32 bytes, so this cannot fail.
        (try? NoteSignerKey(name: name, keyID: keyID, seed: key.seed).text) ?? ""
    }
}

/// A signed-note verifier for an Ed25519 verifier key.
public struct Ed25519NoteVerifier: NoteVerifier {
    public let key: NoteVerifierKey
    public var name: String { key.name }
    public var keyID: UInt32 { key.keyID }

    public init(_ key: NoteVerifierKey) { self.key = key }

    public init(text: String) throws {
        self.init(try NoteVerifierKey(parsing: text, digester: OpenSSLSHA256()))
    }

    public func verify(_ message: [UInt8], signature: [UInt8]) -> Bool {
        Ed25519.verify(publicKey: key.publicKey, message: message, signature: signature)
    }
}
