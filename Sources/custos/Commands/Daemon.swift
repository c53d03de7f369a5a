import ArgumentParser
import CustosCustody
import CustosDaemon
import CustosFileSystem
import CustosFormats
import CustosSealing
import CustosVault
import Foundation
import Logging

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Watch the inbox and seal whatever is dropped into it (runs until SIGTERM or SIGINT).",
        discussion: """
            Settings come from custos-daemon.yaml in the vault (or --config FILE), then from the
            environment (CUSTOS_INBOX, CUSTOS_SETTLE_SECONDS, …), then the defaults; see
            Docs/Operations.md. Exit status: 0 after a graceful shutdown, 2 when the configuration or
            the folders are refused, 3 when a write or fsync of the vault failed and sealing stopped.
            """)

    @OptionGroup var vault: VaultOptions

    @Option(help: "The configuration file (default: custos-daemon.yaml in the vault, if present).")
    var config: String?

    @Flag(help: "Check the configuration, print the settings in force, and exit.")
    var check = false

    func run() async throws {
        let vault = try vault.open()
        var configuration: DaemonConfiguration
        do {
            configuration = try loadConfiguration(vault: vault)
        } catch let error as ConfigurationError {
            throw CLIError(message: "configuration refused: \(error)")
        }
        if let socket = self.vault.socket { configuration.socket = RawArguments.raw(socket) }
        if check {
            for (key, value) in configuration.summary { Output.line("\(key): \(value)") }
            return
        }
        let logger = Logger(label: "custos.daemon")
        do {
            try await Daemon.run(
                vault: vault, configuration: configuration, actor: .current(), tool: toolVersion, logger: logger)
        } catch let error as DaemonError where error.code == .sealingStopped {
            throw CLIError(message: "sealing stopped: \(error)", exitCode: 3)
        } catch let error as DaemonError {
            throw CLIError(message: "\(error)")
        }
    }

    private func loadConfiguration(vault: Vault) throws -> DaemonConfiguration {
        var file: RawPath?
        var text: String?
        if let config {
            file = RawArguments.raw(config)
        } else if FileSystem.exists(vault.root.appending(DaemonConfiguration.fileName)) {
            file = vault.root.appending(DaemonConfiguration.fileName)
        }
        if let file {
            let bytes: [UInt8]
            do {
                bytes = try FileSystem.readFile(file)
            } catch {
                throw ConfigurationError(file: file.description, line: nil, "cannot be read: \(error)")
            }
            guard let decoded = String(validating: bytes, as: UTF8.self) else {
                throw ConfigurationError(file: file.description, line: nil, "is not UTF-8 text")
            }
            text = decoded
        }
        return try DaemonConfiguration.load(
            vault: vault.root, file: file, fileText: text, environment: ProcessInfo.processInfo.environment)
    }
}
