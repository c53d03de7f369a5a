import COpenSSL
import Foundation

/// Reads everything a memory BIO holds.
func bioBytes(_ bio: OpaquePointer) -> [UInt8] {
    var data: UnsafeMutablePointer<CChar>?
    let count = custos_bio_mem_data(bio, &data)
    guard count > 0, let data else { return [] }
    return Array(UnsafeRawBufferPointer(start: data, count: count))
}

/// Runs `body` with a memory BIO to write into, and returns what was written.
func writingToMemory(_ call: String, _ body: (OpaquePointer) -> Int32) throws -> [UInt8] {
    guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSLError(call: "BIO_new") }
    defer { BIO_free(bio) }
    guard body(bio) == 1 else { throw OpenSSLError(call: call) }
    return bioBytes(bio)
}

/// Runs `body` with a read-only memory BIO over `bytes`.
func readingFromMemory<T>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> T) throws -> T {
    try bytes.withUnsafeBytes { raw in
        guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
            throw OpenSSLError(call: "BIO_new_mem_buf")
        }
        defer { BIO_free(bio) }
        return try body(bio)
    }
}

/// A private key for X.509 and CMS signatures (ECDSA P-256). Owns its `EVP_PKEY`.
/// Sendable: the `EVP_PKEY` never changes after init; each use makes its own OpenSSL context.
public final class SigningKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(owning pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    /// A new ECDSA P-256 key.
    public static func generateP256() throws -> SigningKey {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw OpenSSLError(call: "EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else {
            throw OpenSSLError(call: "EVP_PKEY_keygen_init")
        }
        var key: OpaquePointer?
        guard EVP_PKEY_generate(context, &key) == 1, let key else { throw OpenSSLError(call: "EVP_PKEY_generate") }
        return SigningKey(owning: key)
    }

    /// Loads a PEM private key (PKCS #8 or traditional, unencrypted).
    public init(pem: [UInt8]) throws {
        guard let key = try readingFromMemory(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            throw OpenSSLError(call: "PEM_read_bio_PrivateKey", message: "not a PEM private key")
        }
        pkey = key
    }

    /// The key as unencrypted PKCS #8 PEM (store it with mode 0600).
    public func pem() throws -> [UInt8] {
        try writingToMemory("PEM_write_bio_PrivateKey") { PEM_write_bio_PrivateKey($0, pkey, nil, nil, 0, nil, nil) }
    }
}

/// An X.509 certificate. Owns one reference to its `X509`.
/// Sendable: the `X509` never changes once made, and OpenSSL allows concurrent reads of it.
public final class Certificate: @unchecked Sendable {
    let x509: OpaquePointer

    init(owning x509: OpaquePointer) { self.x509 = x509 }

    deinit { X509_free(x509) }

    /// Every certificate in a PEM text, in order.
    public static func all(pem: [UInt8]) throws -> [Certificate] {
        try readingFromMemory(pem) { bio in
            var found = [Certificate]()
            while let x509 = PEM_read_bio_X509(bio, nil, nil, nil) { found.append(Certificate(owning: x509)) }
            ERR_clear_error()  // The end of the text is reported as an error.
            guard !found.isEmpty else {
                throw OpenSSLError(call: "PEM_read_bio_X509", message: "no certificate in the PEM text")
            }
            return found
        }
    }

    public convenience init(der: [UInt8]) throws {
        var pointer: UnsafePointer<UInt8>? = nil
        let x509 = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            pointer = buffer.baseAddress
            return d2i_X509(nil, &pointer, buffer.count)
        }
        guard let x509 else { throw OpenSSLError(call: "d2i_X509", message: "not a DER certificate") }
        self.init(owning: x509)
    }

    public func pem() throws -> [UInt8] {
        try writingToMemory("PEM_write_bio_X509") { PEM_write_bio_X509($0, x509) }
    }

    /// Whether `key` is the private key of this certificate's public key.
    public func matches(_ key: SigningKey) -> Bool { X509_check_private_key(x509, key.pkey) == 1 }

    /// The subject as one line (`CN=…, O=…`).
    public var subject: String {
        guard
            let bytes = try? writingToMemory(
                "X509_NAME_print_ex",
                {
                    custos_print_name($0, X509_get_subject_name(x509)) >= 0 ? 1 : 0
                })
        else { return "" }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Seconds since the epoch of notBefore and notAfter.
    public var validity: (notBefore: Int64, notAfter: Int64) {
        (Self.seconds(X509_get0_notBefore(x509)), Self.seconds(X509_get0_notAfter(x509)))
    }

    static func seconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int64 {
        var tm = tm()
        guard let time, ASN1_TIME_to_tm(time, &tm) == 1 else { return 0 }
        return Int64(timegm(&tm))
    }

    /// The X.509 v3 extensions a certificate is issued with, by OpenSSL's numeric id (NID), for
    /// callers that do not import OpenSSL itself: `(Extension.extendedKeyUsage, "critical,timeStamping")`.
    public enum Extension {
        public static let basicConstraints = NID_basic_constraints
        public static let keyUsage = NID_key_usage
        public static let extendedKeyUsage = NID_ext_key_usage
        public static let subjectKeyIdentifier = NID_subject_key_identifier
        public static let authorityKeyIdentifier = NID_authority_key_identifier
    }

    /// Issues a certificate for `subjectKey`'s public key, signed by `issuerKey` (self-signed when
    /// `issuer` is nil), with extensions in OpenSSL's configuration syntax, e.g.
    /// `(Extension.extendedKeyUsage, "critical,timeStamping")`.
    public static func issue(
        commonName: String, organization: String?, subjectKey: SigningKey, issuer: Certificate?,
        issuerKey: SigningKey, notBefore: Int64, notAfter: Int64, extensions: [(Int32, String)]
    ) throws -> Certificate {
        guard let x509 = X509_new() else { throw OpenSSLError(call: "X509_new") }
        let certificate = Certificate(owning: x509)
        guard X509_set_version(x509, 2) == 1 else { throw OpenSSLError(call: "X509_set_version") }
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, 16) == 1 else { throw OpenSSLError(call: "RAND_bytes") }
        serial[0] &= 0x7f  // Positive.
        let number = BN_bin2bn(serial, 16, nil)
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(x509)) != nil else {
            throw OpenSSLError(call: "BN_to_ASN1_INTEGER")
        }
        guard ASN1_TIME_set(X509_getm_notBefore(x509), time_t(notBefore)) != nil,
            ASN1_TIME_set(X509_getm_notAfter(x509), time_t(notAfter)) != nil
        else { throw OpenSSLError(call: "ASN1_TIME_set") }
        let name = X509_get_subject_name(x509)
        var entries = [("CN", commonName)]
        if let organization { entries.insert(("O", organization), at: 0) }
        for (field, value) in entries {
            guard X509_NAME_add_entry_by_txt(name, field, 0x1001 /* MBSTRING_UTF8 */, value, -1, -1, 0) == 1 else {
                throw OpenSSLError(call: "X509_NAME_add_entry_by_txt")
            }
        }
        let issuerName = issuer.map { X509_get_subject_name($0.x509) } ?? name
        guard X509_set_issuer_name(x509, issuerName) == 1, X509_set_pubkey(x509, subjectKey.pkey) == 1 else {
            throw OpenSSLError(call: "X509_set_issuer_name")
        }
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.x509 ?? x509, x509, nil, nil, 0)
        for (nid, value) in extensions {
            guard let extensionValue = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw OpenSSLError(call: "X509V3_EXT_conf_nid", message: "bad extension \(value)")
            }
            defer { X509_EXTENSION_free(extensionValue) }
            guard X509_add_ext(x509, extensionValue, -1) == 1 else { throw OpenSSLError(call: "X509_add_ext") }
        }
        guard X509_sign(x509, issuerKey.pkey, EVP_sha256()) > 0 else { throw OpenSSLError(call: "X509_sign") }
        return certificate
    }
}

/// Signs SHA-256 digests with one key (ECDSA, a DER `Ecdsa-Sig-Value`), its OpenSSL context set
/// up once. Owns the `EVP_PKEY_CTX`; one thread at a time.
public final class DigestSigner {
    private let context: OpaquePointer
    private let key: SigningKey

    public init(key: SigningKey) throws {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pkey, nil) else {
            throw OpenSSLError(call: "EVP_PKEY_CTX_new_from_pkey")
        }
        guard EVP_PKEY_sign_init(context) == 1 else {
            EVP_PKEY_CTX_free(context)
            throw OpenSSLError(call: "EVP_PKEY_sign_init")
        }
        self.context = context
        self.key = key
    }

    deinit { EVP_PKEY_CTX_free(context) }

    /// The signature over a SHA-256 digest.
    public func sign(digest: [UInt8]) throws -> [UInt8] {
        var length = 0
        guard EVP_PKEY_sign(context, nil, &length, digest, digest.count) == 1 else {
            throw OpenSSLError(call: "EVP_PKEY_sign")
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_sign(context, &signature, &length, digest, digest.count) == 1 else {
            throw OpenSSLError(call: "EVP_PKEY_sign")
        }
        return Array(signature.prefix(length))
    }
}
