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
///    not evidence to seal again; `verify` lists it as unrecorded for a person to look at. Nor is
///    what the object store lists as a stray (a file that is no object of it): `verify` lists it.
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
            switch releaser.release(release, sidecar: Releaser.SidecarKnown(journalled: release.sidecar)) {
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
        for archive in try vault.objects.list(.archives).objects where !referenced.contents.contains(archive.hash) {
            try vault.objects.remove(archive)
            summary.archivesDiscarded += 1
            logger.warning(
                "discarded an archive that no ledger entry records (a seal interrupted before its commit); its original is sealed again from the inbox",
                metadata: ["archive": "\(vault.objects.describe(archive))"])
        }
        for manifest in try vault.objects.list(.manifests).objects where !referenced.manifests.contains(manifest.hash) {
            try vault.objects.remove(manifest)
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
}
