import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault

extension CustodyEventType {
    /// A chain-of-custody report about the item was made (`custos report`). Its facts: the
    /// report's id, its result and the SHA-256 of each file made (`pdf`, `json`).
    public static let reported = CustodyEventType(rawValue: "reported")
}

/// What a report is asked for: its subject, why, in which languages and formats.
public struct ReportRequest: Sendable {
    public enum Subject: Sendable {
        case items([ItemRecord])
        case caseID(String, [ItemRecord])

        public var records: [ItemRecord] {
            switch self {
            case .items(let records), .caseID(_, let records): records
            }
        }

        /// The subject a command names: the case's items, or the items named by ids or unique
        /// prefixes of them (each once, in the order named).
        public static func resolve(items texts: [String], caseID: String?, in session: CustodySession) throws
            -> Subject
        {
            if let caseID { return .caseID(caseID, try session.items(ofCase: caseID)) }
            var records = [ItemRecord]()
            for text in texts {
                let record = try session.resolveItem(text)
                if !records.contains(where: { $0.item == record.item }) { records.append(record) }
            }
            return .items(records)
        }
    }

    public var subject: Subject
    public var records: [ItemRecord] { subject.records }
    public var reason: String
    public var languages: [String]
    /// `pdf`, `json`, or both (`["pdf", "json"]`, the default).
    public var formats: [String]

    public init(
        subject: Subject, reason: String, languages: [String] = ["zh-TW", "en"], formats: [String] = ["pdf", "json"]
    ) {
        self.subject = subject
        self.reason = reason
        self.languages = languages
        self.formats = formats
    }
}

extension ReportRequest {
    /// The formats a report is made in: `pdf`, `json`, or `both`.
    public static func formats(_ text: String) -> [String]? {
        switch text {
        case "pdf": ["pdf"]
        case "json": ["json"]
        case "both": ["pdf", "json"]
        default: nil
        }
    }

    /// The report's files for the file name `name` that `-o` gives: with one format, `name` itself;
    /// with both, `name` without its `.pdf` or `.json` (when it ends so), then `.pdf` and `.json`.
    /// Each file's detached signature is beside it (`.p7s`). In order: PDF, its `.p7s`, JSON,
    /// its `.p7s` (the formats asked for only).
    public static func fileNames(_ name: [UInt8], formats: [String]) -> [(format: String, name: [UInt8])] {
        var names = [(format: String, name: [UInt8])]()
        let p7s = Array(".p7s".utf8)
        if formats.count == 1 {
            names = [(formats[0], name), (formats[0] + ".p7s", name + p7s)]
        } else {
            var base = name
            for ext in [".pdf", ".json"] where base.count > ext.utf8.count && base.hasSuffix(Array(ext.utf8)) {
                base.removeLast(ext.utf8.count)
                break
            }
            for format in formats {
                let file = base + Array(".\(format)".utf8)
                names += [(format, file), (format + ".p7s", file + p7s)]
            }
        }
        return names
    }
}

extension Array where Element == UInt8 {
    fileprivate func hasSuffix(_ suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

/// A report as made and recorded: its facts, the files written (name and bytes), and the event.
public struct MadeReport: Sendable {
    public var facts: ReportFacts
    public var files: [ExportFile]
    public var event: RecordedEvent
}

extension CustodySession {
    /// Makes a chain-of-custody report (`request`) from the ledger and the vault alone, signs it
    /// with the node's report-signing certificate (made first when the vault has none), and
    /// writes its files (`ReportRequest.fileNames`: the PDF, the JSON or both, each with its
    /// `.p7s`) beside `output` the way exports are written: both names checked
    /// free first (nothing is ever written over), the files kept as synced temporaries, the
    /// `reported` event recorded (one entry per item, with the SHA-256 of each file), then the
    /// files renamed to their names without replacing anything. A report on an item that fails
    /// its re-check is written and recorded all the same: it says FAIL.
    public func makeReport(_ request: ReportRequest, output: RawPath, now: String = SystemClock.now()) throws
        -> MadeReport
    {
        try makeReport(request, output: output.absolute.bytes, into: ExportFolderSink(output.parent), now: now)
    }

    /// The report's workflow, written once for both paths: the files handed to `sink` (a folder
    /// in process; the daemon's reply, whose client writes them by the same rules), the
    /// `reported` event recorded, then the sink told. `output` is the report file's path as the
    /// one who writes it named it (its last component names the files).
    public func makeReport<Sink: ExportSink>(
        _ request: ReportRequest, output: [UInt8], into sink: Sink, now: String = SystemClock.now()
    ) throws -> MadeReport {
        let output = RawPath(bytes: output)
        try CustodyText.check(request.reason, what: "the reason", subject: "--reason")
        if let examiner = custody.actor.examiner {
            try CustodyText.check(examiner, what: "the examiner's name", subject: "--examiner", limit: 256)
        }
        guard !request.records.isEmpty else { throw CustodyError(.refused, "a report is about at least one item") }
        let name = output.lastComponent
        let names = ReportRequest.fileNames(name, formats: request.formats)
        guard RawPath.isSafeComponent(name), output.bytes.last != UInt8(ascii: "/"),
            String(validating: name, as: UTF8.self) != nil, !request.formats.isEmpty,
            request.formats.allSatisfy(["pdf", "json"].contains), Set(request.formats).count == request.formats.count,
            names.allSatisfy({ RawPath.isSafeComponent($0.name) })
        else {
            throw CustodyError(.refused, "\(output): not a file name to write a report to (one name of UTF-8)")
        }
        try prepareToRecord()
        let signer = try ReportSigningAuthority.signer(of: vault, now: SystemClock.secondsSinceEpoch())
        // The report is built on a checkpoint that covers every entry so far (a process killed
        // after its append, before its checkpoint, leaves entries no checkpoint covers).
        // When it cannot be signed (a ledger that fails its audit), the report says which entries
        // no checkpoint covers.
        _ = try? checkpoint()
        let facts = try reportFacts(request, now: now, signer: signer)
        var files = [ExportFile]()
        var digests = JSONObject()
        let digest = OpenSSLSHA256()
        for (format, fileName) in names where !format.hasSuffix(".p7s") {
            let bytes: [UInt8]
            if format == "pdf" {
                bytes = try facts.pdfBytes()
            } else {
                bytes = facts.jsonBytes
            }
            let signature = try DetachedSignature.sign(
                bytes, key: signer.key, certificate: signer.certificate, chain: signer.chain)
            let text = String(decoding: fileName, as: UTF8.self)
            files += [ExportFile(name: text, bytes: bytes), ExportFile(name: text + ".p7s", bytes: signature)]
            digests[format] = .string(digest.sha256(bytes).hex)
        }
        var recorded: RecordedEvent?
        defer { if recorded == nil { sink.abandon() } }
        try sink.prepare(files)
        let event = try recordEvent(
            .reported, items: request.records.map(\.item),
            facts: [
                "report": .string(facts.report), "result": .string(facts.passed ? "pass" : "fail"),
                "files": .object(digests),
            ],
            details: [
                "report": .string(facts.report), "reason": .string(request.reason),
                "formats": .array(request.formats.map { .string($0) }),
                "languages": .array(request.languages.map { .string($0) }),
                "output": .byteString(output.bytes),
                "case": { if case .caseID(let id, _) = request.subject { .string(id) } else { .null } }(),
                "files": .array(
                    files.map { .object(["name": .string($0.name), "sha256": .string(digest.sha256($0.bytes).hex)]) }
                ),
                "checkpoint": .object([
                    "size": .integer(Int64(facts.checkpoint.size)), "root": .string(facts.checkpoint.root.base64),
                ]),
            ], now: now)
        recorded = event
        try sink.recorded(entry: event.entries[0].sequence)
        return MadeReport(facts: facts, files: files, event: event)
    }

    /// The facts of a report, nothing written or recorded.
    public func reportFacts(_ request: ReportRequest, now: String, signer: Vault.ReportSigningFiles?) throws
        -> ReportFacts
    {
        let records = request.records
        let zone = try ReportTimeZone(of: vault)
        // The checkpoint the report is built on: the latest, its signature checked. One that does
        // not verify (or cannot be read) is no reason to stay silent: the report is made on the
        // tree the ledger holds, and says FAIL first.
        let verifierKey = try vault.verifierKey()
        let noteText = (try? ledger.latestCheckpoint()) ?? ""
        var note: SignedNote?
        var checkpoint: Checkpoint
        var signature = ReportCheck(
            passed: true,
            ReportText(
                "檢查點之數位簽章經節點金鑰 \(verifierKey.name) 驗證通過",
                "the checkpoint's signature verifies with the node's key \(verifierKey.name)"))
        do {
            let parsed = try SignedNote(parsing: noteText)
            note = parsed
            checkpoint = try Checkpoint(parsing: parsed.text)
            _ = try parsed.verifiedSignatures(by: [verifierKey])
            guard checkpoint.origin == vault.configuration.origin else {
                throw CustodyError(.altered, "its origin is \(checkpoint.origin), not \(vault.configuration.origin)")
            }
        } catch {
            let size = try ledger.size()
            checkpoint = Checkpoint(origin: vault.configuration.origin, size: size, root: try ledger.root(size: size))
            signature = ReportCheck(
                passed: false,
                ReportText(
                    "最新檢查點無法以節點金鑰 \(verifierKey.name) 驗證（\(error)）：無任何經簽章之檢查點為帳本背書；以下包含證明係對帳本現有之樹（大小 \(size)）計算，該樹未經任何人簽章",
                    "the latest checkpoint does not verify with the node's key \(verifierKey.name) (\(error)): no signed checkpoint vouches for the ledger; the proofs below are against the tree the ledger holds now (size \(size)), which no one signed"
                ))
        }
        let checkpointFacts = CheckpointFacts(
            origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, note: noteText,
            keyName: verifierKey.name, keyHash: hex8(verifierKey.keyID), verifierKey: verifierKey.key.text,
            cosignatures: (note?.signatures ?? []).filter {
                $0.keyID != verifierKey.keyID || $0.name != verifierKey.name
            }.map { (name: $0.name, keyHash: hex8($0.keyID)) }, signature: signature)

        // Integrity now: the ledger audited and each item's archive re-read and re-hashed (the
        // verifier never trusts a stored digest), on a thread of its own with its own read-only
        // connection to the ledger, while the items' facts are gathered here with no fault. The
        // facts of an item it finds a fault about are gathered again with it.
        let size = try ledger.size()
        // When the signed checkpoint covers every entry there is now (`makeReport` signs one
        // first), entries the re-check finds after it were appended since, by another writer.
        let recheck = startRecheck(
            vault: vault, items: Set(records.map(\.item)),
            checkpointed: signature.passed && checkpoint.size == size ? size : nil)
        func gather(_ record: ItemRecord, among faults: [ReportFault]) throws -> ItemFacts {
            try itemFacts(
                record, among: faults, checkpoint: checkpoint, zone: zone, signed: signature.passed,
                cosigned: !checkpointFacts.cosignatures.isEmpty)
        }
        var items: [ItemFacts]
        do {
            items = try records.map { try gather($0, among: []) }
        } catch {
            // Never left running; its error first, as when it ran before the facts were gathered.
            if case .failure(let recheckError) = recheck.wait() { throw recheckError }
            throw error
        }
        let verification = try recheck.wait().get()
        // Its connection saw every entry the report is built on (one that read the ledger's file
        // alone, without its write-ahead log, would not have: a report must not pass an item
        // the re-check never saw). A row missing in the middle is the audit's fault to report.
        guard verification.ledgerSize >= size else {
            throw CustodyError(
                .missing,
                "\(vault.ledgerPath): the re-check read a ledger of \(verification.ledgerSize) entries, not the \(size) the report is built on; no report was made"
            )
        }
        let others = Array(verification.faults.dropFirst(verification.ledgerFaults)).map(ReportFault.init)
        let faultSubjects = Set(others.map(\.subject))
        for index in items.indices where !items[index].subjects.isDisjoint(with: faultSubjects) {
            items[index] = try gather(records[index], among: others)
        }
        let claimed = Set(items.flatMap(\.subjects))
        // The ledger's own faults, and any other the re-check found that is about none of the
        // items (a checkpoint's time stamp): the vault as a whole.
        let ledgerFaults =
            Array(verification.faults.prefix(verification.ledgerFaults)).map(ReportFault.init)
            + others.filter { !claimed.contains($0.subject) }
        let ledgerCheck = ReportCheck(
            faults: ledgerFaults,
            passed: ReportText(
                "已稽核 \(verification.entries) 筆帳本紀錄及 \(verification.checkpointsChecked) 個檢查點：雜湊鏈、Merkle 樹、數位簽章、時戳",
                "\(verification.entries) entries and \(verification.checkpointsChecked) checkpoints audited: hash chain, Merkle tree, signatures, time stamps"
            ))

        let id = try Self.reportIdentifier()
        var commands = [
            ReportCommand(
                claim: ReportText(
                    "本檔案係節點所簽章之報告（憑證鏈：report-chain.pem，即節點之 report/chain.pem）",
                    "This file is the report the node signed (its chain: report-chain.pem, the node's report/chain.pem)"
                ),
                command:
                    "openssl cms -verify -binary -content REPORT.json -in REPORT.json.p7s -inform DER -CAfile report-chain.pem -out /dev/null"
            ),
            ReportCommand(
                claim: ReportText(
                    "帳本記載本報告：其 SHA-256 見於 `reported` 帳本紀錄（custos history）",
                    "The ledger records this report: its SHA-256 is in the `reported` entries (custos history)"),
                command: "sha256sum REPORT.json"),
            ReportCommand(
                claim: ReportText(
                    "PDF 檔係節點所簽章之報告，帳本亦記載其 SHA-256（製作時）",
                    "The PDF is the report the node signed, and the ledger records its SHA-256 too (when made)"),
                command:
                    "openssl cms -verify -binary -content REPORT.pdf -in REPORT.pdf.p7s -inform DER -CAfile report-chain.pem -out /dev/null; sha256sum REPORT.pdf"
            ),
            ReportCommand(
                claim: ReportText(
                    "檢查點係由節點金鑰 \(verifierKey.key.text) 簽章",
                    "The checkpoint is signed by the node's key \(verifierKey.key.text)"),
                command: "Docs/Verification.md, step 3 (the checkpoint's note text is `checkpoint.note`)"),
        ]
        var signerFacts: JSONObject?
        if let signer, let fingerprint = try? signer.certificate.sha256Fingerprint() {
            signerFacts = [
                "subject": .string(signer.certificate.subject), "sha256Fingerprint": .string(fingerprint.hex),
                "chain": .string("report/chain.pem"),
            ]
            commands.append(
                ReportCommand(
                    claim: ReportText(
                        "報告簽章憑證為 \(signer.certificate.subject)，SHA-256 指紋 \(fingerprint.hex)",
                        "The report-signing certificate is \(signer.certificate.subject), SHA-256 fingerprint \(fingerprint.hex)"
                    ),
                    command: "openssl x509 -in report.pem -noout -subject -fingerprint -sha256"))
        }
        let subject: (scope: String, caseID: String?) =
            switch request.subject {
            case .items: ("items", nil)
            case .caseID(let id, _): ("case", id)
            }
        return ReportFacts(
            report: id,
            made: ReportTime(now, in: zone) ?? ReportTime(seconds: SystemClock.secondsSinceEpoch(), in: zone),
            timeZone: zone, node: vault.configuration.origin, bureau: vault.configuration.bureau,
            actor: custody.actor.json,
            reason: request.reason,
            languages: request.languages, scope: subject.scope, caseID: subject.caseID, checkpoint: checkpointFacts,
            ledger: ledgerCheck, ledgerFaults: ledgerFaults, items: items, commands: commands, signer: signerFacts)
    }

    private func itemFacts(
        _ record: ItemRecord, among found: [ReportFault], checkpoint: Checkpoint, zone: ReportTimeZone, signed: Bool,
        cosigned: Bool
    ) throws -> ItemFacts {
        let details = try details(of: record)
        // A checkpoint that does not verify proves nothing: the events are then proven against
        // the signed checkpoint `history` looks for itself (and fail with it).
        let history = try signed ? history(of: record, checkpoint: checkpoint) : history(of: record)
        // The faults about the item: by its id, or by one of its own entries (a details document).
        let subjects = Set(
            ["item \(record.item)"] + history.events.filter { !$0.wholeVault }.map { "entry \($0.sequence)" })
        let faults = found.filter { subjects.contains($0.subject) }
        let manifest = details.manifest.value
        let acquisition = manifest?["acquisition"]?.objectValue ?? [:]
        let original = manifest?["original"]
        let digests = details.entry?["digests"]

        // Integrity, in three parts, each from the verifier's faults.
        func check(_ codes: Set<String>, passed: ReportText) -> ReportCheck {
            ReportCheck(faults: faults.filter { codes.contains($0.code) }, passed: passed)
        }
        let archiveCodes: Set<String> = [
            "archive-missing", "archive-unreadable", "archive-digest", "archive-hashdeep", "archive-manifest",
        ]
        var content = check(
            ["content-sha256", "content-md5", "content-sha1", "content-size"],
            passed: ReportText(
                "封存檔內之原始檔案重新計算雜湊值：大小、MD5、SHA-1、SHA-256 均與帳本紀錄相符",
                "the original in the archive re-hashed: size, MD5, SHA-1, SHA-256 as the entry records"
            ))
        var archive = check(
            archiveCodes,
            passed: ReportText(
                "封存檔重新計算雜湊值：SHA-256 與紀錄相符；hashdeep.txt、manifest.json 一致",
                "the archive re-hashed: SHA-256 as recorded; hashdeep.txt and manifest.json agree"
            ))
        if content.passed, faults.contains(where: { $0.code == "archive-missing" || $0.code == "archive-unreadable" }) {
            content = ReportCheck(
                passed: false,
                ReportText(
                    "未重新計算雜湊值：封存檔無法讀取（見封存檔）", "not re-hashed: the archive cannot be read (see the archive)"))
        }
        // An original destroyed by an approved disposal: the verifier does not look for its
        // archive (one whose approval is not proven is checked as any, `disposal-unproven`).
        let destroyed = history.events.first {
            $0.type == .disposed && $0.mode == CustodyEventType.destroyedMode && !$0.wholeVault
        }
        if let destroyed, !faults.contains(where: { $0.code == "disposal-unproven" }) {
            let why = ReportText(
                "原始檔案已依核准之處分銷毀（帳本紀錄 \(destroyed.sequence)）：其封存檔不再保存",
                "the original was destroyed by an approved disposal (entry \(destroyed.sequence)): its archive is no longer kept"
            )
            archive = .notChecked(why)
            content = .notChecked(why)
        }
        let manifestCheck = check(
            ["manifest-digest", "manifest-malformed", "manifest-missing", "manifest-mismatch", "entry-incomplete"],
            passed: ReportText(
                "清單重新計算雜湊值：SHA-256 與帳本紀錄相符，且描述該紀錄",
                "the manifest re-hashed: SHA-256 as the entry records; it describes the entry"))

        // The sealed entry's inclusion in the report's checkpoint, proven here.
        let entryBytes = try ledger.entryBytes(record.sequence)
        let leaf = MerkleHasher.openSSL.hashLeaf(entryBytes)
        var path = [Hash]()
        let proofCheck: ReportCheck
        if !signed {
            if record.sequence < checkpoint.size {
                path = try ledger.inclusionProof(index: record.sequence, size: checkpoint.size)
            }
            proofCheck = ReportCheck(
                passed: false,
                ReportText(
                    "帳本紀錄 \(record.sequence) 無從證明：無經簽章之檢查點（其路徑僅通往帳本現有之樹根，該樹根未經任何人簽章）",
                    "entry \(record.sequence) cannot be proven: no signed checkpoint (its path leads only to the root of the ledger's own tree, which no one signed)"
                ))
        } else if record.sequence < checkpoint.size {
            path = try ledger.inclusionProof(index: record.sequence, size: checkpoint.size)
            do {
                try MerkleProofs.verifyInclusion(
                    index: record.sequence, size: checkpoint.size, leafHash: leaf, proof: path, root: checkpoint.root,
                    hasher: MerkleHasher.openSSL)
                proofCheck = ReportCheck(
                    passed: true,
                    ReportText(
                        "帳本紀錄 \(record.sequence) 包含於大小 \(checkpoint.size) 之檢查點（RFC 6962 包含證明）",
                        "entry \(record.sequence) is in the checkpoint of size \(checkpoint.size) (RFC 6962 proof checked)"
                    ))
            } catch {
                proofCheck = ReportCheck(
                    passed: false,
                    ReportText(
                        "帳本紀錄 \(record.sequence) 非節點於大小 \(checkpoint.size) 之檢查點所簽章者",
                        "entry \(record.sequence) is not the one the node signed in checkpoint \(checkpoint.size)"))
            }
        } else {
            proofCheck = ReportCheck(
                passed: false,
                ReportText(
                    "帳本紀錄 \(record.sequence) 尚未納入經簽章之檢查點",
                    "entry \(record.sequence) is not yet covered by a signed checkpoint"))
        }

        let tokens = zip(details.stamps, details.infos).map { stamp, info in
            TokenFacts(
                entry: stamp.entry.sequence, source: stamp.record.source, authority: stamp.record.authority,
                serial: stamp.record.serial, genTime: stamp.record.genTime,
                genTimeLocal: ReportTime(stamp.record.genTime, in: zone),
                accuracyMilliseconds: info?.accuracyMilliseconds, policy: stamp.record.policy, token: stamp.record.token
            )
        }
        let timeline = history.events.map { event in
            var facts = event.entry.details
            facts[detailsDocumentMember] = nil
            let fault = [event.proof.fault, event.document.fault].compactMap { $0 }
            let proof: String =
                switch event.proof {
                case .inCheckpoint: "in-checkpoint"
                case .notYetCovered: "not-yet-covered"
                case .failed: "failed"
                }
            return TimelineEvent(
                entry: event.sequence, time: ReportTime(event.entry.time, in: zone), recorded: event.entry.time,
                event: event.type.rawValue, wholeVault: event.wholeVault, actor: event.actor,
                verifiedBy: event.actorVerification.rawValue, examiner: event.examiner, reason: event.reason,
                note: event.note, result: event.result, facts: facts, proof: proof,
                fault: fault.isEmpty ? nil : fault.joined(separator: "; "))
        }

        var acquisitionFacts = acquisition
        if let sealing = manifest?["sealing"]?.objectValue {
            acquisitionFacts["sealing"] = .object(sealing)
            let actor = sealing["actor"]?.objectValue
            acquisitionFacts["sealedBy"] = .object([
                "account": sealing["operator"] ?? .null, "uid": sealing["operatorUID"] ?? .null,
                "verifiedBy": actor?["verifiedBy"] ?? .string("process"),
            ])
        }
        if let seizureTime = acquisition["seizure"]?["time"]?.stringValue, let time = ReportTime(seizureTime, in: zone)
        {
            // In the report's zone (`timeZone`).
            acquisitionFacts["seizureTimeLocal"] = time.json
        }
        if let upload = manifest?["upload"] { acquisitionFacts["upload"] = upload }

        var notChecked = [
            ReportText(
                "取得資料（鑑識人員、描述、扣押地點及時間、來源裝置）係鑑識人員於封存時之申報；Custos 無從驗證。",
                "The acquisition facts (examiner, description, seizure place and time, source device) are the examiner's declaration as sealed; Custos cannot check them."
            ),
            ReportText(
                "未重新讀取來源路徑之原始檔案：重新計算雜湊值者係封存檔內之封存複本。",
                "The original at its source path is not re-read: the sealed copy in the archive is what was re-hashed."),
        ]
        // An item received from another node: its custody before receipt is in the sender's ledger.
        // (What this node kept of the sender's proof, the sender's sealed entry proven in its signed
        // checkpoint, is re-checked by the verifier above: a `handover-proof` fault otherwise.)
        if details.entry?["type"]?.stringValue == CustodyEventType.received.rawValue,
            let origin = details.entry?["from"]?.stringValue, let index = details.entry?["fromIndex"]?.integerValue,
            index >= 0
        {
            let text = CustodyBeforeReceipt.notChecked(origin: origin, index: UInt64(index), holder: .report)
            notChecked.append(ReportText(text.zh, text.en))
        }
        if let destroyed, !archive.checked {
            notChecked.append(
                ReportText(
                    "封存檔及原始檔案之位元組：已依帳本紀錄 \(destroyed.sequence) 之核准處分銷毀；帳本紀錄及清單仍證明當時封存之內容。",
                    "The archive and the original's bytes: destroyed by the approved disposal of entry \(destroyed.sequence); the entries and the manifest still prove what was sealed."
                ))
        }
        if !details.awaiting.isEmpty {
            let authorities = details.awaiting.joined(separator: ", ")
            notChecked.append(ReportText("尚待下列時戳服務機構之時戳：\(authorities)。", "No time stamp yet from: \(authorities)."))
        }
        if !tokens.isEmpty {
            notChecked.append(
                ReportText(
                    "時戳憑據係以本庫保存之信任錨驗證；專家應以向各時戳服務機構自行取得之根憑證驗證。",
                    "The time-stamp tokens were checked against the trust anchors the vault keeps; an expert checks them against each authority's root certificate obtained from the authority itself."
                ))
        }
        if !cosigned {
            notChecked.append(
                ReportText(
                    "尚無見證節點為大小 \(checkpoint.size) 之檢查點加具見證簽章：目前本節點以外無人為其背書。",
                    "No peer has cosigned the checkpoint of size \(checkpoint.size): nothing outside this node vouches for it yet."
                ))
        }
        if history.events.contains(where: { if case .notYetCovered = $0.proof { true } else { false } }) {
            notChecked.append(
                ReportText(
                    "大小 \(checkpoint.size) 之檢查點以後之監管事件，尚未納入經簽章之檢查點。",
                    "Events after the checkpoint of size \(checkpoint.size) are not yet covered by a signed checkpoint."
                ))
        }

        let memberName = manifest?["member"]?.stringValue ?? "evidence/NAME"
        var commands = [
            digestCommand(record: record, digests: digests),
            ReportCommand(
                claim: ReportText(
                    "封存檔之 SHA-256 即帳本紀錄所載（其名稱之一部分）",
                    "The sealed archive's SHA-256: the one its entry records (part of its name)"),
                command: "sha256sum \(details.archive ?? "ARCHIVE")"),
            ReportCommand(
                claim: ReportText("封存檔內之原始檔案即當時封存者", "The original inside the archive is the one sealed"),
                command: "bsdtar -xOf ARCHIVE \(ShellWord.quoted(memberName)) | sha256sum"),
            ReportCommand(
                claim: ReportText(
                    "帳本紀錄 \(record.sequence) 包含於大小 \(checkpoint.size) 之檢查點",
                    "Entry \(record.sequence) is in the checkpoint of size \(checkpoint.size)"),
                command: "custos proof \(record.item) -o \(record.item).proof   # then Docs/Verification.md, step 4"),
        ]
        for (index, token) in tokens.enumerated() {
            commands.append(
                ReportCommand(
                    claim: ReportText(
                        "[\(token.source)] \(token.authority) 於 \(token.genTime) 對該 SHA-256 蓋用時戳，序號 \(token.serial)（檔案由 custos timestamp export 產生）",
                        "[\(token.source)] \(token.authority) stamped the SHA-256 at \(token.genTime), serial \(token.serial) (custos timestamp export writes the files)"
                    ),
                    command:
                        "openssl ts -verify -digest \(record.sha256.hex) -in \(record.item)-\(index + 1).tsr -CAfile \(token.source == TimeStampRecord.nodeSource ? "tsa-chain.pem" : "anchors-\(token.source).pem")"
                ))
        }
        // An item received from another node: sealed by the sender (as its manifest records),
        // received here when this node's first entry about it was recorded.
        let isReceived = details.entry?["type"]?.stringValue == CustodyEventType.received.rawValue
        let sealed =
            isReceived
            ? manifest?["sealing"]?["time"]?.stringValue.flatMap { ReportTime($0, in: zone) }
            : ReportTime(record.sealedAt, in: zone)
        var facts = ItemFacts(
            item: record.item, caseID: record.caseID, exhibit: record.exhibit,
            description: acquisition["description"]?.stringValue ?? "",
            name: original?["name"]?.byteStringValue ?? record.name,
            path: original?["path"]?.byteStringValue, size: record.size, md5: digests?["md5"]?.stringValue,
            sha1: digests?["sha1"]?.stringValue, sha256: record.sha256, sealed: sealed,
            acquisition: acquisitionFacts, timeline: timeline, content: content, archive: archive,
            manifest: manifestCheck, faults: faults, subjects: subjects,
            proof: ProofFacts(
                origin: checkpoint.origin, index: record.sequence, entry: entryBytes, leafHash: leaf, path: path,
                checkpointSize: checkpoint.size, root: checkpoint.root, check: proofCheck),
            tokens: tokens, awaitingTimeStamps: details.awaiting, notChecked: notChecked, commands: commands)
        facts.received = isReceived ? ReportTime(record.sealedAt, in: zone) : nil
        return facts
    }

    /// The claim of the original's digests (SHA-256, and MD5 and SHA-1 when recorded: their
    /// values are the item's `original`) and the one command line that checks them all.
    private func digestCommand(record: ItemRecord, digests: JSONValue?) -> ReportCommand {
        var names = ["SHA-256"]
        var command = "sha256sum ORIGINAL-FILE"
        if digests?["md5"]?.stringValue != nil {
            names.append("MD5")
            command += "; md5sum ORIGINAL-FILE"
        }
        if digests?["sha1"]?.stringValue != nil {
            names.append("SHA-1")
            command += "; sha1sum ORIGINAL-FILE"
        }
        return ReportCommand(
            claim: ReportText(
                "原始檔案之雜湊值（\(names.joined(separator: "、"))）即第 2 節所載",
                "The original file's \(names.joined(separator: ", ")): those of section 2"),
            command: command)
    }

    /// A new report identifier: a UUIDv7, as items have.
    static func reportIdentifier() throws -> String {
        let milliseconds = UInt64(SystemClock.secondsSinceEpoch()) * 1000
        return ItemIdentifier.uuidV7(milliseconds: milliseconds, random: try SecureRandom.bytes(10))
    }
}

extension ReportFault {
    init(_ fault: VerificationFault) {
        self.init(
            subject: fault.subject, code: fault.code.rawValue, message: fault.message, expected: fault.expected,
            found: fault.found)
    }
}

/// Eight lower-case hex digits, as signed-note key hashes are written.
func hex8(_ value: UInt32) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: 8 - hex.count) + hex
}

/// A vault's re-check for a report (``VaultVerifier``; entries another writer appended after
/// the report's checkpoint are not yet covered by its checkpoint: a note), on a thread of its own
/// (``JoinableThread``: the caller's priority; run in place when none can be started) with a
/// read-only connection to the ledger of its own.
private func startRecheck(vault: Vault, items: Set<String>, checkpointed: UInt64?) -> JoinableThread<
    Result<VerificationReport, any Error>
> {
    JoinableThread {
        Result {
            try VaultVerifier(vault: vault).verify(
                ledger: try vault.openLedger(readOnly: true), items: items, checkpointed: checkpointed)
        }
    }
}
