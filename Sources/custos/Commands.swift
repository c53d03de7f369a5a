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

    func run() throws {
        let configuration = VaultConfiguration(
            origin: origin, compression: compression, md5: !sha256Only, sha1: !sha256Only)
        var material = Vault.TimeStampMaterial.generate
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
        let created = try Vault.create(
            at: vault.path, configuration: configuration, now: Clock.now(), timeStamping: material)
        let key = try created.verifierKey()
        print("created vault \(created.root) for \(origin)")
        print("verifier key: \(key.key.text)")
        print(
            "time-stamping authority: \(created.timeStampCertificatePath), trust anchor in \(created.timeStampChainPath), policy \(created.configuration.timeStampPolicy ?? "-")"
        )
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
        let sealingLock = try vault.lockSealing(exclusive: false)
        defer { withExtendedLifetime(sealingLock) {} }
        let sealer = Sealer(vault: vault, context: .current(tool: toolVersion))
        let logger = Logger(label: "custos.ingest")

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
        for path in files {
            let request = SealRequest(
                path: path, caseID: caseID, exhibit: exhibit, examiner: examiner, description: description)
            do {
                let pending = try sealer.seal(request, now: Clock.now)
                let entry = try ledger.append([pending.event])[0]
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
                print(
                    "sealed \(pending.item) entry \(entry.sequence) sha256 \(pending.digests.sha256.hex) \(path)\(note)"
                )
            } catch let error as SealingError {
                refused += 1
                Output.error("custos: refused: \(error)")
                if error.code == .storage || error.code == .noSpace {
                    Output.error("custos: sealing stopped: the vault could not be written")
                    break
                }
            }
        }
        if sealed > 0 {
            let note = try ledger.checkpoint(signer: signer, now: Clock.now())
            let checkpoint = try Checkpoint(parsing: note.text)
            print("checkpoint size \(checkpoint.size) root \(checkpoint.root.base64)")
        }
        if refused > 0 {
            throw CLIError(message: "\(refused) of \(files.count + unreadableDirectories) inputs were not sealed")
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the sealed items.")
    @OptionGroup var vault: VaultOptions
    @Option(name: .customLong("case"), help: "Only the items of this case.") var caseID: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let ledger = try vault.open().openLedger(readOnly: true)
        let items = try ledger.items(caseID: caseID)
        if json {
            Output.json(.array(items.map(\.json)))
            return
        }
        for item in items {
            let caseText = item.caseID.isEmpty ? "-" : DisplayName.escape(Array(item.caseID.utf8))
            let exhibit = item.exhibit.isEmpty ? "-" : DisplayName.escape(Array(item.exhibit.utf8))
            print(
                "\(item.item)  \(item.sha256.hex)  \(item.size)  case \(caseText)  exhibit \(exhibit)  \(item.displayName)"
            )
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one item: its manifest, entry and archive.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "Item id (or a unique prefix), or a SHA-256 prefix.") var item: String
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let vault = try vault.open()
        let ledger = try vault.openLedger(readOnly: true)
        let record = try resolveItem(item, in: ledger)
        let entryBytes = try ledger.entryBytes(record.sequence)
        let manifestBytes = (try? FileSystem.readFile(vault.manifestPath(record.manifest))) ?? []
        let manifest = try? CanonicalJSON.parse(manifestBytes)
        let archive = vault.findArchive(content: record.sha256)
        if json {
            Output.json(
                .object([
                    "item": record.json,
                    "entry": (try? CanonicalJSON.parse(entryBytes)) ?? .null,
                    "manifest": manifest ?? .null,
                    "archivePath": archive.map { .string($0.description) } ?? .null,
                ]))
            return
        }
        print("item:        \(record.item)")
        print("name:        \(record.displayName)")
        print("case:        \(record.caseID)")
        print("exhibit:     \(record.exhibit)")
        if let acquisition = manifest?["acquisition"] {
            print("examiner:    \(acquisition["examiner"]?.stringValue ?? "")")
            print("description: \(acquisition["description"]?.stringValue ?? "")")
        }
        print("size:        \(record.size)")
        print("sha256:      \(record.sha256.hex)")
        if let digests = manifest?["digests"] {
            if let md5 = digests["md5"]?.stringValue { print("md5:         \(md5)") }
            if let sha1 = digests["sha1"]?.stringValue { print("sha1:        \(sha1)") }
        }
        print("sealed at:   \(record.sealedAt) (node clock)")
        print("entry:       \(record.sequence)")
        print("archive:     \(archive?.description ?? "MISSING (\(record.archive.hex))")")
        print("manifest:    \(vault.manifestPath(record.manifest))")
        if let original = manifest?["original"] {
            print(
                "original:    mode \(original["mode"]?.stringValue ?? "?")  mtime \(original["mtime"]?.stringValue ?? "?")"
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
            The node's verifier key (name+hash+base64), obtained through a channel you trust; by default the             vault's own keys/node.vkey.
            """)
    var key: String?
    @Argument(help: "Only these items (ids or unique prefixes); the ledger is always checked whole.") var items:
        [String] = []

    func run() throws {
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
            let verifier = try key.map { try Ed25519NoteVerifier(text: $0) }
            report = try VaultVerifier(vault: vault).verify(ledger: ledger, items: selection, key: verifier) {
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
            print(
                "ledger: \(report.entries) entries, \(report.checkpointsChecked) checkpoints checked, latest size \(report.latestCheckpointSize)"
            )
            print(
                "items: \(report.itemsChecked) checked, \(report.archivesRehashed) archives re-read, \(report.bytesRehashed) bytes re-hashed"
            )
            if report.passed {
                print("verification passed")
            } else {
                print("verification FAILED: \(report.faults.count) faults")
                for fault in report.faults { print("- [\(fault.code)] \(fault)") }
            }
        }
        if !report.passed { throw ExitCode(1) }
    }
}

struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Print the latest signed checkpoint, verbatim.")
    @OptionGroup var vault: VaultOptions
    @Flag(help: "First sign a new checkpoint if entries were appended since the latest.") var sign = false

    func run() throws {
        let vault = try vault.open()
        let ledger = try vault.openLedger(readOnly: !sign)
        if sign { try ledger.checkpoint(signer: try vault.signer(), now: Clock.now()) }
        Output.writeRaw(Array(try ledger.latestCheckpoint().utf8))
    }
}

struct Key: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node's verifier key in signed-note form (name+hash+base64).")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        print(try vault.open().verifierKey().key.text)
    }
}

struct EntryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entry", abstract: "Write the exact bytes of ledger entry N (what was hashed) to standard output.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The entry's sequence number.") var sequence: UInt64

    func run() throws {
        let ledger = try vault.open().openLedger(readOnly: true)
        Output.writeRaw(try ledger.entryBytes(sequence))
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
            Output.writeRaw(bytes)
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
        for hash in try ledger.consistencyProof(from: from, to: to) { print(hash.base64) }
    }
}
