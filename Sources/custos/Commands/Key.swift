import ArgumentParser
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault
import Foundation
import Logging

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node's verifier key in signed-note form (name+hash+base64).")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        Output.line(try vault.open().verifierKey().key.text)
    }
}
