import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosTimeStamping
import CustosVault

/// A file sealed and stamped, not yet recorded: `CustodySession.record` appends its entries.
public struct SealedEvidence: Sendable {
    public var pending: PendingSeal
    /// The node's `timestamped` event over the evidence's SHA-256; nil for a vault without a TSA
    /// or when the TSA failed (`stampFailure` says why).
    public var stamp: NewCustodyEvent?
    public var stampFailure: String?

    public var item: String { pending.item }
}

/// One pass over a file and the node's time stamp over its SHA-256, on the caller's thread:
/// the first half of the seal workflow, shared by `ingest` and the daemon's workers. One station
/// per thread (it holds the node TSA's signing context); nothing is recorded here.
public final class SealingStation {
    public let custody: Custody
    private let sealer: Sealer
    private let stamper: NodeTimeStamper?

    init(custody: Custody) throws {
        self.custody = custody
        self.sealer = Sealer(vault: custody.vault, context: custody.context, logger: custody.logger)
        self.stamper = try NodeTimeStamper.make(vault: custody.vault)
    }

    /// A station with a stamper already loaded (a session shares its own), or none: one whose
    /// node TSA could not be loaded seals without stamps (the daemon logs why).
    init(custody: Custody, stamper: NodeTimeStamper?) {
        self.custody = custody
        self.sealer = Sealer(vault: custody.vault, context: custody.context, logger: custody.logger)
        self.stamper = stamper
    }

    /// Seals one file (one pass: digests, archive, manifest; see `Sealer.seal`) and stamps it.
    /// With `.batch`, nothing is synced: `CustodySession.record(_:sync:)` syncs the batch once.
    /// Throws `SealingError` when the file is not sealed; a failed stamp is not an error here
    /// (the seal stands; `stampFailure` says why it has no stamp).
    public func seal(
        _ request: SealRequest, durability: Vault.Durability = .immediate, now: () -> String = SystemClock.now
    ) throws -> SealedEvidence {
        let pending = try sealer.seal(request, durability: durability, now: now)
        var sealed = SealedEvidence(pending: pending)
        if let stamper {
            do {
                sealed.stamp = try stamper.stamp(
                    .item, imprint: pending.digests.sha256, item: pending.item, actor: custody.actor.account,
                    now: now())
            } catch {
                sealed.stampFailure = "\(error)"
            }
        }
        return sealed
    }
}
