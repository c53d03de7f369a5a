import ArgumentParser
import CustosFormats
import CustosService

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show items' whole custody timelines, oldest first, from the ledger alone.",
        discussion: """
            One line per event: the time the node recorded it (ISO 8601 with offset; trusted time \
            comes from the time stamps), the entry's number, the event, the account that acted (and \
            the examiner named), the result, the reason or note. It lists the seal, the time stamps, \
            every custody event about the item (verified, extracted, exported, annotated, \
            transferred, received) and the events about the whole vault after its seal (marked "whole \
            vault": verifications of the whole vault, checkpoints exported, report signers replaced). \
            Reasons, \
            notes and examiners come from each event's details document, re-hashed against the entry: \
            one that is missing or altered is shown as such and makes the exit status 1.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item ids (or unique prefixes), or SHA-256 prefixes.") var items: [String] = []
    @Option(name: .customLong("case"), help: "Every item of this case, in ledger order.") var caseID: String?
    @Flag(help: "JSON output: an array with one object per event (keys in Docs/Formats.md).") var json = false

    func validate() throws {
        if items.isEmpty == (caseID == nil) { throw ValidationError("give items or --case ID (one of them)") }
    }

    func run() throws {
        let gateway = try Gateway.resolve(vault, .reading)
        var arguments: JSONObject = ["items": .array(items.map { .string($0) })]
        if let caseID { arguments["case"] = .string(caseID) }
        let (result, failure) = try gateway.perform(.history, arguments)
        let histories = result["items"]?.arrayValue ?? []
        if json {
            Output.json(.array(histories.flatMap { $0["events"]?.arrayValue ?? [] }))
        } else {
            for (index, history) in histories.enumerated() {
                if index > 0 { Output.line("") }
                Self.printText(history)
            }
        }
        if let failure { throw failure.cliError }
    }

    private static func escaped(_ text: String) -> String { DisplayName.escape(Array(text.utf8)) }

    /// One item's timeline as the custody service gives it (`ItemHistory`'s JSON).
    static func printText(_ history: JSONValue) {
        let record = history["item"]
        let name = record?["name"]?.byteStringValue.map { DisplayName.escape($0) } ?? "?"
        Output.line(
            "item \(record?["item"]?.stringValue ?? "?")  \(name)  sha256 \(record?["sha256"]?.stringValue ?? "?")")
        for event in history["events"]?.arrayValue ?? [] {
            func text(_ key: String) -> String? { event[key]?.stringValue }
            let facts = event["facts"]
            var line = "\(text("time") ?? "?")  entry \(event["entry"]?.integerValue ?? 0)  \(text("event") ?? "?")"
            if event["wholeVault"]?.boolValue == true { line += " (whole vault)" }
            line += "  by \(escaped(text("actor") ?? "?"))"
            if text("actorVerifiedBy") == "kernel" {
                let groups = (event["actorGroups"]?.arrayValue ?? []).compactMap(\.stringValue)
                line +=
                    " [verified by the kernel\(groups.isEmpty ? "" : "; role of \(groups.map(escaped).joined(separator: ", "))")]"
            } else {
                line += " [declared by the process]"
            }
            if let examiner = text("examiner") { line += " (examiner \(escaped(examiner)))" }
            if let result = text("result") { line += "  result \(result)" }
            if let codes = facts?["faults"]?.arrayValue, !codes.isEmpty {
                line += " (\(codes.compactMap(\.stringValue).joined(separator: ", ")))"
            }
            if let what = facts?["what"]?.stringValue { line += "  exported \(escaped(what))" }
            if text("event") == "reported", let report = facts?["report"]?.stringValue {
                line += "  report \(escaped(report))"
                for (format, digest) in facts?["files"]?.objectValue ?? [:] {
                    line += "  \(escaped(format)) sha256 \(escaped(digest.stringValue ?? "?"))"
                }
            }
            if text("event") == "report-signer-replaced", let certificate = facts?["certificate"]?.stringValue {
                line += "  certificate sha256 \(escaped(certificate))"
                if let retired = facts?["retired"]?.stringValue { line += " replaces sha256 \(escaped(retired))" }
            }
            if let action = facts?["action"]?.stringValue, text("event") == "refused" { line += "  action \(action)" }
            if let mode = facts?["mode"]?.stringValue { line += "  mode \(mode)" }
            if let request = facts?["request"]?.stringValue { line += "  request \(request)" }
            if let hold = facts?["hold"]?.integerValue { line += "  releases the hold of entry \(hold)" }
            if let until = text("retainUntil") { line += "  retained until \(until)" }
            if let recipient = text("recipient") { line += "  to \(escaped(recipient))" }
            if text("event") == "timestamped", let genTime = facts?["genTime"]?.stringValue {
                line += "  [\(facts?["source"]?.stringValue ?? "node")] genTime \(genTime)"
            }
            if let reason = text("reason") { line += "  reason: \(escaped(reason))" }
            if let note = text("note") { line += "  note: \(escaped(note))" }
            if let fault = text("documentFault") { line += "  DETAILS NOT TRUSTED: \(fault)" }
            switch text("proof") {
            case "not-yet-covered": line += "  (not yet in a signed checkpoint)"
            case "failed": line += "  ENTRY NOT PROVEN: \(text("proofFault") ?? "?")"
            default: break
            }
            Output.line(line)
        }
    }
}
