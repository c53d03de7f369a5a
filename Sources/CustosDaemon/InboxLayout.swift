import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import CustosSealing

/// The inbox and the two folders beside it: where a file found in the inbox belongs (its case,
/// its sidecars), where it goes once sealed, and where a refused input goes with its reason.
///
/// ```
/// inbox/<case>/<…>/<name>             waiting to be sealed
/// inbox/<case>.custos.yaml            the case's acquisition metadata (optional)
/// inbox/<case>/<…>/<name>.custos.yaml the file's own (optional)
/// sealed/<case>/<…>/<name>            released originals (or deleted, by configuration)
/// rejected/<case>/<id>/<…>/<name>     refused inputs, moved without being opened or followed
/// rejected/<case>/<id>.reason.txt     why
/// ```
public struct InboxLayout: Sendable {
    public let inbox: RawPath
    public let sealed: RawPath
    public let rejected: RawPath
    public let release: ReleasePolicy
    /// The three folders as confined roots: every path from the inbox is resolved below one of
    /// them, never through a link (invariant 9).
    let inboxRoot: ConfinedDirectory
    let sealedRoot: ConfinedDirectory
    let rejectedRoot: ConfinedDirectory

    public init(configuration: DaemonConfiguration) {
        inbox = configuration.inbox
        sealed = configuration.sealed
        rejected = configuration.rejected
        release = configuration.release
        inboxRoot = ConfinedDirectory(inbox)
        sealedRoot = ConfinedDirectory(sealed)
        rejectedRoot = ConfinedDirectory(rejected)
    }

    /// `lstat` of a path under the inbox, resolved below the inbox without following any link:
    /// nil when it does not exist, is not under the inbox, or has a link on its way.
    func status(_ path: RawPath) -> FileStatus? {
        guard let components = components(of: path) else { return nil }
        return try? inboxRoot.status(components)
    }

    /// The components of `path` under `root` (nil when it is not under it).
    static func components(of path: RawPath, under root: RawPath) -> [[UInt8]]? {
        guard path.isInside(root) else { return nil }
        var base = root.bytes
        while base.count > 1, base.last == UInt8(ascii: "/") { base.removeLast() }
        let start = base == [UInt8(ascii: "/")] ? 1 : base.count + 1
        let parts = path.bytes[start...].split(separator: UInt8(ascii: "/")).map(Array.init)
        return parts.allSatisfy(RawPath.isSafeComponent) ? parts : nil
    }

    /// The components of `path` under the inbox (nil when it is not under it).
    public func components(of path: RawPath) -> [[UInt8]]? {
        Self.components(of: path, under: inbox)
    }

    public func path(of components: [[UInt8]]) -> RawPath {
        components.reduce(inbox) { $0.appending(component: $1) }
    }

    /// The case of a file: its first folder under the inbox; "" for a file dropped at the top.
    /// A case folder's name is a case number: printable UTF-8, at most 128 bytes, or the file is
    /// refused with the reason.
    public func caseID(of components: [[UInt8]]) throws(InboxRefusal) -> String {
        guard components.count > 1 else { return "" }
        let name = components[0]
        guard let text = String(validating: name, as: UTF8.self),
            text.unicodeScalars.allSatisfy({ !DisplayName.isInvisibleOrControl($0) || $0 == " " }),
            name.count <= 128
        else {
            throw InboxRefusal(
                "the case folder's name \(DisplayName.escape(name)) is not a case number (printable UTF-8, at most 128 bytes)"
            )
        }
        return text
    }

    /// The sidecars that apply to a file, farthest first: each folder's from the case down, then
    /// the file's own. Only those that exist.
    func sidecarPaths(of components: [[UInt8]]) -> [(relative: [UInt8], components: [[UInt8]])] {
        var found = [(relative: [UInt8], components: [[UInt8]])]()
        for depth in 1...components.count {
            let owner = Array(components[..<depth])
            let sidecar = Array(owner.dropLast()) + [Sidecar.name(for: owner.last!)]
            guard sidecar.last!.count <= 255 else { continue }
            // A link on the way is not followed: the sidecar counts as present, and its open
            // below refuses it by name.
            let present: Bool
            do { present = try inboxRoot.status(sidecar) != nil } catch { present = true }
            if present {
                found.append((Array(sidecar.joined(separator: [UInt8(ascii: "/")])), sidecar))
            }
        }
        return found
    }

    /// Reads the acquisition metadata of a file from its sidecars. A sidecar that is not a
    /// regular file, or does not parse, throws with its name, line and reason. `own` is the
    /// identity of the file's own sidecar as read (nil when it has none): it is released with the
    /// original only while it is still that file.
    func acquisition(
        of components: [[UInt8]]
    ) throws(InboxRefusal) -> (Acquisition, [(path: [UInt8], sha256: Hash)], own: FileIdentity?) {
        var acquisition = Acquisition()
        var read = [(path: [UInt8], sha256: Hash)]()
        var own: FileIdentity?
        let ownSidecar = Array(components.dropLast()) + [Sidecar.name(for: components.last!)]
        let digester = OpenSSLSHA256()
        for (relative, sidecarComponents) in sidecarPaths(of: components) {
            let path = inboxRoot.path(sidecarComponents)
            let bytes: [UInt8]
            do {
                let (file, status) = try inboxRoot.openEvidence(sidecarComponents)
                guard status.size <= Sidecar.maximumSize else {
                    throw InboxRefusal("the sidecar \(path) is larger than \(Sidecar.maximumSize / 1024) KiB")
                }
                bytes = try file.readAll()
                if sidecarComponents == ownSidecar { own = FileIdentity(withChangeTime: status) }
            } catch let refusal as InboxRefusal {
                throw refusal
            } catch {
                throw InboxRefusal("the sidecar cannot be read: \(error)", sidecar: path)
            }
            do {
                try Sidecar(bytes: bytes, file: path.description).apply(to: &acquisition)
            } catch {
                throw InboxRefusal("the sidecar is not valid: \(error)", sidecar: path)
            }
            read.append((relative, digester.sha256(bytes)))
        }
        return (acquisition, read, own)
    }

    /// Where a sealed original goes, below `sealed/`: the same path as under the inbox; when that
    /// name is taken (the same name dropped again, or a link on the way), `<same folder>/<item
    /// id>/<name>`. Names are never merged.
    func sealedDestination(of components: [[UInt8]], item: String) -> [[UInt8]] {
        let taken: Bool
        do { taken = try sealedRoot.status(components) != nil } catch { taken = true }
        return taken ? Self.keptApart(components, item: item) : components
    }

    /// Where a sealed original goes when `plain` is taken: beside it, in a folder named by its item.
    static func keptApart(_ plain: [[UInt8]], item: String) -> [[UInt8]] {
        plain.dropLast() + [Array(item.utf8), plain.last!]
    }

    /// Moves a refused input out of the inbox to `rejected/<case>/<id>/<…>`, without opening or
    /// following it, after writing the reason beside it. Returns the reason file's path. Throws
    /// `DaemonError.sealingStopped` when the move was made but could not be made durable.
    @discardableResult
    func reject(
        _ components: [[UInt8]], reason: String, code: String, now: String, node: String, sync: FileSystemSync
    ) throws -> RawPath {
        let caseFolder = components.count > 1 ? components[0] : Array("_no-case".utf8)
        let rest = components.count > 1 ? Array(components.dropFirst()) : components
        let id = Self.rejectionIdentifier(now: now)
        let target = [caseFolder, Array(id.utf8)] + rest
        let reasonFile = [caseFolder, Array((id + ".reason.txt").utf8)]
        let text = """
            custos did not seal this input; it was moved here unopened.
            input:  \(DisplayName.escape(Array(components.joined(separator: [UInt8(ascii: "/")]))))
            moved:  \(rejectedRoot.path(target))
            reason: \(reason)
            code:   \(code)
            time:   \(now)
            node:   \(node)

            """
        try rejectedRoot.makeDirectories(Array(target.dropLast()))
        do {
            // Its folder is made durable with the move, below, by one sync of the file system.
            try rejectedRoot.writeSynced(Array(text.utf8), to: reasonFile)
        } catch let error as FileSystemError where error.call == "fsync" {
            throw DaemonError(
                .sealingStopped, "writing the reason file \(rejectedRoot.path(reasonFile)) failed: \(error)", cause: error)
        }
        do {
            try inboxRoot.moveNoReplace(components, to: rejectedRoot, target)
        } catch {
            try? rejectedRoot.remove(reasonFile)
            throw error
        }
        // The input's own sidecar goes with it: the inbox keeps only what waits.
        let name = components.last!
        if name.count + Sidecar.suffix.count <= 255 {
            let sidecar = Array(components.dropLast()) + [Sidecar.name(for: name)]
            if (try? inboxRoot.status(sidecar)) != nil {
                try? inboxRoot.moveNoReplace(
                    sidecar, to: rejectedRoot, Array(target.dropLast()) + [Sidecar.name(for: name)])
            }
        }
        // Moved: one sync of the file system the three folders share (held open since the start)
        // makes it durable. No folder an inbox writer owns is opened again by name, so only a
        // real sync failure stops sealing (invariant 8); the file is not left behind.
        do {
            try sync.sync()
        } catch {
            throw DaemonError(
                .sealingStopped,
                "\(path(of: components)) was moved to \(rejectedRoot.path(target)), but syncing the folders failed: \(error)",
                cause: error)
        }
        return rejectedRoot.path(reasonFile)
    }

    static func rejectionIdentifier(now: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let compact = now.filter { $0.isNumber || $0 == "T" }.prefix(15)
        return "\(compact)Z-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

/// A file's device and inode: which file a name held when it was looked at. With its status
/// change time (`ctime`, which no process can set back), a file given the inode number of one
/// removed meanwhile (as ext4 readily does) is not taken for it: a sidecar's identity carries it.
struct FileIdentity: Sendable, Equatable {
    var device: UInt64
    var inode: UInt64
    var changed: Int64? = nil

    init(device: UInt64, inode: UInt64, changed: Int64? = nil) {
        self.device = device
        self.inode = inode
        self.changed = changed
    }

    /// The identity of the file `status` describes, with its status change time.
    init(withChangeTime status: FileStatus) {
        self.init(
            device: status.device, inode: status.inode,
            changed: status.changeTime.seconds * 1_000_000_000 + status.changeTime.nanoseconds)
    }
}

/// Why an input in the inbox is refused: moved to `rejected/` with this reason.
public struct InboxRefusal: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The sidecar at fault, when it is one.
    public let sidecar: RawPath?

    public init(_ message: String, sidecar: RawPath? = nil) {
        self.message = message
        self.sidecar = sidecar
    }

    public var description: String { message }
}
