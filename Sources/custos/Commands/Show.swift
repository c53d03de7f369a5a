import ArgumentParser
import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show an item: acquisition details, where it came from, digests, entry, archive, time stamps.",
        discussion: """
            ITEM is an item id or a unique start of one, or a start of a SHA-256: when several items \
            hold that content (sealed more than once), each of them is shown. A start that names \
            several different items is refused with the list of them. The acquisition details and \
            paths come from the item's manifest, shown only when its bytes match the SHA-256 that \
            the ledger entry recorded; when they do not (or it is missing) show says so and exits 1.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix), or a SHA-256 prefix.") var item: String
    @Flag(help: "JSON output: one object, or an array of them when the content was sealed more than once.")
    var json = false

    func run() throws {
        let session = try Custody(vault: try vault.open(), actor: .current(), tool: toolVersion).session(readOnly: true)
        let records = try ItemResolution.items(item, in: session.ledger)
        let shown = try records.map { try session.details(of: $0) }
        if json {
            Output.json(shown.count == 1 ? shown[0].json : .array(shown.map(\.json)))
        } else {
            if shown.count > 1 {
                Output.line("\(shown.count) items hold this content (SHA-256 \(records[0].sha256.hex)):")
            }
            for (index, item) in shown.enumerated() {
                if index > 0 { Output.line("") }
                item.printText()
            }
        }
        let faults = shown.compactMap { item in item.manifest.fault.map { "item \(item.record.item): \($0)" } }
        if !faults.isEmpty {
            throw CLIError(message: (faults + ["run custos verify"]).joined(separator: "\n"), exitCode: 1)
        }
    }
}

/// How `show` prints what the custody service found about an item.
extension ItemDetails {
    var json: JSONValue {
        let stampsJSON: [JSONValue] = zip(stamps, infos).map { stamp, info in
            .object([
                "entry": .integer(Int64(stamp.entry.sequence)), "source": .string(stamp.record.source),
                "authority": .string(stamp.record.authority),
                "skewSeconds": stamp.record.skewSeconds.map { .integer($0) } ?? .null,
                "skewExceeded": .bool(stamp.record.skewExceeded),
                "serial": .string(stamp.record.serial), "genTime": .string(stamp.record.genTime),
                "policy": .string(stamp.record.policy), "token": .string(stamp.record.token.hex),
                "accuracyMilliseconds": info?.accuracyMilliseconds.map { .integer($0) } ?? .null,
            ])
        }
        return .object([
            "item": record.json,
            "entry": entry ?? .null,
            "manifest": manifest.value ?? .null,
            "manifestFault": manifest.fault.map { .string($0) } ?? .null,
            "archivePath": archive.map { .string($0) } ?? .null,
            "timestamps": .array(stampsJSON),
            "awaitingTimeStamps": .array(awaiting.map { .string($0) }),
            "events": .array(
                events.map { entry in
                    .object([
                        "entry": .integer(Int64(entry.sequence)), "event": .string(entry.type.rawValue),
                        "time": .string(entry.time), "actor": .string(entry.actor),
                        "result": entry.details["result"]?.stringValue.map { .string($0) } ?? .null,
                    ])
                }),
        ])
    }

    /// Free text from the manifest or the index, escaped as names are.
    private static func escaped(_ text: String?) -> String { DisplayName.escape(Array((text ?? "").utf8)) }

    private static func elements(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let elements) = value { elements } else { [] }
    }

    /// `label value` lines, leaving out the empty ones.
    private static func line(_ label: String, _ value: String) {
        guard !value.isEmpty else { return }
        Output.line(label + String(repeating: " ", count: max(1, 13 - label.count)) + value)
    }

    func printText() {
        let details = manifest.value
        let original = details?["original"]
        let acquisition = details?["acquisition"]
        Self.line("item:", record.item)
        Self.line("name:", record.displayName)
        if let path = original?["path"]?.byteStringValue { Self.line("path:", DisplayName.escape(path)) }
        if let inbox = details?["inbox"] {
            // Sealed by the daemon: where in the inbox it was found, and the sidecars read.
            if let path = inbox["path"]?.byteStringValue { Self.line("inbox path:", DisplayName.escape(path)) }
            for case .object(let sidecar) in Self.elements(inbox["sidecars"]) {
                let path = sidecar["path"]?.byteStringValue.map { DisplayName.escape($0) } ?? "?"
                Self.line("sidecar:", "\(path)  sha256 \(sidecar["sha256"]?.stringValue ?? "?")")
            }
            let flags = Self.elements(inbox["flags"]).compactMap(\.stringValue)
            if !flags.isEmpty { Self.line("flags:", flags.joined(separator: ", ")) }
        }
        Self.line("case:", Self.escaped(record.caseID))
        Self.line("exhibit:", Self.escaped(record.exhibit))
        Self.line("examiner:", Self.escaped(acquisition?["examiner"]?.stringValue))
        Self.line("description:", Self.escaped(acquisition?["description"]?.stringValue))
        let seizure = acquisition?["seizure"]
        Self.line(
            "seized:",
            [("at", seizure?["place"]), ("on", seizure?["time"])].compactMap { label, value in
                let text = Self.escaped(value?.stringValue)
                return text.isEmpty ? nil : "\(label) \(text)"
            }.joined(separator: ", "))
        let device = acquisition?["device"]
        Self.line(
            "device:",
            [("make", device?["make"]), ("model", device?["model"]), ("serial", device?["serial"])].compactMap {
                label, value in
                let text = Self.escaped(value?.stringValue)
                return text.isEmpty ? nil : "\(label) \(text)"
            }.joined(separator: ", "))
        Self.line("size:", "\(record.size)")
        Self.line("sha256:", record.sha256.hex)
        // MD5 and SHA-1 as the ledger entry recorded them.
        Self.line("md5:", entry?["digests"]?["md5"]?.stringValue ?? "")
        Self.line("sha1:", entry?["digests"]?["sha1"]?.stringValue ?? "")
        Self.line("sealed at:", "\(record.sealedAt) (node clock)")
        Self.line("entry:", "\(record.sequence)")
        Self.line("archive:", archive ?? "MISSING (\(record.archive.hex))")
        switch manifest {
        case .verified:
            Self.line("manifest:", "\(manifestLocation) (its SHA-256 matches the ledger entry)")
        case .fault(let reason):
            Self.line("manifest:", "NOT TRUSTED: \(reason); the details it holds are not shown")
        }
        if let original {
            Self.line(
                "original:",
                "mode \(original["mode"]?.stringValue ?? "?")  mtime \(original["mtime"]?.stringValue ?? "?")")
        }
        for (stamp, info) in zip(stamps, infos) {
            let accuracy = info?.accuracyMilliseconds.map { " ±\($0) ms" } ?? ""
            var skew = ""
            if let seconds = stamp.record.skewSeconds {
                skew =
                    "  skew \(seconds >= 0 ? "+" : "")\(seconds) s\(stamp.record.skewExceeded ? " (ABOVE THE BOUND: the node's clock was off)" : "")"
            }
            Self.line(
                "time stamp:",
                "[\(stamp.record.source)] genTime \(stamp.record.genTime)\(accuracy)  serial \(stamp.record.serial)  by \(Self.escaped(stamp.record.authority))\(skew)"
            )
        }
        if stamps.isEmpty {
            Self.line("time stamp:", "awaiting")
        } else if !awaiting.isEmpty {
            Self.line("time stamp:", "awaiting from \(awaiting.joined(separator: ", "))")
        }
        for entry in events {
            let result = entry.details["result"]?.stringValue.map { "  result \($0)" } ?? ""
            Self.line("custody:", "entry \(entry.sequence)  \(entry.type)\(result)  by \(Self.escaped(entry.actor))  \(entry.time)")
        }
        if !events.isEmpty { Self.line("history:", "custos history \(record.item) (reasons, notes, examiners)") }
    }
}
