import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosTimeStamping
import CustosVault
import Foundation
import Logging

/// Asks the configured external authorities, in the background, for a token over every item's
/// SHA-256 and over the latest checkpoint's note body. An item's token is recorded as a
/// `timestamped` entry; a checkpoint's is kept beside the checkpoint (`checkpoint_stamps`), so it
/// calls for no new checkpoint. Sealing never waits for it: an item is
/// "awaiting time stamp" from an authority until its token is checked and recorded.
///
/// An authority that fails (unreachable, slow, an HTTP error, a token that does not check) is
/// asked again after `timestamp-retry-seconds`, doubling up to ten minutes; a bad token is never
/// recorded. When an item has waited longer than `timestamp-alarm-seconds`, an alarm is logged.
/// The skew between genTime and the node's clock is recorded, and flagged above its bound.
/// Sendable: the authorities and their state are the stamper thread's alone; others only call `requestStop`.
final class ExternalStamper: @unchecked Sendable {
    typealias Authority = ExternalAuthorityQueue

    let custody: Custody
    var vault: Vault { custody.vault }
    var actor: String { custody.actor.account }
    let authorities: [Authority]
    let configuration: DaemonConfiguration
    let logger: Logger
    /// Called once when recording tokens fails: a storage failure stops sealing (invariant 8).
    let storageFailed: @Sendable (DaemonError) -> Void
    private let stop = StopSignal()

    /// The most tokens asked of one authority before they are recorded (one ledger transaction).
    static let roundLimit = 64

    /// The configured authorities, their anchors read (and kept in the vault, by SHA-256, for
    /// `verify`); a missing or empty anchors file is refused.
    static func prepare(vault: Vault, configuration: DaemonConfiguration) throws -> [Authority] {
        do {
            return try ExternalAuthorityQueue.prepare(configuration.timeStampAuthorities, vault: vault)
        } catch let error as ExternalAuthorityError {
            throw DaemonError(error.kind == .storage ? .sealingStopped : .authorityUnusable, error.message, cause: error.cause)
        }
    }

    init(
        custody: Custody, authorities: [Authority], configuration: DaemonConfiguration, logger: Logger,
        storageFailed: @escaping @Sendable (DaemonError) -> Void
    ) {
        self.storageFailed = storageFailed
        self.custody = custody
        self.authorities = authorities
        self.configuration = configuration
        self.logger = logger
    }

    func requestStop() { stop.raise() }

    func run() throws {
        // Background work: this thread yields the CPU to sealing (Linux nices threads one by one).
        ThisProcess.lowerThisThreadPriority(toNice: 10)
        let session = try custody.session(cacheKiB: 1024)
        let ledger = session.ledger
        let sources = try ledger.stampSources()
        // Each item is read once: the ledger is read on from the entry after the last item seen.
        var nextSequence: UInt64 = 0
        var latestCheckpointSeen: UInt64 = 0
        func discover() throws {
            let items = try ledger.items(from: nextSequence)
            for record in items {
                nextSequence = record.sequence + 1
                let sealedAt = RFC3339.seconds(record.sealedAt) ?? Int64(Date().timeIntervalSince1970)
                for authority in authorities where sources[record.item]?.contains(authority.name) != true {
                    authority.items.append((record.item, record.sha256, sealedAt))
                }
            }
            let note = try SignedNote(parsing: ledger.latestCheckpoint())
            let checkpoint = try Checkpoint(parsing: note.text)
            let size = checkpoint.size
            guard size > 0, size != latestCheckpointSeen else { return }
            let stamped = Set(try ledger.checkpointStamps(size: size).map(\.source))
            let imprint = OpenSSLSHA256().sha256(Array(note.text.utf8))
            for authority in authorities where !stamped.contains(authority.name) {
                // Only the latest: it covers every entry before it.
                if authority.checkpoint?.size != size { authority.checkpoint = (size, checkpoint.root, imprint) }
            }
            latestCheckpointSeen = size
        }
        while true {
            do {
                try discover()
                for authority in authorities { try round(authority, session: session) }
            } catch let error as DaemonError where error.code == .sealingStopped {
                if let cause = error.cause as? LedgerError, cause.isDiskFull {
                    // A full disk pauses, as sealing does: the tokens are asked again later.
                    logger.warning("the vault's disk is full; external time stamps wait", metadata: ["error": "\(error)"])
                    for authority in authorities {
                        authority.postpone(seconds: configuration.timeStampRetrySeconds, now: SystemClock.monotonic())
                    }
                } else {
                    // Nothing asked again, nothing dropped: the items still await their tokens.
                    storageFailed(error)
                    return
                }
            } catch {
                logger.error("reading the ledger for external time stamps failed; trying again", metadata: ["error": "\(error)"])
            }
            if stop.wait(seconds: busy ? 0.05 : 1) { break }
        }
    }

    /// True when an authority has work and may be asked now.
    private var busy: Bool {
        let now = SystemClock.monotonic()
        return authorities.contains { $0.isDue(now: now) }
    }

    /// Asks one authority for up to `roundLimit` tokens, records those that checked, and backs
    /// off when it fails.
    private func round(_ authority: Authority, session: CustodySession) throws {
        raiseAlarmIfLate(authority)
        guard authority.isDue(now: SystemClock.monotonic()) else { return }
        let checkpoint = authority.checkpoint
        let subjects = authority.subjects(limit: Self.roundLimit)
        var checkpointToken: [UInt8]?
        var events = [NewCustodyEvent]()
        var failure: TimeStampFailure?
        for (subject, item, imprint) in subjects {
            if stop.isSet { break }
            do {
                let token = try TimeStampClient.stamp(sha256: imprint, authority: authority.client)
                if ExternalAuthorityQueue.skewExceeded(token, boundSeconds: configuration.timeStampSkewSeconds) {
                    logger.warning(
                        "the node's clock differs from the authority's genTime by more than the bound; the token is kept and flagged",
                        metadata: [
                            "authority": "\(authority.name)", "skewSeconds": "\(token.skewSeconds)",
                            "boundSeconds": "\(configuration.timeStampSkewSeconds)",
                        ])
                }
                if case .checkpoint = subject {
                    // Kept beside the checkpoint, not as an entry (which the checkpoint would not cover).
                    checkpointToken = token.response
                    continue
                }
                events.append(
                    authority.event(
                        for: token, item: item, imprint: imprint, actor: actor,
                        skewBoundSeconds: configuration.timeStampSkewSeconds, now: SystemClock.now()))
            } catch {
                // Only the client throws here: a TimeStampFailure.
                failure = error
                break
            }
        }
        if let checkpoint, let checkpointToken {
            do {
                try session.recordCheckpointStamp(
                    size: checkpoint.size, root: checkpoint.root, source: authority.name, anchors: authority.anchors,
                    token: checkpointToken)
            } catch {
                throw DaemonError(
                    .sealingStopped, "recording an external time stamp of the checkpoint failed: \(error)", cause: error)
            }
            authority.checkpoint = nil
            logger.info(
                "an external time stamp of the checkpoint recorded",
                metadata: ["authority": "\(authority.name)", "size": "\(checkpoint.size)"])
        }
        if !events.isEmpty {
            let appended: [CustodyEntry]
            do {
                appended = try session.recordStamps(events)
            } catch {
                throw DaemonError(.sealingStopped, "recording external time stamps failed: \(error)", cause: error)
            }
            let done = Set(appended.map(\.item))
            authority.items.removeAll { done.contains($0.item) }
            logger.info(
                "external time stamps recorded",
                metadata: ["authority": "\(authority.name)", "count": "\(events.count)"])
        }
        if let failure {
            let wait = authority.failed(
                failure, now: SystemClock.monotonic(), retrySeconds: configuration.timeStampRetrySeconds)
            logger.warning(
                "an external time-stamping authority failed; the items await its token and it is asked again later",
                metadata: [
                    "authority": "\(authority.name)", "code": "\(failure.code)", "reason": "\(failure.message)",
                    "retryInSeconds": "\(Int(wait.rounded(.up)))",
                    "awaiting": "\(authority.items.count + (authority.checkpoint == nil ? 0 : 1))",
                ])
        } else if !events.isEmpty || checkpointToken != nil {
            if authority.answered() {
                logger.info(
                    "an external time-stamping authority answers again", metadata: ["authority": "\(authority.name)"])
            }
        }
        if authority.alarmCleared() {
            logger.notice("ALARM cleared: no item awaits a time stamp", metadata: ["authority": "\(authority.name)"])
        }
    }

    /// An alarm, once per episode, when the oldest item awaiting this authority is too old.
    private func raiseAlarmIfLate(_ authority: Authority) {
        guard
            let late = authority.alarmDue(
                nowSeconds: Int64(Date().timeIntervalSince1970), alarmSeconds: configuration.timeStampAlarmSeconds)
        else { return }
        logger.critical(
            "ALARM: items await a time stamp from an external authority for longer than the alarm time",
            metadata: [
                "authority": "\(authority.name)", "url": "\(authority.client.url)",
                "awaiting": "\(authority.items.count)", "oldestItem": "\(late.item)",
                "waitedSeconds": "\(late.waitedSeconds)", "lastProblem": "\(authority.lastProblem)",
            ])
    }
}
