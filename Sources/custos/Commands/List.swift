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

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the sealed items.")
    @OptionGroup var vault: VaultOptions
    @Option(name: .customLong("case"), help: "Only the items of this case.") var caseID: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let vault = try vault.open()
        let ledger = try vault.openLedger(readOnly: true)
        let items = try ledger.items(caseID: caseID)
        let sources = try ledger.stampSources()
        let expected = vault.expectedTimeStampSources
        if json {
            Output.json(
                .array(
                    items.map { item in
                        var object = item.json.objectValue ?? [:]
                        let stamped = sources[item.item] ?? []
                        object["timeStamped"] = .bool(!stamped.isEmpty)
                        object["awaitingTimeStamps"] = .array(
                            expected.filter { !stamped.contains($0) }.map { .string($0) })
                        return .object(object)
                    }))
            return
        }
        for item in items {
            let caseText = item.caseID.isEmpty ? "-" : DisplayName.escape(Array(item.caseID.utf8))
            let exhibit = item.exhibit.isEmpty ? "-" : DisplayName.escape(Array(item.exhibit.utf8))
            let stamped = sources[item.item] ?? []
            let missing = expected.filter { !stamped.contains($0) }
            let awaiting =
                stamped.isEmpty
                ? "  (awaiting time stamp)"
                : missing.isEmpty ? "" : "  (awaiting time stamp from \(missing.joined(separator: ", ")))"
            Output.line(
                "\(item.item)  \(item.sha256.hex)  \(item.size)  case \(caseText)  exhibit \(exhibit)  \(item.displayName)\(awaiting)"
            )
        }
    }
}
