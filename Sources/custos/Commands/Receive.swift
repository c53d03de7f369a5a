import ArgumentParser
import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosService
import CustosVault

struct Receive: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Receive items another node handed over (a file `custos transfer` wrote).",
        discussion: """
            The file must be signed by a node this vault knows (`custos peer add`); its entries must be \
            in the sender's signed log (inclusion proofs to its checkpoint), and every archive and \
            manifest must be the one its entry records: the originals are re-hashed. Items already in \
            this vault are refused, and so is a handover addressed (transfer --to) to another origin than \
            this vault's. The sender's checkpoint is compared with every one kept from it \
            (keys/peers/ORIGIN.checkpoints/SIZE): of a size kept with another root, the sender has shown two \
            logs, and the handover is refused (exit 1); one of a new size is kept beside them. On any \
            refusal nothing is recorded; exit 1 when bytes were altered, 2 for any other refusal. Then the archives and manifests are stored and one `received` \
            entry per item is recorded, naming the sender's origin and entry index, with the same digests.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The handover file.") var file: String
    @Option(help: "Why the items are received (kept in the details document).") var reason: String?
    @Option(help: "The handler's name (kept in the details document).") var examiner: String?

    func run() throws {
        if case .socket(let socket) = try Gateway.resolve(vault, .acting) {
            return try runThroughDaemon(socket: socket)
        }
        let vault = try vault.open()
        _ = try vault.signer()
        let custody = Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion)
        let session = try custody.session()
        let receipt: ReceiveReceipt
        do {
            receipt = try session.receive(RawArguments.raw(file), reason: reason)
        } catch let error as CustodyError {
            throw handoverFailure(error)
        }
        if let failure = receipt.stampFailure {
            Output.error("custos: \(file): received, but not time-stamped by this node: \(failure)")
        }
        for entry in receipt.event.entries {
            let sha256 = entry.digests?.sha256.hex ?? "?"
            let from = entry.details["fromIndex"]?.integerValue.map(String.init) ?? "?"
            let note = receipt.shared.contains(entry.item) ? " (content already in the vault; archive shared)" : ""
            Output.line(
                "received \(entry.item) entry \(entry.sequence) sha256 \(sha256) from \(receipt.origin) entry \(from)\(note)"
            )
        }
        try session.requireCovered()
    }

    /// Through the daemon's socket: the file, read here as the caller, is the request's body;
    /// the daemon checks and records it by the same workflow, for the caller the kernel names.
    private func runThroughDaemon(socket: String) throws {
        let path = RawArguments.raw(file)
        let outcome: FileUpload.Outcome
        do {
            outcome = try FileUpload.send(path, socket: socket, operation: .receive) { _ in
                var arguments: JSONObject = ["file": .byteString(FileUpload.declaredPath(path).bytes)]
                if let reason { arguments["reason"] = .string(reason) }
                if let examiner { arguments["examiner"] = .string(examiner) }
                return arguments
            }
        } catch let error as FileUpload.Refusal {
            throw CLIError(message: "refused: \(error.message); nothing was received")
        }
        for note in outcome.reply.notes { Output.error("custos: \(note)") }
        guard let result = outcome.reply.result else {
            let failure =
                outcome.reply.failure ?? ServiceFailure(.failed, "the daemon gave neither a result nor an error")
            throw failure.cliError
        }
        let origin = result["origin"]?.stringValue ?? "?"
        for entry in result["entries"]?.arrayValue ?? [] {
            let item = entry["item"]?.stringValue ?? "?"
            let sequence = entry["entry"]?.integerValue.map(String.init) ?? "?"
            let sha256 = entry["sha256"]?.stringValue ?? "?"
            let from = entry["fromIndex"]?.integerValue.map(String.init) ?? "?"
            let note = entry["shared"]?.boolValue == true ? " (content already in the vault; archive shared)" : ""
            Output.line("received \(item) entry \(sequence) sha256 \(sha256) from \(origin) entry \(from)\(note)")
        }
        if let failure = outcome.reply.failure { throw failure.cliError }
    }
}
