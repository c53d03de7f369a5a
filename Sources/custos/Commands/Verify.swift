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

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read every archive, re-hash every original, rebuild the chain and tree, check every checkpoint.",
        discussion: """
            Each run is recorded in the ledger as a `verified` event (result pass or fail, and the \
            fault codes): about the whole vault (item ""), or about each item given. It is recorded \
            after the check, so it changes nothing the report says. Nothing is recorded (a note \
            "not recorded: …" on standard error says why; the exit status is the same) with \
            --no-record, in an expert's check (--key, --checkpoint, --tsa-anchor), when a daemon \
            runs for the vault, when the vault cannot be written by this account or is on a \
            read-only file system, or when the ledger itself fails its audit.
            """)
    @OptionGroup var vault: VaultOptions
    @Flag(help: "JSON output.") var json = false
    @Option(
        help: """
            The node's verifier key (name+hash+base64), or a file holding it, obtained through a channel you \
            trust; it is pinned: a vault whose own key differs fails. By default the vault's own keys/node.vkey.
            """)
    var key: String?
    @Option(
        name: .customLong("checkpoint"),
        help: """
            A signed checkpoint kept elsewhere (an earlier `custos checkpoint`, a court bundle, a peer) \
            (repeatable): it must be signed by the node's key and consistent with the vault's log.
            """)
    var keptCheckpoints: [String] = []
    @Option(
        name: .customLong("tsa-anchor"),
        help: """
            A PEM file of trust anchors for the time-stamp tokens, obtained from the authorities on \
            your own (repeatable); by default each token is checked against the anchors kept in the vault.
            """)
    var timeStampAnchors: [String] = []
    @Flag(help: "Check without recording a `verified` event (a copy of a vault, media that must not change).")
    var noRecord = false
    @Argument(help: "Only these items (ids or unique prefixes); the ledger is always checked whole.") var items:
        [String] = []

    func run() throws {
        var anchors: [Certificate]?
        for file in timeStampAnchors {
            let path = RawArguments.raw(file)
            do {
                let found = try Certificate.all(pem: FileSystem.readFile(path))
                guard !found.isEmpty else { throw CLIError(message: "\(path): holds no PEM certificate") }
                anchors = (anchors ?? []) + found
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError(message: "\(path): the trust anchors cannot be read: \(error)")
            }
        }
        let pinnedKey = try key.map(Self.verifierKey)
        let kept = try keptCheckpoints.map { file in
            let path = RawArguments.raw(file)
            do {
                return (name: file, note: String(decoding: try FileSystem.readFile(path), as: UTF8.self))
            } catch {
                throw CLIError(message: "\(path): the checkpoint cannot be read: \(error)")
            }
        }
        let vault = try vault.open()
        let custody = Custody(vault: vault, actor: .current(), tool: toolVersion)
        let session: CustodySession
        do {
            session = try custody.session(readOnly: true)
        } catch let error as LedgerError where error.code == .corrupt || error.code == .missing {
            throw CLIError(message: "verification failed: \(error)", exitCode: 1)
        }
        var selection: Set<String>?
        if !items.isEmpty {
            selection = Set(try items.map { try session.resolveItem($0).item })
        }
        let report: VerificationReport
        do {
            report = try session.verify(
                items: selection, key: pinnedKey, timeStampAnchors: anchors, keptCheckpoints: kept
            ) {
                Output.progress($0)
            }
        } catch let error as LedgerError where error.code == .corrupt {
            Output.endProgress()
            throw CLIError(message: "verification failed: \(error)", exitCode: 1)
        }
        Output.endProgress()
        if json {
            Output.json(report.json)
        } else {
            Output.line(
                "ledger: \(report.entries) entries, \(report.checkpointsChecked) checkpoints checked, latest size \(report.latestCheckpointSize)"
            )
            Output.line(
                "items: \(report.itemsChecked) checked, \(report.archivesRehashed) archives re-read, \(report.bytesRehashed) bytes re-hashed"
            )
            Output.line("time stamps: \(report.timeStampsChecked) tokens re-hashed and verified")
            Output.line("details documents: \(report.detailsChecked) re-hashed")
            if report.handoversChecked > 0 {
                Output.line(
                    "handovers: \(report.handoversChecked) received entries re-proven in their senders' signed logs")
            }
            if !kept.isEmpty {
                Output.line("kept checkpoints: \(report.keptCheckpointsChecked) checked against the log")
            }
            for note in report.notes { Output.line("note: \(note)") }
            if !report.unrecordedFiles.isEmpty {
                Output.line(
                    "unrecorded files: \(report.unrecordedFiles.count) in the vault that no entry records (a seal interrupted or in progress, or put there by hand):"
                )
                for path in report.unrecordedFiles { Output.line("- \(path)") }
            }
            if report.passed {
                Output.line("verification passed")
            } else {
                Output.line("verification FAILED: \(report.faults.count) faults")
                for fault in report.faults { Output.line("- [\(fault.code)] \(fault)") }
            }
        }
        record(report, custody: custody, items: selection)
        if !report.passed { throw ExitCode(1) }
    }

    /// Records the run as a `verified` event, or says on standard error why not; the exit status
    /// is the report's either way.
    private func record(_ report: VerificationReport, custody: Custody, items: Set<String>?) {
        if noRecord { return }
        let independent = key != nil || !keptCheckpoints.isEmpty || !timeStampAnchors.isEmpty
        if let refusal = custody.verificationRecordingRefusal(report, independentCheck: independent) {
            Output.error("custos: not recorded: \(refusal)")
            return
        }
        do {
            let event = try custody.session().recordVerification(report, items: items.map { Array($0) })
            if !json {
                Output.line("recorded as entry \(event.entries.map { "\($0.sequence)" }.joined(separator: ", ")) (verified)")
            }
            if let failure = event.checkpointFailure {
                Output.error(
                    "custos: recorded, but no signed checkpoint covers it yet (`custos checkpoint --sign` covers it): \(failure)")
            }
        } catch {
            Output.error("custos: not recorded: \(error)")
        }
    }

    /// `--key`: a verifier key in signed-note form, or a file holding one.
    static func verifierKey(_ argument: String) throws -> Ed25519NoteVerifier {
        if let key = try? Ed25519NoteVerifier(text: argument) { return key }
        let path = RawArguments.raw(argument)
        guard let bytes = try? FileSystem.readFile(path) else {
            throw CLIError(message: "--key \(argument): neither a verifier key (name+hash+base64) nor a readable file")
        }
        do {
            return try Ed25519NoteVerifier(
                text: String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw CLIError(message: "\(path): not a verifier key (name+hash+base64): \(error)")
        }
    }
}
