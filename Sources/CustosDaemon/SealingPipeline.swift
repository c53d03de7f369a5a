import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosVault
import Foundation
import Logging
import Synchronization

/// What became of a file handed to the pipeline; the watcher acts on it.
enum SealOutcome: Sendable {
    /// Sealed, recorded and moved out of the inbox (or deleted).
    case released
    /// Sealed and recorded, but it could not leave the inbox; it is released at the next start.
    case releaseFailed
    /// Refused and moved to `rejected/`.
    case rejected
    /// Gone before it could be read.
    case gone
    /// It changed, or was still open for writing: watch it settle again.
    case resettle
    /// It could not be read (or the disk is full): try again later.
    case retry
}

/// The sealing pipeline: worker threads seal files (one pass each: digests and archive), a
/// committer thread makes each batch durable with one file-system sync, records it in one ledger
/// transaction together with the release journal, then releases the originals.
///
/// Durability order, per batch: archives, manifests and their names written -> the vault's file
/// system synced (one syncfs for the batch: every archive's bytes on disk) -> ledger commit (entries + release journal) -> originals moved out of the inbox -> inbox
/// synced -> journal rows removed (in the next transaction). A crash anywhere leaves each file in
/// the inbox or sealed once; start-up reconciliation finishes the rest.
/// Sendable: its threads share only BlockingQueues, StopSignals and Mutexes; the rest is immutable.
final class SealingPipeline: @unchecked Sendable {
    /// A sealed file waiting for its batch's commit.
    struct Sealed {
        var path: RawPath
        var components: [[UInt8]]
        /// Sealed and stamped by the node's TSA (when it could), recorded in one transaction.
        var evidence: SealedEvidence
        /// The file's own sidecar as read at sealing (nil: none was read).
        var sidecar: FileIdentity?
        var pending: PendingSeal { evidence.pending }
    }

    let vault: Vault
    let layout: InboxLayout
    let configuration: DaemonConfiguration
    let custody: Custody
    let logger: Logger
    let outcomes: BlockingQueue<(RawPath, SealOutcome)>
    /// The vault's and the inbox's file systems, synced once a batch (descriptors held open so
    /// that no write-back error goes unseen).
    let vaultSync: FileSystemSync
    let inboxSync: FileSystemSync

    private let work = BlockingQueue<RawPath>()
    private let sealed = BlockingQueue<Sealed>()
    private let stop = StopSignal()
    private let workersRunning = Mutex(0)
    /// The first storage failure: sealing stops.
    private let failure = Mutex<DaemonError?>(nil)
    /// When a full disk was last reported, to say it once per episode.
    private let diskFull = Mutex(false)

    /// The most results one ledger transaction records.
    static let batchLimit = 512

    init(
        custody: Custody, layout: InboxLayout, configuration: DaemonConfiguration,
        logger: Logger, outcomes: BlockingQueue<(RawPath, SealOutcome)>, vaultSync: FileSystemSync,
        inboxSync: FileSystemSync
    ) {
        self.vaultSync = vaultSync
        self.inboxSync = inboxSync
        self.custody = custody
        self.vault = custody.vault
        self.layout = layout
        self.configuration = configuration
        self.logger = logger
        self.outcomes = outcomes
    }

    /// Files queued and not yet taken by a worker.
    var queued: Int { work.count }

    func submit(_ path: RawPath) { work.push(path) }

    /// Asks the pipeline to finish: seals in progress complete and are committed and released;
    /// queued files stay in the inbox for the next start.
    func requestStop() {
        stop.raise()
        work.close()
    }

    var storageFailure: DaemonError? { failure.withLock { $0 } }

    /// Runs the workers and the committer until stopped (or a storage failure, which throws).
    func run() throws {
        let session = try custody.session(cacheKiB: 4096)
        workersRunning.withLock { $0 = configuration.workers }
        for index in 0..<configuration.workers {
            let thread = Thread { [self] in
                workerLoop()
                workersRunning.withLock { $0 -= 1 }
            }
            thread.name = "custos-seal-\(index)"
            thread.start()
        }
        try committerLoop(session: session)
        if let failure = storageFailure { throw failure }
    }

    // MARK: - Workers

    private func workerLoop() {
        // Each worker signs with a TSA context of its own: stamps are made in parallel.
        let station: SealingStation
        do {
            station = try custody.station()
        } catch {
            logger.error(
                "the node's TSA cannot be loaded; items are sealed without time stamps", metadata: ["error": "\(error)"]
            )
            station = custody.unstampedStation()
        }
        while !stop.isSet, storageFailure == nil {
            guard let path = work.pop(timeout: 0.5) else { continue }
            if stop.isSet || storageFailure != nil { break }
            sealOne(path, station: station)
        }
    }

    private func sealOne(_ path: RawPath, station: SealingStation) {
        guard let components = layout.components(of: path), !components.isEmpty else {
            outcomes.push((path, .gone))
            return
        }
        do {
            let caseID = try layout.caseID(of: components)
            let (acquisition, sidecars, ownSidecar) = try layout.acquisition(of: components)
            let request = SealRequest(
                path: path, caseID: caseID, acquisition: acquisition,
                inbox: InboxSource(
                    relativePath: Array(components.joined(separator: [UInt8(ascii: "/")])), sidecars: sidecars),
                requireClosed: true, confined: (layout.inboxRoot, components))
            let evidence = try station.seal(request, durability: .batch, now: SystemClock.now)
            if let failure = evidence.stampFailure {
                logger.error(
                    "sealed, but the node's TSA did not stamp it", metadata: ["file": "\(path)", "error": "\(failure)"])
            }
            // At most two batches wait for the committer: a slow disk slows the workers, not memory.
            sealed.push(
                Sealed(path: path, components: components, evidence: evidence, sidecar: ownSidecar),
                limit: 2 * Self.batchLimit)
        } catch let refusal as InboxRefusal {
            if let sidecar = refusal.sidecar, let status = layout.status(sidecar),
                Self.isRecent(status, within: configuration.settleSeconds)
            {
                // A sidecar still being written: wait for it rather than refuse the file.
                outcomes.push((path, .resettle))
                return
            }
            reject(path, components: components, reason: refusal.message, code: "refused")
        } catch let error as SealingError {
            handle(error, path: path, components: components)
        } catch {
            fail(DaemonError(.sealingStopped, "\(path): \(error)", cause: error))
            outcomes.push((path, .retry))
        }
    }

    private func handle(_ error: SealingError, path: RawPath, components: [[UInt8]]) {
        let cause = error.cause as? FileSystemError
        switch error.code {
        case .refused:
            switch cause?.code {
            case .notFound?:
                logger.info("gone from the inbox before it was sealed", metadata: ["file": "\(path)"])
                outcomes.push((path, .gone))
            case .symlink?, .notRegularFile?:
                guard layout.status(path) != nil else {
                    // A folder on its way was replaced by a link: nothing there is the inbox's.
                    logger.warning(
                        "a folder on its way was replaced by a symbolic link; not followed, nothing read",
                        metadata: ["file": "\(path)"])
                    outcomes.push((path, .gone))
                    return
                }
                reject(path, components: components, reason: error.message, code: "\(cause!.code)")
            case .changedWhileReading?:
                outcomes.push((path, .resettle))
            default:
                logger.warning(
                    "cannot be read; it stays in the inbox and is tried again",
                    metadata: ["file": "\(path)", "reason": "\(error.message)"])
                outcomes.push((path, .retry))
            }
        case .changedWhileReading, .stillBeingWritten:
            logger.info("not sealed yet", metadata: ["file": "\(path)", "reason": "\(error.message)"])
            outcomes.push((path, .resettle))
        case .noSpace:
            reportDiskFull(error.message)
            outcomes.push((path, .retry))
        default:
            fail(DaemonError(.sealingStopped, "\(error)", cause: error))
            outcomes.push((path, .retry))
        }
    }

    private func reject(_ path: RawPath, components: [[UInt8]], reason: String, code: String) {
        do {
            let reasonFile = try layout.reject(
                components, reason: reason, code: code, now: SystemClock.now(), node: vault.configuration.origin,
                sync: inboxSync)
            logger.warning(
                "rejected", metadata: ["file": "\(path)", "reason": "\(reason)", "reasonFile": "\(reasonFile)"])
            outcomes.push((path, .rejected))
        } catch let error as DaemonError {
            fail(error)
            outcomes.push((path, .rejected))
        } catch {
            logger.error(
                "refused, but could not be moved to the rejected folder; it stays in the inbox",
                metadata: ["file": "\(path)", "reason": "\(reason)", "error": "\(error)"])
            outcomes.push((path, .retry))
        }
    }

    private func reportDiskFull(_ message: String) {
        let first = diskFull.withLock { full -> Bool in
            defer { full = true }
            return !full
        }
        if first {
            logger.critical(
                "ALARM: the vault's disk is full; sealing is paused, originals stay in the inbox, and sealing resumes when space returns",
                metadata: ["reason": "\(message)"])
        }
    }

    /// Removes the journal rows of released originals. A busy or full ledger leaves them for the
    /// next transaction (or start), which finds them released; a failed write stops sealing.
    private func completeReleases(_ items: [String], ledger: Ledger) {
        do {
            try ledger.completeReleases(items)
        } catch let error as LedgerError where error.isStorageFailure {
            fail(DaemonError(.sealingStopped, "removing released items from the journal failed: \(error)", cause: error))
        } catch {
            releasedItems.withLock { $0 += items }
            logger.warning("the release journal could not be updated; trying again", metadata: ["error": "\(error)"])
        }
    }

    /// Stops sealing on a storage failure (invariant 8): the daemon exits 3 once the services
    /// have wound down. Any thread may call it (the watcher's rejections too).
    func fail(_ error: DaemonError) {
        let first = failure.withLock { current -> Bool in
            if current == nil {
                current = error
                return true
            }
            return false
        }
        if first {
            logger.critical(
                "ALARM: writing the vault failed; sealing has stopped until an operator has looked",
                metadata: ["reason": "\(error.message)"])
            stop.raise()
            work.close()
        }
    }

    static func isRecent(_ status: FileStatus, within seconds: Double) -> Bool {
        SystemClock.secondsSince(status.modificationTime) < max(seconds, 1)
    }

    // MARK: - Committer and releaser

    /// Items whose originals have left the inbox durably: their journal rows are removed in the
    /// committer's next transaction (or on its own when idle).
    private let releasedItems = Mutex<[String]>([])
    private let releases = BlockingQueue<[(RawPath, PendingRelease, FileIdentity?)]>()

    private func committerLoop(session: CustodySession) throws {
        let releaserDone = StopSignal()
        let releaser = Thread { [self] in
            releaserLoop()
            releaserDone.raise()
        }
        releaser.name = "custos-release"
        releaser.start()
        defer {
            releases.close()
            while !releaserDone.wait(seconds: 1) {}
            let left = releasedItems.withLock { items in
                defer { items = [] }
                return items
            }
            if !left.isEmpty { completeReleases(left, ledger: session.ledger) }
        }
        while true {
            if storageFailure != nil { break }
            guard let first = sealed.pop(timeout: 0.1) else {
                let done = releasedItems.withLock { items in
                    defer { items = [] }
                    return items
                }
                if !done.isEmpty { completeReleases(done, ledger: session.ledger) }
                if workersRunning.withLock({ $0 }) == 0, sealed.count == 0 { break }
                continue
            }
            commit([first] + sealed.drain(limit: Self.batchLimit - 1), session: session)
        }
    }

    /// Makes a batch durable and records it (entries and release journal in one transaction),
    /// then hands it to the releaser: the next batch commits while this one leaves the inbox.
    private func commit(_ batch: [Sealed], session: CustodySession) {
        let started = SystemClock.monotonic()
        let journal = batch.map { sealed -> PendingRelease in
            let original = sealed.pending.original
            var destination = [UInt8]()
            if layout.release == .move {
                destination = layout.sealedRoot.path(
                    layout.sealedDestination(of: sealed.components, item: sealed.pending.item)
                ).bytes
            }
            return PendingRelease(
                item: sealed.pending.item, path: sealed.path.bytes, device: original.device, inode: original.inode,
                size: original.size,
                modifiedNanoseconds: original.modificationTime.seconds * 1_000_000_000
                    + original.modificationTime.nanoseconds,
                destination: destination, sidecar: Releaser.SidecarKnown.asRead(sealed.sidecar).journalled)
        }
        let released = releasedItems.withLock { items in
            defer { items = [] }
            return items
        }
        var entries = [CustodyEntry]()
        do {
            // One sync of the vault for the batch, then its seals and stamps in one transaction.
            entries = try session.record(
                batch.map(\.evidence), sync: vaultSync, releases: journal, released: released
            ).map(\.entry)
        } catch let error as LedgerError where error.isDiskFull {
            releasedItems.withLock { $0 += released }
            reportDiskFull("\(error)")
            for item in batch { outcomes.push((item.path, .retry)) }
            return
        } catch {
            releasedItems.withLock { $0 += released }
            let step = error is LedgerError ? "recording in the ledger" : "syncing the vault"
            fail(DaemonError(.sealingStopped, "\(step) failed: \(error)", cause: error))
            for item in batch { outcomes.push((item.path, .retry)) }
            return
        }
        diskFull.withLock { $0 = false }
        for (sealed, entry) in zip(batch, entries) {
            let pending = sealed.pending
            logger.info(
                "sealed",
                metadata: [
                    "item": "\(pending.item)", "case": "\(DisplayName.escape(Array(pending.request.caseID.utf8)))",
                    "name": "\(DisplayName.escape(sealed.path.lastComponent))", "path": "\(sealed.path)",
                    "sha256": "\(pending.digests.sha256.hex)", "size": "\(pending.size)",
                    "entry": "\(entry.sequence)", "shared": "\(pending.deduplicated)",
                ])
            if pending.original.linkCount > 1 {
                logger.warning(
                    "hard-linked: the inbox's name is one of several links to this file; only that name is released, the other links are left as they are",
                    metadata: [
                        "item": "\(pending.item)", "path": "\(sealed.path)", "links": "\(pending.original.linkCount)",
                    ])
            }
        }
        logger.debug(
            "batch committed",
            metadata: [
                "files": "\(batch.count)", "milliseconds": "\(Int((SystemClock.monotonic() - started) * 1000))",
            ])
        releases.push(zip(batch, journal).map { ($0.path, $1, $0.sidecar) })
    }

    /// Moves each committed batch's originals out of the inbox, then syncs the inbox's file system.
    private func releaserLoop() {
        let releaser = Releaser(layout: layout, logger: logger, storageFailed: { self.fail($0) })
        while true {
            guard let batch = releases.pop(timeout: 1) else {
                if releases.isClosed && releases.count == 0 { return }
                continue
            }
            var done = [String]()
            var outcomesOfBatch = [(RawPath, SealOutcome)]()
            for (path, release, sidecar) in batch {
                let outcome = releaser.release(release, sidecar: .asRead(sidecar))
                if outcome != .releaseFailed { done.append(release.item) }
                outcomesOfBatch.append((path, outcome))
            }
            do {
                try inboxSync.sync()
                releasedItems.withLock { $0 += done }
            } catch {
                // The journal keeps them (released again, or found released, at the next start);
                // a failed sync of the inbox stops sealing like one of the vault (invariant 8).
                fail(DaemonError(.sealingStopped, "syncing the inbox after a release failed: \(error)", cause: error))
            }
            for outcome in outcomesOfBatch { outcomes.push(outcome) }
        }
    }
}

/// Moves a sealed original out of the inbox (or deletes it), but only the very file that was
/// sealed: same device, inode, size and mtime. Its own sidecar goes with it only while it is the
/// very file read at sealing (device and inode). Shared by the committer and reconciliation.
struct Releaser {
    let layout: InboxLayout
    let logger: Logger
    /// Called when the file system itself failed (EIO, EROFS).
    let storageFailed: (DaemonError) -> Void

    /// What is known of the original's own sidecar.
    enum SidecarKnown {
        /// The identity it had when it was read at sealing (nil: no sidecar was read).
        case asRead(FileIdentity?)
        /// Not known (reconciliation of a row journalled by a version that did not keep it).
        case unknown

        /// What the release journal says of the sidecar (reconciliation, after a crash).
        init(journalled: PendingRelease.SidecarAsRead) {
            switch journalled {
            case .none: self = .asRead(nil)
            case .file(let device, let inode, let changed):
                self = .asRead(FileIdentity(device: device, inode: inode, changed: changed))
            case .unknown: self = .unknown
            }
        }

        /// How the release journal keeps it.
        var journalled: PendingRelease.SidecarAsRead {
            switch self {
            case .asRead(nil): .none
            case .asRead(let read?):
                if let changed = read.changed {
                    .file(device: read.device, inode: read.inode, changedNanoseconds: changed)
                } else {
                    .unknown
                }
            case .unknown: .unknown
            }
        }
    }

    /// The folder below `sealed/` where a file to delete is moved first, checked, then unlinked:
    /// no inbox writer reaches it (`sealed/` is the service account's alone).
    static let deletingFolder = Array(".custos-deleting".utf8)

    func release(_ release: PendingRelease, sidecar known: SidecarKnown) -> SealOutcome {
        let path = RawPath(bytes: release.path)
        guard let components = layout.components(of: path), !components.isEmpty else {
            logger.error(
                "a journalled release names a path outside the inbox; left alone",
                metadata: ["file": "\(path)", "item": "\(release.item)"])
            return .releaseFailed
        }
        let identity = FileIdentity(device: release.device, inode: release.inode)
        let name = components.last!
        let sidecar =
            name.count + Sidecar.suffix.count <= 255
            ? Array(components.dropLast()) + [Sidecar.name(for: name)] : nil
        if release.destination.isEmpty, let finished = finishInterruptedDelete(release, identity: identity, sidecar: known) {
            if finished == .released, let sidecar { releaseSidecarOfGoneOriginal(sidecar, known: known, release: release) }
            return finished
        }
        let status: FileStatus
        do {
            guard let found = try layout.inboxRoot.status(components) else {
                // Already gone (moved before a crash, or by a handler).
                if let sidecar { releaseSidecarOfGoneOriginal(sidecar, known: known, release: release) }
                return .released
            }
            status = found
        } catch {
            // A link on the way: whatever is there now is not the file that was sealed.
            logger.warning(
                "the sealed file's folder was replaced; it is not released through a link",
                metadata: ["file": "\(path)", "sealedItem": "\(release.item)", "error": "\(error)"])
            return .released
        }
        let modified =
            status.modificationTime.seconds * 1_000_000_000 + status.modificationTime.nanoseconds
        guard status.device == release.device, status.inode == release.inode, status.size == release.size,
            modified == release.modifiedNanoseconds
        else {
            logger.warning(
                "changed after it was sealed; the new content stays in the inbox and is sealed as a new item",
                metadata: ["file": "\(path)", "sealedItem": "\(release.item)"])
            return .resettle
        }
        do {
            if release.destination.isEmpty {
                let unchanged = (size: release.size, modifiedNanoseconds: release.modifiedNanoseconds)
                guard try delete(components, expected: identity, privateName: Array(release.item.utf8), unchanged: unchanged)
                else { return .resettle }
                if let sidecar {
                    releaseSidecar(sidecar, known: known, to: nil, privateName: Array(release.item.utf8) + Sidecar.suffix, release: release)
                }
                return .released
            }
            guard var destination = InboxLayout.components(of: RawPath(bytes: release.destination), under: layout.sealed)
            else {
                logger.error(
                    "a journalled release names a destination outside the sealed folder; left in the inbox",
                    metadata: ["file": "\(path)", "item": "\(release.item)"])
                return .releaseFailed
            }
            try layout.sealedRoot.makeDirectories(Array(destination.dropLast()))
            do {
                try layout.inboxRoot.moveNoReplace(components, to: layout.sealedRoot, destination, expected: identity.pair)
            } catch let error as FileSystemError where error.code == .exists {
                // The name was taken since: keep both, apart, under the item's id.
                destination = InboxLayout.keptApart(destination, item: release.item)
                try layout.sealedRoot.makeDirectories(Array(destination.dropLast()))
                try layout.inboxRoot.moveNoReplace(components, to: layout.sealedRoot, destination, expected: identity.pair)
            }
            if let sidecar {
                releaseSidecar(
                    sidecar, known: known, to: Array(destination.dropLast()) + [Sidecar.name(for: destination.last!)],
                    privateName: [], release: release)
            }
            // Sealed evidence is read, never written: the owner's alone. A file dropped by another
            // account of the inbox's group keeps its mode (only its owner may change it); sealed/
            // itself is closed to all but the service account.
            do {
                try layout.sealedRoot.setMode(destination, 0o400)
            } catch let error as FileSystemError where error.code == .permissionDenied {
            } catch {
                logger.warning(
                    "released, but its mode could not be narrowed to 0400",
                    metadata: ["file": "\(layout.sealedRoot.path(destination))", "error": "\(error)"])
            }
            return .released
        } catch let error as FileSystemError where error.code == .changedWhileReading {
            logger.warning(
                "replaced after it was sealed; the new file stays in the inbox and is sealed as a new item",
                metadata: ["file": "\(path)", "sealedItem": "\(release.item)"])
            return .resettle
        } catch let error as FileSystemError where error.isFailureOfTheFileSystem {
            // The file system failed, not a name: sealing stops (invariant 8).
            storageFailed(
                DaemonError(.sealingStopped, "releasing \(path) failed: \(error)", cause: error))
            return .releaseFailed
        } catch {
            logger.error(
                "sealed and recorded, but could not leave the inbox; it is released at the next start",
                metadata: ["file": "\(path)", "item": "\(release.item)", "error": "\(error)"])
            return .releaseFailed
        }
    }

    /// Deletes `components` from the inbox only if it is the file `expected`. There is no unlink
    /// by inode, and between a check of a name and its unlink a writer of the folder may swap
    /// another file in under it. So the file is first renamed into `sealed/.custos-deleting/`
    /// (checked before and after the rename: a file swapped in is put back, `moveNoReplace`),
    /// and unlinked there, where no inbox writer can reach it. A file on a file system mounted
    /// below the inbox (no rename to `sealed/`) is unlinked in place, its identity checked on the
    /// folder's descriptor right before `unlinkat`: a swap in that instant remains possible
    /// (Docs/Architecture.md).
    ///
    /// With `unchanged` (an original), the file is checked once more where no inbox writer can
    /// reach it: bytes written to it after the check in the inbox (its size or mtime differ) are
    /// never deleted unsealed. It goes back into the inbox under its name to be sealed as a new
    /// item, and false is returned; when its name there is taken meanwhile, it stays in
    /// `sealed/.custos-deleting/` with an error line, never deleted.
    @discardableResult
    private func delete(
        _ components: [[UInt8]], expected: FileIdentity, privateName: [UInt8],
        unchanged: (size: Int64, modifiedNanoseconds: Int64)? = nil
    ) throws -> Bool {
        let holding = [Self.deletingFolder, privateName]
        do {
            try layout.sealedRoot.makeDirectories([Self.deletingFolder])
            try layout.inboxRoot.moveNoReplace(components, to: layout.sealedRoot, holding, expected: expected.pair)
        } catch let error as FileSystemError where error.isCrossDevice {
            try layout.inboxRoot.remove(components, expected: expected.pair)
            return true
        }
        if let unchanged, let held = try layout.sealedRoot.status(holding) {
            let modified = held.modificationTime.seconds * 1_000_000_000 + held.modificationTime.nanoseconds
            if held.size != unchanged.size || modified != unchanged.modifiedNanoseconds {
                do {
                    try layout.sealedRoot.moveNoReplace(holding, to: layout.inboxRoot, components, expected: expected.pair)
                    logger.warning(
                        "written to after it was sealed; it is not deleted, but put back to be sealed as a new item",
                        metadata: ["file": "\(layout.inboxRoot.path(components))"])
                } catch {
                    logger.error(
                        "written to after it was sealed, and its name in the inbox is taken; it is kept, not deleted",
                        metadata: ["file": "\(layout.sealedRoot.path(holding))", "error": "\(error)"])
                }
                return false
            }
        }
        try layout.sealedRoot.remove(holding, expected: expected.pair)
        return true
    }

    /// A delete interrupted between its rename into `sealed/.custos-deleting/` and its unlink:
    /// the file there is unlinked if it is the one sealed, else left there with an error line.
    /// Nil when there is nothing of this item there.
    private func finishInterruptedDelete(
        _ release: PendingRelease, identity: FileIdentity, sidecar known: SidecarKnown
    ) -> SealOutcome? {
        let holding = [Self.deletingFolder, Array(release.item.utf8)]
        let sidecarHolding = [Self.deletingFolder, Array(release.item.utf8) + Sidecar.suffix]
        if let status = try? layout.sealedRoot.status(sidecarHolding), status.isRegularFile {
            // Moved there by this daemon after its identity was checked: it is deleted while it
            // is still that file (device and inode; the rename changed its ctime).
            if case .asRead(let read?) = known, status.device == read.device, status.inode == read.inode {
                try? layout.sealedRoot.remove(sidecarHolding, expected: read.pair)
            } else {
                logger.warning(
                    "a sidecar whose delete was interrupted is kept; it cannot be told whether it is still the one read at sealing",
                    metadata: ["file": "\(layout.sealedRoot.path(sidecarHolding))", "sealedItem": "\(release.item)"])
            }
        }
        guard let status = try? layout.sealedRoot.status(holding) else { return nil }
        guard FileIdentity(device: status.device, inode: status.inode) == identity else {
            logger.error(
                "a file whose delete was interrupted is not the one sealed; it is kept where it is",
                metadata: ["file": "\(layout.sealedRoot.path(holding))", "sealedItem": "\(release.item)"])
            return .releaseFailed
        }
        do {
            try layout.sealedRoot.remove(holding, expected: identity.pair)
            return .released
        } catch {
            logger.error(
                "a sealed original whose delete was interrupted could not be deleted",
                metadata: ["file": "\(layout.sealedRoot.path(holding))", "error": "\(error)"])
            return .releaseFailed
        }
    }

    /// After an interruption (reconciliation), an original already gone (released before the
    /// crash) may have left its sidecar behind: it follows the original (beside its journalled
    /// destination, or deleted) while it is still the file read at sealing, as the journal says.
    private func releaseSidecarOfGoneOriginal(_ sidecar: [[UInt8]], known: SidecarKnown, release: PendingRelease) {
        var destination: [[UInt8]]?
        if !release.destination.isEmpty {
            guard let moved = InboxLayout.components(of: RawPath(bytes: release.destination), under: layout.sealed),
                let last = moved.last
            else { return }
            destination = Array(moved.dropLast()) + [Sidecar.name(for: last)]
        }
        releaseSidecar(
            sidecar, known: known, to: destination, privateName: Array(release.item.utf8) + Sidecar.suffix,
            release: release)
    }

    /// Moves (`destination`) or deletes (nil) the original's own sidecar, only if it is the very
    /// file read at sealing. Anything else under its name (a sidecar dropped after sealing, a
    /// file swapped in by a writer of the inbox) stays in the inbox, with a warning.
    private func releaseSidecar(
        _ sidecar: [[UInt8]], known: SidecarKnown, to destination: [[UInt8]]?, privateName: [UInt8],
        release: PendingRelease
    ) {
        guard let status = try? layout.inboxRoot.status(sidecar) else { return }
        let shown = layout.inboxRoot.path(sidecar)
        let expected: FileIdentity
        switch known {
        case .unknown:
            logger.warning(
                "the sealed file's sidecar stays in the inbox: after an interruption it cannot be told whether it is still the one read at sealing",
                metadata: ["file": "\(shown)", "sealedItem": "\(release.item)"])
            return
        case .asRead(nil):
            logger.warning(
                "a sidecar that was not there when the file was sealed is not part of its seal; it stays in the inbox",
                metadata: ["file": "\(shown)", "sealedItem": "\(release.item)"])
            return
        case .asRead(let read?):
            // Device, inode and ctime: a sidecar removed and another created in its place under
            // the same inode number has a later ctime.
            guard FileIdentity(withChangeTime: status) == read else {
                logger.warning(
                    "the sidecar was replaced after the file was sealed; what is under its name now stays in the inbox",
                    metadata: ["file": "\(shown)", "sealedItem": "\(release.item)"])
                return
            }
            expected = read
        }
        do {
            if let destination {
                try layout.inboxRoot.moveNoReplace(sidecar, to: layout.sealedRoot, destination, expected: expected.pair)
            } else {
                try delete(sidecar, expected: expected, privateName: privateName)
            }
        } catch {
            logger.warning(
                "the sealed file's sidecar could not be released; it stays in the inbox",
                metadata: ["file": "\(shown)", "sealedItem": "\(release.item)", "error": "\(error)"])
        }
    }
}

extension FileIdentity {
    var pair: (device: UInt64, inode: UInt64) { (device, inode) }
}
