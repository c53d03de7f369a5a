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

struct Consistency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the RFC 6962 consistency proof between two tree sizes, one base64 hash a line.")
    @OptionGroup var vault: VaultOptions
    @Option(help: "The older tree size.") var from: UInt64
    @Option(help: "The newer tree size.") var to: UInt64

    func run() throws {
        let ledger = try Custody(vault: try vault.open(), actor: .current(), tool: toolVersion).session(readOnly: true).ledger
        for hash in try ledger.consistencyProof(from: from, to: to) { Output.line(hash.base64) }
    }
}
