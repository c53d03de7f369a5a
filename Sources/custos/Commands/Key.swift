import ArgumentParser
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosService
import CustosVault
import Foundation
import Logging

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node's verifier key in signed-note form (name+hash+base64).")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        let (result, failure) = try Gateway.resolve(vault, .reading).perform(.key)
        Output.line(result["key"]?.stringValue ?? "")
        if let failure { throw failure.cliError }
    }
}
