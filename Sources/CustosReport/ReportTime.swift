import CustosFormats

/// A time as a report gives it: ISO 8601 with its offset, in the report's time zone (Taiwan
/// time, UTC+08:00, unless the node is configured otherwise), and the date of the Republic of
/// China calendar that Taiwan's courts write (中華民國115年12月2日 is 2026-12-02: the ROC year is the
/// Gregorian year − 1911), of the same local date.
public struct ReportTime: Sendable, Equatable {
    /// `2026-12-02T08:47:54.123+08:00`.
    public var time: String
    /// `中華民國115年12月2日`.
    public var rocDate: String
    /// The offset of `time`: `+08:00`, `-05:00`.
    public var offset: String
    /// Whole seconds since the epoch.
    public var seconds: Int64

    /// The time `text` (RFC 3339: in UTC, `…Z`, as the node records times, or with an offset, as
    /// an examiner may declare a seizure time) in `zone`; nil for anything else.
    /// An RFC 3161 `genTime` (ASN.1 GeneralizedTime, `20261202005738.89Z`) is read too.
    public init?(_ text: String, in zone: ReportTimeZone) {
        let text = Self.rfc3339(generalizedTime: text) ?? text
        // (Not before the year 1 in the zone either: the ROC and ISO forms need a year ≥ 1.)
        guard let seconds = RFC3339.seconds(text), seconds >= Self.firstSecondOfYearOne + 86_400 else { return nil }
        // Keep the fraction the node recorded (milliseconds, or none).
        var fraction = ""
        if let dot = text.firstIndex(of: ".") {
            fraction = String(text[dot...].prefix { $0 == "." || $0.isNumber })
        }
        self.init(seconds: seconds, fraction: fraction, in: zone)
    }

    /// 0001-01-01T00:00:00Z, in seconds since the epoch.
    static let firstSecondOfYearOne: Int64 = -62_135_596_800

    /// Whole seconds since the epoch in `zone`, at its offset of that instant, with `fraction`
    /// (`.123`) as written.
    public init(seconds: Int64, fraction: String = "", in zone: ReportTimeZone) {
        self.seconds = seconds
        let offsetSeconds = zone.offset(at: seconds)
        let local = seconds + offsetSeconds
        var days = local / 86400
        var secondOfDay = local % 86400
        if secondOfDay < 0 {
            secondOfDay += 86400
            days -= 1
        }
        let (year, month, day) = RFC3339.civil(fromDays: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        time =
            "\(yearText)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60))"
            + ":\(two(secondOfDay % 60))\(fraction)"
        let minutes = abs(offsetSeconds) / 60
        offset = (offsetSeconds < 0 ? "-" : "+") + "\(two(minutes / 60)):\(two(minutes % 60))"
        time += offset
        rocDate = Self.rocDate(year: year, month: month, day: day)
    }

    /// `YYYYMMDDhhmmss[.fff]Z` as RFC 3339 (`YYYY-MM-DDThh:mm:ss[.fff]Z`); nil for anything else.
    static func rfc3339(generalizedTime text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 15, bytes.last == UInt8(ascii: "Z"),
            bytes[0..<14].allSatisfy({ (0x30...0x39).contains($0) })
        else { return nil }
        let fraction = bytes[14..<(bytes.count - 1)]
        guard
            fraction.isEmpty
                || (fraction.first == UInt8(ascii: ".") && fraction.count > 1
                    && fraction.dropFirst().allSatisfy({ (0x30...0x39).contains($0) }))
        else { return nil }
        func part(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        return "\(part(0..<4))-\(part(4..<6))-\(part(6..<8))T\(part(8..<10)):\(part(10..<12)):\(part(12..<14))"
            + String(decoding: fraction, as: UTF8.self) + "Z"
    }

    /// `中華民國115年12月2日`; a year before 1912 is written 民國前N年.
    static func rocDate(year: Int64, month: Int64, day: Int64) -> String {
        let roc = year - 1911
        let yearText = roc >= 1 ? "中華民國\(roc)年" : "民國前\(1 - roc)年"
        return "\(yearText)\(month)月\(day)日"
    }

    public var json: JSONValue { .object(["time": .string(time), "rocDate": .string(rocDate)]) }
}
