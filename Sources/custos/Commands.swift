import ArgumentParser
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault
import Foundation
import Logging

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a vault: configuration, ledger, object store, inbox and the node's signing key.")

    @OptionGroup var vault: VaultOptions

    @Option(help: "The log origin, naming this node's log (e.g. mjib.example.tw/evidence).")
    var origin: String

    @Option(help: "Archive compression: zstd, none, gzip or xz.")
    var compression: String = "zstd"

    @Flag(help: "Compute only SHA-256 (no MD5, no SHA-1).")
    var sha256Only = false

    @Option(
        help:
            "Import the time-stamping authority's private key (PEM) instead of making one; with --tsa-cert, --tsa-chain and --tsa-policy."
    )
    var tsaKey: String?
    @Option(help: "The imported TSA's certificate (PEM; extendedKeyUsage=critical,timeStamping).")
    var tsaCert: String?
    @Option(help: "The imported TSA's chain up to its CA (PEM).")
    var tsaChain: String?
    @Option(help: "The imported TSA's policy OID.")
    var tsaPolicy: String?
    @Flag(help: "No time-stamping authority of the node's own.")
    var noTsa = false

    @Option(
        help:
            "A group whose members may drop evidence into the inbox (inbox 2770, vault folder 0750); without it, the vault is the owner's alone (0700)."
    )
    var group: String?

    func run() throws {
        let configuration = VaultConfiguration(
            origin: origin, compression: compression, md5: !sha256Only, sha1: !sha256Only)
        var material = noTsa ? Vault.TimeStampMaterial.none : .generate
        let imported = [tsaKey, tsaCert, tsaChain, tsaPolicy]
        if imported.contains(where: { $0 != nil }) {
            guard let tsaKey, let tsaCert, let tsaChain, let tsaPolicy else {
                throw CLIError(
                    message: "importing a TSA takes all four: --tsa-key, --tsa-cert, --tsa-chain, --tsa-policy")
            }
            func read(_ option: String, _ path: String) throws -> [UInt8] {
                do { return try FileSystem.readFile(RawArguments.raw(path)) } catch {
                    throw CLIError(message: "\(option) \(path): \(error)")
                }
            }
            material = .importing(
                key: try read("--tsa-key", tsaKey), certificate: try read("--tsa-cert", tsaCert),
                chain: try read("--tsa-chain", tsaChain), policy: tsaPolicy)
        }
        var inboxGroup: UInt32?
        if let group {
            guard let id = FileSystem.groupID(named: group) else {
                throw CLIError(message: "--group \(group): no such group on this system")
            }
            inboxGroup = id
        }
        let created = try Vault.create(
            at: vault.path, configuration: configuration, now: Clock.now(), timeStamping: material,
            inboxGroup: inboxGroup)
        let key = try created.verifierKey()
        Output.line("created vault \(created.root) for \(origin)")
        Output.line("verifier key: \(key.key.text)")
        if let policy = created.configuration.timeStampPolicy {
            Output.line(
                "time-stamping authority: \(created.timeStampCertificatePath), trust anchor in \(created.timeStampChainPath), policy \(policy)"
            )
        }
    }
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal files (a directory: every regular file under it) into the vault.")

    @OptionGroup var vault: VaultOptions
    @Option(name: .customLong("case"), help: "Case number.") var caseID: String = ""
    @Option(help: "Exhibit number.") var exhibit: String = ""
    @Option(help: "Examiner's name.") var examiner: String = ""
    @Option(help: "Description of the evidence.") var description: String = ""
    @Argument(help: "Files or directories to seal.") var paths: [String]

    func run() throws {
        let vault = try vault.open()
        let signer = try vault.signer()
        let ledger = try vault.openLedger()
        // Shared with the daemon; its start-up reconciliation waits until this ingest is done.
        let (sealingLock, removed) = try vault.beginSealing()
        defer { withExtendedLifetime(sealingLock) {} }
        if !removed.isEmpty {
            Logger(label: "custos.ingest").notice(
                "removed what killed sealing processes left half-written", metadata: ["files": "\(removed.count)"])
        }
        let sealer = Sealer(vault: vault, context: .current(tool: toolVersion))
        let logger = Logger(label: "custos.ingest")
        let stamper = try NodeTimeStamper.make(vault: vault)

        var refused = 0
        var sealed = 0
        var unreadableDirectories = 0
        var files = [RawPath]()
        for argument in paths {
            let path = RawArguments.raw(argument)
            if let status = try? FileSystem.linkStatus(path), status.isDirectory {
                do {
                    let found = try FileSystem.walk(path)
                    if found.isEmpty { Output.error("custos: \(path): the directory holds no files") }
                    files += found
                } catch {
                    Output.error("custos: refused: \(error)")
                    refused += 1
                    unreadableDirectories += 1
                }
            } else {
                files.append(path)
            }
        }
        // What was recorded before a failure, for its message: the inputs sealed and their entries.
        var recorded = [(path: RawPath, entries: ClosedRange<UInt64>)]()
        var stopped: String?
        for path in files {
            let request = SealRequest(
                path: path, caseID: caseID, exhibit: exhibit, examiner: examiner, description: description)
            let pending: PendingSeal
            do {
                pending = try sealer.seal(request, now: Clock.now)
            } catch let error as SealingError {
                refused += 1
                switch error.code {
                case .storage, .noSpace:
                    Output.error("custos: storage fault: \(error)")
                    stopped = "the vault could not be written"
                case .refused: Output.error("custos: refused: \(error)")
                default: Output.error("custos: not sealed: \(error)")
                }
                if stopped != nil { break }
                continue
            } catch {
                refused += 1
                Output.error("custos: \(path): not sealed: \(error)")
                stopped = "an unexpected error"
                break
            }
            var events = [pending.event]
            // The node's own time stamp over the item's SHA-256, recorded with the seal.
            if let stamper {
                do {
                    events.append(
                        try stamper.stamp(
                            .item, imprint: pending.digests.sha256, item: pending.item,
                            actor: sealer.context.operatorName, now: Clock.now()))
                } catch {
                    Output.error("custos: \(path): sealed, but not time-stamped: \(error)")
                }
            }
            let appended: [CustodyEntry]
            do {
                appended = try ledger.append(events)
            } catch {
                // One transaction: none of this input's entries is in the ledger.
                refused += 1
                Output.error(
                    "custos: storage fault: \(path): recording its seal in the ledger failed, nothing of it was "
                        + "recorded (its archive stays in the vault unrecorded; verify lists it): \(error)")
                stopped = "the ledger could not be written"
                break
            }
            let entry = appended[0]
            recorded.append((path, entry.sequence...appended[appended.count - 1].sequence))
            sealed += 1
            logger.info(
                "sealed",
                metadata: [
                    "item": "\(pending.item)", "case": "\(DisplayName.escape(Array(caseID.utf8)))",
                    "name": "\(path)", "sha256": "\(pending.digests.sha256.hex)", "size": "\(pending.size)",
                    "entry": "\(entry.sequence)", "shared": "\(pending.deduplicated)",
                ])
            let note =
                pending.size == 0
                ? " (empty file)" : pending.deduplicated ? " (content already in the vault; archive shared)" : ""
            Output.line("sealed \(pending.item) entry \(entry.sequence) sha256 \(pending.digests.sha256.hex) \(path)\(note)")
        }
        let inputs = files.count + unreadableDirectories
        // Every input not sealed counts: refused, failed, or never tried once sealing stopped.
        let notSealed = inputs - sealed
        let what =
            recorded.isEmpty
            ? "nothing was recorded"
            : "recorded: "
                + recorded.map { "\($0.path) (entries \($0.entries.lowerBound)-\($0.entries.upperBound))" }
                .joined(separator: ", ")
        if let stopped {
            let untried = files.count - sealed - (refused - unreadableDirectories)
            Output.error(
                "custos: sealing stopped: \(stopped)"
                    + (untried > 0 ? "; \(untried) input\(untried == 1 ? " was" : "s were") not tried" : "")
                    + "; \(what)")
        }
        var unsigned = false
        if sealed > 0 {
            // Signed and stamped by the node's TSA in one transaction: it covers every entry.
            do {
                let note = try CheckpointSigning(signer: signer, stamper: stamper).sign(ledger, now: Clock.now())
                let checkpoint = try Checkpoint(parsing: note.text)
                Output.line("checkpoint size \(checkpoint.size) root \(checkpoint.root.base64)")
            } catch {
                unsigned = true
                Output.error(
                    "custos: signing the checkpoint failed (\(what), covered by no checkpoint yet; "
                        + "`custos checkpoint --sign` covers them): \(error)")
            }
        }
        if notSealed > 0 {
            let count =
                notSealed < inputs
                ? "\(notSealed) of \(inputs) inputs were not sealed"
                : inputs == 1 ? "the input was not sealed" : "none of the \(inputs) inputs was sealed"
            throw CLIError(message: count)
        }
        if unsigned { throw CLIError(message: "the checkpoint was not signed") }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the sealed items.")
    @OptionGroup var vault: VaultOptions
    @Option(name: .customLong("case"), help: "Only the items of this case.") var caseID: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let vault = try vault.open()
        let ledger = try vault.openLedger(readOnly: true)
        let items = try ledger.items(caseID: caseID)
        let sources = try ledger.stampSources()
        let expected = vault.expectedTimeStampSources
        if json {
            Output.json(
                .array(
                    items.map { item in
                        var object = item.json.objectValue ?? [:]
                        let stamped = sources[item.item] ?? []
                        object["timeStamped"] = .bool(!stamped.isEmpty)
                        object["awaitingTimeStamps"] = .array(
                            expected.filter { !stamped.contains($0) }.map { .string($0) })
                        return .object(object)
                    }))
            return
        }
        for item in items {
            let caseText = item.caseID.isEmpty ? "-" : DisplayName.escape(Array(item.caseID.utf8))
            let exhibit = item.exhibit.isEmpty ? "-" : DisplayName.escape(Array(item.exhibit.utf8))
            let stamped = sources[item.item] ?? []
            let missing = expected.filter { !stamped.contains($0) }
            let awaiting =
                stamped.isEmpty
                ? "  (awaiting time stamp)"
                : missing.isEmpty ? "" : "  (awaiting time stamp from \(missing.joined(separator: ", ")))"
            Output.line(
                "\(item.item)  \(item.sha256.hex)  \(item.size)  case \(caseText)  exhibit \(exhibit)  \(item.displayName)\(awaiting)"
            )
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read every archive, re-hash every original, rebuild the chain and tree, check every checkpoint.")
    @OptionGroup var vault: VaultOptions
    @Flag(help: "JSON output.") var json = false
    @Option(
        help: """
            The node's verifier key (name+hash+base64), or a file holding it, obtained through a channel you \
            trust; it is pinned: a vault whose own key differs fails. By default the vault's own keys/node.vkey.
            """)
    var key: String?
    @Option(
        name: .customLong("checkpoint"),
        help: """
            A signed checkpoint kept elsewhere (an earlier `custos checkpoint`, a court bundle, a peer) \
            (repeatable): it must be signed by the node's key and consistent with the vault's log.
            """)
    var keptCheckpoints: [String] = []
    @Option(
        name: .customLong("tsa-anchor"),
        help: """
            A PEM file of trust anchors for the time-stamp tokens, obtained from the authorities on \
            your own (repeatable); by default each token is checked against the anchors kept in the vault.
            """)
    var timeStampAnchors: [String] = []
    @Argument(help: "Only these items (ids or unique prefixes); the ledger is always checked whole.") var items:
        [String] = []

    func run() throws {
        var anchors: [Certificate]?
        for file in timeStampAnchors {
            let path = RawArguments.raw(file)
            do {
                let found = try Certificate.all(pem: FileSystem.readFile(path))
                guard !found.isEmpty else { throw CLIError(message: "\(path): holds no PEM certificate") }
                anchors = (anchors ?? []) + found
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError(message: "\(path): the trust anchors cannot be read: \(error)")
            }
        }
        let pinnedKey = try key.map(Self.verifierKey)
        let kept = try keptCheckpoints.map { file in
            let path = RawArguments.raw(file)
            do {
                return (name: file, note: String(decoding: try FileSystem.readFile(path), as: UTF8.self))
            } catch {
                throw CLIError(message: "\(path): the checkpoint cannot be read: \(error)")
            }
        }
        let vault = try vault.open()
        let ledger: Ledger
        do {
            ledger = try vault.openLedger(readOnly: true)
        } catch let error as LedgerError where error.code == .corrupt || error.code == .missing {
            throw CLIError(message: "verification failed: \(error)", exitCode: 1)
        }
        var selection: Set<String>?
        if !items.isEmpty {
            selection = Set(try items.map { try resolveItem($0, in: ledger).item })
        }
        let report: VerificationReport
        do {
            report = try VaultVerifier(vault: vault).verify(
                ledger: ledger, items: selection, key: pinnedKey, timeStampAnchors: anchors, keptCheckpoints: kept
            ) {
                Output.progress($0)
            }
        } catch let error as LedgerError where error.code == .corrupt {
            Output.endProgress()
            throw CLIError(message: "verification failed: \(error)", exitCode: 1)
        }
        Output.endProgress()
        if json {
            Output.json(report.json)
        } else {
            Output.line(
                "ledger: \(report.entries) entries, \(report.checkpointsChecked) checkpoints checked, latest size \(report.latestCheckpointSize)"
            )
            Output.line(
                "items: \(report.itemsChecked) checked, \(report.archivesRehashed) archives re-read, \(report.bytesRehashed) bytes re-hashed"
            )
            Output.line("time stamps: \(report.timeStampsChecked) tokens re-hashed and verified")
            if !kept.isEmpty {
                Output.line("kept checkpoints: \(report.keptCheckpointsChecked) checked against the log")
            }
            for note in report.notes { Output.line("note: \(note)") }
            if !report.unrecordedFiles.isEmpty {
                Output.line(
                    "unrecorded files: \(report.unrecordedFiles.count) in the vault that no entry records (a seal interrupted or in progress, or put there by hand):"
                )
                for path in report.unrecordedFiles { Output.line("- \(path)") }
            }
            if report.passed {
                Output.line("verification passed")
            } else {
                Output.line("verification FAILED: \(report.faults.count) faults")
                for fault in report.faults { Output.line("- [\(fault.code)] \(fault)") }
            }
        }
        if !report.passed { throw ExitCode(1) }
    }

    /// `--key`: a verifier key in signed-note form, or a file holding one.
    static func verifierKey(_ argument: String) throws -> Ed25519NoteVerifier {
        if let key = try? Ed25519NoteVerifier(text: argument) { return key }
        let path = RawArguments.raw(argument)
        guard let bytes = try? FileSystem.readFile(path) else {
            throw CLIError(message: "--key \(argument): neither a verifier key (name+hash+base64) nor a readable file")
        }
        do {
            return try Ed25519NoteVerifier(
                text: String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw CLIError(message: "\(path): not a verifier key (name+hash+base64): \(error)")
        }
    }
}

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Print the latest signed checkpoint, or the one of SIZE entries, verbatim.")
    @OptionGroup var vault: VaultOptions
    @Flag(
        help: "First sign (and time-stamp) a new checkpoint if entries were appended since the latest.")
    var sign = false
    @Argument(help: "The tree size of an earlier checkpoint to print (every checkpoint signed is kept).")
    var size: UInt64?
    @Option(
        help: """
            Also write the checkpoint, its signed text, its RFC 3161 tokens (.tsr), each authority's anchors \
            and the openssl ts -verify command lines (VERIFY.txt) into this folder (created if needed).
            """)
    var export: String?

    func run() throws {
        let vault = try vault.open()
        let ledger = try vault.openLedger(readOnly: !sign)
        if sign { try CheckpointSigning(vault: vault).sign(ledger, now: Clock.now()) }
        let note = try size.map { try ledger.checkpoint(size: $0) } ?? ledger.latestCheckpoint()
        if let export { try exportTokens(note: note, ledger: ledger, vault: vault, to: RawArguments.raw(export)) }
        Output.raw(Array(note.utf8))
    }

    /// The checkpoint's tokens as a court checks them: each stamps the SHA-256 of the signed text.
    func exportTokens(note: String, ledger: Ledger, vault: Vault, to folder: RawPath) throws {
        let signed = try SignedNote(parsing: note)
        let checkpoint = try Checkpoint(parsing: signed.text)
        let body = Array(signed.text.utf8)
        let imprint = OpenSSLSHA256().sha256(body)
        let stamps = try ledger.checkpointStamps(size: checkpoint.size).filter { $0.root == checkpoint.root.base64 }
        guard !stamps.isEmpty else {
            throw CLIError(message: "the checkpoint of size \(checkpoint.size) has no time stamp")
        }
        try FileSystem.makeDirectory(folder)
        let base = "checkpoint-\(checkpoint.size)"
        try FileSystem.writeDurably(Array(note.utf8), to: folder.appending("\(base).txt"))
        try FileSystem.writeDurably(body, to: folder.appending("\(base).body"))
        var lines = [
            "# Time stamps of the checkpoint of size \(checkpoint.size), root \(checkpoint.root.base64).",
            "# \(base).body is its signed text (SHA-256 \(imprint.hex)); each token stamps that digest.",
            "# Check the checkpoint's signature first (Docs/Verification.md, step 3). Each command prints",
            "# \"Verification: OK\" for a good token; for a check independent of this vault, use each",
            "# authority's root certificate obtained from the authority itself as -CAfile.",
        ]
        for stamp in stamps {
            // What is kept is re-checked against the text before it is handed out.
            guard (try? TimeStampVerifier.info(response: stamp.token))?.imprint == imprint.bytes else {
                throw CLIError(
                    message:
                        "the \(stamp.source) token of checkpoint \(checkpoint.size) does not stamp its text; run custos verify",
                    exitCode: 1)
            }
            let name = "\(base)-\(stamp.source).tsr"
            let anchorsName = try exportAnchors(source: stamp.source, anchors: stamp.anchors, vault: vault, to: folder)
            try FileSystem.writeDurably(stamp.token, to: folder.appending(name))
            lines.append("openssl ts -verify -data \(base).body -in \(name) -CAfile \(anchorsName)")
        }
        let text = lines.joined(separator: "\n") + "\n"
        try FileSystem.writeDurably(Array(text.utf8), to: folder.appending("VERIFY.txt"))
    }
}

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node's verifier key in signed-note form (name+hash+base64).")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        Output.line(try vault.open().verifierKey().key.text)
    }
}

struct EntryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entry", abstract: "Write the exact bytes of ledger entry N (what was hashed) to standard output.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The entry's sequence number.") var sequence: UInt64

    func run() throws {
        let ledger = try vault.open().openLedger(readOnly: true)
        Output.raw(try ledger.entryBytes(sequence))
    }
}

struct Proof: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a C2SP tlog-proof of an item's entry against the latest checkpoint.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix).") var item: String
    @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

    func run() throws {
        let ledger = try vault.open().openLedger(readOnly: true)
        let record = try resolveItem(item, in: ledger)
        let proof = try ledger.tlogProof(index: record.sequence)
        let bytes = Array(proof.serialized.utf8)
        if let output {
            try FileSystem.writeDurably(bytes, to: RawArguments.raw(output))
        } else {
            Output.raw(bytes)
        }
    }
}

struct Consistency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the RFC 6962 consistency proof between two tree sizes, one base64 hash a line.")
    @OptionGroup var vault: VaultOptions
    @Option(help: "The older tree size.") var from: UInt64
    @Option(help: "The newer tree size.") var to: UInt64

    func run() throws {
        let ledger = try vault.open().openLedger(readOnly: true)
        for hash in try ledger.consistencyProof(from: from, to: to) { Output.line(hash.base64) }
    }
}

struct TimestampCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timestamp", abstract: "RFC 3161 time-stamp tokens of items.",
        subcommands: [TimestampExport.self])
}

struct TimestampExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write an item's tokens (.tsr), the TSA chain (.pem) and the openssl ts -verify command lines.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix), or a SHA-256 prefix.") var item: String
    @Option(name: .shortAndLong, help: "The folder to write into (created if needed).") var output: String

    func run() throws {
        let vault = try vault.open()
        let ledger = try vault.openLedger(readOnly: true)
        let record = try resolveItem(item, in: ledger)
        let stamps = try ledger.stamps(of: record.item)
        let stampedBy = Set(stamps.map(\.record.source))
        let awaiting = vault.expectedTimeStampSources.filter { !stampedBy.contains($0) }
        guard !stamps.isEmpty else { throw CLIError(message: "item \(record.item) has no time stamp yet") }
        let folder = RawArguments.raw(output)
        try FileSystem.makeDirectory(folder)
        var lines = [
            "# Time stamps of item \(record.item) (\(record.displayName)), SHA-256 \(record.sha256.hex).",
            "# Each command prints \"Verification: OK\" for a good token. Run them in this folder.",
            "# tsa-chain.pem is the node's TSA chain; anchors-NAME.pem the trust anchors of an external",
            "# authority as the vault kept them: for a check independent of this vault, use the",
            "# authority's root certificate obtained from the authority itself instead.",
        ]
        for (index, stamp) in stamps.enumerated() {
            let name = "\(record.item)-\(index + 1).tsr"
            guard let token = try ledger.stampToken(at: stamp.entry.sequence),
                OpenSSLSHA256().sha256(token) == stamp.record.token
            else {
                throw CLIError(
                    message: "the token of entry \(stamp.entry.sequence) was altered; run custos verify", exitCode: 1)
            }
            let anchorsName = try exportAnchors(
                source: stamp.record.source, anchors: stamp.record.anchors, vault: vault, to: folder)
            try FileSystem.writeDurably(token, to: folder.appending(name))
            lines.append(
                "# [\(stamp.record.source)] genTime \(stamp.record.genTime), serial \(stamp.record.serial), by \(stamp.record.authority)"
            )
            lines.append("openssl ts -verify -digest \(record.sha256.hex) -in \(name) -CAfile \(anchorsName)")
            lines.append("# or against the original file itself:")
            lines.append("openssl ts -verify -data ORIGINAL-FILE -in \(name) -CAfile \(anchorsName)")
        }
        if !awaiting.isEmpty {
            lines.append("# Still awaiting a token from: \(awaiting.joined(separator: ", ")).")
        }
        let text = lines.joined(separator: "\n") + "\n"
        try FileSystem.writeDurably(Array(text.utf8), to: folder.appending("VERIFY.txt"))
        Output.text(text)
    }
}

/// Writes the trust anchors a token of `source` is checked against into `folder` (the node's
/// `tsa/chain.pem`, or an external authority's anchors as the vault kept them, re-hashed first)
/// and returns the file's name there.
func exportAnchors(source: String, anchors: Hash?, vault: Vault, to folder: RawPath) throws -> String {
    let name: String
    let bytes: [UInt8]
    if source == TimeStampRecord.nodeSource {
        name = "tsa-chain.pem"
        bytes = try FileSystem.readFile(vault.timeStampChainPath)
    } else {
        name = "anchors-\(source).pem"
        guard let hash = anchors, let kept = try? FileSystem.readFile(vault.anchorsPath(hash)),
            OpenSSLSHA256().sha256(kept) == hash
        else {
            throw CLIError(
                message: "the trust anchors of \(source) are missing or altered; run custos verify", exitCode: 1)
        }
        bytes = kept
    }
    try FileSystem.writeDurably(bytes, to: folder.appending(name))
    return name
}
