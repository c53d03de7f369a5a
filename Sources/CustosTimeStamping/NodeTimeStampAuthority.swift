import CustosFormats
import CustosOpenSSL
import CustosVault

/// The policy of the node's own time-stamping authority at `init`: a new CA and TSA certificate
/// (P-256; the CA's key used once and dropped, so no second TSA certificate can ever be issued
/// under this anchor; the TSA's certificate with `extendedKeyUsage=critical,timeStamping`), or a
/// bureau's own PKI imported; either is proven with a test token checked against its own chain
/// before the vault keeps it (`Vault.create`).
public enum NodeTimeStampAuthority {
    /// Where the TSA comes from at `init`.
    public enum Material: Sendable {
        /// A new CA and TSA certificate for this node; the CA's key is used once and dropped, so
        /// no second TSA certificate can ever be issued under this anchor.
        case generate
        /// A bureau's own PKI: the TSA's key, certificate and chain (PEM), and its policy OID.
        case importing(key: [UInt8], certificate: [UInt8], chain: [UInt8], policy: String)
        /// No TSA of the node's own (items then wait for an external authority's tokens).
        case none
    }

    /// Makes (or imports and checks) the TSA material, before anything of the vault is written.
    /// It is proven before it is kept: a token is made with it and checked against its own chain.
    public static func prepare(_ material: Material, origin: String, now: Int64)
        throws -> Vault.TimeStampAuthorityFiles?
    {
        let key: SigningKey
        let certificate: Certificate
        let chain: [Certificate]
        let policy: String
        switch material {
        case .none:
            return nil
        case .generate:
            let caKey = try SigningKey.generateP256()
            let ca = try Certificate.issue(
                commonName: "\(origin) TSA CA", organization: "Custos", subjectKey: caKey, issuer: nil,
                issuerKey: caKey, notBefore: now - 3600, notAfter: now + 86400 * 365 * 20,
                extensions: [
                    (Certificate.Extension.basicConstraints, "critical,CA:TRUE,pathlen:0"),
                    (Certificate.Extension.keyUsage, "critical,keyCertSign,cRLSign"),
                    (Certificate.Extension.subjectKeyIdentifier, "hash"),
                ])
            key = try SigningKey.generateP256()
            certificate = try Certificate.issue(
                commonName: "\(origin) TSA", organization: "Custos", subjectKey: key, issuer: ca, issuerKey: caKey,
                notBefore: now - 3600, notAfter: now + 86400 * 365 * 10,
                extensions: [
                    (Certificate.Extension.basicConstraints, "critical,CA:FALSE"),
                    (Certificate.Extension.keyUsage, "critical,digitalSignature,nonRepudiation"),
                    (Certificate.Extension.extendedKeyUsage, "critical,timeStamping"),
                    (Certificate.Extension.subjectKeyIdentifier, "hash"),
                    (Certificate.Extension.authorityKeyIdentifier, "keyid:always"),
                ])
            chain = [ca]
            policy = try TimeStampAuthority.uniquePolicyOID()
        case .importing(let keyPEM, let certificatePEM, let chainPEM, let importedPolicy):
            do {
                key = try SigningKey(pem: keyPEM)
                certificate = try Certificate.all(pem: certificatePEM)[0]
                chain = try Certificate.all(pem: chainPEM)
            } catch {
                throw VaultError(.badConfiguration, "the TSA key, certificate or chain cannot be read: \(error)")
            }
            guard certificate.matches(key) else {
                throw VaultError(.badConfiguration, "the TSA key does not belong to the TSA certificate")
            }
            policy = importedPolicy
        }
        do {
            let authority = try TimeStampAuthority(key: key, certificate: certificate, chain: chain, policy: policy)
            let request = try TimeStampRequest.withRandomNonce(sha256: OpenSSLSHA256().sha256(Array(origin.utf8)))
            let check = TimeStampVerifier.check(
                response: try authority.respond(to: request), request: request, anchors: [chain.last ?? certificate],
                intermediates: chain)
            guard check.passed else {
                throw VaultError(
                    .badConfiguration,
                    "a test token of the TSA does not verify: \(check.problems.joined(separator: "; "))")
            }
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.badConfiguration, "the TSA cannot sign: \(error)", cause: error)
        }
        return Vault.TimeStampAuthorityFiles(key: key, certificate: certificate, chain: chain, policy: policy)
    }
}
