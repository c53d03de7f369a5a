import CustosFormats

/// An original in the inbox whose seal is being committed: where it is, what it was when sealed,
/// and where it goes once released. The ledger keeps it in its release journal (`releases`) from
/// the commit of the seal until the original has left the inbox.
public struct PendingRelease: Hashable, Sendable {
    public var item: String
    /// The original's path, byte-exact.
    public var path: [UInt8]
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    /// Modification time in nanoseconds since the epoch.
    public var modifiedNanoseconds: Int64
    /// Where it moves (under `sealed/`), byte-exact; empty when it is to be deleted.
    public var destination: [UInt8]
    /// The original's own sidecar as it was read at sealing: it leaves the inbox with the
    /// original only while it is still that very file.
    public var sidecar: SidecarAsRead

    /// What the journal knows of an original's own sidecar.
    public enum SidecarAsRead: Hashable, Sendable {
        /// None was read: whatever is under its name now is no part of the seal.
        case none
        /// The file read: its device, inode and status change time (ctime, in nanoseconds).
        case file(device: UInt64, inode: UInt64, changedNanoseconds: Int64)
        /// Not known: a row journalled by a version that did not keep it.
        case unknown
    }

    public init(
        item: String, path: [UInt8], device: UInt64, inode: UInt64, size: Int64, modifiedNanoseconds: Int64,
        destination: [UInt8], sidecar: SidecarAsRead
    ) {
        self.item = item
        self.path = path
        self.device = device
        self.inode = inode
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
        self.destination = destination
        self.sidecar = sidecar
    }
}

extension Ledger {
    /// Appends `events` and journals `releases` in one transaction; `released` names items whose
    /// originals have since left the inbox, whose journal rows go in the same transaction.
    public func append(
        _ events: [NewCustodyEvent], releases: [PendingRelease], released: [String] = []
    ) throws -> [CustodyEntry] {
        try store.writeTransaction {
            let entries = try appendInTransaction(events)
            if !releases.isEmpty { try store.journal(releases) }
            if !released.isEmpty { try store.removeReleases(released) }
            return entries
        }
    }

    /// Removes the journal rows of originals that have left the inbox.
    public func completeReleases(_ items: [String]) throws {
        guard !items.isEmpty else { return }
        try store.writeTransaction { try store.removeReleases(items) }
    }

    /// The journal: originals whose seal is committed and whose release may not have happened.
    public func pendingReleases() throws -> [PendingRelease] {
        try store.pendingReleases()
    }

    /// The SHA-256 of every item's content and the hash of every manifest the ledger refers to:
    /// what the vault must keep. Read from the entry bytes.
    public func referencedContent() throws -> (contents: Set<Hash>, manifests: Set<Hash>) {
        var contents = Set<Hash>()
        var manifests = Set<Hash>()
        for record in try items() {
            contents.insert(record.sha256)
            manifests.insert(record.manifest)
        }
        return (contents, manifests)
    }
}
