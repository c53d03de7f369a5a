import ArgumentParser
import CustosCustody
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosReport

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a signed chain-of-custody report of items or a case, recorded as a `reported` event.",
        discussion: """
            The report is made from the ledger and the vault alone: each item's facts, its whole \
            custody timeline, its integrity re-hashed now (content, archive, manifest: PASS or \
            FAIL), its inclusion proof in the latest signed checkpoint, its time stamps, what was \
            not checked, and the commands that check each claim without Custos. It is written as a \
            PDF for the court (Traditional Chinese and English, --lang) and as canonical JSON for \
            tools, the same facts (--format both, the default: FILE.pdf and FILE.json, FILE's own \
            .pdf or .json dropped; with pdf or json, FILE itself), each with a detached CMS \
            signature by the node's report-signing certificate beside it (.p7s; `openssl cms \
            -verify -binary -content FILE.pdf -in FILE.pdf.p7s -inform DER -CAfile \
            VAULT/report/chain.pem`). Before the files take their names, a `reported` event is \
            recorded about each item, with the SHA-256 of each file. No file is ever written over \
            (exit 2). A report on an item that fails its \
            re-check is written and recorded all the same; it says FAIL first, and custos exits 1. On \
            a vault closed to this account (or with --socket), the daemon makes, signs and records the \
            report for this account as the kernel names it; this command writes the files it sends by \
            the same rules, as this account.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item ids (or unique prefixes), or SHA-256 prefixes.") var items: [String] = []
    @Option(name: .customLong("case"), help: "Report on every item of this case instead.") var caseID: String?
    @Option(help: "Why the report is made (recorded; one line, at most 4096 bytes).") var reason: String
    @Option(help: "zh-TW, en or both (the default).") var lang: String = "both"
    @Option(help: "pdf, json or both (the default: FILE.pdf and FILE.json, with FILE's own .pdf or .json dropped).")
    var format: String = "both"
    @Option(name: .shortAndLong, help: "The report's file (each file's .p7s is written beside it).") var output: String
    @Option(help: "Your name as the examiner, kept with the reason (the account is recorded in any case).")
    var examiner: String?

    func validate() throws {
        if items.isEmpty == (caseID == nil) { throw ValidationError("give items or --case ID (not both)") }
        guard ["zh-TW", "en", "both"].contains(lang) else { throw ValidationError("--lang is zh-TW, en or both") }
        guard ReportRequest.formats(format) != nil else { throw ValidationError("--format is pdf, json or both") }
    }

    var formats: [String] { ReportRequest.formats(format) ?? ["pdf", "json"] }

    func run() throws {
        if case .socket(let socket) = try Gateway.resolve(vault, .acting) {
            try runThroughDaemon(Gateway.socket(socket), socket: socket)
            return
        }
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion).session()
        let subject = try ReportRequest.Subject.resolve(items: items, caseID: caseID, in: session)
        let made = try session.makeReport(
            ReportRequest(subject: subject, reason: reason, languages: languages, formats: formats),
            output: RawArguments.raw(output))
        // The JSON file's bytes when one was written (the facts are not encoded again).
        let json = made.files.first { $0.name.hasSuffix(".json") }?.bytes ?? made.facts.jsonBytes
        let passed = try Self.printOutcome(
            facts: json, files: made.files.map { (Array($0.name.utf8), $0.bytes) },
            entries: made.event.entries.map(\.sequence), output: RawArguments.raw(output))
        try session.requireCovered()
        if !passed { throw Self.failed }
    }

    var languages: [String] { lang == "both" ? ["zh-TW", "en"] : [lang] }

    static let failed = CLIError(message: "the report says FAIL (it is written and recorded)", exitCode: 1)

    /// Prints what a report found, failures first and plainly, from the report's facts as JSON
    /// (the JSON file's bytes when one was written), and each file written with its SHA-256;
    /// whether it passed.
    static func printOutcome(
        facts bytes: [UInt8], files: [(name: [UInt8], bytes: [UInt8])], entries: [UInt64], output: RawPath
    ) throws -> Bool {
        guard let report = try? CanonicalJSON.parse(bytes) else {
            throw CLIError(message: "\(output): the report's facts are not JSON")
        }
        func escaped(_ value: JSONValue?) -> String { DisplayName.escape(Array((value?.stringValue ?? "?").utf8)) }
        let passed = report["result"]?.stringValue == "PASS"
        let items = report["items"]?.arrayValue ?? []
        if !passed {
            Output.line("FAIL 驗證失敗: this report finds faults")
            if report["checkpoint"]?["signature"]?["result"]?.stringValue != "PASS" {
                Output.line("FAIL checkpoint: \(escaped(report["checkpoint"]?["signature"]?["reason"]))")
            }
            if report["ledger"]?["result"]?.stringValue != "PASS" {
                Output.line("FAIL ledger: \(escaped(report["ledger"]?["reason"]))")
            }
            for item in items where item["result"]?.stringValue != "PASS" {
                var parts = [String]()
                for part in ["content", "archive", "manifest"]
                where item["integrity"]?[part]?["result"]?.stringValue == "FAIL" {
                    parts.append("\(part) FAIL: \(escaped(item["integrity"]?[part]?["reason"]))")
                }
                if item["ledgerProof"]?["result"]?.stringValue != "PASS" {
                    parts.append("ledger proof FAIL: \(escaped(item["ledgerProof"]?["reason"]))")
                }
                for fault in item["integrity"]?["faults"]?.arrayValue ?? [] {
                    let code = fault["code"]?.stringValue ?? ""
                    if !["content-", "archive-", "manifest-"].contains(where: code.hasPrefix) {
                        parts.append("[\(escaped(fault["code"]))] \(escaped(fault["message"]))")
                    }
                }
                Output.line("FAIL item \(escaped(item["item"])): " + parts.joined(separator: "; "))
            }
        }
        for item in items {
            Output.line(
                "\(escaped(item["result"])) item \(escaped(item["item"]))  case \(escaped(item["case"]))  exhibit \(escaped(item["exhibit"]))  sha256 \(escaped(item["original"]?["sha256"]))"
            )
        }
        let folder = output.parent
        let written = files.filter { !String(decoding: $0.name, as: UTF8.self).hasSuffix(".p7s") }.map { file in
            "\(folder.appending(component: file.name)) (sha256 \(OpenSSLSHA256().sha256(file.bytes).hex))"
        }
        Output.line(
            "report \(escaped(report["report"])) written to " + written.joined(separator: " and ")
                + ", each signed beside it (.p7s)")
        Output.line(
            "recorded as `reported` (\(entriesText(entries))); built on checkpoint \(report["checkpoint"]?["size"]?.integerValue ?? 0) \(escaped(report["checkpoint"]?["root"]))"
        )
        return passed
    }

    /// `entry 7`, `entries 7, 9`, or for many in a row `entries 2000 to 2999 (1000)`.
    static func entriesText(_ entries: [UInt64]) -> String {
        guard let first = entries.first, let last = entries.last else { return "no entry" }
        if entries.count == 1 { return "entry \(first)" }
        if entries.count > 4, last - first + 1 == UInt64(entries.count) {
            return "entries \(first) to \(last) (\(entries.count))"
        }
        return "entries " + entries.map { String($0) }.joined(separator: ", ")
    }
}
