import ArgumentParser
import CustosCustody
import CustosFormats
import CustosLedger

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show items' whole custody timelines, oldest first, from the ledger alone.",
        discussion: """
            One line per event: the time the node recorded it (ISO 8601 with offset; trusted time \
            comes from the time stamps), the entry's number, the event, the account that acted (and \
            the examiner named), the result, the reason or note. It lists the seal, the time stamps, \
            every custody event about the item (verified, extracted, exported, annotated, \
            transferred, received) and the events about the whole vault after its seal (marked "whole \
            vault": verifications of the whole vault, checkpoints exported). Reasons, \
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
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(), tool: toolVersion).session(readOnly: true)
        var records = [ItemRecord]()
        if let caseID {
            records = try session.items(ofCase: caseID)
        } else {
            for text in items {
                for record in try ItemResolution.items(text, in: session.ledger)
                where !records.contains(where: { $0.item == record.item }) {
                    records.append(record)
                }
            }
        }
        let histories = try records.map { try session.history(of: $0) }
        if json {
            Output.json(.array(histories.flatMap { history in history.events.map { Self.json($0, of: history) } }))
        } else {
            for (index, history) in histories.enumerated() {
                if index > 0 { Output.line("") }
                Self.printText(history)
            }
        }
        let faults = histories.flatMap { history in
            history.faults.map { event in
                "item \(history.record.item): entry \(event.sequence): "
                    + [event.proof.fault, event.document.fault].compactMap { $0 }.joined(separator: "; ")
            }
        }
        if !faults.isEmpty {
            throw CLIError(message: (faults + ["run custos verify"]).joined(separator: "\ncustos: "), exitCode: 1)
        }
    }

    private static func escaped(_ text: String) -> String { DisplayName.escape(Array(text.utf8)) }

    static func printText(_ history: ItemHistory) {
        let record = history.record
        Output.line("item \(record.item)  \(record.displayName)  sha256 \(record.sha256.hex)")
        for event in history.events {
            var line = "\(event.time)  entry \(event.sequence)  \(event.type)"
            if event.wholeVault { line += " (whole vault)" }
            line += "  by \(escaped(event.actor))"
            if let examiner = event.examiner { line += " (examiner \(escaped(examiner)))" }
            if let result = event.result { line += "  result \(result)" }
            if case .array(let codes)? = event.entry.details["faults"], !codes.isEmpty {
                line += " (\(codes.compactMap(\.stringValue).joined(separator: ", ")))"
            }
            if let what = event.entry.details["what"]?.stringValue { line += "  exported \(escaped(what))" }
            if event.type == .timestamped, let record = TimeStampRecord(entry: event.entry) {
                line += "  [\(record.source)] genTime \(record.genTime)"
            }
            if let reason = event.reason { line += "  reason: \(escaped(reason))" }
            if let note = event.note { line += "  note: \(escaped(note))" }
            if let fault = event.document.fault { line += "  DETAILS NOT TRUSTED: \(fault)" }
            switch event.proof {
            case .inCheckpoint: break
            case .notYetCovered: line += "  (not yet in a signed checkpoint)"
            case .failed(let reason): line += "  ENTRY NOT PROVEN: \(reason)"
            }
            Output.line(line)
        }
    }

    /// One event: the same keys for every event, null where the event has no such value.
    static func json(_ event: HistoryEvent, of history: ItemHistory) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        var facts = event.entry.details
        facts[CustodyEntry.detailsDocumentMember] = nil
        let document: JSONValue = event.entry.detailsDocument.map { .string($0.hex) } ?? .null
        let documentStatus: String =
            switch event.document {
            case .none: "none"
            case .verified: "verified"
            case .missing: "missing"
            case .altered: "altered"
            }
        let proofStatus: String =
            switch event.proof {
            case .inCheckpoint: "in-checkpoint"
            case .notYetCovered: "not-yet-covered"
            case .failed: "failed"
            }
        return .object([
            "item": .string(history.record.item),
            "entry": .integer(Int64(event.sequence)),
            "time": .string(event.time),
            "event": .string(event.type.rawValue),
            "wholeVault": .bool(event.wholeVault),
            "actor": .string(event.actor),
            "examiner": text(event.examiner),
            "reason": text(event.reason),
            "note": text(event.note),
            "result": text(event.result),
            "facts": .object(facts),
            "document": document,
            "documentStatus": .string(documentStatus),
            "proof": .string(proofStatus),
            "documentFault": text(event.document.fault),
        ])
    }
}
