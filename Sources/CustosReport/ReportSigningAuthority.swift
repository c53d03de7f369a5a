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

    /// A bureau's own report-signing certificate, imported (`custos init --report-key …`,
    /// `custos report-signer`): its key must belong to it, and it must sign a test report that
    /// verifies up to its chain as `openssl cms -verify -CAfile CHAIN` does (so its key usage
    /// allows signing), before it is kept.
    public static func importing(key keyPEM: [UInt8], certificate certificatePEM: [UInt8], chain chainPEM: [UInt8])
        throws -> Vault.ReportSigningFiles
    {
        let files: Vault.ReportSigningFiles
        do {
            files = Vault.ReportSigningFiles(
                key: try SigningKey(pem: keyPEM), certificate: try Certificate.all(pem: certificatePEM)[0],
                chain: try Certificate.all(pem: chainPEM))
        } catch {
            throw VaultError(.badConfiguration, "the report-signing key, certificate or chain cannot be read: \(error)")
        }
        guard !files.chain.isEmpty else {
            throw VaultError(.badConfiguration, "the report-signing chain holds no certificate")
        }
        guard files.certificate.matches(files.key) else {
            throw VaultError(
                .badConfiguration, "the report-signing key does not belong to the report-signing certificate")
        }
        let test = Array("custos report-signing test".utf8)
        let signature: [UInt8]
        do {
            signature = try DetachedSignature.sign(
                test, key: files.key, certificate: files.certificate, chain: files.chain)
        } catch {
            throw VaultError(.badConfiguration, "the report-signing certificate cannot sign: \(error)", cause: error)
        }
        let problems = DetachedSignature.verify(test, signature: signature, anchors: files.chain)
        guard problems.isEmpty else {
            throw VaultError(
                .badConfiguration,
                "a test report signed with it does not verify up to its chain: \(problems.joined(separator: "; "))")
        }
        return files
    }

    /// The vault's report signer; made and kept first when the vault has none (a vault made
    /// before reports were signed gets one at its first report, by its writer).
    /// Read under the report-signer lock, shared: an import replacing the signer meanwhile (which
    /// holds it exclusively) is waited for, so the report is signed by the old signer or the new
    /// one, never refused for a certificate that does not match its key. The first signer is
    /// made under the lock held exclusively, once, however many reports ask at the same time.
    public static func signer(of vault: Vault, now: Int64) throws -> Vault.ReportSigningFiles {
        if vault.hasReportSigner {
            let lock = try vault.lockReportSigner(exclusive: false)
            return try withExtendedLifetime(lock) { try vault.reportSigner() }
        }
        let lock = try vault.lockReportSigner(exclusive: true)
        return try withExtendedLifetime(lock) {
            if !vault.hasReportSigner {
                try vault.installReportSigner(try generate(origin: vault.configuration.origin, now: now))
            }
            return try vault.reportSigner()
        }
    }
}
