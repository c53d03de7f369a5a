import CustosFileSystem
import CustosFormats

/// One blob the vault keeps by content address: what it is and the SHA-256 it is named by.
///
/// An archive is named by the SHA-256 of the evidence it holds (not of its own bytes, which the
/// ledger entry records apart); a manifest and a details document by the SHA-256 of their own
/// bytes.
public struct StoredObject: Hashable, Sendable, CustomStringConvertible {
    /// What kind of blob it is.
    public enum Kind: Hashable, Sendable {
        /// A sealed archive (pax), compressed so.
        case archive(Compression)
        /// A seal's manifest (canonical JSON).
        case manifest
        /// A custody event's details document (canonical JSON).
        case details

        /// What follows the SHA-256 in its name: the archive's compression suffix
        /// (`.tar.zst`, `.tar`, …), `.json` for a manifest or a details document.
        public var suffix: String {
            switch self {
            case .archive(let compression): compression.suffix
            case .manifest, .details: ".json"
            }
        }

        /// The family it is listed with: every archive is one, whatever its compression.
        public var family: Family {
            switch self {
            case .archive: .archives
            case .manifest: .manifests
            case .details: .details
            }
        }
    }

    /// The objects listed together (`ObjectStore.list`).
    public enum Family: Hashable, Sendable, CaseIterable {
        case archives, manifests, details
    }

    public let kind: Kind
    /// The SHA-256 it is named by.
    public let hash: Hash

    public init(_ kind: Kind, hash: Hash) {
        self.kind = kind
        self.hash = hash
    }

    /// The archive of the evidence whose SHA-256 is `content`, compressed with `compression`.
    public static func archive(content: Hash, compression: Compression) -> StoredObject {
        StoredObject(.archive(compression), hash: content)
    }

    /// The manifest whose SHA-256 is `hash`.
    public static func manifest(_ hash: Hash) -> StoredObject { StoredObject(.manifest, hash: hash) }

    /// The details document whose SHA-256 is `hash`.
    public static func details(_ hash: Hash) -> StoredObject { StoredObject(.details, hash: hash) }

    /// The archive's compression; nil for a manifest or details document.
    public var compression: Compression? { if case .archive(let compression) = kind { compression } else { nil } }

    /// Its name in any store, `<sha256><suffix>` (`<sha256 of the evidence>.tar.zst` for an
    /// archive): the object's identity, whichever driver keeps it and wherever it lies.
    public var name: String { hash.hex + kind.suffix }

    /// What it is, without where it lies: `archive <sha256>.tar.zst`, `manifest <sha256>`.
    public var description: String {
        switch kind {
        case .archive(let compression): "archive \(hash.hex)\(compression.suffix)"
        case .manifest: "manifest \(hash.hex)"
        case .details: "details document \(hash.hex)"
        }
    }
}

/// What one family of a store holds: its objects, and what lies among them but is none (a name
/// that is no content address, an object under the wrong shard, a writer's temporary). A store
/// never removes a stray by itself: `verify` lists it for a person to look at.
public struct ObjectListing: Sendable {
    public var objects: [StoredObject] = []
    /// Each stray as `ObjectStore.describe` would name it (for the local folder, its path).
    public var strays: [String] = []

    public init(objects: [StoredObject] = [], strays: [String] = []) {
        self.objects = objects
        self.strays = strays
    }
}

extension Vault {
    /// Where a temporary went: to its content address (`placed`), or not, because an object of
    /// the same content was there already (`alreadyStored`, the object the store keeps, which
    /// for an archive may be of another compression).
    public enum Placement: Sendable, Equatable {
        case placed(StoredObject)
        case alreadyStored(StoredObject)
    }

    /// How a step makes what it stores durable: each at once (fsync of file and folders), or as
    /// part of a batch that the caller makes durable with one `FileSystemSync.sync()` of the
    /// vault before the ledger records any of it.
    public enum Durability: Sendable {
        case immediate
        case batch
    }
}

/// The vault's content-addressed blobs (sealed archives, manifests, details documents): the few
/// operations every caller needs, so that a second driver (an object storage bucket) is an
/// addition and not a rewrite. `LocalFolderObjectStore` is the driver of a vault's own folders.
///
/// A store never replaces what it keeps: an object, once stored under its name, keeps its bytes
/// (invariant 2), and a second copy of the same content is refused or shared, never written over
/// the first. Every method blocks: call them from the threads that seal, verify and record, never
/// from Swift's cooperative pool. Problems of the store itself (a link in its layout, another
/// file under an object's name) throw `VaultError`; failures of the medium throw the driver's own
/// error as they come (`FileSystemError` for the local folder, whose `noSpace` pauses sealing).
public protocol ObjectStore: Sendable {
    /// The stored archive of the evidence whose SHA-256 is `content`, whatever its compression;
    /// nil when there is none.
    func findArchive(content: Hash) throws -> StoredObject?

    /// Whether `object` is stored (by name: its bytes are not read).
    func contains(_ object: StoredObject) throws -> Bool

    /// The whole of a small object (a manifest, a details document), as stored: the caller
    /// re-hashes it, a store's word is never taken for its bytes.
    func read(_ object: StoredObject) throws -> [UInt8]

    /// Opens `object` to be read as a stream from its start: an archive that the archive reader
    /// and the verifier re-hash. A remote driver hands out a local copy spooled first.
    func openForReading(_ object: StoredObject) throws -> FileDescriptor

    /// Gives a finished temporary file of the vault (an archive, synced unless `durability` is
    /// `.batch`) its content address as `object`. It never replaces a stored object: when one of
    /// the same content is there (for an archive, in any compression), or appears at the same
    /// moment, the temporary is left where it is and `alreadyStored` names the one kept, for
    /// the caller to re-read and share. With `.immediate` the name is durable on return; with
    /// `.batch` the caller's one sync of the vault makes it so.
    func place(temporary: RawPath, as object: StoredObject, durability: Vault.Durability) throws -> Vault.Placement

    /// Stores `bytes`, whose SHA-256 names `object`, read-only. When the object is stored
    /// already it must hold these very bytes: another content under the same name is refused
    /// (`VaultError.badLayout`: an object altered in place is never taken for the one a new
    /// entry names), and nothing is written.
    func store(_ bytes: [UInt8], as object: StoredObject, durability: Vault.Durability) throws

    /// What one family holds: every object, and the strays among them.
    func list(_ family: StoredObject.Family) throws -> ObjectListing

    /// Removes `object` (the daemon's reconciliation discards archives and manifests that no
    /// entry records). Not durable by itself: the caller syncs the vault once after its removals.
    /// An object already gone is no error.
    func remove(_ object: StoredObject) throws

    /// Where `object` is, for messages and for a person to find it (for the local folder, its
    /// path).
    func describe(_ object: StoredObject) -> String

    /// Why this process cannot store objects of `family` now (an account that may not write the
    /// local folder), or nil when it can: asked before a step that must not fail half-way.
    func refusalToStore(_ family: StoredObject.Family) -> String?

    /// Refuses a store whose own layout is not what the driver keeps (for the local folder: a
    /// symbolic link or a file where a folder or shard belongs); what is missing is not refused.
    func checkLayout() throws

    /// Closes what the store keeps to other users (for the local folder: the group and other
    /// bits of its folders and shards, left wide by an older version). Best effort, never throws.
    func closeToOthers()

    /// Removes what writers left half-written (for the local folder: `.tmp-<pid>.<start time>-*` files beside
    /// their targets): only those of processes that are gone with `ofDeadProcessesOnly`, else
    /// all of them (the reconciliation, holding the sealing lock alone). Returns what it removed,
    /// as `describe` names places.
    func removeTemporaries(ofDeadProcessesOnly: Bool) -> [String]
}
