import CustosVault
import Foundation

/// The time zone a report gives its times in: the vault's (`custos init --time-zone`), Taiwan
/// time (`Asia/Taipei`) by default. Its offset is the one of each instant: a zone with daylight
/// saving time (`Europe/Berlin`) is UTC+01:00 in January and UTC+02:00 in July.
public struct ReportTimeZone: Sendable, Equatable {
    /// The zone's IANA name, as the vault's configuration names it.
    public let name: String
    private let zone: TimeZone

    /// Taiwan time, the zone of a vault that names none.
    public static let taiwan = ReportTimeZone(named: VaultConfiguration.defaultTimeZone)!

    /// The zone named `name`; nil when it is not one `VaultConfiguration.isTimeZoneName` accepts.
    public init?(named name: String) {
        guard VaultConfiguration.isTimeZoneName(name), let zone = TimeZone(identifier: name) else { return nil }
        self.name = name
        self.zone = zone
    }

    /// The zone of `vault`'s reports.
    public init(of vault: Vault) throws {
        let name = vault.configuration.reportTimeZone
        guard let zone = ReportTimeZone(named: name) else {
            throw VaultError(
                .badConfiguration,
                "\(vault.configurationPath): timeZone \"\(name)\" is not a time zone this system knows")
        }
        self = zone
    }

    /// The zone's offset from UTC at `seconds` since the epoch, in seconds, whole minutes (an
    /// offset of a local mean time, `+08:06` in Taipei before 1896, drops its seconds: ISO 8601
    /// offsets have none, and the time is then given in that offset, so it names the same instant).
    public func offset(at seconds: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds)))) / 60 * 60
    }

    /// Whether the zone changes its offset after `seconds` (daylight saving time): a report
    /// then says that each time gives its own.
    public func changesOffset(after seconds: Int64) -> Bool {
        zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(seconds))) != nil
    }

    public static func == (lhs: ReportTimeZone, rhs: ReportTimeZone) -> Bool { lhs.name == rhs.name }
}
