import CustosFormats
import CustosLedger

/// The free text a person gives a custody event (a note, a reason, an examiner's name): one or
/// more characters of UTF-8, without control characters, within a size. It goes into the event's
/// details document, never into an entry.
public enum CustodyText {
    /// The most UTF-8 bytes a note or a reason may have.
    public static let maximumBytes = 4096

    /// Refuses (`CustodyError.refused`, naming `subject` and `what`) an empty text or one of
    /// spaces only, one longer than `limit` bytes of UTF-8, or one with a control character: C0
    /// (below U+0020, newlines and tabs included), DEL (U+007F) or C1 (U+0080 to U+009F).
    public static func check(_ text: String, what: String, subject: String, limit: Int = maximumBytes) throws {
        guard !text.allSatisfy(\.isWhitespace) else {
            throw CustodyError(.refused, "\(subject): \(what) is empty; nothing recorded")
        }
        let bytes = text.utf8.count
        guard bytes <= limit else {
            throw CustodyError(
                .refused, "\(subject): \(what) is \(bytes) bytes of UTF-8, longer than \(limit); nothing recorded")
        }
        if let bad = text.unicodeScalars.first(where: isControl) {
            throw CustodyError(
                .refused,
                "\(subject): \(what) holds the control character U+\(hex4(bad.value)) (one line of text, without control characters); nothing recorded"
            )
        }
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || scalar.value == 0x7f || (0x80...0x9f).contains(scalar.value)
    }

    /// Four hex digits, upper case.
    private static func hex4(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

extension CustodySession {
    /// Adds a note to an item's record: one `annotated` entry, whose details document holds the
    /// note (and the examiner, when given); the entry holds nothing of it but the document's
    /// digest. Refuses a note that `CustodyText.check` refuses, and records nothing then.
    @discardableResult
    public func annotate(_ record: ItemRecord, note: String) throws -> RecordedEvent {
        try CustodyText.check(note, what: "the note", subject: "item \(record.item)")
        try checkExaminer()
        return try recordEvent(.annotated, items: [record.item], details: ["note": .string(note)])
    }

    /// Refuses an examiner's name with control characters or over 256 bytes.
    func checkExaminer() throws {
        if let examiner = custody.actor.examiner {
            try CustodyText.check(examiner, what: "the examiner's name", subject: "--examiner", limit: 256)
        }
    }
}
