/// RFC 3339 date-times in UTC, computed without the C library so formats stay pure.
public enum RFC3339 {
    /// `2026-11-25T05:00:00Z`, with `fractionDigits` digits of the second when asked (0, 3, 6 or 9).
    public static func format(seconds: Int64, nanoseconds: Int64 = 0, fractionDigits: Int = 0) -> String {
        var days = seconds / 86_400
        var rest = seconds % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        var text =
            pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(rest / 3600, 2) + ":"
            + pad(rest % 3600 / 60, 2) + ":" + pad(rest % 60, 2)
        if fractionDigits > 0 {
            let fraction = pad(nanoseconds, 9)
            text += "." + fraction.prefix(fractionDigits)
        }
        return text + "Z"
    }

    /// True for an RFC 3339 `date-time` (section 5.6): `2026-11-20T14:30:00+08:00`, `…Z`,
    /// with an optional fraction of the second; field ranges are checked (the day against its month).
    public static func isValid(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        func byte(_ index: Int, _ expected: Character...) -> Bool {
            index < bytes.count && expected.contains(Character(Unicode.Scalar(bytes[index])))
        }
        guard let year = number(0..<4), byte(4, "-"), let month = number(5..<7), byte(7, "-"),
            let day = number(8..<10), byte(10, "T", "t"), let hour = number(11..<13), byte(13, ":"),
            let minute = number(14..<16), byte(16, ":"), let second = number(17..<19)
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day), hour < 24, minute < 60, second <= 60
        else { return false }
        var index = 19
        if byte(index, ".") {
            index += 1
            let start = index
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
            guard index > start else { return false }
        }
        if byte(index, "Z", "z") { return index + 1 == bytes.count }
        guard byte(index, "+", "-"), let offsetHour = number(index + 1..<index + 3), byte(index + 3, ":"),
            let offsetMinute = number(index + 4..<index + 6)
        else { return false }
        return offsetHour < 24 && offsetMinute < 60 && index + 6 == bytes.count
    }

    /// Seconds since the epoch of an RFC 3339 date-time (`…Z` as `format` writes it, or with an
    /// offset: `2026-11-20T14:30:00+08:00` is 06:30 UTC); any fraction dropped; nil for anything
    /// else.
    public static func seconds(_ text: String) -> Int64? {
        guard isValid(text) else { return nil }
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64 {
            bytes[range].reduce(0) { $0 * 10 + Int64($1 - 0x30) }
        }
        let days = days(fromCivil: number(0..<4), number(5..<7), number(8..<10))
        // A leap second (`:60`) is the last second of its minute: the same date, not the next.
        let local = days * 86_400 + number(11..<13) * 3600 + number(14..<16) * 60 + min(number(17..<19), 59)
        // The offset, the last six bytes when it is not Z (isValid checked its form).
        guard let last = bytes.last, last != UInt8(ascii: "Z"), last != UInt8(ascii: "z") else { return local }
        let end = bytes.count
        let offset = number(end - 5..<end - 3) * 3600 + number(end - 2..<end) * 60
        return bytes[end - 6] == UInt8(ascii: "+") ? local - offset : local + offset
    }

    /// Howard Hinnant's days-from-civil algorithm.
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// Howard Hinnant's days-to-civil algorithm.
    public static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
