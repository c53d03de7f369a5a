import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

extension CustodySession {
    /// Writes an item's RFC 3161 tokens (`<item>-N.tsr`, each re-hashed against its entry first),
    /// each authority's trust anchors and the `openssl ts -verify` command lines (`VERIFY.txt`)
    /// into `folder` (made, 0700, when missing), and records an `exported` event about the item
    /// (facts: `what: "timestamps"`, `tokens`; the reason, folder and files in the details
    /// document) before the files take their names (`ExportFolderSink`). Returns the text of
    /// `VERIFY.txt`.
    public func exportTimeStamps(of record: ItemRecord, to folder: RawPath, reason: String) throws -> String {
        let sink = ExportFolderSink(folder)
        return try exportTimeStamps(of: record, reason: reason, folder: folder.absolute.bytes, into: sink).text
    }

    /// The files of an item's time-stamp export (`exportTimeStamps`), nothing written or
    /// recorded: the daemon's plan of an export (the client checks the names in its folder
    /// before it asks for the files), and the first step of the export itself.
    public func planTimeStampExport(of record: ItemRecord, reason: String) throws -> TimeStampExport {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        let stamps = try ledger.stamps(of: record.item)
        let stampedBy = Set(stamps.map(\.record.source))
        let awaiting = Vault.awaitedTimeStampSources(expected: vault.expectedTimeStampSources, stampedBy: stampedBy)
        guard !stamps.isEmpty else { throw CustodyError(.refused, "item \(record.item): has no time stamp yet") }
        var files = ExportFiles()
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
                throw CustodyError(.altered, "entry \(stamp.entry.sequence): its token was altered; run custos verify")
            }
            let anchorsName = try exportAnchors(
                source: stamp.record.source, anchors: stamp.record.anchors, into: &files)
            files.add(name, token)
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
        files.add("VERIFY.txt", Array(text.utf8))
        return TimeStampExport(record: record, files: files.files, text: text, tokens: stamps.count)
    }

    /// The export of an item's time stamps, written once for both paths: the files planned
    /// (`planTimeStampExport`), handed to `sink` (a folder in process refuses a taken name and
    /// keeps them as synced temporaries; the daemon keeps them for its reply), the `exported`
    /// event recorded (`folder`: the folder as the one who writes the files named it), then the
    /// sink told (a folder names its files; the daemon's reply carries them). When the event
    /// cannot be recorded, the sink drops what it holds. `expected`, when given, are the names
    /// the caller checked free in its folder: an export of other names (a token came meanwhile)
    /// is refused, nothing recorded.
    public func exportTimeStamps<Sink: ExportSink>(
        of record: ItemRecord, reason: String, folder: [UInt8], expected: Set<String>? = nil, into sink: Sink
    ) throws -> (text: String, files: [ExportFile], event: RecordedEvent) {
        let export = try planTimeStampExport(of: record, reason: reason)
        if let expected, let other = export.files.first(where: { !expected.contains($0.name) }) {
            throw CustodyError(
                .refused,
                "item \(record.item): the export holds \(other.name), which was not planned (a time stamp came "
                    + "meanwhile); run the export again (nothing was written or recorded)")
        }
        let event = try runExport(
            "timestamps", items: [record.item], facts: ["tokens": .integer(Int64(export.tokens))], reason: reason,
            folder: folder, files: export.files, into: sink)
        return (export.text, export.files, event)
    }

    /// Writes a checkpoint (`checkpoint-N.txt`), its signed text (`.body`), its RFC 3161 tokens
    /// (each re-checked against the text first), each authority's anchors and the `openssl ts
    /// -verify -data` lines (`VERIFY.txt`) into `folder` (made, 0700, when missing), and records
    /// an `exported` event about the whole vault (item `""`; facts: `what: "checkpoint"`, `size`)
    /// before the files take their names (`ExportFolderSink`).
    public func exportCheckpoint(_ note: String, to folder: RawPath, reason: String) throws {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        let signed = try SignedNote(parsing: note)
        let checkpoint = try Checkpoint(parsing: signed.text)
        let body = Array(signed.text.utf8)
        let imprint = OpenSSLSHA256().sha256(body)
        let stamps = try ledger.checkpointStamps(size: checkpoint.size).filter { $0.root == checkpoint.root.base64 }
        guard !stamps.isEmpty else {
            throw CustodyError(.refused, "the checkpoint of size \(checkpoint.size) has no time stamp")
        }
        let base = "checkpoint-\(checkpoint.size)"
        var files = ExportFiles()
        files.add("\(base).txt", Array(note.utf8))
        files.add("\(base).body", body)
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
                throw CustodyError(
                    .altered,
                    "checkpoint \(checkpoint.size): the \(stamp.source) token does not stamp its text; run custos verify"
                )
            }
            let name = "\(base)-\(stamp.source).tsr"
            let anchorsName = try exportAnchors(source: stamp.source, anchors: stamp.anchors, into: &files)
            files.add(name, stamp.token)
            lines.append("openssl ts -verify -data \(base).body -in \(name) -CAfile \(anchorsName)")
        }
        let text = lines.joined(separator: "\n") + "\n"
        files.add("VERIFY.txt", Array(text.utf8))
        _ = try runExport(
            "checkpoint", items: [""], facts: ["size": .integer(Int64(checkpoint.size))], reason: reason,
            folder: folder.absolute.bytes, files: files.files, into: ExportFolderSink(folder))
    }

    /// The files of an export, by name, in the order first given (an authority's anchors, named
    /// once however many tokens it signed).
    struct ExportFiles {
        private(set) var files = [ExportFile]()

        mutating func add(_ name: String, _ bytes: [UInt8]) {
            if !files.contains(where: { $0.name == name }) { files.append(ExportFile(name: name, bytes: bytes)) }
        }
    }

    /// Hands an export's files to `sink` (which refuses a taken name and keeps them, not yet
    /// named), records the `exported` event (`what` and `facts` in the entries; the reason, the
    /// folder and the files in the details document), then tells the sink. When the event cannot
    /// be recorded, the sink drops what it holds: no exported file takes its name that the log
    /// does not record.
    private func runExport<Sink: ExportSink>(
        _ what: String, items: [String], facts: JSONObject, reason: String, folder: [UInt8], files: [ExportFile],
        into sink: Sink
    ) throws -> RecordedEvent {
        var recorded: RecordedEvent?
        defer { if recorded == nil { sink.abandon() } }
        try sink.prepare(files)
        var facts = facts
        facts["what"] = .string(what)
        let event = try recordEvent(
            .exported, items: items, facts: facts,
            details: [
                "reason": .string(reason), "folder": .byteString(folder),
                "files": .array(files.map { .string($0.name) }),
            ])
        recorded = event
        try sink.recorded(entry: event.entries[0].sequence)
        return event
    }

    /// Adds the trust anchors a token of `source` is checked against to the files of an export
    /// (the node's `tsa/chain.pem`, or an external authority's anchors as the vault kept them,
    /// re-hashed first) and returns the file's name there.
    func exportAnchors(source: String, anchors: Hash?, into files: inout ExportFiles) throws -> String {
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
                throw CustodyError(.altered, "the trust anchors of \(source) are missing or altered; run custos verify")
            }
            bytes = kept
        }
        files.add(name, bytes)
        return name
    }
}

/// One file of an export: its name in the folder (one ordinary name) and its bytes.
public struct ExportFile: Sendable, Equatable {
    public var name: String
    public var bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }
}

/// An item's time-stamp export as planned (`CustodySession.planTimeStampExport`): its files,
/// the text of `VERIFY.txt`, and how many tokens it holds.
public struct TimeStampExport: Sendable {
    public var record: ItemRecord
    public var files: [ExportFile]
    public var text: String
    public var tokens: Int
}

/// Where an export's files go: a folder in process (`ExportFolderSink`), the daemon's reply
/// (whose client writes them into its own folder by the same rules). The workflow
/// (`CustodySession.exportTimeStamps(of:reason:folder:expected:into:)`) hands the files over,
/// records the event, then tells the sink; it is written once, for both.
public protocol ExportSink: AnyObject {
    /// The files, before anything is recorded: refuse (nothing written) when one cannot be
    /// written; otherwise keep them (synced), not yet named.
    func prepare(_ files: [ExportFile]) throws
    /// The export is recorded (`entry`, the first of its entries): name the files.
    func recorded(entry: UInt64) throws
    /// The export could not be recorded (or the sink failed): nothing it holds may be named.
    func abandon()
}

/// The in-process sink, as `extract` writes originals (`OutputFolder`): the folder held by a
/// descriptor and refused when another account may change it; every name checked free first
/// (an export never writes over a file: a taken name refuses it, nothing written); each file
/// made as a new temporary (`O_EXCL | O_NOFOLLOW`) and fsynced; once the event is recorded,
/// each file renamed to its name without replacing anything, and the folder fsynced. Every file
/// is placed that can be; one that cannot (its name taken meanwhile) stays as its temporary,
/// and the error names each such file and its temporary (`OutputFolder.placeAll`).
public final class ExportFolderSink: ExportSink {
    private let path: RawPath
    private var output: OutputFolder?
    private var written = [(written: OutputFolder.WrittenFile, name: [UInt8])]()

    /// The folder is opened (made, 0700, when missing) and checked when the files are handed over.
    public init(_ path: RawPath) { self.path = path }

    public func prepare(_ files: [ExportFile]) throws {
        let output = try self.output ?? OutputFolder(path)
        self.output = output
        let names = files.map { Array($0.name.utf8) }
        try output.refuseTaken(names, what: "an export")
        for (index, file) in files.enumerated() {
            written.append((try output.write(file.bytes, label: "export-\(index)"), names[index]))
        }
    }

    public func recorded(entry: UInt64) throws {
        guard let output else { return }
        let files = written
        written = []
        // Every file is tried, whatever happened to one before it: what is recorded as exported is
        // placed, or named in the error with where its bytes were kept.
        try output.placeAll(files, recorded: "the export (entry \(entry))")
    }

    public func abandon() {
        for file in written { output?.discard(file.written.temporary) }
        written = []
    }
}
