import CustosFileSystem
import CustosFormats

/// The object store of a vault on local disk: its folders, sharded by the first two hex digits
/// of the SHA-256 each file is named by.
///
/// ```
/// objects/ab/<sha256>.tar.zst  sealed archives, named by the SHA-256 of the evidence they hold
///                              (.tar, .tar.gz, .tar.xz for the other compressions)
/// manifests/ab/<sha256>.json   manifests, named by their SHA-256
/// details/ab/<sha256>.json     details documents of custody events, named by their SHA-256
/// ```
///
/// Files are 0400, folders 0700, and nothing is reached through a symbolic link: a shard that
/// is one is refused, and files are opened with `O_NOFOLLOW`. An archive takes its name with
/// `link(2)` (`.immediate`) or `renameat2(RENAME_NOREPLACE)` (`.batch`), neither of which
/// replaces a name; a small document is written beside its name as `.tmp-<pid>.<start time>-<name>` and
/// renamed, after its name was found free.
public struct LocalFolderObjectStore: ObjectStore {
    /// The vault's folder, which holds the store's folders.
    public let vaultRoot: RawPath

    public init(vaultRoot: RawPath) { self.vaultRoot = vaultRoot }

    /// The folder that keeps `family`.
    public func folder(_ family: StoredObject.Family) -> RawPath {
        switch family {
        case .archives: vaultRoot.appending("objects")
        case .manifests: vaultRoot.appending("manifests")
        case .details: vaultRoot.appending("details")
        }
    }

    /// The store's folders, in the vault's layout.
    var folders: [RawPath] { StoredObject.Family.allCases.map(folder) }

    private static func shard(_ hash: Hash) -> [UInt8] { Array(hash.hex.prefix(2).utf8) }

    /// The file that holds `object`: for tests that alter a vault's files by hand, and for what
    /// only a local file can do. Callers go through the `ObjectStore` methods.
    public func path(of object: StoredObject) -> RawPath {
        folder(object.kind.family).appending(component: Self.shard(object.hash))
            .appending(component: Array(object.name.utf8))
    }

    /// The object a file of `family` named `name` holds, or nil when the name is no content
    /// address of that family (`<64 lower-case hex digits><suffix>`).
    private static func object(named name: [UInt8], in family: StoredObject.Family) -> StoredObject? {
        guard name.count > 64, let hash = Hash(hex: String(decoding: name.prefix(64), as: UTF8.self)),
            Array(hash.hex.utf8) == Array(name.prefix(64))
        else { return nil }
        let suffix = String(decoding: name.dropFirst(64), as: UTF8.self)
        let kinds: [StoredObject.Kind] =
            switch family {
            case .archives: Compression.allCases.map { .archive($0) }
            case .manifests: [.manifest]
            case .details: [.details]
            }
        return kinds.first { $0.suffix == suffix }.map { StoredObject($0, hash: hash) }
    }

    public func findArchive(content: Hash) throws -> StoredObject? {
        // Every compression of a content shares its shard: checked once.
        _ = try checkedPath(of: .archive(content: content, compression: .none))
        return try storedArchive(content: content)
    }

    /// The archive of `content` in whichever compression, its shard already checked.
    private func storedArchive(content: Hash) throws -> StoredObject? {
        for compression in Compression.allCases {
            let object = StoredObject.archive(content: content, compression: compression)
            if try FileSystem.linkStatus(path(of: object)) != nil { return object }
        }
        return nil
    }

    public func contains(_ object: StoredObject) throws -> Bool {
        try FileSystem.linkStatus(try checkedPath(of: object)) != nil
    }

    public func read(_ object: StoredObject) throws -> [UInt8] {
        try FileSystem.readFile(try checkedPath(of: object))
    }

    public func openForReading(_ object: StoredObject) throws -> FileDescriptor {
        try FileSystem.openForReading(try checkedPath(of: object))
    }

    /// The path of `object`, once its family's folder and its shard are found to be folders (or
    /// missing), never symbolic links: an object is never looked up, read or taken for stored
    /// through a link put in place of a folder while the vault is in use (the object's own name
    /// is opened with O_NOFOLLOW).
    private func checkedPath(of object: StoredObject) throws -> RawPath {
        let target = path(of: object)
        for part in [folder(object.kind.family), target.parent] {
            guard let status = try FileSystem.linkStatus(part) else { break }
            guard status.isDirectory else {
                throw VaultError(
                    .badLayout, "\(part): is a \(status.kind) where the vault keeps a folder; refused, not followed")
            }
        }
        return target
    }

    /// Makes the shard folder (0700) that `object` goes into, and its family's folder when a
    /// vault made before it lacks it (its name made durable with `.immediate`). A symbolic link
    /// or a file in place of either is refused, never followed.
    private func prepareShard(for object: StoredObject, durability: Vault.Durability) throws -> RawPath {
        let family = folder(object.kind.family)
        let shard = path(of: object).parent
        // One lstat each while they exist (every seal after the first of a shard): a folder, or refused.
        func isFolder(_ part: RawPath) throws -> Bool {
            guard let status = try FileSystem.linkStatus(part) else { return false }
            guard status.isDirectory else {
                let refusal = status.isSymbolicLink ? "refused, not followed" : "nothing was stored"
                throw VaultError(.badLayout, "\(part): is a \(status.kind) where the vault keeps a folder; \(refusal)")
            }
            return true
        }
        if try !isFolder(family) {
            try FileSystem.makeDirectory(family)
            if durability == .immediate { try FileSystem.syncDirectory(vaultRoot) }
        }
        // Made when missing; a link put there in between makes `makeDirectory` refuse it.
        if try !isFolder(shard) { try FileSystem.makeDirectory(shard) }
        return shard
    }

    public func place(temporary: RawPath, as object: StoredObject, durability: Vault.Durability) throws
        -> Vault.Placement
    {
        // The shard is checked (never a link) and made first; the look-ups below go through it.
        let target = try prepareShard(for: object, durability: durability).appending(
            component: path(of: object).lastComponent)
        let existing: StoredObject? =
            if case .archive = object.kind { try storedArchive(content: object.hash) } else {
                try FileSystem.linkStatus(target) != nil ? object : nil
            }
        if let existing { return .alreadyStored(existing) }
        do {
            if durability == .immediate {
                try FileSystem.linkDurably(temporary, to: target)
            } else {
                try FileSystem.renameNoReplace(temporary, to: target)
            }
        } catch let error as FileSystemError where error.code == .exists {
            return .alreadyStored(object)
        }
        if durability == .immediate { try FileSystem.syncDirectory(folder(object.kind.family)) }
        return .placed(object)
    }

    public func store(_ bytes: [UInt8], as object: StoredObject, durability: Vault.Durability) throws {
        let target = path(of: object)
        _ = try prepareShard(for: object, durability: durability)
        if try FileSystem.linkStatus(target) != nil {
            try Self.requireSameBytes(bytes, at: target)
            return
        }
        try Self.writeReadOnly(bytes, to: target, syncing: folder(object.kind.family), durability: durability)
    }

    /// A file kept already under the name of `bytes`' SHA-256 must hold these very bytes (a file
    /// altered in place is never taken for the one a new entry will name).
    static func requireSameBytes(_ bytes: [UInt8], at target: RawPath) throws {
        guard (try? FileSystem.readFile(target)) == bytes else {
            throw VaultError(
                .badLayout, "\(target): holds other bytes than the SHA-256 its name gives; run custos verify")
        }
    }

    /// Writes a new read-only (0400) file whole: durably at once (the file, its folder and
    /// `folder` above it synced), or for the caller's batch sync.
    static func writeReadOnly(
        _ bytes: [UInt8], to target: RawPath, syncing folder: RawPath, durability: Vault.Durability
    ) throws {
        if durability == .immediate {
            try FileSystem.writeDurably(bytes, to: target, mode: 0o400)
            try FileSystem.syncDirectory(folder)
        } else {
            try FileSystem.writeForBatch(bytes, to: target, mode: 0o400)
        }
    }

    public func list(_ family: StoredObject.Family) throws -> ObjectListing {
        let folder = folder(family)
        guard try FileSystem.linkStatus(folder) != nil else { return ObjectListing() }
        var listing = ObjectListing()
        for shard in try FileSystem.listDirectory(folder) {
            let shardPath = folder.appending(component: shard)
            guard try FileSystem.linkStatus(shardPath)?.isDirectory == true else {
                listing.strays.append(shardPath.description)
                continue
            }
            for name in try FileSystem.listDirectory(shardPath) {
                if let object = Self.object(named: name, in: family), Self.shard(object.hash) == shard {
                    listing.objects.append(object)
                } else {
                    listing.strays.append(shardPath.appending(component: name).description)
                }
            }
        }
        return listing
    }

    public func remove(_ object: StoredObject) throws {
        FileSystem.remove(path(of: object))
    }

    public func describe(_ object: StoredObject) -> String { path(of: object).description }

    public func refusalToStore(_ family: StoredObject.Family) -> String? {
        let folder = folder(family)
        guard FileSystem.exists(folder), !FileSystem.mayWrite(folder) else { return nil }
        return "\(folder): this account may not write it"
    }

    public func checkLayout() throws {
        for folder in folders {
            try Vault.checkPart(folder, isFolder: true)
            guard FileSystem.exists(folder) else { continue }
            let shards: [[UInt8]]
            do { shards = try FileSystem.listDirectory(folder) } catch {
                throw VaultError(.badLayout, "\(folder): cannot be listed", cause: error)
            }
            for shard in shards where !shard.starts(with: Array(".tmp-".utf8)) {
                try Vault.checkPart(folder.appending(component: shard), isFolder: true)
            }
        }
    }

    public func closeToOthers() {
        for folder in folders {
            FileSystem.closeToOthers(folder)
            for shard in (try? FileSystem.listDirectory(folder)) ?? [] where RawPath.isSafeComponent(shard) {
                FileSystem.closeToOthers(folder.appending(component: shard))
            }
        }
    }

    public func removeTemporaries(ofDeadProcessesOnly: Bool) -> [String] {
        var places = [RawPath]()
        for folder in folders {
            places.append(folder)
            for shard in (try? FileSystem.listDirectory(folder)) ?? [] where RawPath.isSafeComponent(shard) {
                let path = folder.appending(component: shard)
                if (try? FileSystem.linkStatus(path))?.isDirectory == true { places.append(path) }
            }
        }
        return Vault.removeTemporaries(
            in: places.map { ($0, ".tmp-") }, ofDeadProcessesOnly: ofDeadProcessesOnly
        ).map(\.description)
    }
}
