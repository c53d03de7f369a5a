import ArgumentParser
import CustosFormats
import CustosService

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
        let gateway = try Gateway.resolve(vault, .reading)
        let (result, failure) = try gateway.perform(.show, ["item": .string(item)])
        let shown = result.arrayValue ?? []
        if json {
            Output.json(shown.count == 1 ? shown[0] : .array(shown))
        } else {
            if shown.count > 1 {
                Output.line(
                    "\(shown.count) items hold this content (SHA-256 \(shown[0]["item"]?["sha256"]?.stringValue ?? "?")):"
                )
            }
            for (index, item) in shown.enumerated() {
                if index > 0 { Output.line("") }
                ShownItem(item).printText()
            }
        }
        if let failure { throw failure.cliError }
    }
}

/// How `show` prints an item as the custody service describes it (`ItemDetails.json`).
struct ShownItem {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    /// Free text from the manifest or the index, escaped as names are.
    private static func escaped(_ text: String?) -> String { DisplayName.escape(Array((text ?? "").utf8)) }

    private static func elements(_ value: JSONValue?) -> [JSONValue] { value?.arrayValue ?? [] }

    /// `label value` lines, leaving out the empty ones.
    private static func line(_ label: String, _ value: String) {
        guard !value.isEmpty else { return }
        Output.line(label + String(repeating: " ", count: max(1, 13 - label.count)) + value)
    }

    func printText() {
        let record = value["item"]
        let entry = value["entry"]
        let details = value["manifest"].flatMap { $0 == .null ? nil : $0 }
        let original = details?["original"]
        let acquisition = details?["acquisition"]
        let item = record?["item"]?.stringValue ?? "?"
        Self.line("item:", item)
        Self.line("name:", record?["name"]?.byteStringValue.map { DisplayName.escape($0) } ?? "?")
        if let path = original?["path"]?.byteStringValue { Self.line("path:", DisplayName.escape(path)) }
        if let upload = details?["upload"] {
            // Sent to the daemon's socket: the file's facts are its sender's word.
            let account = Self.escaped(upload["account"]?.stringValue)
            let uid = upload["uid"]?.integerValue.map(String.init) ?? "?"
            Self.line(
                "declared:",
                "by \(account) (uid \(uid)), who sent the bytes to the daemon's socket: the path, mode, owner and "
                    + "times are as the sender's system gave them; the size and digests are of the bytes received")
        }
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
        Self.line("case:", Self.escaped(record?["case"]?.stringValue))
        Self.line("exhibit:", Self.escaped(record?["exhibit"]?.stringValue))
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
        Self.line("size:", "\(record?["size"]?.integerValue ?? 0)")
        Self.line("sha256:", record?["sha256"]?.stringValue ?? "")
        // MD5 and SHA-1 as the ledger entry recorded them.
        Self.line("md5:", entry?["digests"]?["md5"]?.stringValue ?? "")
        Self.line("sha1:", entry?["digests"]?["sha1"]?.stringValue ?? "")
        Self.line("sealed at:", "\(record?["sealedAt"]?.stringValue ?? "?") (node clock)")
        Self.line("entry:", "\(record?["sequence"]?.integerValue ?? 0)")
        Self.line(
            "archive:", value["archivePath"]?.stringValue ?? "MISSING (\(record?["archive"]?.stringValue ?? "?"))")
        if let fault = value["manifestFault"]?.stringValue {
            Self.line("manifest:", "NOT TRUSTED: \(fault); the details it holds are not shown")
        } else {
            Self.line(
                "manifest:", "\(value["manifestPath"]?.stringValue ?? "?") (its SHA-256 matches the ledger entry)")
        }
        if let original {
            Self.line(
                "original:",
                "mode \(original["mode"]?.stringValue ?? "?")  mtime \(original["mtime"]?.stringValue ?? "?")")
        }
        let stamps = Self.elements(value["timestamps"])
        for stamp in stamps {
            let accuracy = stamp["accuracyMilliseconds"]?.integerValue.map { " ±\($0) ms" } ?? ""
            var skew = ""
            if let seconds = stamp["skewSeconds"]?.integerValue {
                let exceeded = stamp["skewExceeded"]?.boolValue == true
                skew =
                    "  skew \(seconds >= 0 ? "+" : "")\(seconds) s\(exceeded ? " (ABOVE THE BOUND: the node's clock was off)" : "")"
            }
            Self.line(
                "time stamp:",
                "[\(stamp["source"]?.stringValue ?? "?")] genTime \(stamp["genTime"]?.stringValue ?? "?")\(accuracy)  serial \(stamp["serial"]?.stringValue ?? "?")  by \(Self.escaped(stamp["authority"]?.stringValue))\(skew)"
            )
        }
        let awaiting = Self.elements(value["awaitingTimeStamps"]).compactMap(\.stringValue)
        if stamps.isEmpty {
            Self.line("time stamp:", "awaiting")
        } else if !awaiting.isEmpty {
            Self.line("time stamp:", "awaiting from \(awaiting.joined(separator: ", "))")
        }
        let events = Self.elements(value["events"])
        for event in events {
            let result = event["result"]?.stringValue.map { "  result \($0)" } ?? ""
            Self.line(
                "custody:",
                "entry \(event["entry"]?.integerValue ?? 0)  \(event["event"]?.stringValue ?? "?")\(result)  by \(Self.escaped(event["actor"]?.stringValue))  \(event["time"]?.stringValue ?? "")"
            )
        }
        if !events.isEmpty { Self.line("history:", "custos history \(item) (reasons, notes, examiners)") }
    }
}
