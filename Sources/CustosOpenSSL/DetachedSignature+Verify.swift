import COpenSSL
import CustosFormats

extension DetachedSignature {
    /// Checks a detached DER CMS signature over `content` as `openssl cms -verify -binary
    /// -content FILE -in FILE.p7s -inform DER -CAfile ANCHORS` does: the signature, and the
    /// signer's certificate up to one of `anchors` (the certificates the signature carries serve
    /// as intermediates). Returns the problems found (none: it verifies).
    public static func verify(_ content: [UInt8], signature: [UInt8], anchors: [Certificate]) -> [String] {
        ERR_clear_error()
        let parsed: OpaquePointer? = try? readingFromMemory(signature) { bio in d2i_CMS_bio(bio, nil) }
        guard let cms = parsed else { return ["the signature is not DER CMS"] }
        defer { CMS_ContentInfo_free(cms) }
        guard let store = X509_STORE_new() else { return ["cannot set up the verification"] }
        defer { X509_STORE_free(store) }
        for anchor in anchors { X509_STORE_add_cert(store, anchor.x509) }
        let verified: Int32? = try? readingFromMemory(content) { bio in
            CMS_verify(cms, nil, store, bio, nil, UInt32(CMS_BINARY))
        }
        guard verified == 1 else {
            let queue = OpenSSLError.drainQueue()
            return [
                "the signature does not verify: " + (queue.isEmpty ? "unknown reason" : queue.joined(separator: "; "))
            ]
        }
        return []
    }
}
