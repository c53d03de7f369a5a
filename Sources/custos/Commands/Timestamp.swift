import ArgumentParser
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault
import Foundation
import Logging

struct TimestampCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timestamp", abstract: "RFC 3161 time-stamp tokens of items.",
        subcommands: [TimestampExport.self])
}

struct TimestampExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write an item's tokens (.tsr), the TSA chain (.pem) and the openssl ts -verify command lines.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix), or a SHA-256 prefix.") var item: String
    @Option(name: .shortAndLong, help: "The folder to write into (created if needed).") var output: String

    func run() throws {
        let vault = try vault.open()
        let ledger = try vault.openLedger(readOnly: true)
        let record = try resolveItem(item, in: ledger)
        let stamps = try ledger.stamps(of: record.item)
        let stampedBy = Set(stamps.map(\.record.source))
        let awaiting = vault.expectedTimeStampSources.filter { !stampedBy.contains($0) }
        guard !stamps.isEmpty else { throw CLIError(message: "item \(record.item) has no time stamp yet") }
        let folder = RawArguments.raw(output)
        try FileSystem.makeDirectory(folder)
        var lines = [
            "# Time stamps of item \(record.item) (\(record.displayName)), SHA-256 \(record.sha256.hex).",
            "# Each command prints \"Verification: OK\" for a good token. Run them in this folder.",
            "# tsa-chain.pem is the node's TSA chain; anchors-NAME.pem the trust anchors of an external",
            "# authority as the vault kept them: for a check independent of this vault, use the",
            "# authority's root certificate obtained from the authority itself instead.",
        ]
        for (index, stamp) in stamps.enumerated() {
            let name = "\(record.item)-\(index + 1).tsr"
            guard let token = try ledger.stampToken(at: stamp.entry.sequence),
                OpenSSLSHA256().sha256(token) == stamp.record.token
            else {
                throw CLIError(
                    message: "the token of entry \(stamp.entry.sequence) was altered; run custos verify", exitCode: 1)
            }
            let anchorsName = try exportAnchors(
                source: stamp.record.source, anchors: stamp.record.anchors, vault: vault, to: folder)
            try FileSystem.writeDurably(token, to: folder.appending(name))
            lines.append(
                "# [\(stamp.record.source)] genTime \(stamp.record.genTime), serial \(stamp.record.serial), by \(stamp.record.authority)"
            )
            lines.append("openssl ts -verify -digest \(record.sha256.hex) -in \(name) -CAfile \(anchorsName)")
            lines.append("# or against the original file itself:")
            lines.append("openssl ts -verify -data ORIGINAL-FILE -in \(name) -CAfile \(anchorsName)")
        }
        if !awaiting.isEmpty {
            lines.append("# Still awaiting a token from: \(awaiting.joined(separator: ", ")).")
        }
        let text = lines.joined(separator: "\n") + "\n"
        try FileSystem.writeDurably(Array(text.utf8), to: folder.appending("VERIFY.txt"))
        Output.text(text)
    }
}

/// Writes the trust anchors a token of `source` is checked against into `folder` (the node's
/// `tsa/chain.pem`, or an external authority's anchors as the vault kept them, re-hashed first)
/// and returns the file's name there.
func exportAnchors(source: String, anchors: Hash?, vault: Vault, to folder: RawPath) throws -> String {
    let name: String
    let bytes: [UInt8]
    if source == TimeStampRecord.nodeSource {
        name = "tsa-chain.pem"
        bytes = try FileSystem.readFile(vault.timeStampChainPath)
    } else {
        name = "anchors-\(source).pem"
        guard let hash = anchors, let kept = try? FileSystem.readFile(vault.anchorsPath(hash)),
            OpenSSLSHA256().sha256(kept) == hash
        else {
            throw CLIError(
                message: "the trust anchors of \(source) are missing or altered; run custos verify", exitCode: 1)
        }
        bytes = kept
    }
    try FileSystem.writeDurably(bytes, to: folder.appending(name))
    return name
}
