import COpenSSL
import CustosFormats

/// Detached CMS signatures (RFC 5652 SignedData without its content), as `openssl cms -sign
/// -binary` makes them: the content is signed byte for byte (`CMS_BINARY`: no MIME canonical
/// line endings), the signer's certificate and `chain` carried, the result DER.
/// `openssl cms -verify -binary -content FILE -in FILE.p7s -inform DER -CAfile CHAIN` checks it.
public enum DetachedSignature {
    /// Signs `content` with `key`, whose certificate is `certificate`; `chain` (the certificates
    /// above it) goes into the signature too.
    public static func sign(_ content: [UInt8], key: SigningKey, certificate: Certificate, chain: [Certificate])
        throws -> [UInt8]
    {
        guard let stack = custos_x509_stack_new() else { throw OpenSSLError(call: "sk_X509_new_null") }
        defer { custos_x509_stack_free_shallow(stack) }
        for certificate in chain {
            guard custos_x509_stack_push(stack, certificate.x509) > 0 else { throw OpenSSLError(call: "sk_X509_push") }
        }
        let flags = UInt32(CMS_DETACHED | CMS_BINARY)
        let cms = try readingFromMemory(content) { bio -> OpaquePointer in
            guard let cms = CMS_sign(certificate.x509, key.pkey, stack, bio, flags) else {
                throw OpenSSLError(call: "CMS_sign")
            }
            return cms
        }
        defer { CMS_ContentInfo_free(cms) }
        return try writingToMemory("i2d_CMS_bio") { i2d_CMS_bio($0, cms) }
    }
}

extension Certificate {
    /// The SHA-256 of the certificate's DER, as `openssl x509 -noout -fingerprint -sha256`
    /// prints it (without the colons).
    public func sha256Fingerprint() throws -> Hash { OpenSSLSHA256().sha256(try derEncoding()) }
}
