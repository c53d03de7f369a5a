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

struct Proof: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a C2SP tlog-proof of an item's entry against the latest checkpoint.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix).") var item: String
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func run() throws {
        let ledger = try Custody(vault: try vault.open(), actor: .current(), tool: toolVersion).session(readOnly: true).ledger
        let record = try ItemResolution.item(item, in: ledger)
        let proof = try ledger.tlogProof(index: record.sequence)
        let bytes = Array(proof.serialized.utf8)
        if let output {
            try FileSystem.writeDurably(bytes, to: RawArguments.raw(output))
        } else {
            Output.raw(bytes)
        }
    }
}
