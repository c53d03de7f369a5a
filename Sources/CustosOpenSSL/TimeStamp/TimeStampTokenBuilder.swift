import COpenSSL
import CustosFormats
import Foundation

/// Makes the node's time-stamp tokens fast: the DER of a `TimeStampResp` is assembled around one
/// ECDSA signature, with everything that does not change from token to token (certificates,
/// signer identifier, ESSCertIDv2, policy) encoded once.
///
/// Its tokens have the structure `TimeStampAuthority` makes with OpenSSL's TS API
/// (`TS_RESP_create_response`): status granted; SignedData version 3 with a SHA-256 digest
/// algorithm; a TSTInfo with version 1, the policy, a SHA-256 imprint, a random 128-bit serial,
/// genTime in milliseconds and accuracy ±1 s; the TSA certificate and its chain; one SignerInfo
/// with the signed attributes contentType, signingTime, messageDigest and signingCertificateV2;
/// ecdsa-with-SHA256. They carry no nonce (nobody asked over a network). OpenSSL's TS API checks
/// them (`TimeStampVerifier`, `openssl ts -verify`); the tests hold the two makers to the same
/// fields. Made for an EC key only; another key goes through `TimeStampAuthority`.
///
/// Why: in OpenSSL 3.0, `TS_RESP_create_response` costs about five ECDSA signatures and takes
/// locks the sealing workers contend for (Docs/Performance.md).
public final class TimeStampTokenBuilder {
    private let signer: DigestSigner
    private let policy: String
    private let subject: String
    /// DER pieces made once.
    private let policyOID: [UInt8]
    private let certificates: [UInt8]
    private let signerIdentifier: [UInt8]
    private let signingCertificateAttribute: [UInt8]
    private let sha256 = MessageDigest(.sha256)

    /// nil when the key is not an EC key (the TS API is used for it instead).
    public init?(key: SigningKey, certificate: Certificate, chain: [Certificate], policy: String) throws {
        guard EVP_PKEY_get_base_id(key.pkey) == EVP_PKEY_EC, certificate.matches(key) else { return nil }
        signer = try DigestSigner(key: key)
        self.policy = policy
        subject = certificate.subject
        guard let object = OBJ_txt2obj(policy, 1) else {
            throw OpenSSLError(call: "OBJ_txt2obj", message: "the policy \(policy) is not an OID")
        }
        defer { ASN1_OBJECT_free(object) }
        policyOID = try derBytes("i2d_ASN1_OBJECT") { i2d_ASN1_OBJECT(object, $0) }
        let certificateDER = try certificate.derEncoding()
        certificates = try ([certificate] + chain).flatMap { try $0.derEncoding() }
        let issuer = try derBytes("i2d_X509_NAME") { i2d_X509_NAME(X509_get_issuer_name(certificate.x509), $0) }
        let serial = try derBytes("i2d_ASN1_INTEGER") {
            i2d_ASN1_INTEGER(X509_get0_serialNumber(certificate.x509), $0)
        }
        signerIdentifier = DER.sequence(issuer + serial)
        // SigningCertificateV2 { certs: [ ESSCertIDv2 { certHash } ] } (hashAlgorithm SHA-256 is
        // the default, so it is left out, as OpenSSL does).
        let certificateHash = OpenSSLSHA256().sha256(certificateDER).bytes
        signingCertificateAttribute = DER.sequence(
            DER.OID.signingCertificateV2
                + DER.set(DER.sequence(DER.sequence(DER.sequence(DER.octetString(certificateHash))))))
    }

    /// A token over a SHA-256 digest: the DER `TimeStampResp`, and what it says.
    public func stamp(sha256 imprint: Hash) throws -> (response: [UInt8], info: TimeStampInfo) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int64(now.tv_sec)
        let milliseconds = Int64(now.tv_nsec) / 1_000_000
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, 16) == 1 else { throw OpenSSLError(call: "RAND_bytes") }
        serial[0] &= 0x7f
        while serial.count > 1, serial[0] == 0 { serial.removeFirst() }
        if serial == [0] { serial = [1] }

        let genTime = Self.generalizedTime(seconds: seconds, milliseconds: milliseconds)
        let tstInfo = DER.sequence(
            DER.integer([1]) + policyOID
                + DER.sequence(DER.algorithmSHA256 + DER.octetString(imprint.bytes))
                + DER.integer(serial) + DER.tlv(0x18, Array(genTime.utf8))
                + DER.sequence(DER.integer([1])))
        let attributes = DER.sortedSetElements([
            DER.sequence(DER.OID.contentType + DER.set(DER.OID.tstInfo)),
            DER.sequence(
                DER.OID.signingTime + DER.set(DER.tlv(0x17, Array(Self.utcTime(seconds: seconds).utf8)))),
            DER.sequence(DER.OID.messageDigest + DER.set(DER.octetString(sha256.hashing(tstInfo)))),
            signingCertificateAttribute,
        ])
        // The signature covers the attributes encoded as a SET (RFC 5652, 5.4).
        let signature = try signer.sign(digest: sha256.hashing(DER.tlv(0x31, attributes)))
        let signerInfo = DER.sequence(
            DER.integer([1]) + signerIdentifier + DER.algorithmSHA256 + DER.tlv(0xA0, attributes)
                + DER.sequence(DER.OID.ecdsaWithSHA256) + DER.octetString(signature))
        let signedData = DER.sequence(
            DER.integer([3]) + DER.set(DER.algorithmSHA256)
                + DER.sequence(DER.OID.tstInfo + DER.tlv(0xA0, DER.octetString(tstInfo)))
                + DER.tlv(0xA0, certificates) + DER.set(signerInfo))
        let response = DER.sequence(
            DER.sequence(DER.integer([0])) + DER.sequence(DER.OID.signedData + DER.tlv(0xA0, signedData)))
        let info = TimeStampInfo(
            genTime: genTime, genTimeSeconds: seconds,
            serial: Hex.encode(serial.drop { $0 == 0 }), policy: policy,
            accuracyMilliseconds: 1000, authority: subject, imprint: imprint.bytes)
        return (response, info)
    }

    /// GeneralizedTime with milliseconds, trailing zeros of the fraction dropped (RFC 3161, 2.4.2):
    /// `20261125183610.809Z`, `20261125183610.8Z`, `20261125183610Z`.
    public static func generalizedTime(seconds: Int64, milliseconds: Int64) -> String {
        var text = digits(seconds: seconds)
        if milliseconds > 0 {
            var fraction = [
                UInt8(0x30 + milliseconds / 100), UInt8(0x30 + milliseconds / 10 % 10), UInt8(0x30 + milliseconds % 10),
            ]
            while fraction.last == 0x30 { fraction.removeLast() }
            text.append(0x2E)
            text += fraction
        }
        text.append(0x5A)
        return String(decoding: text, as: UTF8.self)
    }

    /// UTCTime (`YYMMDDHHMMSSZ`), as signingTime holds it for years 1950 to 2049.
    static func utcTime(seconds: Int64) -> String {
        String(decoding: digits(seconds: seconds).dropFirst(2) + [0x5A], as: UTF8.self)
    }

    /// `YYYYMMDDHHMMSS` in UTC, as ASCII digits.
    static func digits(seconds: Int64) -> [UInt8] {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (year, month, day) = RFC3339.civil(fromDays: days)
        var out = [UInt8]()
        out.reserveCapacity(20)
        func put(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(0x30 + value / divisor % 10))
                divisor /= 10
            }
        }
        put(year, 4)
        put(month, 2)
        put(day, 2)
        put(rest / 3600, 2)
        put(rest % 3600 / 60, 2)
        put(rest % 60, 2)
        return out
    }
}

extension MessageDigest {
    /// The digest of `bytes` alone; the context is reset for reuse.
    func hashing(_ bytes: [UInt8]) -> [UInt8] {
        update(bytes)
        return finish()
    }

}

extension Certificate {
    /// The certificate's DER.
    func derEncoding() throws -> [UInt8] { try derBytes("i2d_X509") { i2d_X509(x509, $0) } }
}

/// The few DER encodings a time-stamp token needs.
enum DER {
    static func tlv(_ tag: UInt8, _ body: [UInt8]) -> [UInt8] {
        var out = [tag]
        let count = body.count
        if count < 0x80 {
            out.append(UInt8(count))
        } else {
            var length = [UInt8]()
            var rest = count
            while rest > 0 {
                length.insert(UInt8(rest & 0xff), at: 0)
                rest >>= 8
            }
            out.append(0x80 | UInt8(length.count))
            out += length
        }
        return out + body
    }

    static func sequence(_ body: [UInt8]) -> [UInt8] { tlv(0x30, body) }
    static func set(_ body: [UInt8]) -> [UInt8] { tlv(0x31, body) }
    static func octetString(_ bytes: [UInt8]) -> [UInt8] { tlv(0x04, bytes) }

    /// A non-negative INTEGER from its big-endian magnitude (no leading zero bytes).
    static func integer(_ magnitude: [UInt8]) -> [UInt8] {
        tlv(0x02, (magnitude.first ?? 0) >= 0x80 ? [0] + magnitude : magnitude)
    }

    /// The elements of a DER SET OF, in DER order: ascending as octet strings, a shorter one
    /// padded with zeros (X.690, 11.6).
    static func sortedSetElements(_ elements: [[UInt8]]) -> [UInt8] {
        elements.sorted { a, b in
            for index in 0..<max(a.count, b.count) {
                let x = index < a.count ? a[index] : 0
                let y = index < b.count ? b[index] : 0
                if x != y { return x < y }
            }
            return false
        }.flatMap { $0 }
    }

    /// AlgorithmIdentifier sha256 with NULL parameters, as OpenSSL writes it.
    static let algorithmSHA256 = sequence(OID.sha256 + [0x05, 0x00])

    enum OID {
        static let sha256: [UInt8] = [0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01]
        static let signedData: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02]
        static let tstInfo: [UInt8] = [0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x04]
        static let contentType: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03]
        static let messageDigest: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04]
        static let signingTime: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05]
        static let signingCertificateV2: [UInt8] = [
            0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F,
        ]
        static let ecdsaWithSHA256: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]
    }
}
