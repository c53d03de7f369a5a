import ArgumentParser
import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosReport
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a court bundle of items or a case (one pax tar), recorded as an `exported` event.",
        discussion: """
            The bundle holds, under its top folder custos-bundle/: each original (read out of its \
            sealed archive and re-hashed), the sealed archive and manifest as stored, the entries' \
            exact bytes, a C2SP tlog-proof per item, the checkpoint, the time-stamp tokens and their \
            chains, the node's verifier key, a signed chain-of-custody report of the same items \
            (made and recorded as `custos report` does), the standard-library Python checker of \
            Merkle proofs, VERIFY.md (Traditional Chinese and English: the commands that check it \
            all) and SHA256SUMS. An item received from another node is bundled with this node's \
            `received` entry, and with what the node kept of the sender's proof (the sender's \
            `sealed` entry, its inclusion proof in the sender's signed checkpoint, the sender's \
            key); its custody at the sender after that seal is in the sender's ledger, which the \
            bundle does not hold, and VERIFY.md and the report say so. An item whose archive or \
            manifest (or, received, the sender's proof kept) is missing or altered refuses \
            the export, nothing recorded (exit 1). The `exported` event (the bundle's SHA-256 and \
            the digest of its members' list in its details) is recorded before the bundle takes \
            its name; BUNDLE is never written over. On a vault closed to this account, the \
            daemon builds and records the bundle for the account the kernel names (its role must \
            allow export, extract and report) and streams it; this command writes it as this \
            account, and names it only once it is recorded and its SHA-256 is the one sent.
            """)
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item ids (or unique prefixes), or SHA-256 prefixes.") var items: [String] = []
    @Option(name: .customLong("case"), help: "Every item of this case instead.") var caseID: String?
    @Option(help: "Why the bundle is made (recorded; one line, at most 4096 bytes).") var reason: String
    @Option(name: .shortAndLong, help: "The bundle's file (a pax tar).") var output: String
    @Option(help: "Your name as the examiner, kept with the reason (the account is recorded in any case).")
    var examiner: String?

    func validate() throws {
        if items.isEmpty == (caseID == nil) { throw ValidationError("give items or --case ID (not both)") }
    }

    func run() throws {
        if case .socket(let socket) = try Gateway.resolve(vault, .acting) {
            return try runThroughDaemon(Gateway.socket(socket), socket: socket)
        }
        let vault = try vault.open()
        let session = try Custody(vault: vault, actor: .current(examiner: examiner), tool: toolVersion).session()
        let subject = try ReportRequest.Subject.resolve(items: items, caseID: caseID, in: session)
        let output = RawArguments.raw(output)
        let bundle = try session.exportCourtBundle(subject, caseID: caseID, reason: reason, output: output)
        Output.line(
            "bundle written to \(output): \(bundle.members.count + 1) members, sha256 \(bundle.sha256.hex); "
                + "recorded as `exported` (\(Report.entriesText(bundle.event.entries.map(\.sequence))))")
        try session.requireCovered()
        if !bundle.reportPassed { throw Self.reportFailed }
    }

    /// A bundle whose report says FAIL is written and recorded; the command says so and exits 1.
    static let reportFailed = CLIError(
        message:
            "FAIL 驗證失敗: the bundle's report says FAIL (the bundle is written and recorded; its report's first page says what failed)",
        exitCode: 1)
}

struct VerifyBundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-bundle",
        abstract: "Check a court bundle with no vault: every claim, a verdict each (exit 0 only when all hold).",
        discussion: """
            Reads BUNDLE once, as a stream, refusing a member outside its top folder, with a .. \
            component, a link, a duplicate or anything but a regular file; nothing is written to \
            disk (each sealed archive is opened as it streams past). Checks SHA256SUMS \
            (a member changed, removed, added or renamed is named), each original's SHA-256, MD5 \
            and SHA-1 against its entry, each archive, each inclusion proof against the bundled \
            checkpoint and the checkpoint's signature (by the bundled key, which must be --key when \
            given), --checkpoint (a checkpoint kept elsewhere: the same tree at the same size), each \
            time-stamp token (against the bundled chain or --tsa-anchor; it must stamp the \
            original's SHA-256), of a received item the sender's seal (its sealed entry of the \
            same digests, proven in the sender's checkpoint signed by the bundled sender key, which \
            must be --sender-key when one of its origin is given; a --sender-key of an origin no \
            item was received from fails the `sender keys` claim), and \
            the report's detached signature and facts. A NOTE names each key taken from the bundle \
            itself (no --key; each sender given no --sender-key); --json gives them as `notes`. \
            Exit 0 when every claim holds, 1 when one fails, 2 for bad usage (a --key or \
            --sender-key that is neither a file holding a verifier key nor one) or a file that \
            cannot be read.
            """)
    @Argument(help: "The bundle (a pax tar).") var bundle: String
    @Option(help: "The node's verifier key (vkey text, or a file holding it).") var key: String?
    @Option(name: .customLong("tsa-anchor"), help: "Trust anchors (PEM) for the time-stamp tokens.") var tsaAnchor:
        String?
    @Option(help: "A checkpoint kept elsewhere (a file).") var checkpoint: String?
    @Option(
        name: .customLong("sender-key"),
        help:
            "The verifier key of a node a bundled item was received from (vkey text, or a file holding it); repeat for each."
    ) var senderKeys: [String] = []
    @Flag(help: "Print the verdicts as JSON.") var json = false

    func run() throws {
        func read(_ path: String, _ what: String) throws -> [UInt8] {
            do { return try FileSystem.readFile(RawArguments.raw(path)) } catch {
                throw CLIError(message: "\(what) \(path): cannot be read: \(error)")
            }
        }
        // A key is a file holding one or its text; anything else (a path mistyped, a file of
        // something else) is bad usage, never a key the check would pass over.
        func verifierKey(_ given: String, _ option: String) throws -> String {
            var text = given
            if FileSystem.exists(RawArguments.raw(given)) {
                text = String(decoding: try read(given, option), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard (try? Ed25519NoteVerifier(text: text)) != nil else {
                throw CLIError(
                    message:
                        "\(option) \(given): neither a file holding a verifier key nor a verifier key (name+hash+base64, as custos key prints it)"
                )
            }
            return text
        }
        let keyText = try key.map { try verifierKey($0, "--key") }
        let anchors = try tsaAnchor.map { try read($0, "--tsa-anchor") }
        let kept = try checkpoint.map { String(decoding: try read($0, "--checkpoint"), as: UTF8.self) }
        var verifier = BundleVerifier(key: keyText, timeStampAnchors: anchors, checkpoint: kept)
        verifier.senderKeys = try senderKeys.map { try verifierKey($0, "--sender-key") }
        let result: BundleVerification
        do { result = try verifier.verify(RawArguments.raw(bundle)) } catch {
            throw CLIError(message: "\(bundle): cannot be read: \(error)")
        }
        if json {
            Output.json(
                .object([
                    "result": .string(result.passed ? "PASS" : "FAIL"),
                    "claims": .array(
                        result.claims.map {
                            .object([
                                "claim": .string($0.claim), "result": .string($0.passed ? "PASS" : "FAIL"),
                                "detail": .string($0.detail),
                            ])
                        }),
                    "notes": .array(result.notes.map { .string($0) }),
                ]))
        } else {
            for claim in result.claims {
                Output.line(
                    "\(claim.passed ? "驗證通過 / PASS" : "驗證失敗 / FAIL")  \(claim.claim): "
                        + DisplayName.escape(Array(claim.detail.utf8)))
            }
            Output.line(
                result.passed
                    ? "驗證通過 / PASS: every claim of the bundle holds"
                    : "驗證失敗 / FAIL: \(result.claims.filter { !$0.passed }.count) claim(s) do not hold")
            // What was checked only with the bundle's own keys.
            for note in result.notes { Output.line(DisplayName.escape(Array(note.utf8))) }
        }
        if !result.passed { throw ExitCode(1) }
    }
}
