import ArgumentParser
import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosService
import CustosVault
import Foundation
import Logging

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read every archive, re-hash every original, rebuild the chain and tree, check every checkpoint.",
        discussion: """
            Each run is recorded in the ledger as a `verified` event (result pass or fail, and the \
            fault codes): about the whole vault (item ""), or about each item given. It is recorded \
            after the check, so it changes nothing the report says. When a daemon serves the vault \
            (its socket: --socket, $CUSTOS_SOCKET, the vault's own run/custos.sock), the daemon \
            verifies and records it. Nothing is recorded (a note "not recorded: …" on standard \
            error says why; the exit status is the same) with --no-record, in an expert's check \
            (--key, --checkpoint, --tsa-anchor), when the vault cannot be written by this account \
            or is on a read-only file system, or when the ledger itself fails its audit.
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
        if key != nil || !keptCheckpoints.isEmpty || !timeStampAnchors.isEmpty {
            return try expertCheck()
        }
        // The custody service's verification: by the daemon (which records it) for a vault this
        // account cannot read, or one whose daemon runs (it is the vault's only writer); in
        // process otherwise, and whenever nothing is to be recorded.
        let gateway = try Gateway.resolve(vault, noRecord ? .reading : .acting)
        var arguments: JSONObject = ["items": .array(items.map { .string($0) })]
        if noRecord { arguments["record"] = .bool(false) }
        let reply = try gateway.call(.verify, arguments, progress: { Output.progress($0) })
        Output.endProgress()
        guard let result = reply.result else {
            for note in reply.notes { Output.error("custos: \(note)") }
            let failure = reply.failure ?? ServiceFailure(.failed, "the daemon gave neither a result nor an error")
            throw CLIError(message: failure.message, exitCode: failure.exitCode)
        }
        print(result)
        for note in reply.notes { Output.error("custos: \(note)") }
        if let entries = result["recorded"]?.arrayValue, !json {
            Output.line(
                "recorded as entry \(entries.compactMap(\.integerValue).map { "\($0)" }.joined(separator: ", ")) (verified)"
            )
        }
        if result["result"]?.stringValue != "passed" { throw ExitCode(1) }
    }

    /// An expert's independent check (a pinned key, kept checkpoints, anchors of their own): on
    /// a vault this account reads directly, never recorded (a copy checked must not change).
    private func expertCheck() throws {
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
        print(report.json)
        if !noRecord {
            Output.error(
                "custos: not recorded: an expert's check (--key, --checkpoint, --tsa-anchor) never writes the vault it checks"
            )
        }
        if !report.passed { throw ExitCode(1) }
    }

    /// Prints a verification report (`VerificationReport.json`, as the service gives it).
    private func print(_ report: JSONValue) {
        if json {
            var object = report.objectValue ?? [:]
            object["recorded"] = nil
            Output.json(.object(object))
            return
        }
        func count(_ key: String) -> Int64 { report[key]?.integerValue ?? 0 }
        Output.line(
            "ledger: \(count("entries")) entries, \(count("checkpointsChecked")) checkpoints checked, latest size \(count("latestCheckpointSize"))"
        )
        Output.line(
            "items: \(count("itemsChecked")) checked, \(count("archivesRehashed")) archives re-read, \(count("bytesRehashed")) bytes re-hashed"
        )
        Output.line("time stamps: \(count("timeStampsChecked")) tokens re-hashed and verified")
        Output.line("details documents: \(count("detailsChecked")) re-hashed")
        if count("handoversChecked") > 0 {
            Output.line(
                "handovers: \(count("handoversChecked")) received entries re-proven in their senders' signed logs")
        }
        if !keptCheckpoints.isEmpty {
            Output.line("kept checkpoints: \(count("keptCheckpointsChecked")) checked against the log")
        }
        for note in (report["notes"]?.arrayValue ?? []).compactMap(\.stringValue) { Output.line("note: \(note)") }
        let unrecorded = (report["unrecordedFiles"]?.arrayValue ?? []).compactMap(\.stringValue)
        if !unrecorded.isEmpty {
            Output.line(
                "unrecorded files: \(unrecorded.count) in the vault that no entry records (a seal interrupted or in progress, or put there by hand):"
            )
            for path in unrecorded { Output.line("- \(path)") }
        }
        let faults = report["faults"]?.arrayValue ?? []
        if report["result"]?.stringValue == "passed" {
            Output.line("verification passed")
        } else {
            Output.line("verification FAILED: \(faults.count) faults")
            for fault in faults {
                var text =
                    "- [\(fault["code"]?.stringValue ?? "?")] \(fault["subject"]?.stringValue ?? "?"): \(fault["message"]?.stringValue ?? "")"
                if let expected = fault["expected"]?.stringValue { text += "\n    expected: \(expected)" }
                if let found = fault["found"]?.stringValue { text += "\n    found:    \(found)" }
                Output.line(text)
            }
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
