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

    /// The node's TSA as `init` writes it into the vault: its key, certificate, chain and policy
    /// (made or imported, and proven, by CustosTimeStamping's `NodeTimeStampAuthority`).
    public struct TimeStampAuthorityFiles: Sendable {
        public var key: SigningKey
        public var certificate: Certificate
        public var chain: [Certificate]
        public var policy: String

        public init(key: SigningKey, certificate: Certificate, chain: [Certificate], policy: String) {
            self.key = key
            self.certificate = certificate
            self.chain = chain
            self.policy = policy
        }

        /// Writes it into the vault (the key with mode 0600).
        func install(in vault: Vault) throws {
            try FileSystem.makeDirectory(vault.root.appending("tsa"))
            try FileSystem.writeDurably(try key.pem(), to: vault.timeStampKeyPath, mode: 0o600)
            try FileSystem.writeDurably(try certificate.pem(), to: vault.timeStampCertificatePath)
            try FileSystem.writeDurably(try chain.flatMap { try $0.pem() }, to: vault.timeStampChainPath)
        }
    }

    /// The node's TSA, ready to sign, its key, certificate and chain read once (the key must have
    /// mode 0600): OpenSSL's TS API, and the token builder for an EC key (the same tokens; nil for
    /// another key).
    public func timeStampSigners() throws -> (authority: TimeStampAuthority, builder: TimeStampTokenBuilder?) {
        guard let policy = configuration.timeStampPolicy else {
            throw VaultError(.keyProblem, "\(root): this vault has no time-stamping authority")
        }
        let pem = try readPrivateKeyFile(timeStampKeyPath, what: "TSA key")
        do {
            let key = try SigningKey(pem: pem)
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
