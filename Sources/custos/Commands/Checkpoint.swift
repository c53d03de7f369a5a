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

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the latest signed checkpoint, or the one of SIZE entries, verbatim.")
    @OptionGroup var vault: VaultOptions
    @Flag(
        help: "First sign (and time-stamp) a new checkpoint if entries were appended since the latest.")
    var sign = false
    @Argument(help: "The tree size of an earlier checkpoint to print (every checkpoint signed is kept).")
    var size: UInt64?
    @Option(
        help: """
            Also write the checkpoint, its signed text, its RFC 3161 tokens (.tsr), each authority's anchors \
            and the openssl ts -verify command lines (VERIFY.txt) into this folder (made, mode 0700, if \
            missing; no file in it is overwritten, as with extract); recorded in the ledger as an \
            `exported` event about the whole vault, with --reason, before the files take their names.
            """)
    var export: String?

    @Option(help: "With --export: why the checkpoint leaves the vault (recorded; one line, at most 4096 bytes).")
    var reason: String?
    @Option(help: "With --export: your name as the examiner, kept with the reason.") var examiner: String?

    func validate() throws {
        if export != nil && reason == nil {
            throw ValidationError("--export needs --reason: an export is recorded in the ledger with its reason")
        }
        if export == nil && (reason != nil || examiner != nil) {
            throw ValidationError("--reason and --examiner go with --export")
        }
    }

    func run() throws {
        if !sign && export == nil {
            // Reading only: in process, or through the daemon for a vault this account cannot read.
            var arguments: JSONObject = [:]
            if let size { arguments["size"] = .integer(Int64(clamping: size)) }
            let (result, failure) = try Gateway.resolve(vault, .reading).perform(.checkpoint, arguments)
            if let failure { throw failure.cliError }
            Output.raw(Array((result["note"]?.stringValue ?? "").utf8))
            return
        }
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion).session(
            readOnly: !sign && export == nil)
        let ledger = session.ledger
        if sign { try session.checkpoint() }
        let note = try size.map { try ledger.checkpoint(size: $0) } ?? ledger.latestCheckpoint()
        if let export, let reason {
            try session.exportCheckpoint(note, to: RawArguments.raw(export), reason: reason)
        }
        Output.raw(Array(note.utf8))
        try session.requireCovered()
    }
}
