import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

extension CustodySession {
    /// Writes an item's RFC 3161 tokens (`<item>-N.tsr`, each re-hashed against its entry first),
    /// each authority's trust anchors and the `openssl ts -verify` command lines (`VERIFY.txt`)
    /// into `folder` (created if needed), then records an `exported` event about the item (facts:
    /// `what: "timestamps"`, `tokens`; the reason, folder and files in the details document).
    /// Returns the text of `VERIFY.txt`.
    public func exportTimeStamps(of record: ItemRecord, to folder: RawPath, reason: String) throws -> String {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        let stamps = try ledger.stamps(of: record.item)
        let stampedBy = Set(stamps.map(\.record.source))
        let awaiting = vault.expectedTimeStampSources.filter { !stampedBy.contains($0) }
        guard !stamps.isEmpty else { throw CustodyError(.refused, "item \(record.item): has no time stamp yet") }
        try FileSystem.makeDirectory(folder)
        var files = [String]()
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
            let anchorsName = try exportAnchors(source: stamp.record.source, anchors: stamp.record.anchors, to: folder)
            try FileSystem.writeDurably(token, to: folder.appending(name))
            files += [name, anchorsName]
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
        try recordExport(
            "timestamps", items: [record.item], facts: ["tokens": .integer(Int64(stamps.count))], reason: reason,
            folder: folder, files: files + ["VERIFY.txt"])
        return text
    }

    /// Writes a checkpoint (`checkpoint-N.txt`), its signed text (`.body`), its RFC 3161 tokens
    /// (each re-checked against the text first), each authority's anchors and the `openssl ts
    /// -verify -data` lines (`VERIFY.txt`) into `folder` (created if needed), then records an
    /// `exported` event about the whole vault (item `""`; facts: `what: "checkpoint"`, `size`).
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
        try FileSystem.makeDirectory(folder)
        let base = "checkpoint-\(checkpoint.size)"
        try FileSystem.writeDurably(Array(note.utf8), to: folder.appending("\(base).txt"))
        try FileSystem.writeDurably(body, to: folder.appending("\(base).body"))
        var files = ["\(base).txt", "\(base).body"]
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
            let anchorsName = try exportAnchors(source: stamp.source, anchors: stamp.anchors, to: folder)
            try FileSystem.writeDurably(stamp.token, to: folder.appending(name))
            files += [name, anchorsName]
            lines.append("openssl ts -verify -data \(base).body -in \(name) -CAfile \(anchorsName)")
        }
        let text = lines.joined(separator: "\n") + "\n"
        try FileSystem.writeDurably(Array(text.utf8), to: folder.appending("VERIFY.txt"))
        try recordExport(
            "checkpoint", items: [""], facts: ["size": .integer(Int64(checkpoint.size))], reason: reason,
            folder: folder, files: files + ["VERIFY.txt"])
    }

    /// Records an `exported` event once what it names has been written: `what` and `facts` in the
    /// entries; the reason, the folder and the files written in the details document.
    private func recordExport(
        _ what: String, items: [String], facts: JSONObject, reason: String, folder: RawPath, files: [String]
    ) throws {
        var facts = facts
        facts["what"] = .string(what)
        let unique = files.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        try recordEvent(
            .exported, items: items, facts: facts,
            details: [
                "reason": .string(reason), "folder": .byteString(folder.absolute.bytes),
                "files": .array(unique.map { .string($0) }),
            ])
    }

    /// Writes the trust anchors a token of `source` is checked against into `folder` (the node's
    /// `tsa/chain.pem`, or an external authority's anchors as the vault kept them, re-hashed
    /// first) and returns the file's name there.
    private func exportAnchors(source: String, anchors: Hash?, to folder: RawPath) throws -> String {
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
        try FileSystem.writeDurably(bytes, to: folder.appending(name))
        return name
    }
}
