import ArgumentParser
import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import CustosReport
import CustosVault

struct ReportSigner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report-signer",
        abstract: "The certificate that signs this node's reports: show it, or import a bureau's own.",
        subcommands: [Show.self, Import.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the report-signing certificate's subject, SHA-256 fingerprint and chain file.")
        @OptionGroup var vault: VaultOptions

        func run() throws {
            let vault = try vault.open()
            guard vault.hasReportSigner else {
                Output.line("no report-signing certificate yet: the first report makes one")
                return
            }
            let signer = try vault.reportSigner()
            Output.line("subject: \(signer.certificate.subject)")
            Output.line("sha256 fingerprint: \(try signer.certificate.sha256Fingerprint().hex)")
            Output.line("chain (the trust anchor courts are given): \(vault.reportChainPath)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign this node's reports with a bureau's own certificate from now on.",
            discussion: """
                The key must belong to the certificate, and a test report signed with them must verify up \
                to the chain as `openssl cms -verify -CAfile CHAIN` checks it (so the certificate's key \
                usage must allow digital signatures). The key file must not be readable by other users. \
                The vault keeps the key as keys/report.key (mode 0600) and the certificate and chain in \
                report/; a replaced certificate and its chain stay in report/retired/ so that the reports \
                it signed can still be checked. The change is recorded in the ledger as a \
                `report-signer-replaced` event about the whole vault (the SHA-256 fingerprints of the new \
                certificate and of the one replaced; `custos history` shows it). A report made meanwhile \
                is signed by the old certificate or the new one. Run it as the vault's owner, with the \
                daemon stopped: it is refused while a daemon serves the vault.
                """)
        @OptionGroup var vault: VaultOptions
        @Option(help: "The private key (PEM), mode 0600 or stricter.") var key: String
        @Option(help: "The report-signing certificate (PEM).") var cert: String
        @Option(help: "The certificates above it, up to the bureau's CA (PEM).") var chain: String

        func run() throws {
            let vault = try vault.open()
            let files = try ReportSigner.read(key: key, cert: cert, chain: chain)
            let session = try Custody(vault: vault, actor: .current(), tool: toolVersion).session()
            let imported = try session.importReportSigner(files)
            Output.line("report-signing certificate: \(files.certificate.subject)")
            Output.line("sha256 fingerprint: \(imported.certificate.hex)")
            if let retiredFile = imported.retiredFile {
                Output.line("the one it replaces is kept in \(retiredFile)")
            }
            Output.line(
                "recorded as entry \(imported.event.entries.map { "\($0.sequence)" }.joined(separator: ", ")) (report-signer-replaced)"
            )
            try session.requireCovered()
        }
    }

    /// Reads and proves an imported report signer (`--report-key` of `init` too); the messages
    /// name the file.
    static func read(key: String, cert: String, chain: String) throws -> Vault.ReportSigningFiles {
        func read(_ option: String, _ text: String, secret: Bool) throws -> [UInt8] {
            let path = RawArguments.raw(text)
            do {
                // Checked on the descriptor read: no link followed, no FIFO waited on, the mode of
                // the very file read.
                let descriptor: FileDescriptor
                let status: FileStatus
                do { (descriptor, status) = try FileSystem.openEvidence(path) } catch let error as FileSystemError
                    where [.notFound, .symlink, .notRegularFile, .changedWhileReading].contains(error.code)
                {
                    throw CLIError(message: "\(option) \(path): not a regular file of at most 1 MiB (\(error.message))")
                }
                guard status.size <= 1 << 20 else {
                    throw CLIError(message: "\(option) \(path): not a regular file of at most 1 MiB")
                }
                if secret, status.mode & 0o077 != 0 {
                    throw CLIError(
                        message:
                            "\(option) \(path): a private key readable by other users (mode 0\(String(status.mode & 0o777, radix: 8))); make it 0600 first"
                    )
                }
                return try descriptor.readAll()
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError(message: "\(option) \(path): cannot be read: \(error)")
            }
        }
        let keyBytes = try read("--key", key, secret: true)
        let certificate = try read("--cert", cert, secret: false)
        let chainBytes = try read("--chain", chain, secret: false)
        do {
            return try ReportSigningAuthority.importing(key: keyBytes, certificate: certificate, chain: chainBytes)
        } catch let error as VaultError {
            throw CLIError(message: "\(cert): \(error)")
        }
    }
}
