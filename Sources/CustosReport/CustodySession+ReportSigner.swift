import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

extension CustodyEventType {
    /// The node's report-signing certificate was replaced by an imported one (`custos
    /// report-signer import`): an event about the whole vault (item `""`). Its facts: the SHA-256
    /// fingerprint of the new certificate and of the one it replaces.
    public static let reportSignerReplaced = CustodyEventType(rawValue: "report-signer-replaced")
}

/// A report signer imported and recorded.
public struct ImportedReportSigner: Sendable {
    public var event: RecordedEvent
    /// The SHA-256 fingerprint (of the DER) of the new certificate.
    public var certificate: Hash
    /// The SHA-256 fingerprint of the certificate replaced, when there was one that could be read.
    public var retired: Hash?
    /// Where the replaced certificate and its chain are kept (`report/retired/`).
    public var retiredFile: RawPath?
}

extension CustodySession {
    /// Replaces the node's report signer by `files` (proven by `ReportSigningAuthority.importing`)
    /// and records it as a `report-signer-replaced` event about the whole vault, under the
    /// report-signer lock held exclusively: a report made meanwhile waits, then is signed by the
    /// new signer, or was signed by the old one before; it is never refused for a certificate
    /// beside another's key. The event is recorded right after the files are written, under the
    /// lock, so every report signed by the new certificate comes after it in the ledger.
    ///
    /// Refused while a daemon serves the vault: the daemon is the vault's only writer, and a
    /// private key is not sent through its socket. A failure to record after the files were
    /// written says so (the signer is replaced; importing the same files again records it).
    public func importReportSigner(_ files: Vault.ReportSigningFiles, now: String = SystemClock.now()) throws
        -> ImportedReportSigner
    {
        guard !vault.daemonIsRunning else {
            throw CustodyError(
                .refused,
                "\(vault.root): a daemon serves this vault and is its only writer; stop it, import the report signer as the vault's owner, then start it again (nothing was changed)"
            )
        }
        try prepareToRecord()
        let certificate = try files.certificate.sha256Fingerprint()
        let lock = try vault.lockReportSigner(exclusive: true)
        return try withExtendedLifetime(lock) {
            // The certificate replaced, as the vault holds it (it may not match the key: an import
            // cut short by a crash leaves a new certificate beside the old key).
            let old = try? Certificate.all(pem: FileSystem.readFile(vault.reportCertificatePath)).first
            var retired = try old?.sha256Fingerprint()
            // The certificate in use already: refused when the ledger records it so (nothing to
            // replace); otherwise an earlier import of it was cut short before it was recorded,
            // and this one records it, not naming itself as the one it retired.
            if retired == certificate {
                let last = try ledger.entries(about: "").last { $0.type == .reportSignerReplaced }
                if last?.details["certificate"]?.stringValue == certificate.hex {
                    throw CustodyError(
                        .refused,
                        "\(vault.reportCertificatePath): this certificate already signs the reports (recorded in entry \(last!.sequence)); nothing was changed"
                    )
                }
                retired = nil
            }
            let retiredFile = try vault.replaceReportSigner(with: files)
            let facts: JSONObject = [
                "certificate": .string(certificate.hex), "retired": retired.map { .string($0.hex) } ?? .null,
            ]
            var details: JSONObject = ["subject": .string(files.certificate.subject)]
            if let old { details["retiredSubject"] = .string(old.subject) }
            if let retiredFile { details["retiredFile"] = .byteString(retiredFile.bytes) }
            do {
                let event = try recordEvent(
                    .reportSignerReplaced, items: [""], facts: facts, details: details, now: now)
                return ImportedReportSigner(
                    event: event, certificate: certificate, retired: retired, retiredFile: retiredFile)
            } catch {
                throw VaultError(
                    .storage,
                    "\(vault.root): the report signer was replaced but the change could not be recorded; import the same files again to record it",
                    cause: error)
            }
        }
    }
}
