import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosVault

/// One configured external time-stamping authority as the node uses it, and the policy of asking
/// it: what still awaits its token (items in ledger order, the latest checkpoint), the back-off
/// after a failure (doubling from the retry time up to ten minutes), the alarm once per episode
/// when an item has waited too long, and the `timestamped` event a checked token becomes.
/// Confined to the one thread that asks the authorities (the daemon's `timestamps` thread).
public final class ExternalAuthorityQueue {
    /// The configured name: the token's `source` in entries and reports.
    public let name: String
    public let client: ExternalAuthority
    /// The SHA-256 of its anchors file, kept in the vault as `tsa/anchors/<sha256>.pem`.
    public let anchors: Hash
    /// Items awaiting its token, in ledger order: id, imprint, sealed at (seconds).
    public var items: [(item: String, imprint: Hash, sealedAt: Int64)] = []
    /// The latest checkpoint, when it awaits this authority's token (only the latest: it covers
    /// every entry before it).
    public var checkpoint: (size: UInt64, root: Hash, imprint: Hash)?
    public private(set) var failures = 0
    /// When (monotonic seconds) it may be asked again.
    public private(set) var nextAttempt = 0.0
    public private(set) var lastProblem = ""
    public private(set) var alarmRaised = false

    /// The longest wait between attempts.
    public static let longestRetry = 600.0

    public init(name: String, client: ExternalAuthority, anchors: Hash) {
        self.name = name
        self.client = client
        self.anchors = anchors
    }

    /// What it has to stamp: the checkpoint first, then items, at most `limit` in all.
    public func subjects(limit: Int) -> [(subject: TimeStampRecord.Subject, item: String, imprint: Hash)] {
        var subjects = [(subject: TimeStampRecord.Subject, item: String, imprint: Hash)]()
        if let checkpoint { subjects.append((.checkpoint(size: checkpoint.size), "", checkpoint.imprint)) }
        for pending in items.prefix(max(0, limit - subjects.count)) {
            subjects.append((.item, pending.item, pending.imprint))
        }
        return subjects
    }

    /// True when it has work and may be asked at `now` (monotonic seconds).
    public func isDue(now: Double) -> Bool {
        (checkpoint != nil || !items.isEmpty) && nextAttempt <= now
    }

    /// Waits `seconds` before it is asked again (a full disk: nothing was its fault).
    public func postpone(seconds: Double, now: Double) {
        nextAttempt = now + seconds
    }

    /// A failure: the wait before the next attempt, doubling from `retrySeconds`.
    public func failed(_ failure: TimeStampFailure, now: Double, retrySeconds: Double) -> Double {
        failures += 1
        let wait = min(retrySeconds * pow2(min(failures - 1, 20)), Self.longestRetry)
        nextAttempt = now + wait
        lastProblem = "\(failure.code): \(failure.message)"
        return wait
    }

    /// An answer that checked: true when it had been failing (it answers again).
    public func answered() -> Bool {
        defer { failures = 0 }
        return failures > 0
    }

    /// The oldest item and how long it has waited, once per episode, when it has waited longer
    /// than `alarmSeconds` at `nowSeconds` (wall clock, seconds since the epoch).
    public func alarmDue(nowSeconds: Int64, alarmSeconds: Double) -> (item: String, waitedSeconds: Int64)? {
        guard !alarmRaised, let oldest = items.first else { return nil }
        let waited = nowSeconds - oldest.sealedAt
        guard Double(waited) > alarmSeconds else { return nil }
        alarmRaised = true
        return (oldest.item, waited)
    }

    /// True once, when no item awaits any more after an alarm.
    public func alarmCleared() -> Bool {
        guard items.isEmpty, alarmRaised else { return false }
        alarmRaised = false
        return true
    }

    /// The `timestamped` event of a checked token over an item: its source, anchors and skew
    /// (flagged above `skewBoundSeconds`), the token kept with it.
    public func event(
        for token: CheckedToken, item: String, imprint: Hash, actor: String, skewBoundSeconds: Double, now: String
    ) -> NewCustodyEvent {
        let record = TimeStampRecord(
            subject: .item, imprint: imprint, token: OpenSSLSHA256().sha256(token.response),
            authority: token.info.authority, policy: token.info.policy, serial: token.info.serial,
            genTime: token.info.genTime, skewSeconds: token.skewSeconds, source: name, anchors: anchors,
            skewExceeded: Self.skewExceeded(token, boundSeconds: skewBoundSeconds))
        return NewCustodyEvent(
            type: .timestamped, item: item, time: now, actor: actor, details: record.details, token: token.response)
    }

    /// True when genTime and the node's clock differ by more than the bound.
    public static func skewExceeded(_ token: CheckedToken, boundSeconds: Double) -> Bool {
        Double(abs(token.skewSeconds)) > boundSeconds
    }

    private func pow2(_ exponent: Int) -> Double { Double(1 << exponent) }
}

/// A configured external authority, as the daemon's configuration names it.
public struct ExternalAuthoritySetting: Sendable, Equatable {
    public var name: String
    public var url: String = ""
    public var anchors = RawPath(bytes: [])
    public var timeoutSeconds: Double = 10
    /// The line it starts on, for messages.
    public var line: Int?

    public init(name: String, line: Int? = nil) {
        self.name = name
        self.line = line
    }
}

/// Why the configured authorities cannot be used: the anchors cannot be read (`unusable`), or
/// keeping them in the vault failed (`storage`: sealing must stop, invariant 8).
public struct ExternalAuthorityError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case unusable, storage }
    public let kind: Kind
    public let message: String
    public let cause: (any Error)?

    public var description: String { message }
}

extension ExternalAuthorityQueue {
    /// The configured authorities, their anchors read, refused when missing or empty, and kept in
    /// the vault by SHA-256 (with the list of authorities), so that `verify` checks every token
    /// against its own authority's anchors.
    public static func prepare(_ settings: [ExternalAuthoritySetting], vault: Vault) throws -> [ExternalAuthorityQueue] {
        var prepared = [ExternalAuthorityQueue]()
        for setting in settings {
            let pem: [UInt8]
            let anchors: [Certificate]
            do {
                pem = try FileSystem.readFile(setting.anchors)
                anchors = try Certificate.all(pem: pem)
            } catch {
                throw ExternalAuthorityError(
                    kind: .unusable,
                    message: "timestamp-authorities.\(setting.name): the anchors \(setting.anchors) cannot be read: \(error)",
                    cause: error)
            }
            guard !anchors.isEmpty else {
                throw ExternalAuthorityError(
                    kind: .unusable,
                    message: "timestamp-authorities.\(setting.name): \(setting.anchors) holds no PEM certificate",
                    cause: nil)
            }
            let hash: Hash
            do { hash = try vault.storeAnchors(pem) } catch {
                throw ExternalAuthorityError(
                    kind: .storage, message: "keeping the anchors of \(setting.name) in the vault failed: \(error)",
                    cause: error)
            }
            prepared.append(
                ExternalAuthorityQueue(
                    name: setting.name,
                    client: ExternalAuthority(url: setting.url, anchors: anchors, timeoutSeconds: setting.timeoutSeconds),
                    anchors: hash))
        }
        do {
            try vault.recordExternalAuthorities(
                prepared.map { Vault.ExternalAuthorityRecord(name: $0.name, url: $0.client.url, anchors: $0.anchors) })
        } catch {
            throw ExternalAuthorityError(
                kind: .storage, message: "recording the external authorities in the vault failed: \(error)", cause: error)
        }
        return prepared
    }
}
