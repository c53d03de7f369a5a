import CustosFileSystem
import CustosFormats

/// Decides when a file in the inbox is ready to seal: it has been closed (or was found by a
/// scan), and its size and modification time have not changed for the settle time. A slow copy
/// (an upload taking minutes) keeps changing, so it is sealed once, complete.
///
/// Pure bookkeeping: the caller gives it observations and the time, so it is tested without
/// waiting.
public struct SettleTracker: Sendable {
    /// A file seen in the inbox and what it looked like.
    struct Observation: Sendable {
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
        var inode: UInt64
        /// When size and mtime were last seen to change (monotonic seconds).
        var stableSince: Double
    }

    /// How long size and mtime must stay the same.
    public let settleSeconds: Double
    private var observations: [RawPath: Observation] = [:]

    public init(settleSeconds: Double) {
        self.settleSeconds = settleSeconds
    }

    /// The number of files being watched for stability.
    public var count: Int { observations.count }

    /// Records what a file looks like now. A change of size, mtime or inode restarts its clock.
    public mutating func observe(_ path: RawPath, status: FileStatus, now: Double) {
        let observation = Observation(
            size: status.size, modifiedSeconds: Int(status.modificationTime.seconds),
            modifiedNanoseconds: Int(status.modificationTime.nanoseconds), inode: status.inode, stableSince: now)
        if let previous = observations[path], previous.size == observation.size,
            previous.modifiedSeconds == observation.modifiedSeconds,
            previous.modifiedNanoseconds == observation.modifiedNanoseconds, previous.inode == observation.inode
        {
            return
        }
        observations[path] = observation
    }

    /// Forgets a file (sealed, refused, or gone).
    public mutating func forget(_ path: RawPath) {
        observations[path] = nil
    }

    /// The files whose size and mtime have not changed for the settle time, in path order.
    public func settled(now: Double) -> [RawPath] {
        settled(now: now, limit: .max).sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    /// Up to `limit` settled files, in no particular order: one pass, no sorting, for a caller
    /// that asks many times a second while tens of thousands of files wait.
    public func settled(now: Double, limit: Int) -> [RawPath] {
        var found = [RawPath]()
        guard limit > 0 else { return found }
        for (path, observation) in observations where now - observation.stableSince >= settleSeconds {
            found.append(path)
            if found.count == limit { break }
        }
        return found
    }

    /// Whether `path` has been unchanged for the settle time.
    public func isSettled(_ path: RawPath, now: Double) -> Bool {
        guard let observation = observations[path] else { return false }
        return now - observation.stableSince >= settleSeconds
    }

    /// How long `path` has been unchanged (0 when it is not watched).
    public func stableFor(_ path: RawPath, now: Double) -> Double {
        guard let observation = observations[path] else { return 0 }
        return now - observation.stableSince
    }

    /// When the next file could settle, if any is waiting (for a timer).
    public func nextDeadline() -> Double? {
        observations.values.map { $0.stableSince + settleSeconds }.min()
    }
}
