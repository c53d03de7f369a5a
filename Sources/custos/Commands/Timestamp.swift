import ArgumentParser
import CustosCustody
import CustosFormats
import CustosLedger

struct TimestampCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timestamp", abstract: "RFC 3161 time-stamp tokens of items.",
        subcommands: [TimestampExport.self])
}

struct TimestampExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write an item's tokens (.tsr), the TSA chain (.pem) and the openssl ts -verify command lines.",
        discussion: """
            The export is recorded in the ledger as an `exported` event about the item (see \
            `custos history`); the reason and the folder are kept in its details document.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix), or a SHA-256 prefix.") var item: String
    @Option(name: .shortAndLong, help: "The folder to write into (created if needed).") var output: String
    @Option(help: "Why the tokens leave the vault (recorded; one line, at most 4096 bytes).") var reason: String
    @Option(help: "Your name as the examiner, kept with the reason (the account is recorded in any case).")
    var examiner: String?

    func run() throws {
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion).session()
        let record = try session.resolveItem(item)
        Output.text(try session.exportTimeStamps(of: record, to: RawArguments.raw(output), reason: reason))
        try session.requireCovered()
    }
}
