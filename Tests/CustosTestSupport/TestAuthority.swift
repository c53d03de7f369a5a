import COpenSSL
import CustosOpenSSL
import Foundation

/// A CA and a TSA under it, made the way `custos init` will make them.
public struct TestAuthority: Sendable {
    public let caKey: SigningKey
    public let ca: Certificate
    public let tsaKey: SigningKey
    public let tsa: Certificate

    public init(
        name: String = "Custos test TSA", tsaUsage: String = "critical,timeStamping", notBefore: Int64? = nil,
        notAfter: Int64? = nil
    ) throws {
        let now = Int64(Date().timeIntervalSince1970)
        caKey = try SigningKey.generateP256()
        ca = try Certificate.issue(
            commonName: "\(name) CA", organization: "Custos tests", subjectKey: caKey, issuer: nil, issuerKey: caKey,
            notBefore: now - 86400 * 30, notAfter: now + 86400 * 3650,
            extensions: [
                (NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
            ])
        tsaKey = try SigningKey.generateP256()
        tsa = try Certificate.issue(
            commonName: name, organization: "Custos tests", subjectKey: tsaKey, issuer: ca, issuerKey: caKey,
            notBefore: notBefore ?? now - 86400, notAfter: notAfter ?? now + 86400 * 365,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature,nonRepudiation"),
                (NID_ext_key_usage, tsaUsage), (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ])
    }

    public func authority() throws -> TimeStampAuthority {
        try TimeStampAuthority(key: tsaKey, certificate: tsa, chain: [ca], policy: "1.3.6.1.4.1.57264.1.1")
    }
}
