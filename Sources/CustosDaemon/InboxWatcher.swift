import CustosFileSystem
import CustosFormats
import CustosWatch
import Foundation
import Logging

/// Watches the inbox and hands each file to the pipeline once it has settled: inotify on the
/// inbox and every folder under it (added as folders appear), a full rescan at start, on queue
/// overflow and periodically, so a lost event never loses a file. Runs on a thread of its own.
///
/// Inputs that are not regular files (symbolic links, FIFOs, sockets, devices) are moved to
/// `rejected/` at once, never opened or followed.
/// Sendable: its state is the watcher thread's alone; other threads only call `requestStop` (a StopSignal).
final class InboxWatcher: @unchecked Sendable {
    let layout: InboxLayout
    let configuration: DaemonConfiguration
    let pipeline: SealingPipeline
    let outcomes: BlockingQueue<(RawPath, SealOutcome)>
    let logger: Logger
    let node: String
    private let stop = StopSignal()

    // State of the watcher thread only.
    private var tracker: SettleTracker
    private var inotify: InotifyWatcher?
    private var watched = Set<RawPath>()
    private var inboxIdentity: (device: UInt64, inode: UInt64)?
    private var inFlight = Set<RawPath>()
    /// Created by a writer and not yet closed (from events); cleared when events were lost.
    private var writing = Set<RawPath>()
    /// When a settled file still marked as being written was last asked of the kernel.
    private var writerProbed = [RawPath: Double]()
    /// Files to try again later, and when.
    private var held = [RawPath: Double]()
    /// Failed tries so far, for the back-off.
    private var attempts = [RawPath: Int]()
    /// Sealed but not released: not to be sealed again while this process runs.
    private var stuck = Set<RawPath>()
    private var inboxMissingReported = false

    /// How many files may wait in the pipeline's queue.
    static let queueLimit = 256

    init(
        layout: InboxLayout, configuration: DaemonConfiguration, pipeline: SealingPipeline,
        outcomes: BlockingQueue<(RawPath, SealOutcome)>, node: String, logger: Logger
    ) {
        self.layout = layout
        self.configuration = configuration
        self.pipeline = pipeline
        self.outcomes = outcomes
        self.node = node
        self.logger = logger
        self.tracker = SettleTracker(settleSeconds: configuration.settleSeconds)
    }

    func requestStop() { stop.raise() }

    func run() throws {
        establish()
        var nextRescan = SystemClock.monotonic() + configuration.rescanSeconds
        var nextInboxCheck = SystemClock.monotonic() + 1
        while !stop.isSet {
            applyOutcomes()
            var now = SystemClock.monotonic()
            var wait = 0.05
            if let deadline = tracker.nextDeadline() {
                // A file past its deadline is waiting for room in the queue or for its writer.
                wait = deadline > now ? Swift.min(wait, deadline - now) : 0.02
            }
            if let inotify {
                let events = try inotify.nextEvents(timeoutMilliseconds: Int32((wait * 1000).rounded(.up)))
                handle(events)
            } else {
                _ = stop.wait(seconds: wait)
            }
            now = SystemClock.monotonic()
            if now >= nextInboxCheck {
                checkInbox()
                releaseHolds(now: now)
                // The sealing threads free what they allocate, but glibc keeps freed pages in each
                // thread's arena: hand them back, so that memory stays flat through a long burst.
                ThisProcess.releaseFreeMemory()
                nextInboxCheck = now + 1
            }
            if now >= nextRescan {
                rescan(reason: "periodic", eventsLost: false)
                nextRescan = now + configuration.rescanSeconds
            }
            submitSettled(now: SystemClock.monotonic())
        }
    }

    // MARK: - Watches and scans

    /// (Re)watches the inbox and every folder under it, then scans it all.
    private func establish() {
        inotify = nil
        watched = []
        guard let status = try? FileSystem.linkStatus(layout.inbox), status.isDirectory else {
            if !inboxMissingReported {
                logger.error(
                    "the inbox is missing or not a folder; waiting for it", metadata: ["inbox": "\(layout.inbox)"])
                inboxMissingReported = true
            }
            inboxIdentity = nil
            return
        }
        inboxMissingReported = false
        do {
            inotify = try InotifyWatcher()
        } catch {
            logger.error("inotify is unavailable; relying on rescans", metadata: ["error": "\(error)"])
        }
        inboxIdentity = (status.device, status.inode)
        writing = []
        scan(layout.inbox)
        logger.info("watching the inbox", metadata: ["inbox": "\(layout.inbox)", "folders": "\(watched.count)"])
    }

    /// Walks the whole inbox. After an overflow, close events may have been lost, so what the
    /// events said about writers is forgotten (the read lease still guards each open).
    private func rescan(reason: String, eventsLost: Bool) {
        logger.debug("rescanning the inbox", metadata: ["reason": "\(reason)"])
        if eventsLost { writing = [] }
        scan(layout.inbox)
    }

    /// Watches `directory` (if not yet) and considers everything under it.
    private func scan(_ directory: RawPath) {
        watch(directory)
        let names: [[UInt8]]
        do {
            // Listed below the inbox's root, never through a link: a folder replaced by a link
            // to elsewhere is not read.
            guard let components = layout.components(of: directory) ?? (directory == layout.inbox ? [] : nil) else {
                return
            }
            names = try layout.inboxRoot.list(components)
        } catch {
            logger.debug(
                "cannot list a folder of the inbox", metadata: ["folder": "\(directory)", "error": "\(error)"])
            return
        }
        for name in names {
            let path = directory.appending(component: name)
            if let status = layout.status(path), status.isDirectory {
                scan(path)
            } else {
                consider(path, event: nil)
            }
        }
    }

    /// Watches the folder found at `directory` beneath the inbox (by descriptor: never a folder
    /// reached through a link, never one outside).
    private func watch(_ directory: RawPath) {
        guard let inotify, !watched.contains(directory) else { return }
        guard let components = layout.components(of: directory) ?? (directory == layout.inbox ? [] : nil) else {
            return
        }
        do {
            try inotify.watch(directory, in: layout.inboxRoot, components)
            watched.insert(directory)
        } catch {
            logger.warning(
                "cannot watch a folder; it is covered by rescans only",
                metadata: ["folder": "\(directory)", "error": "\(error)"])
        }
    }

    /// The inbox removed, replaced or back: watch it anew.
    private func checkInbox() {
        let status = try? FileSystem.linkStatus(layout.inbox)
        if let status, status.isDirectory {
            if inboxIdentity?.device != status.device || inboxIdentity?.inode != status.inode {
                if inboxIdentity != nil || inboxMissingReported {
                    logger.warning(
                        "the inbox was replaced; watching the new one", metadata: ["inbox": "\(layout.inbox)"])
                }
                establish()
            }
        } else if inboxIdentity != nil {
            logger.error("the inbox was removed; waiting for it to return", metadata: ["inbox": "\(layout.inbox)"])
            inboxMissingReported = true
            inboxIdentity = nil
            inotify = nil
            watched = []
        }
    }

    private func handle(_ events: [WatchEvent]) {
        var overflow = false
        // Whether each watch's folder is still the one beneath the inbox at its path: asked once
        // a read of events.
        var current = [Int32: Bool]()
        for event in events {
            if event.kind.contains(.overflow) {
                overflow = true
                continue
            }
            guard let directory = event.directory else { continue }
            let isCurrent =
                current[event.watch]
                ?? {
                    let status =
                        layout.status(directory)
                        ?? (directory == layout.inbox ? try? FileSystem.linkStatus(directory) : nil)
                    let found = status.map { FolderIdentity(device: $0.device, inode: $0.inode) }
                    let result = event.folder == nil || (found != nil && found == event.folder)
                    current[event.watch] = result
                    return result
                }()
            guard isCurrent else {
                // The folder watched was moved away (out of the inbox too) or replaced: its events
                // say nothing about the inbox. The watch is dropped; the folder now at that path,
                // if any, is watched when it is found (its event, or the next rescan).
                inotify?.unwatch(event)
                watched.remove(directory)
                if directory == layout.inbox { checkInbox() }
                continue
            }
            if event.kind.contains(.watchEnded) {
                watched.remove(directory)
                if directory == layout.inbox { checkInbox() }
                continue
            }
            guard !event.name.isEmpty else { continue }
            let path = directory.appending(component: event.name)
            if event.kind.contains(.isDirectory) {
                if !event.kind.isDisjoint(with: [.created, .movedIn]) { scan(path) }
                continue
            }
            consider(path, event: event.kind)
        }
        if overflow {
            logger.warning("the kernel's event queue overflowed; rescanning the whole inbox")
            rescan(reason: "overflow", eventsLost: true)
        }
    }

    // MARK: - Files

    /// Looks at one entry of the inbox: a regular file starts (or continues) settling, anything
    /// else that is not a folder is refused at once.
    private func consider(_ path: RawPath, event: WatchEvent.Kind?) {
        let name = path.lastComponent
        if Sidecar.isSidecarName(name) { return }
        if inFlight.contains(path) || stuck.contains(path) { return }
        if let event, !event.isDisjoint(with: [.closedAfterWriting, .movedIn]) {
            held[path] = nil
        }
        if held[path] != nil { return }
        guard let status = layout.status(path) else {
            tracker.forget(path)
            writing.remove(path)
            writerProbed[path] = nil
            return
        }
        if status.isDirectory {
            scan(path)
            return
        }
        guard status.isRegularFile else {
            tracker.forget(path)
            refuse(path, status: status)
            return
        }
        if let event {
            if event.contains(.created) { writing.insert(path) }
            if !event.isDisjoint(with: [.closedAfterWriting, .movedIn]) {
                writing.remove(path)
                writerProbed[path] = nil
            }
        }
        tracker.observe(path, status: status, now: SystemClock.monotonic())
    }

    private func refuse(_ path: RawPath, status: FileStatus) {
        guard let components = layout.components(of: path) else { return }
        let reason =
            status.isSymbolicLink
            ? "is a symbolic link; refused, never followed"
            : "is a \(status.kind), not a regular file; refused without being opened"
        do {
            let reasonFile = try layout.reject(
                components, reason: reason, code: status.isSymbolicLink ? "symlink" : "notRegularFile",
                now: SystemClock.now(), node: node, sync: pipeline.inboxSync)
            logger.warning(
                "rejected", metadata: ["file": "\(path)", "reason": "\(reason)", "reasonFile": "\(reasonFile)"])
        } catch let error as DaemonError {
            pipeline.fail(error)
        } catch {
            logger.error(
                "refused, but could not be moved to the rejected folder; it stays in the inbox",
                metadata: ["file": "\(path)", "reason": "\(reason)", "error": "\(error)"])
            hold(path)
        }
    }

    /// Holds a file back, waiting longer after each failure: retry-seconds, doubling, up to ten minutes.
    private func hold(_ path: RawPath) {
        let count = (attempts[path] ?? 0) + 1
        attempts[path] = count
        held[path] = SystemClock.monotonic() + Swift.min(configuration.retrySeconds * pow(2, Double(count - 1)), 600)
    }

    private func releaseHolds(now: Double) {
        for (path, until) in held where until <= now {
            held[path] = nil
            consider(path, event: nil)
        }
    }

    private func submitSettled(now: Double) {
        guard pipeline.queued < Self.queueLimit else { return }
        // Files still open for writing are skipped below: ask for enough to fill the queue anyway.
        for path in tracker.settled(now: now, limit: Self.queueLimit - pipeline.queued + writing.count) {
            guard pipeline.queued < Self.queueLimit else { return }
            if writing.contains(path), !writerHasClosed(path, now: now) { continue }
            guard let status = layout.status(path), status.isRegularFile else {
                tracker.forget(path)
                consider(path, event: nil)
                continue
            }
            tracker.observe(path, status: status, now: now)
            guard tracker.isSettled(path, now: now) else { continue }
            tracker.forget(path)
            inFlight.insert(path)
            pipeline.submit(path)
        }
    }

    /// A file created but never closed after a write (a hard link, `ln` or `cp -l`; a file
    /// created read-only) has settled: the kernel says whether a writer still holds it (a read
    /// lease is refused exactly then), at most once per settle time. Where it cannot tell (no
    /// lease rights on another account's file), ten settle times of quiet (at least 30 s) count
    /// as closed; the pipeline asks again when it opens the file.
    private func writerHasClosed(_ path: RawPath, now: Double) -> Bool {
        if let probed = writerProbed[path], now - probed < configuration.settleSeconds { return false }
        writerProbed[path] = now
        guard let components = layout.components(of: path),
            let (file, _) = try? layout.inboxRoot.openEvidence(components)
        else { return false }
        switch file.isOpenForWritingElsewhere() {
        case false?:
            break
        case true?:
            return false
        case nil:
            guard tracker.stableFor(path, now: now) >= Swift.max(30, 10 * configuration.settleSeconds) else {
                return false
            }
        }
        writing.remove(path)
        writerProbed[path] = nil
        return true
    }

    private func applyOutcomes() {
        for (path, outcome) in outcomes.drain(limit: Int.max) {
            inFlight.remove(path)
            switch outcome {
            case .released, .rejected, .gone:
                attempts[path] = nil
                // A new file may have been dropped under the same name meanwhile.
                if layout.status(path) != nil { consider(path, event: nil) }
            case .releaseFailed:
                stuck.insert(path)
            case .resettle:
                consider(path, event: nil)
            case .retry:
                hold(path)
            }
        }
    }
}
