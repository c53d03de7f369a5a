import CustosFileSystem
import CustosFormats
import CustosOpenSSL

/// The node's report-signing certificate in the vault: what signs its chain-of-custody reports
/// (detached CMS, `FILE.p7s`).
///
/// ```
/// keys/report.key      its private key (PEM, mode 0600)
/// report/report.pem    its certificate: keyUsage=critical,digitalSignature,nonRepudiation
/// report/chain.pem     the certificates above it, up to its CA (the trust anchor courts are given)
/// ```
extension Vault {
    public var reportKeyPath: RawPath { root.appending("keys").appending("report.key") }
    public var reportFolder: RawPath { root.appending("report") }
    public var reportCertificatePath: RawPath { reportFolder.appending("report.pem") }
    public var reportChainPath: RawPath { reportFolder.appending("chain.pem") }

    /// The node's report signer as the vault keeps it: its key, certificate and chain (made by
    /// CustosReport's `ReportSigningAuthority`).
    public struct ReportSigningFiles: Sendable {
        public var key: SigningKey
        public var certificate: Certificate
        public var chain: [Certificate]

        public init(key: SigningKey, certificate: Certificate, chain: [Certificate]) {
            self.key = key
            self.certificate = certificate
            self.chain = chain
        }
    }

    /// Whether the vault holds a report-signing key (vaults made before version 0.3 have none
    /// until their first report).
    public var hasReportSigner: Bool { FileSystem.exists(reportKeyPath) }

    /// Takes the report-signer lock (`locks/report-signer.lock`): shared while a report reads the
    /// signer, exclusive while one is installed or replaced, so a report never reads a new
    /// certificate beside the old key (it gets the old signer or the new one, whole). Waits for a
    /// conflicting holder; released when the value goes.
    public func lockReportSigner(exclusive: Bool) throws -> FileLock {
        try FileSystem.makeDirectory(locksPath, mode: 0o700)
        return try FileLock(locksPath.appending("report-signer.lock"), exclusive: exclusive, wait: true)
    }

    /// Writes the report signer into the vault: the certificate and chain first, the key (mode
    /// 0600) last, so a key present means the whole signer is. The caller holds the report-signer
    /// lock exclusively, unless no one else can reach the vault yet (`init`).
    public func installReportSigner(_ files: ReportSigningFiles) throws {
        do {
            try FileSystem.makeDirectory(reportFolder, mode: 0o700)
            try FileSystem.writeDurably(try files.certificate.pem(), to: reportCertificatePath)
            try FileSystem.writeDurably(try files.chain.flatMap { try $0.pem() }, to: reportChainPath)
            try FileSystem.writeDurably(try files.key.pem(), to: reportKeyPath, mode: 0o600)
            try FileSystem.syncDirectory(root)
        } catch {
            throw VaultError(.storage, "\(root): the report-signing key could not be kept", cause: error)
        }
    }

    /// Where a replaced report signer's certificate and chain are kept (`report/retired/`), so
    /// that the reports it signed can still be checked; its key is not kept.
    public var retiredReportSignersFolder: RawPath { reportFolder.appending("retired") }

    /// Replaces the report signer by `files` (a bureau's own, imported): the certificate and
    /// chain found are kept in `report/retired/<certificate's SHA-256 fingerprint>.pem` first, as
    /// they are, even when they do not match the key (an import cut short by a crash leaves a
    /// new certificate beside the old key: the next import mends it). Then the new signer is
    /// written as `installReportSigner` writes one, its key last. Returns the retired file, when
    /// there was one. The caller holds the report-signer lock exclusively
    /// (`CustodySession.importReportSigner` takes it and records the change).
    @discardableResult
    public func replaceReportSigner(with files: ReportSigningFiles) throws -> RawPath? {
        var retired: RawPath?
        if FileSystem.exists(reportCertificatePath) {
            do {
                let certificate = try FileSystem.readFile(reportCertificatePath)
                let chain = FileSystem.exists(reportChainPath) ? try FileSystem.readFile(reportChainPath) : []
                // Named by the certificate's fingerprint (the SHA-256 of its DER), as the
                // `report-signer-replaced` entry records it; by the file's SHA-256 when it does
                // not parse (a damaged file, kept as it is all the same).
                let fingerprint = try? Certificate.all(pem: certificate).first?.sha256Fingerprint()
                let name = (fingerprint ?? OpenSSLSHA256().sha256(certificate)).hex + ".pem"
                try FileSystem.makeDirectory(retiredReportSignersFolder, mode: 0o700)
                let path = retiredReportSignersFolder.appending(name)
                try FileSystem.writeDurably(certificate + chain, to: path, mode: 0o600)
                try FileSystem.syncDirectory(reportFolder)
                retired = path
            } catch {
                throw VaultError(
                    .storage, "\(root): the old report-signing certificate could not be kept", cause: error)
            }
        }
        try installReportSigner(files)
        return retired
    }

    /// The node's report signer, read (the key must have mode 0600 and belong to the
    /// certificate).
    public func reportSigner() throws -> ReportSigningFiles {
        let key = try readPrivateKeyFile(reportKeyPath, what: "report-signing key")
        let files: ReportSigningFiles
        do {
            files = ReportSigningFiles(
                key: try SigningKey(pem: key),
                certificate: try Certificate.all(pem: FileSystem.readFile(reportCertificatePath))[0],
                chain: try Certificate.all(pem: FileSystem.readFile(reportChainPath)))
        } catch {
            throw VaultError(
                .keyProblem, "\(root): the report-signing key or its certificates cannot be read", cause: error)
        }
        guard files.certificate.matches(files.key) else {
            throw VaultError(
                .keyProblem, "\(reportKeyPath): the report-signing key does not belong to \(reportCertificatePath)")
        }
        return files
    }
}
