import ArgumentParser
import CustosFormats
import CustosService

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the sealed items.")
    @OptionGroup var vault: VaultOptions
    @Option(name: .customLong("case"), help: "Only the items of this case.") var caseID: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let gateway = try Gateway.resolve(vault, .reading)
        let (result, failure) = try gateway.perform(.list, caseID.map { ["case": .string($0)] } ?? [:])
        if json {
            Output.json(result)
        } else {
            for item in result.arrayValue ?? [] {
                let caseText = Self.escaped(item["case"]?.stringValue)
                let exhibit = Self.escaped(item["exhibit"]?.stringValue)
                let awaitingFrom = (item["awaitingTimeStamps"]?.arrayValue ?? []).compactMap(\.stringValue)
                let awaiting =
                    item["timeStamped"]?.boolValue != true
                    ? "  (awaiting time stamp)"
                    : awaitingFrom.isEmpty ? "" : "  (awaiting time stamp from \(awaitingFrom.joined(separator: ", ")))"
                let name = item["name"]?.byteStringValue.map { DisplayName.escape($0) } ?? "?"
                Output.line(
                    "\(item["item"]?.stringValue ?? "?")  \(item["sha256"]?.stringValue ?? "?")  \(item["size"]?.integerValue ?? 0)  case \(caseText)  exhibit \(exhibit)  \(name)\(awaiting)"
                )
            }
        }
        if let failure { throw failure.cliError }
    }

    private static func escaped(_ text: String?) -> String {
        guard let text, !text.isEmpty else { return "-" }
        return DisplayName.escape(Array(text.utf8))
    }
}
