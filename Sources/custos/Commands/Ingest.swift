import ArgumentParser
import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault
import Foundation
import Logging

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal files (a directory: every regular file under it) into the vault.")

    @OptionGroup var vault: VaultOptions
    @Option(name: .customLong("case"), help: "Case number.") var caseID: String = ""
    @Option(help: "Exhibit number.") var exhibit: String = ""
    @Option(help: "Examiner's name.") var examiner: String = ""
    @Option(help: "Description of the evidence.") var description: String = ""
    @Argument(help: "Files or directories to seal.") var paths: [String]

    func run() throws {
        if case .socket(let socket) = try Gateway.resolve(vault, .acting) {
            return try runThroughDaemon(socket: socket)
        }
        let vault = try vault.open()
        let custody = Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion)
        let session = try custody.session()
        try session.prepareToRecord()  // a missing or exposed key refuses the command before anything is sealed
        // Shared with the daemon; its start-up reconciliation waits until this ingest is done.
        let (sealingLock, removed) = try vault.beginSealing()
        defer { withExtendedLifetime(sealingLock) {} }
        let logger = Logger(label: "custos.ingest")
        if !removed.isEmpty {
            logger.notice(
                "removed what killed sealing processes left half-written", metadata: ["files": "\(removed.count)"])
        }
        var sealed = 0
        let (files, unreadableDirectories) = inputs()
        var refused = unreadableDirectories
        // What was recorded before a failure, for its message: the inputs sealed and their entries.
        var recorded = [(path: RawPath, entries: ClosedRange<UInt64>)]()
        var stopped: String?
        for path in files {
            let request = SealRequest(
                path: path, caseID: caseID, exhibit: exhibit, examiner: examiner, description: description)
            let receipt: SealReceipt
            do {
                receipt = try session.seal(request)
            } catch let error as SealingError {
                refused += 1
                switch error.code {
                case .storage, .noSpace:
                    Output.error("custos: storage fault: \(error)")
                    stopped = "the vault could not be written"
                case .refused: Output.error("custos: refused: \(error)")
                default: Output.error("custos: not sealed: \(error)")
                }
                if stopped != nil { break }
                continue
            } catch let error as LedgerError {
                // One transaction: none of this input's entries is in the ledger.
                refused += 1
                Output.error(
                    "custos: storage fault: \(path): recording its seal in the ledger failed, nothing of it was "
                        + "recorded (its archive stays in the vault unrecorded; verify lists it): \(error)")
                stopped = "the ledger could not be written"
                break
            } catch {
                refused += 1
                Output.error("custos: \(path): not sealed: \(error)")
                stopped = "an unexpected error"
                break
            }
            if let failure = receipt.sealed.stampFailure {
                Output.error("custos: \(path): sealed, but not time-stamped: \(failure)")
            }
            let pending = receipt.sealed.pending
            let entry = receipt.entry
            recorded.append((path, entry.sequence...(receipt.stampEntry ?? entry).sequence))
            sealed += 1
            logger.info(
                "sealed",
                metadata: [
                    "item": "\(pending.item)", "case": "\(DisplayName.escape(Array(caseID.utf8)))",
                    "name": "\(path)", "sha256": "\(pending.digests.sha256.hex)", "size": "\(pending.size)",
                    "entry": "\(entry.sequence)", "shared": "\(pending.deduplicated)",
                ])
            let note =
                pending.size == 0
                ? " (empty file)" : pending.deduplicated ? " (content already in the vault; archive shared)" : ""
            Output.line(
                "sealed \(pending.item) entry \(entry.sequence) sha256 \(pending.digests.sha256.hex) \(path)\(note)")
        }
        let inputs = files.count + unreadableDirectories
        // Every input not sealed counts: refused, failed, or never tried once sealing stopped.
        let notSealed = inputs - sealed
        let what =
            recorded.isEmpty
            ? "nothing was recorded"
            : "recorded: "
                + recorded.map { "\($0.path) (entries \($0.entries.lowerBound)-\($0.entries.upperBound))" }
                .joined(separator: ", ")
        if let stopped {
            let untried = files.count - sealed - (refused - unreadableDirectories)
            Output.error(
                "custos: sealing stopped: \(stopped)"
                    + (untried > 0 ? "; \(untried) input\(untried == 1 ? " was" : "s were") not tried" : "")
                    + "; \(what)")
        }
        var unsigned = false
        if sealed > 0 {
            // Signed and stamped by the node's TSA in one transaction: it covers every entry.
            do {
                let note = try session.checkpoint()
                let checkpoint = try Checkpoint(parsing: note.text)
                Output.line("checkpoint size \(checkpoint.size) root \(checkpoint.root.base64)")
            } catch {
                unsigned = true
                Output.error(
                    "custos: signing the checkpoint failed (\(what), covered by no checkpoint yet; "
                        + "`custos checkpoint --sign` covers them): \(error)")
            }
        }
        if notSealed > 0 {
            let count =
                notSealed < inputs
                ? "\(notSealed) of \(inputs) inputs were not sealed"
                : inputs == 1 ? "the input was not sealed" : "none of the \(inputs) inputs was sealed"
            throw CLIError(message: count)
        }
        if unsigned { throw CLIError(message: "the checkpoint was not signed") }
    }

    /// The files the arguments name (a directory: every regular file under it), and how many
    /// directories could not be read (each said on standard error).
    func inputs() -> (files: [RawPath], unreadableDirectories: Int) {
        var unreadableDirectories = 0
        var files = [RawPath]()
        for argument in paths {
            let path = RawArguments.raw(argument)
            if let status = try? FileSystem.linkStatus(path), status.isDirectory {
                do {
                    let found = try FileSystem.walk(path)
                    if found.isEmpty { Output.error("custos: \(path): the directory holds no files") }
                    files += found
                } catch {
                    Output.error("custos: refused: \(error)")
                    unreadableDirectories += 1
                }
            } else {
                files.append(path)
            }
        }
        return (files, unreadableDirectories)
    }
}
