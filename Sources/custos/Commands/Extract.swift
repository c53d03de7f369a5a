import ArgumentParser
import CustosCustody
import CustosFormats
import CustosLedger

struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take originals out of the vault, re-hashed on the way out, each recorded as an `extracted` event.",
        discussion: """
            Each original is read from its archive in one pass and written into the folder under its \
            original name (the last component of the name its manifest records, byte-exact; its item \
            id when that name is not a safe file name). Its SHA-256 (and MD5 and SHA-1 when they were \
            recorded) must be those of the seal, or the file is removed again, the extraction is \
            recorded as failed and custos exits 1. An existing file is never overwritten: a name that \
            is taken refuses the command before anything is written (exit 2). The folder may not be \
            a symbolic link, nor owned by another account, nor writable by group or others without \
            the sticky bit (exit 2): another account could replace the file there once written. Each \
            item gets its own `extracted` entry (its result and SHA-256); the reason, the folder and \
            the name are kept in the event's details document. On a vault closed to this \
            account (or with --socket), the daemon reads and re-hashes each original and records \
            the extraction for this account as the kernel names it; this command writes the bytes \
            it streams into the folder by the same rules, as this account.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item ids (or unique prefixes), or SHA-256 prefixes.") var items: [String]
    @Option(name: .shortAndLong, help: "The folder to write into (made, mode 0700, if missing; not a symbolic link).")
    var output: String
    @Option(help: "Why the originals leave the vault (recorded; one line, at most 4096 bytes).") var reason: String
    @Option(help: "Your name as the examiner, kept with the reason (the account is recorded in any case).")
    var examiner: String?

    func validate() throws {
        if items.isEmpty { throw ValidationError("give at least one item") }
    }

    func run() throws {
        if case .socket(let socket) = try Gateway.resolve(vault, .acting) {
            let gateway = Gateway.socket(socket)
            try runThroughDaemon(gateway, socket: socket)
            return
        }
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion).session()
        var records = [ItemRecord]()
        for text in items {
            let record = try session.resolveItem(text)
            if !records.contains(where: { $0.item == record.item }) { records.append(record) }
        }
        let outcomes = try session.extract(records, to: RawArguments.raw(output), reason: reason)
        var failures = [String]()
        for outcome in outcomes {
            let name = DisplayName.escape(outcome.name)
            switch outcome.result {
            case .ok(let sha256):
                Output.line(
                    "extracted item \(outcome.record.item) as \(name): sha256 \(sha256.hex) (entry \(outcome.entry.sequence))"
                )
                if let note = outcome.nameNote { Output.line("  note: \(note)") }
            case .failed(let code, let message):
                failures.append(
                    "item \(outcome.record.item): not extracted [\(code)]: \(message); recorded as a failed extraction (entry \(outcome.entry.sequence)); run custos verify"
                )
            }
        }
        if !failures.isEmpty { throw CLIError(message: failures.joined(separator: "\ncustos: "), exitCode: 1) }
        try session.requireCovered()
    }
}
