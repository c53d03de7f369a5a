import ArgumentParser
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosReport
import CustosSealing
import CustosTimeStamping
import CustosVault
import Foundation
import Logging

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a vault: configuration, ledger, object store, inbox and the node's signing key.")

    @OptionGroup var vault: VaultOptions

    @Option(help: "The log origin, naming this node's log (e.g. mjib.example.tw/evidence).")
    var origin: String

    @Option(help: "Archive compression: zstd, none, gzip or xz.")
    var compression: String = "zstd"

    @Flag(help: "Compute only SHA-256 (no MD5, no SHA-1).")
    var sha256Only = false

    @Option(
        help:
            "Import the time-stamping authority's private key (PEM) instead of making one; with --tsa-cert, --tsa-chain and --tsa-policy."
    )
    var tsaKey: String?
    @Option(help: "The imported TSA's certificate (PEM; extendedKeyUsage=critical,timeStamping).")
    var tsaCert: String?
    @Option(help: "The imported TSA's chain up to its CA (PEM).")
    var tsaChain: String?
    @Option(help: "The imported TSA's policy OID.")
    var tsaPolicy: String?
    @Flag(help: "No time-stamping authority of the node's own.")
    var noTsa = false

    @Option(
        help:
            "Import the bureau's own report-signing key (PEM, mode 0600) instead of making one; with --report-cert and --report-chain."
    )
    var reportKey: String?
    @Option(help: "The imported report-signing certificate (PEM; keyUsage digitalSignature).")
    var reportCert: String?
    @Option(help: "The imported report-signing certificate's chain up to the bureau's CA (PEM).")
    var reportChain: String?

    @Option(help: "The bureau this node belongs to, as its reports name it (e.g. 法務部調查局).")
    var bureau: String?

    @Option(
        help:
            "The time zone the node's reports give times in, an IANA name (Asia/Taipei, the default; Asia/Tokyo, Europe/Berlin)."
    )
    var timeZone: String?

    @Option(
        help:
            "A group whose members may drop evidence into the inbox (inbox 2770, vault folder 0750); without it, the vault is the owner's alone (0700)."
    )
    var group: String?

    func run() throws {
        guard let compression = Compression(rawValue: compression) else {
            throw CLIError(message: "--compression \(compression): not one of \(Compression.choice)")
        }
        var configuration = VaultConfiguration(
            origin: origin, compression: compression, md5: !sha256Only, sha1: !sha256Only)
        configuration.bureau = bureau
        if let timeZone {
            guard VaultConfiguration.isTimeZoneName(timeZone) else {
                throw CLIError(
                    message:
                        "--time-zone \(DisplayName.escape(Array(timeZone.utf8))): not a time zone this system knows (an IANA name such as Asia/Taipei, Asia/Tokyo or Europe/Berlin)"
                )
            }
            configuration.timeZone = timeZone
        }
        try configuration.validate(file: "--bureau")
        var reportSigner: Vault.ReportSigningFiles?
        if [reportKey, reportCert, reportChain].contains(where: { $0 != nil }) {
            guard let reportKey, let reportCert, let reportChain else {
                throw CLIError(
                    message: "importing a report signer takes all three: --report-key, --report-cert, --report-chain")
            }
            reportSigner = try ReportSigner.read(key: reportKey, cert: reportCert, chain: reportChain)
        }
        var material = noTsa ? NodeTimeStampAuthority.Material.none : .generate
        let imported = [tsaKey, tsaCert, tsaChain, tsaPolicy]
        if imported.contains(where: { $0 != nil }) {
            guard let tsaKey, let tsaCert, let tsaChain, let tsaPolicy else {
                throw CLIError(
                    message: "importing a TSA takes all four: --tsa-key, --tsa-cert, --tsa-chain, --tsa-policy")
            }
            func read(_ option: String, _ path: String) throws -> [UInt8] {
                do { return try FileSystem.readFile(RawArguments.raw(path)) } catch {
                    throw CLIError(message: "\(option) \(path): \(error)")
                }
            }
            material = .importing(
                key: try read("--tsa-key", tsaKey), certificate: try read("--tsa-cert", tsaCert),
                chain: try read("--tsa-chain", tsaChain), policy: tsaPolicy)
        }
        var inboxGroup: UInt32?
        if let group {
            guard let id = FileSystem.groupID(named: group) else {
                throw CLIError(message: "--group \(group): no such group on this system")
            }
            inboxGroup = id
        }
        // The TSA is made (or imported) and proven before anything of the vault is written.
        let timeStampAuthority = try NodeTimeStampAuthority.prepare(
            material, origin: configuration.origin, now: SystemClock.secondsSinceEpoch())
        let created = try Vault.create(
            at: vault.path, configuration: configuration, now: SystemClock.now(),
            timeStampAuthority: timeStampAuthority, inboxGroup: inboxGroup)
        // The report-signing certificate, made as the TSA's is (a vault made before it gets one
        // at its first report).
        try created.installReportSigner(
            try reportSigner
                ?? ReportSigningAuthority.generate(origin: configuration.origin, now: SystemClock.secondsSinceEpoch()))
        let key = try created.verifierKey()
        Output.line("created vault \(created.root) for \(origin)")
        Output.line("verifier key: \(key.key.text)")
        if let policy = created.configuration.timeStampPolicy {
            Output.line(
                "time-stamping authority: \(created.timeStampCertificatePath), trust anchor in \(created.timeStampChainPath), policy \(policy)"
            )
        }
    }
}
