import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault

/// The layout of a court bundle (`custos export … -o BUNDLE.tar`): one pax tar whose members sit
/// under one top folder, named here once for the writer and the checker (Docs/Formats.md).
public enum CourtBundleLayout {
    public static let top = "custos-bundle"
    public static let sums = "SHA256SUMS"
    public static let guide = "VERIFY.md"
    public static let checkpoint = "checkpoint.txt"
    public static let verifierKey = "verifier.vkey"
    public static let checker = "tools/rfc6962_check.py"
    public static let reportFolder = "report"
    public static let reportChain = "certs/report-chain.pem"
    /// The report's `reported` entry (exact bytes) and its tlog-proof in the bundle's checkpoint:
    /// what binds the report's files to the node's key.
    public static let reportedEntry = "report/reported.entry.json"
    public static let reportedProof = "report/reported.tlog"

    public static func folder(_ item: String) -> String { "items/\(item)" }
    public static func original(_ item: String) -> String { "items/\(item)/original" }
    public static func entry(_ item: String) -> String { "items/\(item)/entry.json" }
    public static func manifest(_ item: String) -> String { "items/\(item)/manifest.json" }
    public static func proof(_ item: String) -> String { "items/\(item)/proof.tlog" }
    public static func archive(_ item: String, _ compression: Compression) -> String {
        "items/\(item)/archive\(compression.suffix)"
    }
    public static func token(_ item: String, _ index: Int) -> String { "items/\(item)/stamp-\(index).tsr" }
    public static func tokenEntry(_ item: String, _ index: Int) -> String { "items/\(item)/stamp-\(index).entry.json" }
    public static func certificate(_ name: String) -> String { "certs/\(name)" }
    /// A time-stamp source's name as a bundle's file names use it (`certs/anchors-NAME.pem`):
    /// lowercase letters, digits and `-`.
    public static func isSourceName(_ name: String) -> Bool {
        !name.isEmpty
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    /// Of an item received from another node: the sender's `sealed` entry (exact bytes), its
    /// tlog-proof in the sender's checkpoint, that signed checkpoint (verbatim) and the sender's
    /// verifier key, as this node keeps them from the handover.
    public static func senderEntry(_ item: String) -> String { "items/\(item)/sender-entry.json" }
    public static func senderProof(_ item: String) -> String { "items/\(item)/sender-proof.tlog" }
    public static func senderCheckpoint(_ item: String) -> String { "items/\(item)/sender-checkpoint.txt" }
    public static func senderKey(_ item: String) -> String { "items/\(item)/sender.vkey" }
}

/// A bundle's report as its maker gives it: its files (each with its `.p7s`) and the first
/// entry of the `reported` event that records their SHA-256.
public struct BundleReport: Sendable {
    public var files: [ExportFile]
    public var entry: UInt64
    /// Whether the report says PASS.
    public var passed: Bool

    public init(files: [ExportFile], entry: UInt64, passed: Bool) {
        self.files = files
        self.entry = entry
        self.passed = passed
    }
}

/// What a bundle's export made: the event, the bundle's SHA-256, its members (path and SHA-256,
/// as SHA256SUMS lists them) and the digest of that list.
public struct ExportedBundle: Sendable {
    public var event: RecordedEvent
    public var sha256: Hash
    public var members: [(path: String, sha256: Hash)]
    public var membersDigest: Hash
    /// Whether the bundle's report says PASS (a bundle is written and recorded all the same).
    public var reportPassed: Bool
}

extension CustodySession {
    /// The checks of a bundle's export before anything is read or recorded: the reason and the
    /// examiner, at least one item. Returns the items, each once.
    public func checkBundle(_ records: [ItemRecord], reason: String) throws -> [ItemRecord] {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        guard !records.isEmpty else { throw CustodyError(.refused, "a bundle is about at least one item") }
        var seen = Set<String>()
        return records.filter { seen.insert($0.item).inserted }
    }

    /// Writes a court bundle of `records` to `output`: every item re-checked first (its archive
    /// and manifest re-hashed; of an item received from another node, the sender's proof it kept
    /// re-checked too, `senderProof(of:)`; one missing or altered refuses the export, nothing
    /// recorded or written), then `report` called (it makes, signs and records the report of the same items
    /// and returns its files), then the tar streamed to a temporary beside `output` (each
    /// original re-hashed as it is read from its sealed archive), fsynced; the `exported` event
    /// recorded (facts `what: "bundle"`; the bundle's SHA-256 and its members' list in the
    /// details document); then the temporary renamed to `output` without replacing anything.
    ///
    /// `recordedAs` is the file the event names (its details' `output`) when that is not
    /// `output`: the daemon writes the bundle into the vault's `tmp/` (it cannot write into the
    /// caller's folder) and streams it to its client, which gives it the name the client declared.
    public func exportBundle(
        _ records: [ItemRecord], caseID: String?, reason: String, output: RawPath, recordedAs: RawPath? = nil,
        report: () throws -> BundleReport
    ) throws -> ExportedBundle {
        let records = try checkBundle(records, reason: reason)
        let named = recordedAs ?? output
        let folder: HeldDirectory
        do { folder = try HeldDirectory(output.parent, create: false) } catch {
            throw CustodyError(.refused, "\(output): its folder cannot be used", cause: error)
        }
        let name = output.lastComponent
        guard RawPath.isSafeComponent(name), output.bytes.last != UInt8(ascii: "/") else {
            throw CustodyError(.refused, "\(output): not a file name to write a bundle to")
        }
        guard !folder.contains(name) else {
            throw CustodyError(.exists, "\(output): already exists; a bundle is never written over")
        }
        try prepareToRecord()
        _ = try? checkpoint()
        let builder = HandoverBuilder(session: self)
        let latest = try Checkpoint(parsing: try SignedNote(parsing: try ledger.latestCheckpoint()).text)
        // Every item re-checked before anything is recorded (the report records `reported`).
        var packed = [HandoverBuilder.PackedItem]()
        var senders = [String: SenderProof]()
        for record in records {
            // A received item's `received` entry stands where a sealed item's `sealed` entry does.
            let item = try builder.provenItem(record, checkpoint: latest, received: true)
            let entry = try CustodyEntry(parsing: item.proven.sealed.entry)
            if entry.type == .received { senders[record.item] = try senderProof(of: entry) }
            packed.append(item)
        }
        // The file is made before the report is recorded: a bundle that cannot be written leaves
        // no `reported` event behind.
        let (temporary, file) = try folder.createTemporary(for: name, output: output)
        var done = false
        defer { if !done { folder.remove(temporary) } }
        let made = try report()
        let reportFiles = made.files

        // One checkpoint for every proof in the bundle: the latest, covering every entry so far.
        _ = try? checkpoint()
        let noteText = try ledger.latestCheckpoint()
        let note = try SignedNote(parsing: noteText)
        let checkpoint = try Checkpoint(parsing: note.text)
        let verifierKey = try vault.verifierKey().key.text

        let whole = MessageDigest(.sha256)
        var sums = [(path: String, sha256: Hash)]()
        var guide = BundleGuide(checkpointSize: checkpoint.size)
        do {
            let writer = try ArchiveWriter(
                fileDescriptor: file.rawValue, path: output.description, compression: .none, tap: { whole.update($0) })
            let clock = SystemClock.fileTimeNow()
            func add(_ path: String, _ bytes: [UInt8]) throws {
                try writer.addFile(name: "\(CourtBundleLayout.top)/\(path)", bytes: bytes, modified: clock)
                sums.append((path, OpenSSLSHA256().sha256(bytes)))
            }
            var anchors = ExportFiles()
            for item in packed {
                let id = item.proven.item
                let entryBytes = item.proven.sealed.entry
                let entry = try CustodyEntry(parsing: entryBytes)
                guard let digests = entry.digests, let archiveHash = entry.archive, let manifestHash = entry.manifest
                else {
                    throw CustodyError(.altered, "item \(id): its entry lacks its digests, archive or manifest")
                }
                let recorded = (archive: archiveHash, manifest: manifestHash)
                // The entry and the manifest first: a verifier reading the bundle as a stream then
                // knows which digests to work out of the original before its bytes come.
                try add(CourtBundleLayout.entry(id), entryBytes)
                try add(CourtBundleLayout.manifest(id), item.manifest)
                let (original, archiveManifest) = try copyOriginal(
                    item, digests: digests, into: writer, modified: clock)
                sums.append((CourtBundleLayout.original(id), original))
                let archivePath = CourtBundleLayout.archive(id, item.compression)
                sums.append((archivePath, try copyArchive(item, as: archivePath, into: writer, modified: clock)))
                let proof = TLogProof(
                    extra: entryBytes, index: item.proven.sealed.index,
                    proof: try ledger.inclusionProof(index: item.proven.sealed.index, size: checkpoint.size),
                    checkpoint: note)
                try add(CourtBundleLayout.proof(id), Array(proof.serialized.utf8))
                // A received item: what this node holds of the sender's proof of its seal.
                let sender = senders[id]
                if let sender {
                    try add(CourtBundleLayout.senderEntry(id), sender.entry)
                    try add(CourtBundleLayout.senderProof(id), Array(sender.proof.serialized.utf8))
                    try add(CourtBundleLayout.senderCheckpoint(id), Array(sender.checkpoint.utf8))
                    try add(CourtBundleLayout.senderKey(id), Array((sender.key + "\n").utf8))
                }
                var tokens = [(path: String, chain: String)]()
                for (index, stamp) in item.proven.stamps.enumerated() {
                    let stampEntry = try CustodyEntry(parsing: stamp.proven.entry)
                    let source = TimeStampRecord(entry: stampEntry)?.source ?? TimeStampRecord.nodeSource
                    let chain = try exportAnchors(
                        source: source, anchors: TimeStampRecord(entry: stampEntry)?.anchors, into: &anchors)
                    try add(CourtBundleLayout.token(id, index + 1), stamp.token)
                    try add(CourtBundleLayout.tokenEntry(id, index + 1), stamp.proven.entry)
                    tokens.append((CourtBundleLayout.token(id, index + 1), CourtBundleLayout.certificate(chain)))
                }
                guide.item(
                    id, digests: digests, archive: archivePath, proof: CourtBundleLayout.proof(id), tokens: tokens,
                    sender: sender?.guide, archiveManifest: archiveManifest, recorded: recorded)
            }
            for file in anchors.files { try add(CourtBundleLayout.certificate(file.name), file.bytes) }
            try add(CourtBundleLayout.checkpoint, Array(noteText.utf8))
            try add(CourtBundleLayout.verifierKey, Array((verifierKey + "\n").utf8))
            try add(CourtBundleLayout.reportChain, try FileSystem.readFile(vault.reportChainPath))
            for report in reportFiles { try add("\(CourtBundleLayout.reportFolder)/\(report.name)", report.bytes) }
            // The `reported` entry that records the report's SHA-256, proven in the checkpoint.
            let reportedEntry = try ledger.entryBytes(made.entry)
            try add(CourtBundleLayout.reportedEntry, reportedEntry)
            let reportedProof = TLogProof(
                extra: reportedEntry, index: made.entry,
                proof: try ledger.inclusionProof(index: made.entry, size: checkpoint.size), checkpoint: note)
            try add(CourtBundleLayout.reportedProof, Array(reportedProof.serialized.utf8))
            // Each report file (the PDF, the JSON) with its own signature.
            guide.reports = reportFiles.filter { !$0.name.hasSuffix(".p7s") }.map {
                (path: "\(CourtBundleLayout.reportFolder)/\($0.name)", sha256: OpenSSLSHA256().sha256($0.bytes).hex)
            }
            try add(CourtBundleLayout.checker, Array(MerkleChecker.script.utf8))
            try add(CourtBundleLayout.guide, Array(guide.text(verifierKey: verifierKey).utf8))
            let list = sums.map { "\($0.sha256.hex)  \($0.path)\n" }.joined()
            try writer.addFile(
                name: "\(CourtBundleLayout.top)/\(CourtBundleLayout.sums)", bytes: Array(list.utf8), modified: clock)
            try writer.finish()
            try file.sync()
        } catch let error as CustodyError {
            throw error
        } catch {
            throw CustodyError(.refused, "\(output): could not be written", cause: error)
        }
        let bundle = whole.finishSHA256()
        let list = sums.map { "\($0.sha256.hex)  \($0.path)\n" }.joined()
        let listDigest = OpenSSLSHA256().sha256(Array(list.utf8))
        let event = try recordEvent(
            .exported, items: records.map(\.item), facts: ["what": .string("bundle")],
            details: [
                "reason": .string(reason), "output": .byteString(named.absolute.bytes),
                "case": caseID.map { .string($0) } ?? .null,
                "sha256": .string(bundle.hex), "members": .string(listDigest.hex),
                "memberCount": .integer(Int64(sums.count + 1)),
                "checkpoint": .object([
                    "size": .integer(Int64(checkpoint.size)), "root": .string(checkpoint.root.base64),
                ]),
            ])
        done = true  // recorded: the file is kept, whatever happens next
        try folder.placeRecorded(temporary, as: name, output: output, what: "bundle")
        return ExportedBundle(
            event: event, sha256: bundle, members: sums, membersDigest: listDigest, reportPassed: made.passed)
    }

    /// Streams an item's original out of its sealed archive into the bundle, re-hashing it (and
    /// the archive) as it is read: bytes that are not those sealed refuse the export. Returns its
    /// SHA-256 and which manifest the archive holds (the item's, or, for content sealed before
    /// and stored once, that seal's naming the same SHA-256; any other refuses the export).
    private func copyOriginal(
        _ item: HandoverBuilder.PackedItem, digests: EvidenceDigests, into writer: ArchiveWriter,
        modified: FileStatus.Time
    ) throws -> (sha256: Hash, manifest: BundleGuide.ArchiveManifest) {
        let id = item.proven.item
        let source = try vault.objects.openForReading(item.archive)
        source.adviseSequential()
        let archiveDigest = MessageDigest(.sha256)
        let reader = try ArchiveReader(
            fileDescriptor: source.rawValue, path: vault.objects.describe(item.archive),
            compressions: [item.compression], rawBytes: { archiveDigest.update($0) })
        let sha256 = MessageDigest(.sha256)
        let md5 = digests.md5 == nil ? nil : MessageDigest(.md5)
        let sha1 = digests.sha1 == nil ? nil : MessageDigest(.sha1)
        var found = false
        var manifest: [UInt8]?
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while let header = try reader.nextEntry() {
            if header.isRegularFile, !header.isLink, header.pathname == Array("manifest.json".utf8), manifest == nil {
                manifest = try reader.readAll(limit: 1 << 20)
                continue
            }
            guard header.isRegularFile, !header.isLink, header.pathname.starts(with: Array("evidence/".utf8)),
                !found
            else { continue }
            found = true
            try writer.beginFile(
                name: "\(CourtBundleLayout.top)/\(CourtBundleLayout.original(id))", size: header.size,
                permissions: 0o444, modified: modified)
            var copied: Int64 = 0
            while true {
                let count = try reader.read(into: buffer)
                if count == 0 { break }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                copied += Int64(count)
                guard copied <= header.size else { break }
                sha256.update(chunk)
                md5?.update(chunk)
                sha1?.update(chunk)
                try writer.write(chunk)
            }
        }
        try reader.drainRawBytes()
        let content = sha256.finishSHA256()
        let ownManifest = manifest == item.manifest
        let namesContent = manifest.flatMap(Manifest.namedSHA256) == content
        guard found, content == digests.sha256, md5.map({ $0.finish() }) == digests.md5,
            sha1.map({ $0.finish() }) == digests.sha1, archiveDigest.finishSHA256() == item.proven.archive,
            ownManifest || namesContent
        else {
            throw CustodyError(
                .altered,
                "\(vault.objects.describe(item.archive)): the original of item \(id) read from its archive is not the one "
                    + "sealed; nothing was exported, run custos verify")
        }
        return (content, ownManifest ? .same : .earlierSeal)
    }

    /// Copies an item's sealed archive as stored into the bundle, hashing the bytes copied.
    private func copyArchive(
        _ item: HandoverBuilder.PackedItem, as path: String, into writer: ArchiveWriter, modified: FileStatus.Time
    ) throws -> Hash {
        let source = try vault.objects.openForReading(item.archive)
        source.adviseSequential()
        let size = try source.status().size
        try writer.beginFile(
            name: "\(CourtBundleLayout.top)/\(path)", size: size, permissions: 0o444, modified: modified)
        let (copied, hash) = try writer.copyHashing(from: source, size: size)
        guard copied == size, hash == item.proven.archive else {
            throw CustodyError(
                .altered,
                "\(vault.objects.describe(item.archive)): the archive of item \(item.proven.item) changed while it was "
                    + "exported")
        }
        return hash
    }
}

/// VERIFY.md of a bundle: in Traditional Chinese and English, the exact commands that check each
/// claim with other people's tools, run in the bundle's top folder.
struct BundleGuide {
    var checkpointSize: UInt64
    /// The report's files (not their `.p7s`) and their SHA-256, as the `reported` entry records.
    var reports: [(path: String, sha256: String)] = []
    private var items = [String]()

    init(checkpointSize: UInt64) { self.checkpointSize = checkpointSize }

    /// Of an item received from another node: the sender (its origin), the index of its `sealed`
    /// entry, this node's `received` entry, and the size of the sender's checkpoint bundled.
    struct Sender: Equatable {
        var origin: String
        var index: UInt64
        var received: UInt64
        var checkpointSize: UInt64
        /// The members of the `received` entry the sender's `sealed` entry holds the same
        /// (`sameMembers(of:)`).
        var same: [String]

        /// Of this node's `received` entry, the members the sender's `sealed` entry must hold
        /// the same (the item, its digests, size and manifest), each as RFC 8785 writes it:
        /// both entries are canonical JSON, so each is found in both as it stands.
        static func sameMembers(of entry: CustodyEntry) -> [String] {
            var members: [(String, JSONValue)] = [("item", .string(entry.item))]
            for key in ["digests", "size", "manifest"] {
                if let value = entry.details[key] { members.append((key, value)) }
            }
            return members.map { CanonicalJSON.encodeString(.string($0.0)) + ":" + CanonicalJSON.encodeString($0.1) }
        }
    }

    /// Which manifest a sealed archive holds: the item's own, or that of an earlier seal of the
    /// same content, which was stored once (it names the same SHA-256).
    enum ArchiveManifest: Equatable {
        case same
        case earlierSeal
    }

    mutating func item(
        _ id: String, digests: EvidenceDigests, archive: String, proof: String, tokens: [(path: String, chain: String)],
        sender: Sender? = nil, archiveManifest: ArchiveManifest = .same, recorded: (archive: Hash, manifest: Hash)
    ) {
        var lines = ["", "### 證物 Item \(id)", ""]
        if let sender {
            let notChecked = CustodyBeforeReceipt.notChecked(
                origin: sender.origin, index: sender.index, holder: .bundle)
            lines += [
                "本證物係本節點自 \(sender.origin) 接收（本節點之帳本紀錄 \(sender.received)，即 entry.json）。",
                "This item was received from \(sender.origin) (this node's entry \(sender.received), entry.json).", "",
                "未驗證項目 / Not checked: \(notChecked.zh)", notChecked.en, "",
            ]
        }
        if archiveManifest == .earlierSeal {
            lines += [
                "本證物之內容先前已封存，其封存檔僅存一份：封存檔內之 manifest.json 係首次封存者，所載 SHA-256 相同。",
                "This content was sealed before and its archive is stored once: the manifest.json inside it is that first",
                "seal's, and names the same SHA-256.", "",
            ]
        }
        lines += [
            "原始檔案之雜湊值 / the original file's hash values:", "", "```sh",
            "test \"$(sha256sum \(CourtBundleLayout.original(id)) | cut -d' ' -f1)\" = \(digests.sha256.hex)",
        ]
        if let md5 = digests.md5 {
            lines.append(
                "test \"$(md5sum \(CourtBundleLayout.original(id)) | cut -d' ' -f1)\" = \(Hex.encode(md5))")
        }
        if let sha1 = digests.sha1 {
            lines.append(
                "test \"$(sha1sum \(CourtBundleLayout.original(id)) | cut -d' ' -f1)\" = \(Hex.encode(sha1))")
        }
        lines += [
            "test \"$(bsdtar -xOf \(archive) 'evidence/*' | sha256sum | cut -d' ' -f1)\" = \(digests.sha256.hex)",
            archiveManifest == .same
                ? "test \"$(bsdtar -xOf \(archive) manifest.json | sha256sum | cut -d' ' -f1)\" = \"$(sha256sum \(CourtBundleLayout.manifest(id)) | cut -d' ' -f1)\""
                : "bsdtar -xOf \(archive) manifest.json | grep -qF '\"sha256\":\"\(digests.sha256.hex)\"'",
            // The archive and the manifest are those entry.json records, as are the values above,
            // and entry.json is the entry the inclusion proof proves.
            "test \"$(sha256sum \(archive) | cut -d' ' -f1)\" = \(recorded.archive.hex) && grep -qF '\"archive\":\"\(recorded.archive.hex)\"' \(CourtBundleLayout.entry(id))",
            "test \"$(sha256sum \(CourtBundleLayout.manifest(id)) | cut -d' ' -f1)\" = \(recorded.manifest.hex) && grep -qF '\"manifest\":\"\(recorded.manifest.hex)\"' \(CourtBundleLayout.entry(id))",
            "grep -qF \(ShellWord.quoted("\"digests\":" + CanonicalJSON.encodeString(digests.json))) \(CourtBundleLayout.entry(id))",
            "test \"$(sed -n 's/^extra //p' \(proof))\" = \"$(base64 -w0 \(CourtBundleLayout.entry(id)))\"",
            "python3 \(CourtBundleLayout.checker) proof \(proof)",
        ]
        for token in tokens {
            lines.append("openssl ts -verify -digest \(digests.sha256.hex) -in \(token.path) -CAfile \(token.chain)")
            lines.append(
                "openssl ts -verify -data \(CourtBundleLayout.original(id)) -in \(token.path) -CAfile \(token.chain)")
        }
        lines.append("```")
        if let sender { lines += Self.senderLines(id, sender: sender) }
        items += lines
    }

    /// The commands that check what a bundle holds of the sender's proof of a received item, as
    /// `verify-bundle` checks it: the sender's `sealed` entry (at the index the `received` entry
    /// names, of the sender, about this item, of its digests, size and manifest), its inclusion
    /// proof at that index, and the sender's checkpoint, of the sender's origin, whose one
    /// signature line of the sender's name is by the sender's key and verifies.
    private static func senderLines(_ id: String, sender: Sender) -> [String] {
        let received = CourtBundleLayout.entry(id)
        let entry = CourtBundleLayout.senderEntry(id)
        let proof = CourtBundleLayout.senderProof(id)
        let checkpoint = CourtBundleLayout.senderCheckpoint(id)
        let key = CourtBundleLayout.senderKey(id)
        // The origin as the entries' canonical JSON writes it, each value quoted for the shell:
        // an origin is the sender's to choose, and the guide's commands are run as written.
        // Each member is matched with the commas around it (every one of them has a member
        // before and after it), so that no longer member of the same name and value prefix
        // matches it.
        let origin = CanonicalJSON.encodeString(.string(sender.origin))
        let quotedOrigin = ShellWord.quoted(sender.origin)
        // The checkpoint's signature lines: a node signs its checkpoint once, so the line of the
        // sender's name is one line (verify-bundle requires it too: no question of which of
        // two lines is checked).
        let signatures = "awk 'f{print} !f&&/^$/{f=1}' \(checkpoint)"
        let signatureLine = ShellWord.quoted("\u{2014} \(sender.origin) ")
        let signature = "sender-\(id)-checkpoint-signature.bin"
        var lines = [
            "",
            "本資料夾僅含 \(sender.origin) 之封存帳本紀錄 \(sender.index)（sender-entry.json）、其於 \(sender.origin) 經簽章之大小 "
                + "\(sender.checkpointSize) 檢查點（sender-checkpoint.txt）之包含證明（sender-proof.tlog）及 \(sender.origin) "
                + "之驗證金鑰（sender.vkey），以下列指令驗證之；請向 \(sender.origin) 之機關另行取得並比對此金鑰。",
            "The bundle holds only the sealed entry \(sender.index) of \(sender.origin) (sender-entry.json), its inclusion",
            "proof (sender-proof.tlog) in the checkpoint of size \(sender.checkpointSize) that \(sender.origin) signed",
            "(sender-checkpoint.txt), and the verifier key of \(sender.origin) (sender.vkey); the commands below check",
            "them. Compare the key with the one obtained from the bureau of \(sender.origin) itself.", "", "```sh",
            "grep -qF \(ShellWord.quoted(",\"from\":\(origin),\"fromIndex\":\(sender.index),")) \(received)",
            "grep -qF ',\"type\":\"sealed\"' \(entry) && grep -qF \(ShellWord.quoted(",\"node\":\(origin),")) \(entry) && grep -qF ',\"seq\":\(sender.index),' \(entry)",
        ]
        // The item, its digests, size and manifest: the same in both entries.
        for member in sender.same {
            let word = ShellWord.quoted(",\(member),")
            lines.append("grep -qF \(word) \(received) && grep -qF \(word) \(entry)")
        }
        lines += [
            "test \"$(sed -n 's/^extra //p' \(proof))\" = \"$(base64 -w0 \(entry))\"",
            "test \"$(sed -n '/^$/q;s/^index //p' \(proof))\" = \(sender.index)",
            "python3 \(CourtBundleLayout.checker) proof \(proof)",
            "awk 'f{print} !f&&/^$/{f=1}' \(proof) | cmp - \(checkpoint)",
            "test \"$(head -n 1 \(checkpoint))\" = \(quotedOrigin)",
            "test \"$(cut -d+ -f1 \(key))\" = \(quotedOrigin)",
            "(printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cut -d+ -f3- \(key) | base64 -d | tail -c +2) | openssl pkey -pubin -inform DER -out sender-\(id).pub.pem",
            "awk 'BEGIN{b=1} b&&/^$/{b=0;next} b{print}' \(checkpoint) > sender-\(id)-checkpoint-body.txt",
            "test \"$(\(signatures) | grep -cF \(signatureLine))\" = 1",
            "\(signatures) | grep -F \(signatureLine) | awk '{print $3}' | base64 -d > \(signature)",
            "test \"$(head -c 4 \(signature) | od -An -tx1 | tr -d ' \\n')\" = \"$(cut -d+ -f2 \(key))\"",
            "tail -c +5 \(signature) > sender-\(id)-checkpoint-sig.bin",
            "openssl pkeyutl -verify -pubin -inkey sender-\(id).pub.pem -rawin -in sender-\(id)-checkpoint-body.txt -sigfile sender-\(id)-checkpoint-sig.bin",
            "```",
        ]
        return lines
    }

    func text(verifierKey: String) -> String {
        var lines = [
            "# 數位證據保全：驗證說明 / Digital evidence preservation: how to verify this bundle", "",
            "在本資料夾（\(CourtBundleLayout.top)/）內執行下列指令；每一指令結束狀態為 0 即為驗證通過。",
            "Run each command below in this folder (\(CourtBundleLayout.top)/); each exits 0 when its check passes.",
            "Tools: sha256sum, md5sum, sha1sum (coreutils), bsdtar (libarchive), openssl, python3.", "",
            "## 1. 完整性 / Integrity of every file of the bundle", "",
            "SHA256SUMS 列出本資料夾內每一檔案之雜湊值（SHA256SUMS 本身除外）。",
            "SHA256SUMS lists the SHA-256 of every other file of the bundle.", "", "```sh",
            "sha256sum -c --strict SHA256SUMS", "```", "",
            "## 2. 原始檔案、封存檔、包含證明與時戳憑據 / Originals, archives, inclusion proofs, time-stamp tokens", "",
            "每一證物：原始檔案（original）之雜湊值等於帳本紀錄（entry.json 之 digests）；封存檔內含同一原始檔案；",
            "包含證明（proof.tlog）證明帳本紀錄在檢查點（經簽章之樹根）之樹中；時戳憑據蓋印原始檔案之 SHA-256。",
            "For each item: the original's hash values are those its ledger entry (entry.json) records; its sealed",
            "archive holds the same original; the inclusion proof (proof.tlog) puts the entry in the signed",
            "checkpoint's tree of size \(checkpointSize); each time-stamp token stamps the original's SHA-256.",
            "", "指令中之雜湊值抄自各證物之 entry.json，請自行比對；entry.json 由包含證明及檢查點之數位簽章證明。",
            "The hash values in these commands are copied from each item's entry.json: compare them with it;",
            "the inclusion proof and the checkpoint's digital signature prove entry.json itself.",
        ]
        lines += items
        lines += [
            "", "## 3. 檢查點之數位簽章 / The checkpoint's digital signature", "",
            "節點之驗證金鑰 / the node's verifier key (verifier.vkey): `\(verifierKey)`",
            "請向節點之機關另行取得並比對此金鑰。Compare it with the key obtained from the node's bureau itself.", "",
            "```sh",
            "(printf '\\060\\052\\060\\005\\006\\003\\053\\145\\160\\003\\041\\000'; cut -d+ -f3- verifier.vkey | base64 -d | tail -c +2) | openssl pkey -pubin -inform DER -out node.pub.pem",
            "awk 'BEGIN{b=1} b&&/^$/{b=0;next} b{print}' checkpoint.txt > checkpoint-body.txt",
            "grep '^— ' checkpoint.txt | head -1 | awk '{print $3}' | base64 -d | tail -c +5 > checkpoint-sig.bin",
            "openssl pkeyutl -verify -pubin -inkey node.pub.pem -rawin -in checkpoint-body.txt -sigfile checkpoint-sig.bin",
            "```", "",
        ]
        if !reports.isEmpty {
            lines += [
                "## 4. 證據監管鏈報告之數位簽章 / The chain-of-custody report's digital signature", "",
                "```sh",
            ]
            lines += reports.map {
                "openssl cms -verify -binary -content \($0.path) -in \($0.path).p7s -inform DER -CAfile \(CourtBundleLayout.reportChain) -out /dev/null"
            }
            lines += [
                "```", "",
                "帳本紀錄 \(CourtBundleLayout.reportedEntry) 記載報告檔案之 SHA-256（其 facts.files）；包含證明證明其在檢查點之樹中，",
                "故報告係節點所製作並記載者。/ The ledger entry \(CourtBundleLayout.reportedEntry) records the report files'",
                "SHA-256 (its facts.files); its inclusion proof puts it in the checkpoint's tree: the node made and recorded this report.",
                "", "```sh",
                "test \"$(sed -n 's/^extra //p' \(CourtBundleLayout.reportedProof))\" = \"$(base64 -w0 \(CourtBundleLayout.reportedEntry))\"",
                "python3 \(CourtBundleLayout.checker) proof \(CourtBundleLayout.reportedProof)",
            ]
            lines += reports.flatMap {
                [
                    "test \"$(sha256sum \($0.path) | cut -d' ' -f1)\" = \($0.sha256)",
                    "grep -qF '\"\($0.sha256)\"' \(CourtBundleLayout.reportedEntry)",
                ]
            }
            lines += ["```", ""]
        }
        lines += [
            "`custos verify-bundle BUNDLE.tar` 一次檢查上述全部項目（不需節點之證據庫）。",
            "`custos verify-bundle BUNDLE.tar` checks all of the above at once, with no vault.", "",
        ]
        return lines.joined(separator: "\n")
    }
}

extension MessageDigest {
    /// The SHA-256 this digest computed (it is one: `MessageDigest(.sha256)`).
    func finishSHA256() -> Hash {
        guard let hash = Hash(bytes: finish()) else { preconditionFailure("not a SHA-256 digest") }
        return hash
    }
}
