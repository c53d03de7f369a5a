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

struct EntryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entry", abstract: "Write the exact bytes of ledger entry N (what was hashed) to standard output.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The entry's sequence number.") var sequence: UInt64

    func run() throws {
        let ledger = try Custody(vault: try vault.open(), actor: .current(), tool: toolVersion).session(readOnly: true).ledger
        Output.raw(try ledger.entryBytes(sequence))
    }
}
