import CustosFormats
import CustosOpenSSL
import CustosVault

/// The node's report-signing certificate, made as the node's TSA is (`NodeTimeStampAuthority`):
/// a new CA whose key is used once and dropped (no second certificate can ever be issued under
/// this anchor), and a P-256 signing certificate under it with
/// `keyUsage=critical,digitalSignature,nonRepudiation` and no extended key usage, which
/// `openssl cms -verify` accepts for its default purpose. It is proven before it is kept: a test
/// signature is made with it.
public enum ReportSigningAuthority {
    /// A new CA and report-signing certificate for the node `origin`.
    public static func generate(origin: String, now: Int64) throws -> Vault.ReportSigningFiles {
        let caKey = try SigningKey.generateP256()
        let ca = try Certificate.issue(
            commonName: "\(origin) report CA", organization: "Custos", subjectKey: caKey, issuer: nil,
            issuerKey: caKey, notBefore: now - 3600, notAfter: now + 86400 * 365 * 20,
            extensions: [
                (Certificate.Extension.basicConstraints, "critical,CA:TRUE,pathlen:0"),
                (Certificate.Extension.keyUsage, "critical,keyCertSign,cRLSign"),
                (Certificate.Extension.subjectKeyIdentifier, "hash"),
            ])
        let key = try SigningKey.generateP256()
        let certificate = try Certificate.issue(
            commonName: "\(origin) reports", organization: "Custos", subjectKey: key, issuer: ca, issuerKey: caKey,
            notBefore: now - 3600, notAfter: now + 86400 * 365 * 10,
            extensions: [
                (Certificate.Extension.basicConstraints, "critical,CA:FALSE"),
                (Certificate.Extension.keyUsage, "critical,digitalSignature,nonRepudiation"),
                (Certificate.Extension.subjectKeyIdentifier, "hash"),
                (Certificate.Extension.authorityKeyIdentifier, "keyid:always"),
            ])
        _ = try DetachedSignature.sign(Array(origin.utf8), key: key, certificate: certificate, chain: [ca])
        return Vault.ReportSigningFiles(key: key, certificate: certificate, chain: [ca])
    }

    /// The vault's report signer; made and kept first when the vault has none (a vault made
    /// before reports were signed gets one at its first report, by its writer).
    public static func signer(of vault: Vault, now: Int64) throws -> Vault.ReportSigningFiles {
        if !vault.hasReportSigner {
            try vault.installReportSigner(try generate(origin: vault.configuration.origin, now: now))
        }
        return try vault.reportSigner()
    }
}
