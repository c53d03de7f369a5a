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
        let session = try Custody(vault: try vault.open(), actor: .current(), tool: toolVersion).session(readOnly: true)
        let statuses = try session.statuses(caseID: caseID)
        if json {
            Output.json(
                .array(
                    statuses.map { status in
                        var object = status.record.json.objectValue ?? [:]
                        object["timeStamped"] = .bool(!status.stampedBy.isEmpty)
                        object["awaitingTimeStamps"] = .array(status.awaiting.map { .string($0) })
                        return .object(object)
                    }))
            return
        }
        for status in statuses {
            let item = status.record
            let caseText = item.caseID.isEmpty ? "-" : DisplayName.escape(Array(item.caseID.utf8))
            let exhibit = item.exhibit.isEmpty ? "-" : DisplayName.escape(Array(item.exhibit.utf8))
            let awaiting =
                status.stampedBy.isEmpty
                ? "  (awaiting time stamp)"
                : status.awaiting.isEmpty ? "" : "  (awaiting time stamp from \(status.awaiting.joined(separator: ", ")))"
            Output.line(
                "\(item.item)  \(item.sha256.hex)  \(item.size)  case \(caseText)  exhibit \(exhibit)  \(item.displayName)\(awaiting)"
            )
        }
    }
}
