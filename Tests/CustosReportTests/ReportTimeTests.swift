import CustosFormats
import CustosReport
import Testing

@Suite("report times: ISO 8601 in the report's time zone and the ROC date")
struct ReportTimeTests {
    @Test(arguments: [
        ("2026-12-01T16:00:00Z", "2026-12-02T00:00:00+08:00", "中華民國115年12月2日"),
        ("2026-12-02T00:47:54.123Z", "2026-12-02T08:47:54.123+08:00", "中華民國115年12月2日"),
        ("2026-11-25T15:59:59Z", "2026-11-25T23:59:59+08:00", "中華民國115年11月25日"),
        ("1912-01-01T00:00:00Z", "1912-01-01T08:00:00+08:00", "中華民國1年1月1日"),
        ("2024-02-29T12:00:00Z", "2024-02-29T20:00:00+08:00", "中華民國113年2月29日"),
        // An RFC 3161 genTime (GeneralizedTime).
        ("20261202005738.89Z", "2026-12-02T08:57:38.89+08:00", "中華民國115年12月2日"),
        ("20261231170000Z", "2027-01-01T01:00:00+08:00", "中華民國116年1月1日"),
    ])
    func aUTCTimeIsGivenInTaiwanTimeWithItsROCDate(utc: String, time: String, roc: String) throws {
        let converted = try #require(ReportTime(utc, in: .taiwan))
        #expect(converted.time == time)
        #expect(converted.rocDate == roc)
        #expect(converted.offset == "+08:00")
    }

    /// A zone with daylight saving time gives each time at its offset of that instant: Berlin is
    /// UTC+01:00 in winter and UTC+02:00 in summer, and the second after each change shows it
    /// (2026-03-29 01:00 UTC, 2026-10-25 01:00 UTC).
    @Test(arguments: [
        ("2026-01-15T12:00:00Z", "2026-01-15T13:00:00+01:00"),
        ("2026-07-15T12:00:00.5Z", "2026-07-15T14:00:00.5+02:00"),
        ("2026-03-29T00:59:59Z", "2026-03-29T01:59:59+01:00"),
        ("2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00"),
        ("2026-10-25T00:59:59Z", "2026-10-25T02:59:59+02:00"),
        ("2026-10-25T01:00:00Z", "2026-10-25T02:00:00+01:00"),
    ])
    func aZoneWithDaylightSavingTimeGivesTheOffsetOfEachInstant(utc: String, time: String) throws {
        let berlin = try #require(ReportTimeZone(named: "Europe/Berlin"))
        let converted = try #require(ReportTime(utc, in: berlin))
        #expect(converted.time == time)
        #expect(converted.offset == String(time.suffix(6)))
        #expect(berlin.changesOffset(after: 1_767_225_600))
        #expect(!ReportTimeZone.taiwan.changesOffset(after: 1_767_225_600))
    }

    /// The ROC date is the date in the zone: west of Greenwich it can be the day before UTC's.
    @Test func theROCDateIsTheZonesDateAndOffsetsMayBeNegativeOrOfHalfHours() throws {
        let newYork = try #require(ReportTimeZone(named: "America/New_York"))
        let west = try #require(ReportTime("2026-12-02T03:00:00Z", in: newYork))
        #expect(west.time == "2026-12-01T22:00:00-05:00" && west.rocDate == "中華民國115年12月1日")
        let kolkata = try #require(ReportTimeZone(named: "Asia/Kolkata"))
        #expect(ReportTime("2026-12-01T20:00:00Z", in: kolkata)?.time == "2026-12-02T01:30:00+05:30")
        let tokyo = try #require(ReportTimeZone(named: "Asia/Tokyo"))
        #expect(ReportTime("2026-12-01T15:00:00Z", in: tokyo)?.rocDate == "中華民國115年12月2日")
        #expect(ReportTime("2026-12-01T15:00:00Z", in: try #require(ReportTimeZone(named: "UTC")))?.offset == "+00:00")
    }

    @Test(arguments: [
        "Mars/Olympus", "asia/taipei", "Asia/Taipei ", "", "GMT+8", "../../etc/passwd", "Asia/Taipei\n", "CST", "EST",
        "PRC", "ROC", "GMT0", "SystemV/AST4", "Factory", "Etc/GMT+8", "Asia//Taipei", "Asia/",
    ])
    func aNameThatIsNoTimeZoneIsNone(name: String) {
        #expect(ReportTimeZone(named: name) == nil)
    }

    /// A time declared with an offset (a seizure time, `+08:00` or another) is the same instant,
    /// given in the report's zone; its fraction is kept.
    @Test(arguments: [
        ("2026-11-20T14:30:00+08:00", "2026-11-20T14:30:00+08:00", "中華民國115年11月20日"),
        ("2026-11-20T01:30:00.250+09:00", "2026-11-20T00:30:00.250+08:00", "中華民國115年11月20日"),
        ("2026-11-19T20:00:00-05:00", "2026-11-20T09:00:00+08:00", "中華民國115年11月20日"),
        ("2026-11-20T00:00:00+05:30", "2026-11-20T02:30:00+08:00", "中華民國115年11月20日"),
        ("2026-11-20T00:00:00-00:00", "2026-11-20T08:00:00+08:00", "中華民國115年11月20日"),
    ])
    func aTimeWithAnOffsetIsTheSameInstant(declared: String, time: String, roc: String) throws {
        let converted = try #require(ReportTime(declared, in: .taiwan))
        #expect(converted.time == time && converted.rocDate == roc)
    }

    @Test func notATimeIsNone() {
        #expect(ReportTime("yesterday", in: .taiwan) == nil)
        #expect(ReportTime("", in: .taiwan) == nil)
        #expect(ReportTime("2026-11-20T14:30:00", in: .taiwan) == nil)
        #expect(ReportTime("2026-11-20T14:30:00+8:00", in: .taiwan) == nil)
        #expect(ReportTime("0000-01-01T00:00:00+23:59", in: .taiwan) == nil)
        #expect(ReportTime("0001-01-01T00:00:00Z", in: .taiwan) == nil)
        // A leap second stays on its date.
        #expect(ReportTime("2026-12-31T23:59:60+08:00", in: .taiwan)?.rocDate == "中華民國115年12月31日")
    }
}
