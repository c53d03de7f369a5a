import ArgumentParser
import CustosCustody
import CustosFormats
import CustosLedger
import CustosReport

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a signed chain-of-custody report of items or a case, recorded as a `reported` event.",
        discussion: """
            The report is made from the ledger and the vault alone: each item's facts, its whole \
            custody timeline, its integrity re-hashed now (content, archive, manifest: PASS or \
            FAIL), its inclusion proof in the latest signed checkpoint, its time stamps, what was \
            not checked, and the commands that check each claim without Custos. It is written as \
            canonical JSON to FILE, with a detached CMS signature by the node's report-signing \
            certificate beside it (FILE.p7s; `openssl cms -verify -binary -content FILE -in \
            FILE.p7s -inform DER -CAfile VAULT/report/chain.pem`). Before the files take their \
            names, a `reported` event is recorded about each item, with the SHA-256 of each file. \
            FILE and FILE.p7s are never written over (exit 2). A report on an item that fails its \
            re-check is written and recorded all the same; it says FAIL first, and custos exits 1.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item ids (or unique prefixes), or SHA-256 prefixes.") var items: [String] = []
    @Option(name: .customLong("case"), help: "Report on every item of this case instead.") var caseID: String?
    @Option(help: "Why the report is made (recorded; one line, at most 4096 bytes).") var reason: String
    @Option(help: "zh-TW, en or both (the default).") var lang: String = "both"
    @Option(help: "json (pdf is not available yet).") var format: String = "json"
    @Option(name: .shortAndLong, help: "The report's file (FILE.p7s is written beside it).") var output: String
    @Option(help: "Your name as the examiner, kept with the reason (the account is recorded in any case).")
    var examiner: String?

    func validate() throws {
        if items.isEmpty == (caseID == nil) { throw ValidationError("give items or --case ID (not both)") }
        guard ["zh-TW", "en", "both"].contains(lang) else { throw ValidationError("--lang is zh-TW, en or both") }
    }

    func run() throws {
        guard format == "json" else {
            if format == "pdf" {
                throw CLIError(message: "--format pdf: not available yet; use --format json (nothing was written)")
            }
            throw CLIError(message: "--format \(format): unknown; use json")
        }
        if case .socket = try Gateway.resolve(vault, .acting) {
            throw CLIError(
                message:
                    "a daemon serves this vault: reports through its socket are not available yet; run custos report as the vault's account while the daemon is stopped (nothing was written)"
            )
        }
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion).session()
        let subject: ReportRequest.Subject
        if let caseID {
            subject = .caseID(caseID, try session.items(ofCase: caseID))
        } else {
            var records = [ItemRecord]()
            for text in items {
                let record = try session.resolveItem(text)
                if !records.contains(where: { $0.item == record.item }) { records.append(record) }
            }
            subject = .items(records)
        }
        let languages = lang == "both" ? ["zh-TW", "en"] : [lang]
        let made = try session.makeReport(
            ReportRequest(subject: subject, reason: reason, languages: languages, formats: [format]),
            output: RawArguments.raw(output))
        let facts = made.facts
        // A failure first, plainly.
        if !facts.passed {
            Output.line("FAIL 驗證失敗: this report finds faults")
            if !facts.ledger.passed {
                Output.line("FAIL ledger: \(DisplayName.escape(Array(facts.ledger.reason.utf8)))")
            }
            for item in facts.items where !item.passed {
                Output.line("FAIL item \(item.item): " + DisplayName.escape(Array(Self.failure(item).utf8)))
            }
        }
        for item in facts.items {
            Output.line(
                "\(item.passed ? "PASS" : "FAIL") item \(item.item)  case \(DisplayName.escape(Array(item.caseID.utf8)))  exhibit \(DisplayName.escape(Array(item.exhibit.utf8)))  sha256 \(item.sha256.hex)"
            )
        }
        let digest = made.event.entries.first?.details["files"]?["json"]?.stringValue ?? "?"
        Output.line(
            "report \(facts.report) written to \(RawArguments.raw(output)) (sha256 \(digest)), signed in \(RawArguments.raw(output + ".p7s"))"
        )
        Output.line(
            "recorded as `reported` (entries \(made.event.entries.map { String($0.sequence) }.joined(separator: ", "))); built on checkpoint \(facts.checkpoint.size) \(facts.checkpoint.root.base64)"
        )
        try session.requireCovered()
        if !facts.passed { throw CLIError(message: "the report says FAIL (it is written and recorded)", exitCode: 1) }
    }

    static func failure(_ item: ItemFacts) -> String {
        var parts = [String]()
        for (name, check) in [("content", item.content), ("archive", item.archive), ("manifest", item.manifest)]
        where !check.passed {
            parts.append("\(name) FAIL: \(check.reason)")
        }
        if !item.proof.check.passed { parts.append("ledger proof FAIL: \(item.proof.check.reason)") }
        let others = item.faults.filter {
            !["content-", "archive-", "manifest-"].contains(where: $0.code.hasPrefix)
        }
        parts += others.map { "[\($0.code)] \($0.message)" }
        return parts.joined(separator: "; ")
    }
}
