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
            `custos history`), before the files take their names; the reason and the folder are kept \
            in its details document. As `extract`, it never writes over a file (a name taken in the \
            folder refuses the export) and refuses a folder another account owns or may write into \
            without the sticky bit (exit 2). On a vault closed to this account (or with --socket), \
            the daemon reads the tokens and records the export for this account as the kernel names \
            it; this command writes the files it sends into the folder by the same rules, as this \
            account.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix), or a SHA-256 prefix.") var item: String
    @Option(
        name: .shortAndLong,
        help: "The folder to write into (made, mode 0700, if missing; no file in it is overwritten).")
    var output: String
    @Option(help: "Why the tokens leave the vault (recorded; one line, at most 4096 bytes).") var reason: String
    @Option(help: "Your name as the examiner, kept with the reason (the account is recorded in any case).")
    var examiner: String?

    func run() throws {
        if case .socket(let socket) = try Gateway.resolve(vault, .acting) {
            try runThroughDaemon(Gateway.socket(socket), socket: socket)
            return
        }
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion).session()
        let record = try session.resolveItem(item)
        Output.text(try session.exportTimeStamps(of: record, to: RawArguments.raw(output), reason: reason))
        try session.requireCovered()
    }
}
