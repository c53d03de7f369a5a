import ArgumentParser
import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosVault

struct Transfer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hand items over to another bureau: write a signed handover file and record the transfer.",
        discussion: """
            FILE is a pax tar (Docs/Formats.md): the items' sealed entries with their inclusion proofs \
            and time stamps, the node's latest signed checkpoint, the archives and manifests as stored, \
            and the node's signature over handover.json. Every archive and manifest is re-hashed first: \
            one that is not what its entry records refuses the transfer (exit 1). FILE must not exist; \
            it is never overwritten. One `transferred` entry per item is recorded, naming the SHA-256 of \
            handover.json; the recipient, the reason and the file name stay in its details document. \
            --to names the receiving node by its origin (the name in its checkpoints and its `custos key`); \
            only that node receives the file: it runs `custos receive FILE`. On a vault closed to this \
            account (or with --socket), the daemon builds the handover and records the transfer for this \
            account as the kernel names it, then streams the file; this command writes it as FILE, as \
            this account, keeping it only when its bytes are those the daemon named.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Items: ids or unique prefixes of them.") var items: [String]
    @Option(help: "The node the items are handed over to, by its origin (as `custos peer add` names it there).")
    var to: String
    @Option(help: "Why they are handed over (kept in the details document).") var reason: String
    @Option(name: .shortAndLong, help: "The handover file to write (must not exist).") var output: String
    @Option(help: "The handler's name (kept in the details document).") var examiner: String?

    func run() throws {
        if case .socket(let socket) = try Gateway.resolve(vault, .acting) {
            try runThroughDaemon(Gateway.socket(socket), socket: socket)
            return
        }
        let vault = try vault.open()
        _ = try vault.signer()  // a missing or exposed key refuses the command before anything is done
        let custody = Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion)
        let session = try custody.session()
        let records = try items.map { try session.resolveItem($0) }
        let receipt: TransferReceipt
        do {
            receipt = try session.transfer(records, to: to, reason: reason, output: RawArguments.raw(output))
        } catch let error as CustodyError {
            throw handoverFailure(error)
        }
        for entry in receipt.event.entries {
            Output.line("transferred \(entry.item) entry \(entry.sequence)")
        }
        Output.line(
            "handover \(receipt.file) sha256 \(receipt.document.hex) checkpoint \(receipt.checkpointSize) "
                + "(\(receipt.event.entries.count) items)")
        try session.requireCovered()
    }
}

/// A handover refused: exit 1 when bytes are not those recorded or signed (a failed check),
/// 2 for any other refusal (bad input, an unknown sender, an item already received).
func handoverFailure(_ error: CustodyError) -> CLIError {
    CLIError(message: error.description, exitCode: error.code == .altered ? 1 : 2)
}
