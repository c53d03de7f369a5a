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
            and the openssl ts -verify command lines (VERIFY.txt) into this folder (created if needed).
            """)
    var export: String?

    func run() throws {
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(), tool: toolVersion).session(readOnly: !sign)
        let ledger = session.ledger
        if sign { try session.checkpoint() }
        let note = try size.map { try ledger.checkpoint(size: $0) } ?? ledger.latestCheckpoint()
        if let export { try exportTokens(note: note, ledger: ledger, vault: vault, to: RawArguments.raw(export)) }
        Output.raw(Array(note.utf8))
    }

    /// The checkpoint's tokens as a court checks them: each stamps the SHA-256 of the signed text.
    func exportTokens(note: String, ledger: Ledger, vault: Vault, to folder: RawPath) throws {
        let signed = try SignedNote(parsing: note)
        let checkpoint = try Checkpoint(parsing: signed.text)
        let body = Array(signed.text.utf8)
        let imprint = OpenSSLSHA256().sha256(body)
        let stamps = try ledger.checkpointStamps(size: checkpoint.size).filter { $0.root == checkpoint.root.base64 }
        guard !stamps.isEmpty else {
            throw CLIError(message: "the checkpoint of size \(checkpoint.size) has no time stamp")
        }
        try FileSystem.makeDirectory(folder)
        let base = "checkpoint-\(checkpoint.size)"
        try FileSystem.writeDurably(Array(note.utf8), to: folder.appending("\(base).txt"))
        try FileSystem.writeDurably(body, to: folder.appending("\(base).body"))
        var lines = [
            "# Time stamps of the checkpoint of size \(checkpoint.size), root \(checkpoint.root.base64).",
            "# \(base).body is its signed text (SHA-256 \(imprint.hex)); each token stamps that digest.",
            "# Check the checkpoint's signature first (Docs/Verification.md, step 3). Each command prints",
            "# \"Verification: OK\" for a good token; for a check independent of this vault, use each",
            "# authority's root certificate obtained from the authority itself as -CAfile.",
        ]
        for stamp in stamps {
            // What is kept is re-checked against the text before it is handed out.
            guard (try? TimeStampVerifier.info(response: stamp.token))?.imprint == imprint.bytes else {
                throw CLIError(
                    message:
                        "the \(stamp.source) token of checkpoint \(checkpoint.size) does not stamp its text; run custos verify",
                    exitCode: 1)
            }
            let name = "\(base)-\(stamp.source).tsr"
            let anchorsName = try exportAnchors(source: stamp.source, anchors: stamp.anchors, vault: vault, to: folder)
            try FileSystem.writeDurably(stamp.token, to: folder.appending(name))
            lines.append("openssl ts -verify -data \(base).body -in \(name) -CAfile \(anchorsName)")
        }
        let text = lines.joined(separator: "\n") + "\n"
        try FileSystem.writeDurably(Array(text.utf8), to: folder.appending("VERIFY.txt"))
    }
}
