import CustosFileSystem
import CustosFormats
import CustosOpenSSL

/// The node's time-stamping authority in the vault:
///
/// ```
/// keys/tsa.key     its private key (PEM, mode 0600)
/// tsa/tsa.pem      its certificate: extendedKeyUsage=critical,timeStamping
/// tsa/chain.pem    the certificates above it, up to its CA (the trust anchor courts are given)
/// ```
extension Vault {
    public var timeStampKeyPath: RawPath { root.appending("keys").appending("tsa.key") }
    public var timeStampCertificatePath: RawPath { root.appending("tsa").appending("tsa.pem") }
    public var timeStampChainPath: RawPath { root.appending("tsa").appending("chain.pem") }

    /// Where the TSA comes from at `init`.
    public enum TimeStampMaterial: Sendable {
        /// A new CA and TSA certificate for this node; the CA's key is used once and dropped, so
        /// no second TSA certificate can ever be issued under this anchor.
        case generate
        /// A bureau's own PKI: the TSA's key, certificate and chain (PEM), and its policy OID.
        case importing(key: [UInt8], certificate: [UInt8], chain: [UInt8], policy: String)
        /// No TSA of the node's own (items then wait for an external authority's tokens).
        case none
    }

    /// A TSA made or imported, proven, not yet written.
    struct PreparedTimeStampAuthority {
        var key: SigningKey
        var certificate: Certificate
        var chain: [Certificate]
        var policy: String

        /// Writes it into the vault (the key with mode 0600).
        func install(in vault: Vault) throws {
            try FileSystem.makeDirectory(vault.root.appending("tsa"))
            try FileSystem.writeDurably(try key.pem(), to: vault.timeStampKeyPath, mode: 0o600)
            try FileSystem.writeDurably(try certificate.pem(), to: vault.timeStampCertificatePath)
            try FileSystem.writeDurably(try chain.flatMap { try $0.pem() }, to: vault.timeStampChainPath)
        }
    }

    /// Makes (or imports and checks) the TSA material, before anything of the vault is written.
    /// It is proven before it is kept: a token is made with it and checked against its own chain.
    static func prepareTimeStampAuthority(_ material: TimeStampMaterial, origin: String, now: Int64)
        throws -> PreparedTimeStampAuthority?
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
        return PreparedTimeStampAuthority(key: key, certificate: certificate, chain: chain, policy: policy)
    }

    /// The node's TSA, ready to sign, its key, certificate and chain read once (the key must have
    /// mode 0600): OpenSSL's TS API, and the token builder for an EC key (the same tokens; nil for
    /// another key).
    public func timeStampSigners() throws -> (authority: TimeStampAuthority, builder: TimeStampTokenBuilder?) {
        guard let policy = configuration.timeStampPolicy else {
            throw VaultError(.keyProblem, "\(root): this vault has no time-stamping authority")
        }
        try checkPrivateKeyFile(timeStampKeyPath, what: "TSA key")
        do {
            let key = try SigningKey(pem: FileSystem.readFile(timeStampKeyPath))
            let certificate = try Certificate.all(pem: FileSystem.readFile(timeStampCertificatePath))[0]
            let chain = try timeStampChain()
            return (
                try TimeStampAuthority(key: key, certificate: certificate, chain: chain, policy: policy),
                try TimeStampTokenBuilder(key: key, certificate: certificate, chain: chain, policy: policy)
            )
        } catch {
            throw VaultError(.keyProblem, "\(root): the TSA cannot be loaded", cause: error)
        }
    }

    /// The certificates above the TSA's; the last is the trust anchor.
    public func timeStampChain() throws -> [Certificate] {
        try Certificate.all(pem: FileSystem.readFile(timeStampChainPath))
    }
}
