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

struct EntryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entry", abstract: "Write the exact bytes of ledger entry N (what was hashed) to standard output.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The entry's sequence number.") var sequence: UInt64

    func run() throws {
        let (result, failure) = try Gateway.resolve(vault, .reading).perform(
            .entry, ["sequence": .integer(Int64(clamping: sequence))])
        guard let bytes = result["bytes"]?.stringValue.flatMap({ Base64.decode($0) }) else {
            throw CLIError(message: "entry \(sequence): the reply holds no bytes")
        }
        Output.raw(bytes)
        if let failure { throw failure.cliError }
    }
}
