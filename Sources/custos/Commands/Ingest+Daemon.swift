import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import CustosService

/// `ingest` through the daemon's socket (Docs/Protocol.md): this process, as the caller, opens
/// each file by the rules of the direct path (`FileSystem.openEvidence`: no link followed, a
/// regular file only) and sends its bytes with what its `fstat` says of it; the daemon, as the
/// service account, seals them for the caller the kernel names. The file is re-checked before
/// its last bytes leave: one that changed while it was sent is cut short, and the daemon keeps
/// nothing of it. The SHA-256 of the bytes read here must be the one the daemon sealed.
extension Ingest {
    func runThroughDaemon(socket: String) throws {
        let (files, unreadableDirectories) = inputs()
        var notSealed = unreadableDirectories
        var recorded = [(path: RawPath, entries: ClosedRange<UInt64>)]()
        var stopped: String?
        var checkpoint: String?
        var uncovered: ServiceFailure?
        var mismatched = false
        for (index, path) in files.enumerated() {
            let outcome: FileUpload.Outcome
            do {
                // One checkpoint for the run, signed with its last seal (as the direct path signs one).
                outcome = try send(path, socket: socket, last: index == files.count - 1)
            } catch let error as FileUpload.Refusal {
                Output.error("custos: refused: \(error.message)")
                notSealed += 1
                continue
            }
            for note in outcome.reply.notes { Output.error("custos: \(note)") }
            guard let result = outcome.reply.result, let item = result["item"]?.stringValue,
                let entry = result["entry"]?.integerValue, let sha256 = result["sha256"]?.stringValue
            else {
                notSealed += 1
                let failure =
                    outcome.reply.failure ?? ServiceFailure(.failed, "\(path): the daemon's reply names no item")
                // As the direct path says it: a refusal of the file, a fault of the vault.
                switch failure.code {
                case .refused: Output.error("custos: refused: \(failure.message)")
                case .failed, .forbidden: Output.error("custos: \(failure.message)")
                default: Output.error("custos: \(path): \(failure.message)")
                }
                // A refused role, or a vault that cannot be written, refuses the rest as well.
                if [.forbidden, .failed, .busy].contains(failure.code) {
                    stopped = failure.message
                    notSealed += files.count - index - 1
                    break
                }
                continue
            }
            if sha256 != outcome.sha256.hex {
                // The bytes sealed are not the bytes read here: say so plainly.
                mismatched = true
                Output.error(
                    "custos: \(path): the daemon sealed SHA-256 \(sha256) as item \(item) (entry \(entry)), but the bytes "
                        + "read here have SHA-256 \(outcome.sha256.hex); run custos verify and seal the file again")
            }
            let last = result["stampEntry"]?.integerValue ?? entry
            recorded.append((path, UInt64(entry)...UInt64(max(entry, last))))
            let note =
                result["size"]?.integerValue == 0
                ? " (empty file)"
                : result["shared"]?.boolValue == true ? " (content already in the vault; archive shared)" : ""
            Output.line("sealed \(item) entry \(entry) sha256 \(sha256) \(path)\(note)")
            if let size = result["checkpoint"]?["size"]?.integerValue,
                let root = result["checkpoint"]?["root"]?.stringValue
            {
                checkpoint = "checkpoint size \(size) root \(root)"
            }
            if let failure = outcome.reply.failure, failure.code == .uncovered { uncovered = failure }
        }
        if let checkpoint {
            Output.line(checkpoint)
        } else if !recorded.isEmpty {
            Output.error(
                "custos: the items sealed are covered by the daemon's next signed checkpoint (it signs one within its checkpoint-seconds)"
            )
        }
        let inputs = files.count + unreadableDirectories
        if let stopped {
            let what =
                recorded.isEmpty
                ? "nothing was recorded"
                : "recorded: "
                    + recorded.map { "\($0.path) (entries \($0.entries.lowerBound)-\($0.entries.upperBound))" }
                    .joined(separator: ", ")
            Output.error("custos: sealing stopped: \(stopped); \(what)")
        }
        if mismatched { throw CLIError(message: "the daemon sealed other bytes than those read here", exitCode: 1) }
        if notSealed > 0 {
            throw CLIError(
                message: notSealed < inputs
                    ? "\(notSealed) of \(inputs) inputs were not sealed"
                    : inputs == 1 ? "the input was not sealed" : "none of the \(inputs) inputs was sealed")
        }
        if let uncovered { throw uncovered.cliError }
    }

    /// Sends one file: its declared status in the arguments, its bytes as the body.
    private func send(_ path: RawPath, socket: String, last: Bool) throws -> FileUpload.Outcome {
        try FileUpload.send(path, socket: socket, operation: .ingest) { status in
            var arguments: JSONObject = [
                "original": DeclaredFile(path: FileUpload.declaredPath(path), status: status).json,
                "case": .string(caseID), "exhibit": .string(exhibit), "description": .string(description),
            ]
            if !examiner.isEmpty { arguments["examiner"] = .string(examiner) }
            if !last { arguments["checkpoint"] = .bool(false) }
            return arguments
        }
    }
}
