import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosVault
import Logging

/// Start-up reconciliation, run while no one else seals (the exclusive sealing lock): whatever a
/// crash left half-done is finished or undone, so that every file dropped is either still in the
/// inbox or sealed exactly once, and no ledger entry points at a missing archive.
///
/// 1. Half-written temporaries (`tmp/`, `.tmp-*` in the vault) are removed.
/// 2. Originals whose seal is committed (the release journal) are released, if they are still the
///    very file that was sealed.
/// 3. Archives, manifests and time-stamp tokens that no ledger entry records (a seal interrupted
///    before its commit) are discarded: their originals are still in the inbox and will be
///    sealed (and stamped) again. Details documents (`details/`) are never discarded: one that no
///    entry names (a custody event interrupted before its entry) holds a person's reason or note,
///    not evidence to seal again; `verify` lists it as unrecorded for a person to look at.
struct Reconciler {
    let vault: Vault
    let layout: InboxLayout
    let logger: Logger
    let vaultSync: FileSystemSync
    let inboxSync: FileSystemSync

    struct Summary: Sendable, Equatable {
        var temporaries = 0
        var released = 0
        var archivesDiscarded = 0
        var manifestsDiscarded = 0
    }

    func run(ledger: Ledger) throws -> Summary {
        var summary = Summary()
        summary.temporaries = vault.removeTemporaries(ofDeadProcessesOnly: false).count

        var storageFailure: DaemonError?
        let releaser = Releaser(layout: layout, logger: logger, storageFailed: { storageFailure = storageFailure ?? $0 })
        var done = [String]()
        for release in try ledger.pendingReleases() {
            switch releaser.release(release) {
            case .releaseFailed: continue
            case .released:
                summary.released += 1
                done.append(release.item)
            default: done.append(release.item)
            }
        }
        if let storageFailure { throw storageFailure }
        if !done.isEmpty {
            try inboxSync.sync()
            try ledger.completeReleases(done)
        }

        let referenced = try ledger.referencedContent()
        for (path, name) in try files(under: vault.objectsPath) {
            guard let hash = Self.hash(prefixOf: name), !referenced.contents.contains(hash) else { continue }
            FileSystem.remove(path)
            summary.archivesDiscarded += 1
            logger.warning(
                "discarded an archive that no ledger entry records (a seal interrupted before its commit); its original is sealed again from the inbox",
                metadata: ["archive": "\(path)"])
        }
        for (path, name) in try files(under: vault.manifestsPath) {
            guard let hash = Self.hash(prefixOf: name), !referenced.manifests.contains(hash) else { continue }
            FileSystem.remove(path)
            summary.manifestsDiscarded += 1
        }
        try vaultSync.sync()
        if summary != Summary() {
            logger.notice(
                "reconciled the vault after an interruption",
                metadata: [
                    "temporariesRemoved": "\(summary.temporaries)", "originalsReleased": "\(summary.released)",
                    "archivesDiscarded": "\(summary.archivesDiscarded)",
                    "manifestsDiscarded": "\(summary.manifestsDiscarded)",
                ])
        }
        return summary
    }

    /// The files one shard level down: `<folder>/<aa>/<name>`.
    private func files(under folder: RawPath) throws -> [(RawPath, [UInt8])] {
        var found = [(RawPath, [UInt8])]()
        for shard in try FileSystem.listDirectory(folder) {
            let shardPath = folder.appending(component: shard)
            guard let status = try FileSystem.linkStatus(shardPath), status.isDirectory else { continue }
            for name in try FileSystem.listDirectory(shardPath) {
                found.append((shardPath.appending(component: name), name))
            }
        }
        return found
    }

    /// The hash a vault file is named by (64 hex digits, then a suffix); nil for other names.
    static func hash(prefixOf name: [UInt8]) -> Hash? {
        guard name.count > 64, name[64] == UInt8(ascii: "."),
            let bytes = Hex.decode(String(decoding: name.prefix(64), as: UTF8.self))
        else { return nil }
        return Hash(bytes: bytes)
    }
}
