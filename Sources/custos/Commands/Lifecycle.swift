import ArgumentParser
import CustosFormats
import CustosService

/// What the lifecycle commands share: the items (or a case) they are about, and how they print
/// what was recorded.
struct LifecycleSubjects: ParsableArguments {
    @Argument(help: "Item ids (or unique prefixes).") var items: [String] = []
    @Option(name: .customLong("case"), help: "Every item of this case.") var caseID: String?

    func validate() throws {
        if items.isEmpty == (caseID == nil) { throw ValidationError("give items or --case ID (one of them)") }
    }

    var arguments: JSONObject {
        var object: JSONObject = ["items": .array(items.map { .string($0) })]
        if let caseID { object["case"] = .string(caseID) }
        return object
    }

    /// Makes a lifecycle call about these items with its reason, and prints what it recorded.
    func record(
        _ operation: ServiceOperation, vault: VaultOptions, reason: String, examiner: String?, verb: String, json: Bool
    ) throws {
        var arguments = self.arguments
        arguments["reason"] = .string(reason)
        if let examiner { arguments["examiner"] = .string(examiner) }
        let (result, failure) = try Gateway.resolve(vault, .acting).perform(operation, arguments)
        printRecorded(result, verb: verb, json: json)
        if let failure { throw failure.cliError }
    }
}

/// Prints what a lifecycle call recorded: one line per item, then the entries.
func printRecorded(_ result: JSONValue, verb: String, json: Bool) {
    if json {
        Output.json(result)
        return
    }
    for item in result["items"]?.arrayValue ?? [] {
        let name = item["name"]?.byteStringValue.map { DisplayName.escape($0) } ?? "?"
        Output.line("\(verb) item \(item["item"]?.stringValue ?? "?") (\(name))")
    }
    let entries = (result["entries"]?.arrayValue ?? []).compactMap(\.integerValue).map { "\($0)" }
    Output.line(
        "recorded as entr\(entries.count == 1 ? "y" : "ies") \(entries.joined(separator: ", ")) (\(result["event"]?.stringValue ?? "?"))"
    )
}

struct Hold: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put items on legal hold (a `held` event): no disposal while the hold stands.",
        discussion: """
            The reason is kept in the event's details document, never in the entry. An item already \
            on hold, or already disposed of, refuses the whole command; nothing is recorded then. \
            Through the daemon, the caller's role must grant `hold`.
            """)
    @OptionGroup var vault: VaultOptions
    @OptionGroup var subjects: LifecycleSubjects
    @Option(help: "Why (an order, a case), one line.") var reason: String
    @Option(help: "Your name as the examiner, kept with the reason.") var examiner: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        try subjects.record(.hold, vault: vault, reason: reason, examiner: examiner, verb: "held", json: json)
    }
}

struct ReleaseHold: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release-hold",
        abstract: "Release the legal hold of items (a `hold-released` event).",
        discussion:
            "An item not on hold refuses the whole command. Through the daemon, the caller's role must grant `hold`.")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var subjects: LifecycleSubjects
    @Option(help: "Why the hold ends, one line.") var reason: String
    @Option(help: "Your name as the examiner, kept with the reason.") var examiner: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        try subjects.record(
            .releaseHold, vault: vault, reason: reason, examiner: examiner, verb: "released the hold of", json: json)
    }
}

struct CaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "case", abstract: "Settings of a case: its retention date.", subcommands: [CaseSet.self])
}

struct CaseSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a case's retention date (a `retention-set` event): no disposal of its items until after it.",
        discussion: """
            DATE is a calendar date, YYYY-MM-DD; its items may be disposed of from the day after it \
            (the node's clock, UTC). It binds the case's items sealed later too. A later setting \
            replaces it; the ledger keeps both. Through the daemon, the caller's role must grant \
            `administer`.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The case.") var caseID: String
    @Option(name: .customLong("retain-until"), help: "YYYY-MM-DD.") var retainUntil: String
    @Option(help: "Why (a rule, an order), one line.") var reason: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        var arguments: JSONObject = ["case": .string(caseID), "retainUntil": .string(retainUntil)]
        if let reason { arguments["reason"] = .string(reason) }
        let (result, failure) = try Gateway.resolve(vault, .acting).perform(.setRetention, arguments)
        if json {
            Output.json(result)
        } else {
            let entries = (result["entries"]?.arrayValue ?? []).compactMap(\.integerValue).map { "\($0)" }
            Output.line(
                "case \(DisplayName.escape(Array(caseID.utf8))): retained until \(retainUntil); recorded as entry \(entries.joined(separator: ", ")) (retention-set)"
            )
        }
        if let failure { throw failure.cliError }
    }
}

struct Dispose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask for items' disposal (a `disposal-requested` event); another account approves it.",
        discussion: """
            --mode return hands the items back to their owner (recorded; the vault keeps its copy); \
            --mode destroy removes the originals' archives from the vault once approved (the \
            manifests, the entries and their digests stay, and `verify` still proves every entry). \
            Refused for an item on legal hold, one whose case is retained until today or later, one \
            already disposed of or with a request pending. The request's id is printed: a second \
            account approves it with `custos approve ID` (four eyes: the requester cannot). Through \
            the daemon, the caller's role must grant `dispose`.
            """)
    @OptionGroup var vault: VaultOptions
    @OptionGroup var subjects: LifecycleSubjects
    @Option(help: "return or destroy.") var mode: String
    @Option(help: "Why, one line.") var reason: String
    @Option(help: "Who receives the items (with --mode return).") var recipient: String?
    @Option(help: "Your name as the examiner, kept with the reason.") var examiner: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        var arguments = subjects.arguments
        arguments["mode"] = .string(mode)
        arguments["reason"] = .string(reason)
        if let recipient { arguments["recipient"] = .string(recipient) }
        if let examiner { arguments["examiner"] = .string(examiner) }
        let (result, failure) = try Gateway.resolve(vault, .acting).perform(.dispose, arguments)
        printRecorded(result, verb: "disposal (\(mode)) requested for", json: json)
        if !json {
            let request = result["request"]?.stringValue ?? "?"
            Output.line("request \(request): another account approves it with `custos approve \(request)`")
        }
        if let failure { throw failure.cliError }
    }
}

struct Approve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve another account's disposal request and carry it out (a `disposed` event).",
        discussion: """
            REQUEST is the id `custos dispose` printed. Refused when this account asked for it (four \
            eyes), when it was approved already, or when an item is now on hold or retained. For \
            destroy, each original's archive is removed once no item of the same content that is \
            not destroyed holds it. Through the daemon, the caller's role must grant `approve`.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The request's id.") var request: String
    @Option(help: "Your name as the examiner.") var examiner: String?
    @Flag(
        help:
            "For an approved destruction whose removal did not finish (verify notes it): remove what is left; records nothing."
    )
    var finish = false
    @Flag(help: "Show the request (its items, mode, requester, reason) and approve nothing.") var show = false
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        if show { return try showRequest() }
        var arguments: JSONObject = ["request": .string(request)]
        if let examiner { arguments["examiner"] = .string(examiner) }
        if finish { arguments["finish"] = .bool(true) }
        let (result, failure) = try Gateway.resolve(vault, .acting).perform(.approve, arguments)
        if !finish { printRecorded(result, verb: "disposed (\(result["mode"]?.stringValue ?? "?")) of", json: json) }
        if finish && json { Output.json(result) }
        if !json {
            for archive in result["archives"]?.arrayValue ?? [] {
                let content = archive["content"]?.stringValue ?? "?"
                switch archive["outcome"]?.stringValue {
                case "removed": Output.line("archive \(content): removed from the vault")
                case "kept":
                    let others = (archive["sharedWith"]?.arrayValue ?? []).compactMap(\.stringValue)
                    Output.line(
                        "archive \(content): kept, items \(others.joined(separator: ", ")) hold the same content")
                case "already-gone": Output.line("archive \(content): already gone")
                default: Output.line("archive \(content): NOT REMOVED: \(archive["reason"]?.stringValue ?? "?")")
                }
            }
        }
        if let failure { throw failure.cliError }
    }

    /// What an approver reads before approving: the request as the ledger records it.
    private func showRequest() throws {
        let (result, failure) = try Gateway.resolve(vault, .reading).perform(
            .disposalRequest, ["request": .string(request)])
        if json {
            Output.json(result)
        } else {
            let escape = { (text: String?) in DisplayName.escape(Array((text ?? "").utf8)) }
            Output.line(
                "request \(escape(result["request"]?.stringValue)): \(escape(result["mode"]?.stringValue)), \(escape(result["status"]?.stringValue))"
            )
            Output.line(
                "requested by \(escape(result["requester"]?["account"]?.stringValue)) (uid \(result["requester"]?["uid"]?.integerValue ?? -1))"
            )
            Output.line("reason: \(escape(result["reason"]?.stringValue))")
            if let recipient = result["recipient"]?.stringValue { Output.line("to: \(escape(recipient))") }
            if let by = result["approvedBy"]?.stringValue { Output.line("approved by \(escape(by))") }
            for item in result["items"]?.arrayValue ?? [] {
                let name = item["name"]?.byteStringValue.map { DisplayName.escape($0) } ?? "?"
                Output.line(
                    "item \(escape(item["item"]?.stringValue))  case \(escape(item["case"]?.stringValue))  \(name)  sha256 \(escape(item["sha256"]?.stringValue))"
                )
            }
        }
        if let failure { throw failure.cliError }
    }
}
