/// A sentence of a report in its two languages: Traditional Chinese (the glossary's terms) and
/// English. The JSON keeps both (`reason` and `reasonZhTW`, …); the PDF shows those asked for.
public struct ReportText: Sendable, Equatable {
    public var zh: String
    public var en: String

    public init(_ zh: String, _ en: String) {
        self.zh = zh
        self.en = en
    }
}

extension ReportFault {
    /// The fault in Traditional Chinese: what its code means (Docs/Verification.md, "Fault
    /// codes"), then what was expected and found; the verifier's own message, which names the
    /// file or entry, follows in English (`細節`).
    var chinese: String {
        var text = Self.chineseMeaning[code] ?? "驗證失敗（\(code)）"
        if let expected {
            text += "（預期 \(expected)" + (found.map { "，實際 \($0)" } ?? "") + "）"
        }
        return text + "。細節：" + message
    }

    /// The fault in English: the verifier's message, then what was expected and found.
    var english: String {
        var text = message
        if let expected {
            text += " (expected \(expected)" + (found.map { ", found \($0)" } ?? "") + ")"
        }
        return text
    }

    /// What each fault code means, in the glossary's terms (the codes of `VerificationFault`;
    /// a test checks that every code has its sentence).
    public static let chineseMeaning: [String: String] = [
        "entry-missing": "帳本紀錄缺漏：帳本紀錄遭移除",
        "entry-sequence": "帳本紀錄所載序號與其存放位置不符",
        "chain-broken": "雜湊鏈斷裂：帳本紀錄之 prev 非前一筆帳本紀錄之雜湊值",
        "entry-node": "帳本紀錄所載節點非本節點",
        "entry-malformed": "帳本紀錄非標準之監管事件",
        "tree-mismatch": "儲存之 Merkle 樹雜湊值與帳本紀錄不符",
        "unreadable": "無法自帳本讀取經簽章之檢查點",
        "checkpoint-malformed": "保存之檢查點非經簽章之檢查點",
        "bad-signature": "檢查點之數位簽章非節點金鑰所簽",
        "checkpoint-mismatch": "保存之檢查點所簽之帳本或大小與其紀錄不符",
        "entries-missing": "節點所簽之帳本紀錄多於帳本現存者：帳本紀錄遭移除",
        "root-mismatch": "帳本紀錄所得之樹根與節點所簽者不符",
        "latest-mismatch": "最新檢查點非節點所簽之最大者",
        "entries-uncovered": "有帳本紀錄位於最新檢查點之後：尚無經簽章之檢查點涵蓋",
        "inconsistent": "經簽章之檢查點與最新者不一致",
        "index-orphan": "證物索引所指之帳本紀錄並未封存該證物",
        "index-missing": "帳本紀錄封存證物，但證物索引無其紀錄",
        "index-mismatch": "證物索引與帳本紀錄或清單不符",
        "stamp-malformed": "時戳帳本紀錄欠缺必要欄位",
        "stamp-index": "帳本之時戳表與時戳帳本紀錄不符",
        "stamp-subject": "時戳之對象不在帳本中",
        "stamp-imprint": "時戳所蓋之雜湊值非其對象者",
        "stamp-token-missing": "帳本之時戳表缺少時戳憑據",
        "stamp-token-altered": "帳本保存之時戳憑據非帳本紀錄所載者",
        "stamp-anchors-missing": "時戳服務機構 (TSA) 之信任錨缺漏或遭竄改",
        "stamp-invalid": "時戳憑據驗證失敗",
        "stamp-mismatch": "帳本紀錄所載之序號或 genTime 與時戳憑據不符",
        "tsa-chain-missing": "無法讀取節點時戳服務機構之信任錨：其時戳憑據未驗證",
        "checkpoint-unstamped": "檢查點無節點時戳服務機構之有效時戳憑據",
        "key-mismatch": "本庫之驗證金鑰非 --key 所指定者",
        "kept-checkpoint-malformed": "--checkpoint 檔案非經簽章之檢查點",
        "kept-checkpoint-signature": "--checkpoint 檔案非節點金鑰所簽",
        "kept-checkpoint-origin": "--checkpoint 檔案屬於另一帳本",
        "kept-checkpoint-unchecked": "無法讀取本庫最新檢查點以比對 --checkpoint",
        "kept-checkpoint-ahead": "--checkpoint 大於本庫最新檢查點：本庫遭回復或改寫",
        "kept-checkpoint-inconsistent": "--checkpoint 與本庫最新檢查點不一致：歷史遭改寫",
        "entry-incomplete": "封存帳本紀錄欠缺其雜湊值",
        "manifest-digest": "清單遭竄改：其 SHA-256 非帳本紀錄所載者",
        "manifest-malformed": "清單非 JSON",
        "manifest-missing": "證物之清單缺漏",
        "manifest-mismatch": "清單與其帳本紀錄不符",
        "details-missing": "帳本紀錄所指之細節文件缺漏",
        "details-altered": "細節文件遭竄改：其雜湊值非帳本紀錄所載者",
        "handover-proof": "接收之移交證明不成立",
        "event-index": "帳本之監管事件索引與帳本紀錄不符",
        "archive-missing": "證物之封存檔缺漏",
        "archive-unreadable": "證物之封存檔無法讀取",
        "archive-digest": "封存檔遭竄改：其位元組非封存時者",
        "archive-hashdeep": "封存檔之 hashdeep.txt 未列出原始檔案及其雜湊值",
        "archive-manifest": "封存檔之 manifest.json 缺漏、格式錯誤或所載 SHA-256 不同",
        "content-sha256": "封存檔內之原始檔案 SHA-256 與紀錄不符",
        "content-md5": "封存檔內之原始檔案 MD5 與紀錄不符",
        "content-sha1": "封存檔內之原始檔案 SHA-1 與紀錄不符",
        "content-size": "封存檔內之原始檔案大小與紀錄不符",
        "disposal-unproven": "銷毀之處分未經他人核准其申請",
    ]
}
