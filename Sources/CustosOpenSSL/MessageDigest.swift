import COpenSSL
import CustosFormats

/// The digest algorithms Custos computes over evidence.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    case sha256, md5, sha1

    /// The output length in bytes.
    public var byteCount: Int {
        switch self {
        case .sha256: 32
        case .md5: 16
        case .sha1: 20
        }
    }

    /// The fetched algorithm, shared by every context (EVP_MD objects are immutable once fetched).
    var md: OpaquePointer {
        switch self {
        case .sha256: FetchedDigests.sha256
        case .md5: FetchedDigests.md5
        case .sha1: FetchedDigests.sha1
        }
    }
}

private enum FetchedDigests {
    nonisolated(unsafe) static let sha256: OpaquePointer = fetch("SHA2-256")
    nonisolated(unsafe) static let md5: OpaquePointer = fetch("MD5")
    nonisolated(unsafe) static let sha1: OpaquePointer = fetch("SHA1")

    static func fetch(_ name: String) -> OpaquePointer {
        guard let md = EVP_MD_fetch(nil, name, nil) else {
            fatalError("OpenSSL has no \(name): \(OpenSSLError(call: "EVP_MD_fetch"))")
        }
        return md
    }
}

/// A streaming message digest. Owns one `EVP_MD_CTX`, freed in `deinit`; use from one thread at a time.
public final class MessageDigest {
    public let algorithm: DigestAlgorithm
    private let context: OpaquePointer

    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        guard let context = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
        self.context = context
        guard EVP_DigestInit_ex2(context, algorithm.md, nil) == 1 else {
            fatalError("EVP_DigestInit_ex2: \(OpenSSLError(call: "EVP_DigestInit_ex2"))")
        }
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        let ok = EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
        precondition(ok == 1, "EVP_DigestUpdate failed")
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything given; the context is reset for reuse.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = EVP_DigestFinal_ex(context, &out, &length)
        precondition(ok == 1, "EVP_DigestFinal_ex failed")
        _ = EVP_DigestInit_ex2(context, algorithm.md, nil)
        return Array(out.prefix(Int(length)))
    }

    /// The SHA-256 of everything given, without allocating; the context is reset for reuse.
    public func finishHash() -> Hash {
        precondition(algorithm == .sha256, "finishHash is for SHA-256")
        let hash = Hash { out in
            var length: UInt32 = 0
            let ok = EVP_DigestFinal_ex(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
            precondition(ok == 1 && length == 32, "EVP_DigestFinal_ex failed")
        }
        _ = EVP_DigestInit_ex2(context, algorithm.md, nil)
        return hash
    }

    /// The one-shot digest of `bytes`.
    public static func digest(_ algorithm: DigestAlgorithm, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = EVP_Digest(bytes.baseAddress, bytes.count, &out, &length, algorithm.md, nil)
        precondition(ok == 1, "EVP_Digest failed")
        return Array(out.prefix(Int(length)))
    }
}

/// SHA-256 through OpenSSL (SHA-NI where the processor has it), for the formats module.
public struct OpenSSLSHA256: SHA256Digesting {
    public init() {}

    public func sha256(_ bytes: UnsafeRawBufferPointer) -> Hash {
        Hash { out in
            var length: UInt32 = 0
            let ok = EVP_Digest(
                bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), bytes.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, DigestAlgorithm.sha256.md, nil)
            precondition(ok == 1 && length == 32, "EVP_Digest SHA-256 failed")
        }
    }
}

extension MerkleHasher {
    /// The RFC 6962 hasher on OpenSSL's SHA-256.
    public static let openSSL = MerkleHasher(OpenSSLSHA256())
}
