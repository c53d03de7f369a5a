import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosLedgerSQLite
import CustosOpenSSL
import Foundation

/// A vault on local disk: configuration, ledger, signing key, and the sealed archives and
/// manifests by content address, kept by its object store (`objects`: its own folders, through
/// `LocalFolderObjectStore`, unless opened with another driver).
///
/// ```
/// custos.json                  configuration
/// ledger.sqlite                the ledger (entries, tree, checkpoints, item index)
/// keys/node.key                the Ed25519 signing key, signed-note form, mode 0600
/// keys/node.vkey               its verifier key (name+hash+base64)
/// keys/peers/<origin>.vkey     the verifier keys of the nodes it receives items from (0400)
/// keys/peers/<origin>.checkpoints/<size>  every signed checkpoint received from each, by size (0400)
/// objects/ab/<sha256>.tar.zst  sealed archives, named by the SHA-256 of the evidence they hold
/// manifests/ab/<sha256>.json   manifests, named by their SHA-256
/// details/ab/<sha256>.json     details documents of custody events (reasons, notes, names),
///                              named by their SHA-256, which the event's entry holds
/// tmp/                         archives being written
/// inbox/                       where evidence is dropped (the daemon's default inbox)
/// locks/                       daemon.lock (one daemon per vault), sealing.lock, receive.lock,
///                              report-signer.lock
/// ```
public struct Vault: Sendable {
    public let root: RawPath
    public let configuration: VaultConfiguration
    /// Where the archives, manifests and details documents are kept, by content address.
    public let objects: any ObjectStore

    init(root: RawPath, configuration: VaultConfiguration, objects: (any ObjectStore)? = nil) {
        self.root = root
        self.configuration = configuration
        self.objects = objects ?? LocalFolderObjectStore(vaultRoot: root)
    }

    public var configurationPath: RawPath { root.appending("custos.json") }
    public var ledgerPath: RawPath { root.appending("ledger.sqlite") }
    public var keyPath: RawPath { root.appending("keys").appending("node.key") }
    public var verifierKeyPath: RawPath { root.appending("keys").appending("node.vkey") }
    public var temporaryPath: RawPath { root.appending("tmp") }
    public var inboxPath: RawPath { root.appending("inbox") }
    public var locksPath: RawPath { root.appending("locks") }

    public var compression: Compression { configuration.compression }

    /// Creates a vault at `root`: folders, configuration, signing key (0600), ledger with the
    /// checkpoint of the empty tree. Refuses a folder that already holds a vault, or anything but
    /// an empty folder, and changes nothing then. `timeStampAuthority`, when given (made or
    /// imported and proven by `NodeTimeStampAuthority.prepare`), is installed as the node's TSA.
    ///
    /// Nothing in it is open to other users: folders 0700, files 0600 or 0400. With
    /// `inboxGroup`, that group may drop evidence into the inbox (2770) and reach it through the
    /// vault's folder (0750); everything else stays the service account's.
    public static func create(
        at root: RawPath, configuration: VaultConfiguration, now: String,
        timeStampAuthority: TimeStampAuthorityFiles?, inboxGroup: UInt32? = nil
    ) throws -> Vault {
        var configuration = configuration
        try configuration.validate(file: root.appending("custos.json").description)
        if let status = try FileSystem.linkStatus(root) {
            guard status.isDirectory else {
                throw VaultError(.alreadyExists, "\(root): exists and is a \(status.kind)")
            }
            if FileSystem.exists(root.appending("custos.json")) || FileSystem.exists(root.appending("ledger.sqlite")) {
                throw VaultError(.alreadyExists, "\(root): a vault already exists here; nothing was changed")
            }
            let names = try FileSystem.listDirectory(root)
            guard names.isEmpty else {
                throw VaultError(.alreadyExists, "\(root): the folder is not empty; nothing was changed")
            }
        }
        configuration.timeStampPolicy = timeStampAuthority?.policy
        let vault = Vault(root: root, configuration: configuration)
        do {
            try FileSystem.makeDirectory(root)
            try FileSystem.setFolderAccess(root, group: inboxGroup, mode: inboxGroup == nil ? 0o700 : 0o750)
            try FileSystem.makeDirectory(root.appending("keys"), mode: 0o700)
            for folder in LocalFolderObjectStore(vaultRoot: root).folders + [vault.temporaryPath, vault.inboxPath] {
                try FileSystem.makeDirectory(folder)
            }
            if let inboxGroup { try FileSystem.setFolderAccess(vault.inboxPath, group: inboxGroup, mode: 0o2770) }
            let signer = try Ed25519NoteSigner(name: configuration.origin, key: try Ed25519PrivateKey())
            try FileSystem.writeDurably(Array((signer.privateKeyText + "\n").utf8), to: vault.keyPath, mode: 0o600)
            try FileSystem.writeDurably(Array((signer.verifierKey.text + "\n").utf8), to: vault.verifierKeyPath)
            try Ledger.create(
                path: vault.ledgerPath.description, origin: configuration.origin, signer: signer, now: now)
            try timeStampAuthority?.install(in: vault)
            // The configuration is written last: a vault without it is not a vault yet.
            try FileSystem.writeDurably(try configuration.encoded(), to: vault.configurationPath)
            try FileSystem.syncDirectory(root)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.storage, "\(root): could not create the vault", cause: error)
        }
        return vault
    }

    /// Opens the vault at `root`, checking that it is one. Its objects are kept by `objects`, or
    /// in its own folders (`LocalFolderObjectStore`) when nil.
    public static func open(at root: RawPath, objects: (any ObjectStore)? = nil) throws -> Vault {
        guard let status = try? FileSystem.linkStatus(root) else {
            throw VaultError(.notFound, "\(root): no vault here (run `custos init --vault \(root) --origin NAME`)")
        }
        guard status.isDirectory else { throw VaultError(.notFound, "\(root): is a \(status.kind), not a vault") }
        let configPath = root.appending("custos.json")
        guard FileSystem.exists(configPath) else {
            throw VaultError(
                .notInitialised, "\(root): not an initialised vault (no custos.json; run `custos init`)")
        }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(configPath)
        } catch {
            throw VaultError(.badConfiguration, "\(configPath): cannot be read", cause: error)
        }
        let configuration: VaultConfiguration
        do {
            configuration = try JSONDecoder().decode(VaultConfiguration.self, from: Data(bytes))
        } catch let error as Compression.UnknownName {
            throw VaultError(.badConfiguration, "\(configPath): \(error)")
        } catch {
            throw VaultError(.badConfiguration, "\(configPath): not a valid vault configuration: \(describe(error))")
        }
        try configuration.validate(file: configPath.description)
        let vault = Vault(root: root, configuration: configuration, objects: objects)
        try vault.checkLayout()
        return vault
    }

    /// The vault's own state at its top: what no inbox, `sealed/` or `rejected/` may be, hold,
    /// or lie in.
    public static let stateNames = [
        "custos.json", "ledger.sqlite", "keys", "objects", "manifests", "details", "tmp", "tsa", "locks", "run",
        "report",
    ]

    /// The names a vault may hold at its top: its state, the ledger's companions, the daemon's
    /// default folders and its configuration file.
    public static let topLevelNames: Set<[UInt8]> = Set(
        (stateNames + [
            "ledger.sqlite-wal", "ledger.sqlite-shm", "ledger.sqlite-journal", "inbox", "sealed", "rejected",
            "custos-daemon.yaml",
        ]).map { Array($0.utf8) })

    /// What the vault keeps at its top and below it, each a file or a folder, never a link.
    private var layout: [(RawPath, isFolder: Bool)] {
        [
            (configurationPath, false), (ledgerPath, false), (root.appending("ledger.sqlite-wal"), false),
            (root.appending("ledger.sqlite-shm"), false), (root.appending("keys"), true), (keyPath, false),
            (verifierKeyPath, false), (peersPath, true), (timeStampKeyPath, false), (temporaryPath, true),
            (locksPath, true), (root.appending("tsa"), true), (timeStampCertificatePath, false),
            (timeStampChainPath, false), (anchorsFolder, true), (externalAuthoritiesPath, false),
            (reportKeyPath, false), (reportFolder, true), (reportCertificatePath, false), (reportChainPath, false),
        ]
    }

    /// Refuses a vault where a symbolic link (or a file of the wrong kind) stands in for one of
    /// its files or folders, or for a part of its object store (for its own folders, a shard of
    /// its objects, manifests and details): nothing in a vault is reached through a link. Missing
    /// parts are not refused here (each use says so).
    public func checkLayout() throws {
        for (path, isFolder) in layout { try Self.checkPart(path, isFolder: isFolder) }
        try objects.checkLayout()
    }

    /// Refuses a link, or a file of the wrong kind, at `path`, where the vault keeps a folder or
    /// a regular file; a missing part is not refused.
    static func checkPart(_ path: RawPath, isFolder: Bool) throws {
        let status: FileStatus?
        do { status = try FileSystem.linkStatus(path) } catch {
            throw VaultError(.badLayout, "\(path): cannot be examined", cause: error)
        }
        guard let status else { return }
        if status.isSymbolicLink {
            throw VaultError(
                .badLayout,
                "\(path): is a symbolic link where the vault keeps a \(isFolder ? "folder" : "file"); refused, not followed"
            )
        }
        if isFolder != status.isDirectory || (!isFolder && !status.isRegularFile) {
            throw VaultError(
                .badLayout,
                "\(path): is a \(status.kind) where the vault keeps a \(isFolder ? "folder" : "regular file")")
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "the field \"\(key.stringValue)\" is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "the field \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type"
        case DecodingError.dataCorrupted(let context): context.debugDescription
        default: "\(error)"
        }
    }

    /// Opens the ledger; never creates it. For writing, a vault on a read-only file system is
    /// refused with that reason, before anything is attempted.
    public func openLedger(readOnly: Bool = false, cacheKiB: Int = 65536) throws -> Ledger {
        if !readOnly {
            if FileSystem.isOnReadOnlyFileSystem(root) {
                throw VaultError(.storage, "\(root): the vault is on a read-only file system; nothing can be sealed")
            }
        }
        return try Ledger(
            path: ledgerPath.description, origin: configuration.origin, readOnly: readOnly, cacheKiB: cacheKiB)
    }

    /// Reads the private key file `path` (`what`, for messages), which must be a regular file
    /// that only its owner can read (mode 0600): the one check for every key the vault holds. No
    /// link is followed, and the checks are of the very file read (its descriptor), not of a path
    /// looked at before.
    func readPrivateKeyFile(_ path: RawPath, what: String) throws -> [UInt8] {
        let descriptor: FileDescriptor
        let status: FileStatus
        do {
            (descriptor, status) = try FileSystem.openEvidence(path)
        } catch let error as FileSystemError {
            switch error.code {
            case .notFound: throw VaultError(.keyProblem, "\(path): the \(what) is missing")
            case .symlink, .notRegularFile, .changedWhileReading:
                throw VaultError(.keyProblem, "\(path): the \(what) \(error.message)")
            default: throw VaultError(.keyProblem, "\(path): the \(what) cannot be opened", cause: error)
            }
        }
        guard status.mode & 0o077 == 0 else {
            throw VaultError(
                .keyProblem,
                "\(path): the \(what) has mode \(String(status.mode & 0o777, radix: 8)); it must be 0600")
        }
        do {
            return try descriptor.readAll()
        } catch {
            throw VaultError(.keyProblem, "\(path): the \(what) cannot be read", cause: error)
        }
    }

    /// Loads the signing key, refusing one readable by others than its owner.
    public func signer() throws -> Ed25519NoteSigner {
        let bytes = try readPrivateKeyFile(keyPath, what: "signing key")
        do {
            let text = String(decoding: bytes, as: UTF8.self)
            let signer = try Ed25519NoteSigner(privateKeyText: text.trimmingCharacters(in: .newlines))
            guard signer.name == configuration.origin else {
                throw VaultError(
                    .keyProblem, "\(keyPath): the key is named \(signer.name), not \(configuration.origin)")
            }
            return signer
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.keyProblem, "\(keyPath): cannot load the signing key", cause: error)
        }
    }

    /// The node's verifier key, from `keys/node.vkey`.
    public func verifierKey() throws -> Ed25519NoteVerifier {
        do {
            let text = String(decoding: try FileSystem.readFile(verifierKeyPath), as: UTF8.self)
            return try Ed25519NoteVerifier(text: text.trimmingCharacters(in: .whitespacesAndNewlines))
        } catch {
            throw VaultError(.keyProblem, "\(verifierKeyPath): cannot load the verifier key", cause: error)
        }
    }

    /// Writes a read-only file `target`, named by the SHA-256 of its content, unless it is there
    /// already with the same bytes (other bytes are refused): durably at once (`folder`, above
    /// its own, synced too), or for the caller's batch sync. The trust anchors under `tsa/` are
    /// kept so, beside the object store.
    func storeByHash(_ bytes: [UInt8], at target: RawPath, in folder: RawPath, durability: Durability) throws {
        if FileSystem.exists(target) {
            try LocalFolderObjectStore.requireSameBytes(bytes, at: target)
            return
        }
        try FileSystem.makeDirectory(target.parent)
        try LocalFolderObjectStore.writeReadOnly(bytes, to: target, syncing: folder, durability: durability)
    }

    // MARK: - Locks

    /// Takes the vault's daemon lock: one daemon per vault. Fails, naming the holder, when
    /// another daemon runs. The lock records the daemon's process and that it is starting on
    /// `socket` (the vault's own, `ownSocket`, when nil) until the daemon records that it serves
    /// there (`daemonRecord`). A command that asks whether a daemon runs holds the lock shared
    /// for an instant: that is waited out (a second at most), not taken for a daemon.
    public func lockDaemon(socket: RawPath? = nil) throws -> FileLock {
        try FileSystem.makeDirectory(locksPath, mode: 0o700)
        let path = daemonLockPath
        let deadline = Date(timeIntervalSinceNow: 1)
        while true {
            do {
                let lock = try FileLock(path, exclusive: true, wait: false)
                lock.record(daemonRecord(.starting, socket: socket ?? ownSocket))
                return lock
            } catch let error as FileSystemError where error.code == .exists {
                let daemon = FileLock.isHeldExclusively(path)
                if !daemon && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.01)
                    continue
                }
                guard daemon else {
                    throw VaultError(
                        .locked, "\(path): held by another process (not a daemon) for over a second; try again")
                }
                let holder = FileLock.holder(of: path).split(separator: "\n").first.map(String.init) ?? ""
                throw VaultError(
                    .locked, "\(root): a daemon already runs for this vault (\(holder.isEmpty ? "unknown" : holder))")
            }
        }
    }

    /// Where a vault's daemon serves unless its configuration says otherwise.
    public var ownSocket: RawPath { Self.ownSocket(of: root) }

    /// Where the daemon of the vault at `root` serves unless its configuration says otherwise.
    public static func ownSocket(of root: RawPath) -> RawPath { root.appending("run").appending("custos.sock") }

    private var daemonLockPath: RawPath { locksPath.appending("daemon.lock") }
    private var sealingLockPath: RawPath { locksPath.appending("sealing.lock") }

    /// A daemon's state, as its lock records it.
    public enum DaemonState: String, Sendable {
        /// It holds the lock and checks the vault (reconciliation); its socket is to come.
        case starting
        /// Its socket listens.
        case serving
    }

    /// What the daemon lock records, for operators and commands: this process, its state and
    /// its socket, marked when it is the vault's own (the one commands find by themselves).
    public func daemonRecord(_ state: DaemonState, socket: RawPath) -> String {
        "pid \(ThisProcess.identifier)\n\(state.rawValue) \(String(decoding: socket.bytes, as: UTF8.self))"
            + (socket == ownSocket ? Self.ownSocketMark : "") + "\n"
    }

    private static let ownSocketMark = " (the vault's own socket)"

    /// Whether a daemon holds the vault's lock but does not serve yet, and will serve on the
    /// vault's own socket: a command may wait for it there. False when no daemon runs.
    public var daemonIsStartingOnItsOwnSocket: Bool {
        let path = daemonLockPath
        guard FileLock.isHeldExclusively(path) else { return false }
        // Empty: taken, its record not yet written.
        let lines = FileLock.holder(of: path).split(separator: "\n")
        return lines.isEmpty
            || lines.contains { $0.hasPrefix(DaemonState.starting.rawValue + " ") && $0.hasSuffix(Self.ownSocketMark) }
    }

    /// Whether a daemon runs for this vault now (it holds the daemon lock).
    public var daemonIsRunning: Bool { FileLock.isHeldExclusively(daemonLockPath) }

    /// Takes the sealing lock: shared by everything that seals (`ingest`, the daemon), exclusive
    /// for the daemon's start-up reconciliation, which removes archives no ledger entry names.
    /// Waits for a conflicting holder.
    public func lockSealing(exclusive: Bool) throws -> FileLock {
        try FileSystem.makeDirectory(locksPath, mode: 0o700)
        return try FileLock(sealingLockPath, exclusive: exclusive, wait: true)
    }

    /// Whether a process seals into the vault now (`custos ingest`, `receive`, a daemon): it
    /// holds the sealing lock. Its entries await the checkpoint it signs when it is done.
    public var sealingIsUnderWay: Bool { FileLock.isHeld(sealingLockPath) }

    /// Takes the sealing lock shared (`custos ingest`, the daemon once reconciled) and removes
    /// what sealing processes that died left half-written: a killed ingest leaves nothing
    /// behind for long. Returns the lock and what was removed.
    public func beginSealing() throws -> (lock: FileLock, removed: [String]) {
        let lock = try lockSealing(exclusive: false)
        closeToOthers()
        return (lock, removeTemporaries(ofDeadProcessesOnly: true))
    }

    /// Closes a vault made by an older version (folders 0755, files 0644) to other users: every
    /// folder it keeps (its shards too) and every file at its top lose their group and other
    /// bits, so nothing in it can be reached by them; the vault's own folder keeps group access
    /// where the inbox is shared with a group (setgid). Only the owner can do this: a vault owned
    /// by another account, or on read-only media, is left as it is.
    public func closeToOthers() {
        func narrow(_ path: RawPath, keep: UInt32 = 0) { FileSystem.closeToOthers(path, keeping: keep) }
        let inboxShared = (try? FileSystem.linkStatus(inboxPath)).map { $0.mode & 0o2070 == 0o2070 } ?? false
        narrow(root, keep: inboxShared ? 0o050 : 0)
        for (path, _) in layout { narrow(path) }
        objects.closeToOthers()
        if !inboxShared { narrow(inboxPath) }
        for name in ["sealed", "rejected"] { narrow(root.appending(name)) }
    }

    /// The name of a temporary file made by this process: `<pid>.<start time>-<name>` after
    /// `prefix`, so that what a dead process left can be told from what a live one writes, even
    /// when its pid has since been given to another process.
    public static func temporaryName(_ name: String) -> String { "\(ThisProcess.temporaryTag)-\(name)" }

    /// Removes temporaries: `tmp/<pid>.<start time>-*` and the `.tmp-<pid>.<start time>-*` files a
    /// durable write leaves (names of older versions, `<pid>-*`, are judged by their pid alone)
    /// beside their targets (the vault's top, `tsa/`, the anchors' folder, `keys/peers/`), and what
    /// writers left half-written in the object store (`ObjectStore.removeTemporaries`). With
    /// `ofDeadProcessesOnly`, only those whose process is gone (any holder of the sealing lock
    /// may do this); otherwise all of them (the daemon's reconciliation, holding it alone).
    /// Returns what was removed, for messages.
    @discardableResult
    public func removeTemporaries(ofDeadProcessesOnly: Bool) -> [String] {
        var folders = [(temporaryPath, "")]
        for folder in [root, root.appending("tsa"), anchorsFolder, peersPath] { folders.append((folder, ".tmp-")) }
        return Self.removeTemporaries(in: folders, ofDeadProcessesOnly: ofDeadProcessesOnly).map(\.description)
            + objects.removeTemporaries(ofDeadProcessesOnly: ofDeadProcessesOnly)
    }

    /// Removes the temporaries in each folder: every file of `tmp/` when the prefix is empty (its
    /// names begin with the writer's pid and start time), else the files named
    /// `<prefix><pid>.<start time>-*` (or `<prefix><pid>-*`, from an older version).
    static func removeTemporaries(in folders: [(RawPath, String)], ofDeadProcessesOnly: Bool) -> [RawPath] {
        func isAlive(_ writer: (pid: Int32, startTime: UInt64?)) -> Bool {
            FileSystem.processIsAlive(writer.pid, startedAt: writer.startTime)
        }
        var removed = [RawPath]()
        for (folder, prefix) in folders {
            for name in (try? FileSystem.listDirectory(folder)) ?? [] {
                let owner = FileSystem.temporaryWriter(of: name, after: prefix)
                if prefix.isEmpty {
                    // Everything in tmp/ is a temporary; a name without a pid is from an older version.
                    if ofDeadProcessesOnly, owner.map(isAlive) ?? true { continue }
                } else {
                    guard let owner else { continue }
                    if ofDeadProcessesOnly, isAlive(owner) { continue }
                }
                let path = folder.appending(component: name)
                guard (try? FileSystem.linkStatus(path))?.isRegularFile == true else { continue }
                FileSystem.remove(path)
                removed.append(path)
            }
        }
        return removed
    }

    /// This vault with other sealing settings (the daemon's configuration may override them).
    public func overriding(
        compression: Compression?, compressionLevel: Int??, md5: Bool?, sha1: Bool?
    ) throws -> Vault {
        var configuration = self.configuration
        if let compression { configuration.compression = compression }
        if let compressionLevel { configuration.compressionLevel = compressionLevel }
        if let md5 { configuration.md5 = md5 }
        if let sha1 { configuration.sha1 = sha1 }
        try configuration.validate(file: configurationPath.description)
        return Vault(root: root, configuration: configuration, objects: objects)
    }
}
