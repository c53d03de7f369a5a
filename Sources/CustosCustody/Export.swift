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
    /// document) before the files take their names (`writeExport`). Returns the text of
    /// `VERIFY.txt`.
    public func exportTimeStamps(of record: ItemRecord, to folder: RawPath, reason: String) throws -> String {
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
            let anchorsName = try exportAnchors(source: stamp.record.source, anchors: stamp.record.anchors, into: &files)
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
        try writeExport(
            "timestamps", items: [record.item], facts: ["tokens": .integer(Int64(stamps.count))], reason: reason,
            folder: folder, files: files)
        return text
    }

    /// Writes a checkpoint (`checkpoint-N.txt`), its signed text (`.body`), its RFC 3161 tokens
    /// (each re-checked against the text first), each authority's anchors and the `openssl ts
    /// -verify -data` lines (`VERIFY.txt`) into `folder` (made, 0700, when missing), and records
    /// an `exported` event about the whole vault (item `""`; facts: `what: "checkpoint"`, `size`)
    /// before the files take their names (`writeExport`).
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
                    "checkpoint \(checkpoint.size): the \(stamp.source) token does not stamp its text; run custos verify")
            }
            let name = "\(base)-\(stamp.source).tsr"
            let anchorsName = try exportAnchors(source: stamp.source, anchors: stamp.anchors, into: &files)
            files.add(name, stamp.token)
            lines.append("openssl ts -verify -data \(base).body -in \(name) -CAfile \(anchorsName)")
        }
        let text = lines.joined(separator: "\n") + "\n"
        files.add("VERIFY.txt", Array(text.utf8))
        try writeExport(
            "checkpoint", items: [""], facts: ["size": .integer(Int64(checkpoint.size))], reason: reason,
            folder: folder, files: files)
    }

    /// The files of an export, by name, in the order first given (an authority's anchors, named
    /// once however many tokens it signed).
    struct ExportFiles {
        private(set) var files = [(name: String, bytes: [UInt8])]()

        mutating func add(_ name: String, _ bytes: [UInt8]) {
            if !files.contains(where: { $0.name == name }) { files.append((name, bytes)) }
        }
    }

    /// Writes an export as `extract` writes originals (`OutputFolder`): the folder held by a
    /// descriptor and refused when another account may change it; every name checked free first
    /// (an export never writes over a file: a taken name refuses it, nothing written); each file
    /// made as a new temporary (`O_EXCL | O_NOFOLLOW`) and fsynced; then the `exported` event
    /// recorded (`what` and `facts` in the entries; the reason, the folder and the files in the
    /// details document); only then each file renamed to its name without replacing anything,
    /// and the folder fsynced. When the event cannot be recorded, the temporaries are removed:
    /// no exported file takes its name that the log does not record. Once it is recorded, every
    /// file is placed that can be; one that cannot (its name taken meanwhile) stays as its
    /// temporary, and the error names each such file and its temporary (`placeAll`).
    private func writeExport(
        _ what: String, items: [String], facts: JSONObject, reason: String, folder: RawPath, files: ExportFiles
    ) throws {
        let output = try OutputFolder(folder)
        let names = files.files.map { Array($0.name.utf8) }
        try output.refuseTaken(names, what: "an export")
        var written = [OutputFolder.WrittenFile]()
        var placed = false
        defer { if !placed { for file in written { output.discard(file.temporary) } } }
        for (index, file) in files.files.enumerated() {
            written.append(try output.write(file.bytes, label: "export-\(index)"))
        }
        var facts = facts
        facts["what"] = .string(what)
        let recorded = try recordEvent(
            .exported, items: items, facts: facts,
            details: [
                "reason": .string(reason), "folder": .byteString(folder.absolute.bytes),
                "files": .array(files.files.map { .string($0.name) }),
            ])
        placed = true
        let entry = "the export (entry \(recorded.entries[0].sequence))"
        // Every file is tried, whatever happened to one before it: what is recorded as exported is
        // placed, or named in the error with where its bytes were kept.
        try output.placeAll(Array(zip(written, names)).map { (written: $0.0, name: $0.1) }, recorded: entry)
    }

    /// Adds the trust anchors a token of `source` is checked against to the files of an export
    /// (the node's `tsa/chain.pem`, or an external authority's anchors as the vault kept them,
    /// re-hashed first) and returns the file's name there.
    private func exportAnchors(source: String, anchors: Hash?, into files: inout ExportFiles) throws -> String {
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
