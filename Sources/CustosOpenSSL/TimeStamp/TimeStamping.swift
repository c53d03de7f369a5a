import COpenSSL
import CustosFormats
import Foundation

/// An RFC 3161 time-stamp request for a SHA-256 digest: what is sent to an authority (DER,
/// `application/timestamp-query`) and what a response is checked against.
public struct TimeStampRequest: Sendable, Equatable {
    public var sha256: Hash
    /// A random nonce (up to 20 bytes, positive), echoed by the authority.
    public var nonce: [UInt8]?
    /// Ask for the authority's certificate in the token.
    public var certificateRequested: Bool

    public init(sha256: Hash, nonce: [UInt8]? = nil, certificateRequested: Bool = true) {
        self.sha256 = sha256
        self.nonce = nonce
        self.certificateRequested = certificateRequested
    }

    /// A request with a fresh 64-bit random nonce.
    public static func withRandomNonce(sha256: Hash) throws -> TimeStampRequest {
        var nonce = [UInt8](repeating: 0, count: 8)
        guard RAND_bytes(&nonce, 8) == 1 else { throw OpenSSLError(call: "RAND_bytes") }
        nonce[0] = (nonce[0] & 0x7f) | 0x01  // Positive and eight bytes long.
        return TimeStampRequest(sha256: sha256, nonce: nonce, certificateRequested: true)
    }

    /// Builds the OpenSSL request; the caller frees it with `TS_REQ_free`.
    func make() throws -> OpaquePointer {
        guard let request = TS_REQ_new() else { throw OpenSSLError(call: "TS_REQ_new") }
        var ok = false
        defer { if !ok { TS_REQ_free(request) } }
        guard TS_REQ_set_version(request, 1) == 1 else { throw OpenSSLError(call: "TS_REQ_set_version") }
        guard let imprint = TS_MSG_IMPRINT_new() else { throw OpenSSLError(call: "TS_MSG_IMPRINT_new") }
        defer { TS_MSG_IMPRINT_free(imprint) }
        guard let algorithm = X509_ALGOR_new() else { throw OpenSSLError(call: "X509_ALGOR_new") }
        defer { X509_ALGOR_free(algorithm) }
        guard X509_ALGOR_set0(algorithm, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, nil) == 1,
            TS_MSG_IMPRINT_set_algo(imprint, algorithm) == 1
        else { throw OpenSSLError(call: "TS_MSG_IMPRINT_set_algo") }
        var digest = sha256.bytes
        guard TS_MSG_IMPRINT_set_msg(imprint, &digest, 32) == 1, TS_REQ_set_msg_imprint(request, imprint) == 1 else {
            throw OpenSSLError(call: "TS_REQ_set_msg_imprint")
        }
        if let nonce {
            let number = BN_bin2bn(nonce, Int32(nonce.count), nil)
            defer { BN_free(number) }
            guard let integer = BN_to_ASN1_INTEGER(number, nil) else { throw OpenSSLError(call: "BN_to_ASN1_INTEGER") }
            defer { ASN1_INTEGER_free(integer) }
            guard TS_REQ_set_nonce(request, integer) == 1 else { throw OpenSSLError(call: "TS_REQ_set_nonce") }
        }
        guard TS_REQ_set_cert_req(request, certificateRequested ? 1 : 0) == 1 else {
            throw OpenSSLError(call: "TS_REQ_set_cert_req")
        }
        ok = true
        return request
    }

    /// The DER encoding, as sent over HTTP.
    public func der() throws -> [UInt8] {
        let request = try make()
        defer { TS_REQ_free(request) }
        return try derBytes("i2d_TS_REQ") { i2d_TS_REQ(request, $0) }
    }
}

/// Encodes with an `i2d_*` function into a fresh array.
func derBytes(_ call: String, _ encode: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) throws
    -> [UInt8]
{
    let length = encode(nil)
    guard length > 0 else { throw OpenSSLError(call: call) }
    var bytes = [UInt8](repeating: 0, count: Int(length))
    let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
        return encode(&pointer)
    }
    guard written == length else { throw OpenSSLError(call: call) }
    return bytes
}

/// The node's own time-stamping authority: signs RFC 3161 tokens with OpenSSL's TS API (SHA-256
/// imprint, the node's policy OID, a unique serial, accuracy, ESSCertIDv2, the certificate and
/// its chain included when asked).
/// Sendable: the TS response context is used only under `lock`; the rest never changes after init.
public final class TimeStampAuthority: @unchecked Sendable {
    private let context: OpaquePointer
    private let chain: OpaquePointer
    private let lock = NSLock()
    /// SHA-256 fetched once: OpenSSL 3 looks a legacy `EVP_sha256()` up again at each use,
    /// under a lock the workers contend for.
    private let sha256: OpaquePointer
    public let certificate: Certificate
    public let policy: String
    /// The TSA certificate's subject, read once.
    private let subject: String

    /// `chain`: the certificates above the TSA's, up to its CA, included in every token.
    public init(key: SigningKey, certificate: Certificate, chain: [Certificate], policy: String) throws {
        guard let sha256 = EVP_MD_fetch(nil, "SHA256", nil) else { throw OpenSSLError(call: "EVP_MD_fetch") }
        self.sha256 = sha256
        guard let context = TS_RESP_CTX_new() else {
            EVP_MD_free(sha256)
            throw OpenSSLError(call: "TS_RESP_CTX_new")
        }
        self.context = context
        self.certificate = certificate
        self.policy = policy
        self.subject = certificate.subject
        guard let stack = custos_x509_stack_new() else { throw OpenSSLError(call: "sk_X509_new_null") }
        for extra in chain {
            X509_up_ref(extra.x509)
            _ = custos_x509_stack_push(stack, extra.x509)
        }
        self.chain = stack
        // The signer must carry extendedKeyUsage=critical,timeStamping: OpenSSL refuses it otherwise.
        guard TS_RESP_CTX_set_signer_cert(context, certificate.x509) == 1 else {
            throw OpenSSLError(
                call: "TS_RESP_CTX_set_signer_cert",
                message: "the TSA certificate is refused (it needs extendedKeyUsage=critical,timeStamping)")
        }
        guard TS_RESP_CTX_set_signer_key(context, key.pkey) == 1 else {
            throw OpenSSLError(call: "TS_RESP_CTX_set_signer_key")
        }
        guard let policyObject = OBJ_txt2obj(policy, 1) else {
            throw OpenSSLError(call: "OBJ_txt2obj", message: "the policy \(policy) is not an OID")
        }
        defer { ASN1_OBJECT_free(policyObject) }
        guard TS_RESP_CTX_set_def_policy(context, policyObject) == 1, TS_RESP_CTX_set_certs(context, stack) == 1,
            TS_RESP_CTX_add_md(context, sha256) == 1, TS_RESP_CTX_set_signer_digest(context, sha256) == 1,
            TS_RESP_CTX_set_ess_cert_id_digest(context, sha256) == 1,
            TS_RESP_CTX_set_accuracy(context, 1, 0, 0) == 1,
            TS_RESP_CTX_set_clock_precision_digits(context, 3) == 1
        else { throw OpenSSLError(call: "TS_RESP_CTX_set_*") }
        TS_RESP_CTX_set_serial_cb(
            context,
            { _, _ in
                // 128 random bits: unique without a counter to keep.
                var serial = [UInt8](repeating: 0, count: 16)
                guard RAND_bytes(&serial, 16) == 1 else { return nil }
                serial[0] &= 0x7f
                let number = BN_bin2bn(serial, 16, nil)
                defer { BN_free(number) }
                return BN_to_ASN1_INTEGER(number, nil)
            }, nil)
    }

    /// A policy OID of one's own without registering an arc: `2.25.<a random 128-bit integer>`
    /// (ITU-T X.667, the UUID arc).
    public static func uniquePolicyOID() throws -> String {
        var random = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&random, 16) == 1 else { throw OpenSSLError(call: "RAND_bytes") }
        random[6] = (random[6] & 0x0f) | 0x40  // A version 4 UUID.
        random[8] = (random[8] & 0x3f) | 0x80
        let number = BN_bin2bn(random, 16, nil)
        defer { BN_free(number) }
        guard let text = BN_bn2dec(number) else { throw OpenSSLError(call: "BN_bn2dec") }
        defer { custos_openssl_free(text) }
        return "2.25." + String(cString: text)
    }

    deinit {
        TS_RESP_CTX_free(context)
        custos_x509_stack_free_all(chain)
        EVP_MD_free(sha256)
    }

    /// Answers a request: the DER `TimeStampResp` (status granted, token inside).
    public func respond(to request: TimeStampRequest) throws -> [UInt8] {
        try stamp(request).response
    }

    /// Answers a request and reads what the token says from the response in memory (no second
    /// decoding of it): the DER `TimeStampResp` and its TSTInfo.
    public func stamp(_ request: TimeStampRequest) throws -> (response: [UInt8], info: TimeStampInfo) {
        let requestDER = try request.der()
        lock.lock()
        defer { lock.unlock() }
        let response = try readingFromMemory(requestDER) { bio -> OpaquePointer in
            guard let response = TS_RESP_create_response(context, bio) else {
                throw OpenSSLError(call: "TS_RESP_create_response")
            }
            return response
        }
        defer { TS_RESP_free(response) }
        let status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(response)))
        guard status == 0, let tst = TS_RESP_get_tst_info(response) else {
            throw OpenSSLError(
                call: "TS_RESP_create_response", message: "the node's TSA did not grant (status \(status))")
        }
        let der = try derBytes("i2d_TS_RESP") { i2d_TS_RESP(response, $0) }
        return (der, TimeStampVerifier.info(tst, response: response, authority: subject))
    }
}
