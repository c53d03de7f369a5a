/// SHA-256 as the formats need it, given by an adapter (OpenSSL), so this module stays pure.
public protocol SHA256Digesting: Sendable {
    /// The SHA-256 of `bytes`.
    func sha256(_ bytes: UnsafeRawBufferPointer) -> Hash
}

extension SHA256Digesting {
    /// The SHA-256 of a byte array.
    public func sha256(_ bytes: [UInt8]) -> Hash {
        bytes.withUnsafeBytes { sha256($0) }
    }

    /// The SHA-256 of a string's UTF-8 bytes.
    public func sha256(_ text: String) -> Hash {
        sha256(Array(text.utf8))
    }
}
