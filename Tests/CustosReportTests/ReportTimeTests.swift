import CustosFormats
import CustosReport
import Testing

@Suite("report times: ISO 8601 in Taiwan time and the ROC date")
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
        let converted = try #require(ReportTime(utc))
        #expect(converted.time == time)
        #expect(converted.rocDate == roc)
    }

    @Test func notATimeIsNone() {
        #expect(ReportTime("yesterday") == nil)
        #expect(ReportTime("") == nil)
    }
}
