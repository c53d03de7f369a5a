import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosService
import CustosVault
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `custos daemon`: one process per vault, a service group of the inbox watcher, the sealing
/// pipeline and the checkpointer. SIGTERM or SIGINT shuts it down gracefully: the watcher stops,
/// seals in flight complete and are committed and released, a last checkpoint is signed, exit 0.
public enum Daemon {
    /// Checks the folders, takes the vault's daemon lock, reconciles, then runs until a signal
    /// (returns) or a storage failure (throws `DaemonError.sealingStopped`).
    public static func run(
        vault: Vault, configuration: DaemonConfiguration, actor: CustodyActor, tool: String, logger: Logger
    ) async throws {
        // Memory flat through long bursts: glibc gives each thread an arena of its own and keeps
        // their freed pages; two arenas (and a trim each second, by the watcher) keep it bounded
        // at no measured cost in throughput (Docs/Performance.md).
        ThisProcess.limitMallocArenas(to: 8)
        // SIGTERM and SIGINT are caught from the very start: one that comes during start-up
        // (reconciliation) still shuts the daemon down gracefully once its services run.
        let signals = ShutdownSignals()
        // Start-up blocks (locks, file system, SQLite): on a thread of its own.
        let start = try await runOnThread(name: "custos-start") {
            try startUp(vault: vault, configuration: configuration, logger: logger)
        }
        let (daemonLock, sealingLock, vaultSync, inboxSync) = (
            start.daemonLock, start.sealingLock, start.vaultSync, start.inboxSync
        )
        let vault = start.vault
        let layout = start.layout
        let custody = Custody(vault: vault, actor: actor, tool: tool, logger: logger)

        var settings: Logger.Metadata = ["vault": "\(vault.root)", "origin": "\(vault.configuration.origin)"]
        for (key, value) in configuration.summary { settings[key] = "\(value)" }
        logger.info("custos daemon started", metadata: settings)

        let outcomes = BlockingQueue<(RawPath, SealOutcome)>()
        let pipeline = SealingPipeline(
            custody: custody, layout: layout, configuration: configuration, logger: logger, outcomes: outcomes,
            vaultSync: vaultSync, inboxSync: inboxSync)
        let watcher = InboxWatcher(
            layout: layout, configuration: configuration, pipeline: pipeline, outcomes: outcomes,
            node: vault.configuration.origin, logger: logger)
        let checkpointer = Checkpointer(
            custody: custody, interval: configuration.checkpointSeconds, logger: logger,
            storageFailed: { pipeline.fail($0) })
        let externalStamper = ExternalStamper(
            custody: custody, authorities: start.authorities, configuration: configuration, logger: logger,
            storageFailed: { pipeline.fail($0) })

        // Shut down in reverse order: the watcher first, then the pipeline, then the external
        // authorities' stamper, the checkpointer last (its last checkpoint covers all they recorded).
        // A service that returns ends the group: the external stamper runs only when configured.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ThreadService(name: "checkpointer", body: checkpointer.run, stop: checkpointer.requestStop))
        ]
        if !start.authorities.isEmpty {
            services.append(
                .init(
                    service: ThreadService(
                        name: "timestamps", body: externalStamper.run, stop: externalStamper.requestStop)))
        }
        services.append(
            .init(service: ThreadService(name: "sealing", body: pipeline.run, stop: pipeline.requestStop)))
        services.append(
            .init(service: ThreadService(name: "watcher", body: watcher.run, stop: watcher.requestStop)))
        // The socket where people act: the first to stop, so no request comes in while the
        // others finish.
        let requestThreads = RequestThreads(count: 4)
        defer { requestThreads.close() }
        let service = CustodyService(
            vault: vault, tool: tool, policy: configuration.roles, isDaemon: true,
            ownerID: ThisProcess.effectiveUserID, logger: Logger(label: "custos.socket"))
        services.append(
            .init(
                service: try SocketService.server(
                    service: service, configuration: configuration, threads: requestThreads, logger: logger,
                    // Commands started meanwhile wait for the socket (`daemonIsStartingOnItsOwnSocket`).
                    serving: { [record = vault.daemonRecord(.serving, socket: configuration.socket)] in
                        daemonLock.record(record)
                    })))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
        await signals.attach(group)
        do {
            try await group.run()
        } catch {
            if let failure = pipeline.storageFailure { throw failure }
            throw error
        }
        if let failure = pipeline.storageFailure { throw failure }
        logger.info("custos daemon stopped")
        withExtendedLifetime((daemonLock, sealingLock, signals)) {}
    }

    /// What start-up leaves for the services.
    /// Sendable: handed once from the start-up thread to the daemon's task, never used by both (locks, authorities).
    struct StartUp: @unchecked Sendable {
        var vault: Vault
        var layout: InboxLayout
        var daemonLock: FileLock
        var sealingLock: FileLock
        var vaultSync: FileSystemSync
        var inboxSync: FileSystemSync
        var authorities: [ExternalStamper.Authority]
    }

    /// Takes the daemon lock, checks the folders, and reconciles while nothing else seals; then
    /// takes the sealing lock shared, to seal beside `custos ingest`.
    static func startUp(vault: Vault, configuration: DaemonConfiguration, logger: Logger) throws -> StartUp {
        let daemonLock = try vault.lockDaemon(socket: configuration.socket)
        let vault = try vault.overriding(
            compression: configuration.compression, compressionLevel: configuration.compressionLevel.map { $0 },
            md5: configuration.md5, sha1: configuration.sha1)
        let layout = InboxLayout(configuration: configuration)
        vault.closeToOthers()
        try prepareFolders(layout)
        _ = try vault.signer()  // a missing or exposed key refuses the start
        let authorities = try ExternalStamper.prepare(vault: vault, configuration: configuration)
        let vaultSync = try FileSystemSync(vault.root)
        let inboxSync = try FileSystemSync(layout.sealed)
        var exclusive: FileLock? = try vault.lockSealing(exclusive: true)
        let ledger = try vault.openLedger(cacheKiB: 4096)
        do {
            _ = try Reconciler(vault: vault, layout: layout, logger: logger, vaultSync: vaultSync, inboxSync: inboxSync)
                .run(ledger: ledger)
        } catch {
            // A failed write or sync of the vault or the inbox stops sealing (invariant 8): exit 3.
            throw DaemonError(.sealingStopped, "reconciling the vault at start failed: \(error)", cause: error)
        }
        withExtendedLifetime(exclusive) {}
        exclusive = nil  // Released before the shared lock is taken (flock locks of one process conflict too).
        let sealingLock = try vault.lockSealing(exclusive: false)
        return StartUp(
            vault: vault, layout: layout, daemonLock: daemonLock, sealingLock: sealingLock,
            vaultSync: vaultSync, inboxSync: inboxSync, authorities: authorities)
    }

    /// The inbox must be a folder (the vault's default one is created); `sealed/` and `rejected/`
    /// are created, and all three must be on one file system (a release is a rename).
    static func prepareFolders(_ layout: InboxLayout) throws {
        var devices = [UInt64]()
        for (name, path) in [("inbox", layout.inbox), ("sealed", layout.sealed), ("rejected", layout.rejected)] {
            do {
                try FileSystem.makeDirectory(path)
            } catch let error as FileSystemError where error.isFailureOfTheFileSystem {
                // The file system failed, not the configuration: exit 3 (invariant 8).
                throw DaemonError(.sealingStopped, "making the \(name) folder \(path) failed: \(error)", cause: error)
            } catch {
                throw DaemonError(.inboxUnusable, "the \(name) folder \(path) cannot be used: \(error)", cause: error)
            }
            guard let status = try FileSystem.linkStatus(path), status.isDirectory else {
                throw DaemonError(.inboxUnusable, "the \(name) folder \(path) is not a folder")
            }
            devices.append(status.device)
        }
        guard Set(devices).count == 1 else {
            throw DaemonError(
                .inboxUnusable,
                "the inbox, sealed and rejected folders must be on one file system (a release is a rename): \(layout.inbox), \(layout.sealed), \(layout.rejected)"
            )
        }
    }
}

/// Catches SIGTERM and SIGINT from the moment it is made and turns them into a graceful shutdown
/// of the service group, once attached; a signal that came before is honoured at attachment.
/// Sendable: the dispatch sources are set in init and only cancelled in deinit; the rest is a Mutex.
final class ShutdownSignals: @unchecked Sendable {
    private let state = Mutex<(requested: Bool, group: ServiceGroup?)>((false, nil))
    private let sources: [any DispatchSourceSignal]
    private let queue = DispatchQueue(label: "custos.signals")

    init() {
        let queue = self.queue
        sources = ThisProcess.stopSignals.map { number in
            ThisProcess.ignoreDefaultAction(ofSignal: number)
            return DispatchSource.makeSignalSource(signal: number, queue: queue)
        }
        for source in sources {
            source.setEventHandler { [weak self] in self?.requested() }
            source.resume()
        }
    }

    deinit { for source in sources { source.cancel() } }

    private func requested() {
        let group = state.withLock { state -> ServiceGroup? in
            state.requested = true
            return state.group
        }
        if let group { Task { await group.triggerGracefulShutdown() } }
    }

    func attach(_ group: ServiceGroup) async {
        let requested = state.withLock { state -> Bool in
            state.group = group
            return state.requested
        }
        if requested { await group.triggerGracefulShutdown() }
    }
}

/// A service whose work runs on a thread of its own (blocking calls stay off Swift's cooperative
/// pool); graceful shutdown and cancellation both ask it to stop.
struct ThreadService: Service, CustomStringConvertible {
    let name: String
    let body: @Sendable () throws -> Void
    let stop: @Sendable () -> Void

    var description: String { name }

    func run() async throws {
        let stop = self.stop
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await runOnThread(name: "custos-\(name)", body)
            } onGracefulShutdown: {
                stop()
            }
        } onCancel: {
            stop()
        }
    }
}

/// Signs a checkpoint every `interval` seconds while the ledger grows, one at start (a daemon that
/// was killed may have left entries uncovered) and a last one on stop. Each is stamped by the
/// node's TSA in its own transaction, the token kept beside it, not as an entry after it: so the
/// checkpoint covers every entry, and a checkpoint calls for no other (the ledger comes to rest).
final class Checkpointer: Sendable {
    let custody: Custody
    let interval: Double
    let logger: Logger
    private let stop = StopSignal()

    /// Called once when writing the ledger failed: sealing stops (invariant 8).
    let storageFailed: @Sendable (DaemonError) -> Void

    init(
        custody: Custody, interval: Double, logger: Logger,
        storageFailed: @escaping @Sendable (DaemonError) -> Void
    ) {
        self.storageFailed = storageFailed
        self.custody = custody
        self.interval = interval
        self.logger = logger
    }

    func requestStop() { stop.raise() }

    func run() throws {
        let session = try custody.session(cacheKiB: 4096)
        var covered = try session.checkpointedSize()
        func signIfGrown() throws {
            // A read first: an idle ledger costs no write transaction.
            guard try session.ledger.size() > covered else { return }
            let note = try session.checkpoint()
            covered = try Checkpoint(parsing: note.text).size
            logger.info("checkpoint signed", metadata: ["size": "\(covered)"])
        }
        /// Signs if grown. A failed write of the ledger stops sealing (invariant 8) and gives false;
        /// any other error is thrown.
        func signStoppingOnStorageFailure() throws -> Bool {
            do {
                try signIfGrown()
            } catch let error as LedgerError where error.isStorageFailure {
                storageFailed(DaemonError(.sealingStopped, "signing a checkpoint failed: \(error)", cause: error))
                return false
            }
            return true
        }
        /// While running, a busy or full ledger is tried again at the next interval.
        func signOrLog() -> Bool {
            do {
                return try signStoppingOnStorageFailure()
            } catch {
                logger.error("signing a checkpoint failed; trying again", metadata: ["error": "\(error)"])
                return true
            }
        }
        guard signOrLog() else { return }
        while !stop.wait(seconds: interval) {
            guard signOrLog() else { return }
        }
        _ = try signStoppingOnStorageFailure()
    }
}
