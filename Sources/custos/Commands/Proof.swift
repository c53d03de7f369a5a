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

struct Proof: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a C2SP tlog-proof of an item's entry against the latest checkpoint.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix).") var item: String
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func run() throws {
        let (result, failure) = try Gateway.resolve(vault, .reading).perform(.proof, ["item": .string(item)])
        if let failure { throw failure.cliError }
        let bytes = Array((result["proof"]?.stringValue ?? "").utf8)
        if let output {
            try FileSystem.writeDurably(bytes, to: RawArguments.raw(output))
        } else {
            Output.raw(bytes)
        }
    }
}
