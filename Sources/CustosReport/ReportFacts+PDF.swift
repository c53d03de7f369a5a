import CustosFormats
import CustosPDF

/// The PDF of a report: the same facts as its JSON, laid out for a court in the order of the
/// records ISO/IEC 27037 expects (identification, the original, acquisition, custody, integrity,
/// the ledger's proof, time stamps, what was not checked, how to check each claim), with the
/// terms of the glossary (`../shared/GLOSSARY-zh-TW.md`). A verdict comes first, plainly, on the
/// first page; the last page is for the examiner's and the reviewer's signature or seal.
///
/// Deterministic: the PDF's creation date is the report's time, so the same facts give the same
/// bytes. Free text is shown as text (the renderer never reads markup); byte-exact names go
/// through `DisplayName.escape`.
extension ReportFacts {
    /// The report's PDF.
    public func pdfBytes() throws(PDFError) -> [UInt8] {
        try PDFRenderer.render(pdfLayout)
    }

    /// The report laid out as the renderer's blocks.
    public var pdfLayout: PDFDocumentLayout {
        let t = ReportLabels(languages: languages)
        var blocks = [PDFBlock]()

        // The verdict, first: plainly, then what failed, one line each.
        blocks.append(.verdict(pass: passed, text: verdictText(t)))
        if !passed {
            blocks.append(.table(columns: [t("對象", "Subject"), t("驗證失敗之處", "What failed")], rows: failedRows(t)))
        }

        // The report itself.
        blocks.append(.heading(t("報告資料", "About this report"), level: 2))
        var about = [
            PDFKeyValue(t("報告編號", "Report"), report),
            PDFKeyValue(t("製作時間", "Made"), t.time(made)),
            PDFKeyValue(t("時區", "Time zone"), timeZoneText(t)),
            PDFKeyValue(t("節點", "Node"), node),
            PDFKeyValue(t("機關", "Bureau"), bureau ?? "—"),
            PDFKeyValue(t("製作者", "Made by"), actorText(actor, t)),
            PDFKeyValue(t("事由", "Reason"), reason),
        ]
        if let caseID { about.append(PDFKeyValue(t("案號", "Case number"), caseID)) }
        about.append(PDFKeyValue(t("證物數", "Items"), String(items.count)))
        about.append(
            PDFKeyValue(
                t("檢查點（經簽章之樹根）", "Checkpoint (signed tree head)"),
                "\(checkpoint.origin) · \(t("大小", "size")) \(checkpoint.size) · \(t("樹根", "root")) \(checkpoint.root.base64)"
            ))
        about.append(
            PDFKeyValue(
                t("檢查點簽章", "Checkpoint signature"),
                t.result(checkpoint.signature.result) + " · " + t.text(checkpoint.signature.text)))
        about.append(PDFKeyValue(t("帳本稽核", "Ledger audit"), t.result(ledger.result) + " · " + t.text(ledger.text)))
        if let subject = signer?["subject"]?.stringValue, let fingerprint = signer?["sha256Fingerprint"]?.stringValue {
            about.append(
                PDFKeyValue(
                    t("報告簽章憑證", "Report-signing certificate"),
                    "\(subject) · SHA-256 \(fingerprint)"))
        }
        blocks.append(.keyValues(about))

        if !ledger.passed {
            blocks.append(.heading(t("帳本：驗證失敗", "The ledger: verification failed"), level: 2))
            blocks.append(
                .table(
                    columns: [t("對象", "Subject"), t("結果", "Result")],
                    rows: ledgerFaults.map { [$0.subject, t.fail + " [\($0.code)] " + t.fault($0)] }))
        }

        // A case, or several items: one line per item.
        if scope == "case" || items.count > 1 {
            blocks.append(.heading(t("摘要", "Summary"), level: 2))
            blocks.append(
                .table(
                    columns: [
                        "#", t("證物編號", "Exhibit"), t("原始檔案", "Original file"), t("雜湊值 SHA-256", "SHA-256"),
                        t("結果", "Result"),
                    ],
                    rows: items.enumerated().map { index, item in
                        [
                            String(index + 1), item.exhibit, DisplayName.escape(item.name), item.sha256.hex,
                            item.passed ? t.pass : t.fail,
                        ]
                    }))
        }

        // What was not checked of every item alike, said once (each item's JSON keeps its own).
        let common =
            items.count > 1
            ? items.dropFirst().reduce(items[0].notChecked) { kept, item in kept.filter(item.notChecked.contains) }
            : []
        if !common.isEmpty {
            blocks.append(.heading(t("未驗證項目（每一證物皆同）", "Not checked (the same for every item)"), level: 2))
            blocks.append(.paragraph(common.map { "• " + t.lines($0) }.joined(separator: "\n")))
        }

        for (index, item) in items.enumerated() {
            blocks.append(.pageBreak)
            blocks += item.pdfBlocks(
                number: index + 1, of: items.count, checkpoint: checkpoint, notChecked: common, t)
        }

        // The report's own signature and anchoring.
        blocks.append(.heading(t("本報告之驗證方式", "How to check this report"), level: 2))
        for command in commands {
            blocks.append(.paragraph(t.lines(command.claim)))
            blocks.append(.monospace(command.command))
        }

        // For the printed copy.
        blocks.append(.pageBreak)
        blocks.append(.heading(t("簽署", "Signatures"), level: 1))
        blocks.append(
            .paragraph(
                t(
                    "本報告由上述帳本及封存檔製作；以下由鑑識人員及覆核人員於紙本簽名或蓋章。",
                    "This report was made from the ledger and the archives above; the examiner and the reviewer sign or seal the printed copy below."
                )))
        for role in [t("鑑識人員", "Examiner"), t("覆核人員", "Reviewer")] {
            blocks.append(.heading(role, level: 3))
            blocks.append(
                .signatureBlock([
                    t("姓名", "Name"), t("職稱", "Title"), t("日期", "Date"), t("簽名或蓋章", "Signature or seal"),
                ]))
        }

        return PDFDocumentLayout(
            title: t("證據監管鏈報告", "Chain-of-Custody Report"),
            // Two lines: the report, then the checkpoint it is built on.
            runningHeader:
                "\(t("證據監管鏈報告", "Chain-of-custody report")) \(report)\n"
                + "\(t("檢查點", "Checkpoint")) \(checkpoint.origin) · \(t("大小", "size")) \(checkpoint.size) · "
                + "\(t("樹根", "root")) \(checkpoint.root.base64)",
            blocks: blocks, creationDate: creationDate, creator: "Custos")
    }

    /// The report's time as cairo takes a PDF date: whole seconds and the offset.
    private var creationDate: String {
        guard let dot = made.time.firstIndex(of: ".") else { return made.time }
        return String(made.time[..<dot]) + made.offset
    }

    /// The zone the report's times are in, named once: its offset when the report was made,
    /// and, for a zone with daylight saving time, that each time gives its own.
    private func timeZoneText(_ t: ReportLabels) -> String {
        let zone = timeZone.name
        guard timeZone.changesOffset(after: made.seconds) else {
            return t("時間為 \(zone) 時間（UTC\(made.offset)）", "times in \(zone) (UTC\(made.offset))")
        }
        return t(
            "時間為 \(zone) 時間（製作時為 UTC\(made.offset)；日光節約時間改變時差，各時間均載明其當時之時差）",
            "times in \(zone) (UTC\(made.offset) when made; daylight saving time changes the offset: each time gives its own)"
        )
    }

    private func verdictText(_ t: ReportLabels) -> String {
        guard !passed else {
            return t(
                "驗證通過：帳本及全部 \(items.count) 件證物均通過驗證",
                "PASS: the ledger and all \(items.count) item(s) passed verification")
        }
        return t("驗證失敗：本報告發現下列錯誤", "FAIL: this report finds the faults below")
    }

    private func failedRows(_ t: ReportLabels) -> [[String]] {
        var lines = [[String]]()
        if !checkpoint.signature.passed {
            lines.append([t("檢查點", "The checkpoint"), "\(t.fail) \(t.text(checkpoint.signature.text))"])
        }
        if !ledger.passed {
            lines.append([t("帳本", "The ledger"), "\(t.fail) \(t.text(ledger.text))"])
        }
        let failed = items.enumerated().filter { !$0.element.passed }
        for (index, item) in failed.prefix(20) {
            var parts = [String]()
            for (label, check) in [
                (t("內容", "content"), item.content), (t("封存檔", "archive"), item.archive),
                (t("清單", "manifest"), item.manifest), (t("包含證明", "inclusion proof"), item.proof.check),
            ] where !check.passed {
                parts.append(label)
            }
            parts += item.faults.map(\.code)
            var seen = Set<String>()
            parts = parts.filter { seen.insert($0).inserted }
            lines.append([
                "#\(index + 1) \(t("證物編號", "exhibit")) \(item.exhibit) · \(item.item)",
                "\(t.fail) " + parts.joined(separator: ", "),
            ])
        }
        if failed.count > 20 {
            lines.append([
                t("另有 \(failed.count - 20) 件", "\(failed.count - 20) more"), t("見摘要", "see the summary"),
            ])
        }
        return lines
    }
}

extension ItemFacts {
    fileprivate func pdfBlocks(
        number: Int, of count: Int, checkpoint: CheckpointFacts, notChecked common: [ReportText],
        _ t: ReportLabels
    ) -> [PDFBlock] {
        var blocks = [PDFBlock]()
        blocks.append(
            .heading(
                "\(t("證物", "Item")) \(number)/\(count) · \(t("證物編號", "Exhibit")) \(exhibit)", level: 1))
        if !passed {
            blocks.append(
                .verdict(
                    pass: false,
                    text: t("驗證失敗：本證物未通過驗證（見完整性）", "FAIL: this item failed verification (see integrity)")))
        }

        // 1. Identification.
        blocks.append(.heading(t("1. 識別", "1. Identification"), level: 2))
        blocks.append(
            .keyValues([
                PDFKeyValue(t("案號", "Case number"), caseID),
                PDFKeyValue(t("證物編號", "Exhibit number"), exhibit),
                PDFKeyValue(t("描述", "Description"), description.isEmpty ? "—" : description),
                PDFKeyValue(t("證物識別碼", "Item id"), item),
                PDFKeyValue(t("結果", "Result"), passed ? t.pass : t.fail),
            ]))

        // 2. The original.
        blocks.append(.heading(t("2. 原始檔案", "2. The original file"), level: 2))
        blocks.append(
            .keyValues([
                PDFKeyValue(t("檔名", "Name"), DisplayName.escape(name)),
                PDFKeyValue(t("路徑", "Path"), path.map(DisplayName.escape) ?? "—"),
                PDFKeyValue(t("大小", "Size"), "\(size) bytes"),
                PDFKeyValue(t("雜湊值 MD5", "MD5"), md5 ?? "—"),
                PDFKeyValue(t("雜湊值 SHA-1", "SHA-1"), sha1 ?? "—"),
                PDFKeyValue(t("雜湊值 SHA-256", "SHA-256"), sha256.hex),
            ]))

        // 3. Acquisition.
        blocks.append(.heading(t("3. 取得與封存", "3. Acquisition and sealing"), level: 2))
        blocks.append(.keyValues(acquisitionRows(t)))

        // 4. The custody timeline.
        blocks.append(.heading(t("4. 證據監管鏈（監管事件）", "4. Chain of custody (custody events)"), level: 2))
        blocks.append(
            .table(
                columns: [
                    t("時間", "Time"), t("監管事件", "Event"), t("行為人", "Actor"), t("事由", "Reason"),
                    t("結果", "Result"),
                ],
                rows: timeline.map { event in
                    let time = event.time.map { t.time($0) } ?? event.recorded
                    var what = "#\(event.entry) \(t.event(event.event))"
                    if event.wholeVault { what += " · (\(t("全庫", "whole vault")))" }
                    var actor = event.actor
                    if let examiner = event.examiner { actor += " · \(t("鑑識人員", "examiner")) \(examiner)" }
                    actor +=
                        " ["
                        + (event.verifiedBy == "kernel"
                            ? t("經核心驗證", "verified by the kernel") : t("程序帳號，自行申報", "process account, declared"))
                        + "]"
                    var reason = event.reason ?? ""
                    if let note = event.note { reason += (reason.isEmpty ? "" : " · ") + note }
                    var result = event.result.map { t.eventResult($0) } ?? ""
                    if let fault = event.fault {
                        result = "\(t.fail) \(fault)" + (result.isEmpty ? "" : " · \(result)")
                    } else if event.proof == "not-yet-covered" {
                        result += (result.isEmpty ? "" : " · ") + t("尚未納入檢查點", "not yet in a checkpoint")
                    }
                    return [time, what, actor, reason.isEmpty ? "—" : reason, result.isEmpty ? "—" : result]
                }))

        // 5. Integrity now.
        blocks.append(.heading(t("5. 完整性（製作本報告時重新計算）", "5. Integrity, re-hashed now"), level: 2))
        blocks.append(
            .table(
                columns: [t("項目", "Check"), t("結果", "Result"), t("說明", "Detail")],
                rows: [
                    [t("內容", "Content"), t.result(content.result), t.text(content.text)],
                    [t("封存檔", "Archive"), t.result(archive.result), t.text(archive.text)],
                    [t("清單", "Manifest"), t.result(manifest.result), t.text(manifest.text)],
                    [t("包含證明", "Inclusion proof"), t.result(proof.check.result), t.text(proof.check.text)],
                ]))
        if !faults.isEmpty {
            blocks.append(
                .table(
                    columns: [t("錯誤", "Fault"), t("說明", "Detail")],
                    rows: faults.map { ["\(t.fail) \($0.code)", t.fault($0)] }))
        }

        // 6. The ledger's proof.
        blocks.append(.heading(t("6. 帳本證明", "6. Ledger proof"), level: 2))
        blocks.append(
            .keyValues([
                PDFKeyValue(t("帳本", "Origin"), proof.origin),
                PDFKeyValue(t("帳本紀錄序號", "Entry index"), String(proof.index)),
                PDFKeyValue(t("葉雜湊值", "Leaf hash"), proof.leafHash.hex),
                PDFKeyValue(
                    t("檢查點", "Checkpoint"), "\(t("大小", "size")) \(proof.checkpointSize) · \(proof.root.hex)"),
                PDFKeyValue(
                    t("簽章金鑰", "Signing key"),
                    checkpoint.signature.passed
                        ? "\(checkpoint.keyName) · \(t("金鑰雜湊值", "key hash")) \(checkpoint.keyHash)"
                        : t.fail + " " + t("無（檢查點之簽章未能驗證）", "none (the checkpoint's signature does not verify)")
                ),
                PDFKeyValue(
                    t("見證簽章", "Cosignatures"),
                    checkpoint.cosignatures.isEmpty
                        ? t("無（尚無見證節點）", "none (no peer has cosigned)")
                        : checkpoint.cosignatures.map { "\($0.name) · \($0.keyHash)" }.joined(separator: "; ")),
                PDFKeyValue(t("結果", "Result"), t.result(proof.check.result)),
            ]))
        blocks.append(
            .paragraph(
                t("包含證明（RFC 6962，由葉至根）", "Inclusion proof (RFC 6962, leaf to root)") + ": "
                    + (proof.path.isEmpty
                        ? t("無需雜湊值（樹僅一筆帳本紀錄）", "no hashes (a tree of one entry)")
                        : t("\(proof.path.count) 個雜湊值", "\(proof.path.count) hashes"))))
        if !proof.path.isEmpty {
            blocks.append(.monospace(proof.path.map(\.hex).joined(separator: "\n")))
        }

        // 7. Time stamps.
        blocks.append(.heading(t("7. 時戳憑據", "7. Time-stamp tokens"), level: 2))
        if tokens.isEmpty {
            blocks.append(.paragraph(t("無", "None")))
        }
        for token in tokens {
            var genTime = token.genTime
            if let local = token.genTimeLocal { genTime += " = " + t.time(local) }
            blocks.append(
                .keyValues([
                    PDFKeyValue(t("時戳服務機構 (TSA)", "Time-stamping authority"), "[\(token.source)] \(token.authority)"),
                    PDFKeyValue(t("序號", "Serial"), token.serial),
                    PDFKeyValue("genTime", genTime),
                    PDFKeyValue(t("準確度", "Accuracy"), token.accuracyMilliseconds.map { "\($0) ms" } ?? "—"),
                    PDFKeyValue(t("政策", "Policy"), token.policy),
                    PDFKeyValue(t("時戳憑據 SHA-256", "Token SHA-256"), token.token.hex),
                ]))
        }
        if !awaitingTimeStamps.isEmpty {
            blocks.append(
                .paragraph(
                    t("尚待時戳", "Awaiting a time stamp from") + ": " + awaitingTimeStamps.joined(separator: ", ")))
        }

        // 8. What was not checked.
        blocks.append(.heading(t("8. 未驗證項目", "8. Not checked"), level: 2))
        var lines = notChecked.filter { !common.contains($0) }.map { "• " + t.lines($0) }
        if !common.isEmpty {
            lines.append(
                "• " + t("另見報告首部「未驗證項目（每一證物皆同）」", "See \"Not checked (the same for every item)\" first"))
        }
        blocks.append(.paragraph(lines.joined(separator: "\n")))

        // 9. Commands.
        blocks.append(.heading(t("9. 獨立驗證指令", "9. Commands that check each claim"), level: 2))
        for command in commands {
            blocks.append(.paragraph(t.lines(command.claim)))
            blocks.append(.monospace(command.command))
        }
        return blocks
    }

    private func acquisitionRows(_ t: ReportLabels) -> [PDFKeyValue] {
        func text(_ value: JSONValue?) -> String? {
            guard let value else { return nil }
            if let string = value.stringValue { return string.isEmpty ? nil : string }
            if let number = value.integerValue { return String(number) }
            return nil
        }
        let sealing = acquisition["sealing"]?.objectValue ?? [:]
        let sealedBy = acquisition["sealedBy"]?.objectValue ?? [:]
        var rows = [PDFKeyValue]()
        rows.append(PDFKeyValue(t("封存時間", "Sealed"), sealed.map { t.time($0) } ?? "—"))
        if let received { rows.append(PDFKeyValue(t("接收時間", "Received"), t.time(received))) }
        rows.append(
            PDFKeyValue(
                t("地點", "Where"),
                [
                    text(sealing["node"]).map { "\(t("節點", "node")) \($0)" },
                    text(sealing["bureau"]).map { "\(t("機關", "bureau")) \($0)" },
                    text(sealing["host"]).map { "\(t("主機", "host")) \($0)" },
                ].compactMap { $0 }.joined(separator: " · ")))
        var by = text(sealedBy["account"]) ?? "—"
        if let uid = text(sealedBy["uid"]) { by += " (uid \(uid))" }
        by +=
            text(sealedBy["verifiedBy"]) == "kernel"
            ? " [" + t("經核心驗證", "verified by the kernel") + "]"
            : " [" + t("程序帳號，自行申報", "process account, declared") + "]"
        rows.append(PDFKeyValue(t("封存者", "Sealed by"), by))
        rows.append(
            PDFKeyValue(
                t("鑑識人員", "Examiner"),
                text(acquisition["examiner"]).map { "\($0) (\(t("申報", "declared")))" } ?? "—"))
        rows.append(PDFKeyValue(t("工具及版本", "Tool and version"), text(sealing["tool"]) ?? "—"))
        rows.append(PDFKeyValue(t("封存時之複核", "Re-check at sealing"), recheckText(sealing["recheck"], t)))
        let device = acquisition["device"]?.objectValue ?? [:]
        let deviceText = [
            text(device["make"]).map { "\(t("廠牌", "make")) \($0)" },
            text(device["model"]).map { "\(t("型號", "model")) \($0)" },
            text(device["serial"]).map { "\(t("序號", "serial")) \($0)" },
        ].compactMap { $0 }.joined(separator: " · ")
        rows.append(
            PDFKeyValue(
                t("來源裝置", "Source device"),
                deviceText.isEmpty ? "—" : deviceText))
        rows.append(PDFKeyValue(t("扣押地點", "Seized at"), text(acquisition["seizure"]?["place"]) ?? "—"))
        var seizedOn = text(acquisition["seizure"]?["time"]) ?? "—"
        if let time = acquisition["seizureTimeLocal"]?["time"]?.stringValue,
            let roc = acquisition["seizureTimeLocal"]?["rocDate"]?.stringValue
        {
            // As declared, and in the report's zone when that is another offset.
            seizedOn = seizedOn == time ? "\(time)（\(roc)）" : "\(seizedOn)（\(time)；\(roc)）"
        }
        rows.append(PDFKeyValue(t("扣押時間", "Seized on"), seizedOn))
        if acquisition["upload"] != nil {
            rows.append(PDFKeyValue(t("上傳", "Upload"), t("經節點通訊端上傳", "sent to the node's socket")))
        }
        return rows
    }
}

/// What the seal's one pass re-checked, as its manifest records it; a manifest of an older seal
/// records nothing, though no seal is recorded unless its re-check held.
private func recheckText(_ recheck: JSONValue?, _ t: ReportLabels) -> String {
    guard let recheck = recheck?.objectValue, recheck["result"]?.stringValue == "pass" else {
        return t(
            "未記載（較早之封存）；封存時複核不符者，不予記載",
            "not recorded (an older seal); a seal whose re-check failed is never recorded")
    }
    let copy = recheck["of"]?.stringValue == "received-copy"
    return t.pass + " · "
        + t(
            (copy ? "節點收到之複本" : "原始檔案") + "：讀取之位元組數等於其大小，讀取前後之狀態（大小、時間、inode）相同",
            (copy ? "the copy the node received" : "the original")
                + ": the bytes read equal its size; its status (size, times, inode) was the same after the pass")
}

private func actorText(_ actor: JSONObject, _ t: ReportLabels) -> String {
    var text = actor["account"]?.stringValue ?? "?"
    if let uid = actor["uid"]?.integerValue { text += " (uid \(uid))" }
    if let examiner = actor["examiner"]?.stringValue { text += " · \(t("鑑識人員", "examiner")) \(examiner)" }
    if let verifiedBy = actor["verifiedBy"]?.stringValue {
        text +=
            " ["
            + (verifiedBy == "kernel"
                ? t("經核心驗證", "verified by the kernel") : t("程序帳號，自行申報", "process account, declared")) + "]"
    }
    return text
}

/// The labels of a report in the languages asked for: Traditional Chinese (the glossary's terms),
/// English, or both side by side (`中文 / English`).
struct ReportLabels {
    var chinese: Bool
    var english: Bool

    init(languages: [String]) {
        chinese = languages.contains("zh-TW") || languages.isEmpty
        english = languages.contains("en") || languages.isEmpty
    }

    func callAsFunction(_ zh: String, _ en: String) -> String {
        switch (chinese, english) {
        case (true, true): "\(zh) / \(en)"
        case (true, false): zh
        default: en
        }
    }

    /// A sentence in the languages asked for, in a cell or beside a label (`中文 / English`).
    func text(_ text: ReportText) -> String { self(text.zh, text.en) }

    /// A sentence in the languages asked for, in a paragraph: both on lines of their own.
    func lines(_ text: ReportText) -> String {
        chinese && english ? "\(text.zh)\n\(text.en)" : self.text(text)
    }

    /// A fault the re-check found, in the languages asked for.
    func fault(_ fault: ReportFault) -> String {
        self.text(ReportText(fault.chinese, fault.english))
    }

    /// The cell texts the renderer boxes start with `FAIL` or `驗證失敗`.
    var pass: String { chinese && english ? "PASS 驗證通過" : chinese ? "驗證通過" : "PASS" }
    var fail: String { chinese && english ? "FAIL 驗證失敗" : chinese ? "驗證失敗" : "FAIL" }

    func result(_ result: String) -> String {
        switch result {
        case "PASS": pass
        case "FAIL": fail
        default: chinese && english ? "NOT CHECKED 未驗證" : chinese ? "未驗證" : "NOT CHECKED"
        }
    }

    /// An event's result as the ledger records it (`pass`, `fail`, `ok`, `failed`), in words.
    func eventResult(_ result: String) -> String {
        switch result {
        case "pass": pass
        case "fail", "failed": fail
        case "ok": self("完成", "ok")
        default: result
        }
    }

    func time(_ time: ReportTime) -> String { "\(time.time)（\(time.rocDate)）" }

    func event(_ name: String) -> String {
        let zh: String? =
            switch name {
            case "sealed": "封存"
            case "timestamped": "時戳"
            case "verified": "驗證"
            case "extracted": "取出"
            case "exported": "匯出"
            case "annotated": "註記"
            case "transferred": "移交"
            case "received": "接收"
            case "reported": "報告"
            case "held": "保全"
            case "hold-released": "解除保全"
            case "retention-set": "設定保存期限"
            case "disposal-requested": "申請處分"
            case "disposal-approved": "核准處分"
            case "disposed": "處分"
            case "refused": "拒絕"
            case "report-signer-replaced": "更換報告簽章憑證"
            default: nil
            }
        guard let zh else { return name }
        return self(zh, name)
    }
}
