import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL

/// A folder that files leave the vault into (`extract`, `timestamp export`, `checkpoint
/// --export`), and the one way they are written there: the folder held by a descriptor
/// (`HeldDirectory`: a symbolic link as the folder is refused, never followed), each file made
/// beside its name as a new temporary (`O_CREAT | O_EXCL | O_NOFOLLOW`, 0600) and fsynced; then,
/// once the caller has recorded the event, renamed to its name without replacing anything
/// (`place`), checked to be the file written, and the folder fsynced. Nothing takes a name in
/// the folder that the log does not record, and nothing already there is overwritten.
///
/// The folder must be one only this account can change: owned by it, and not writable by group
/// or others unless sticky (as `/tmp` is). In a folder another account may write into, a file
/// could be swapped after it was written and checked; such a folder is refused (`.refused`)
/// before anything is written.
public struct OutputFolder {
    let directory: HeldDirectory

    /// A verified file in its temporary, not yet named.
    public struct WrittenFile: Sendable {
        public var temporary: [UInt8]
        var device: UInt64
        var inode: UInt64
    }

    /// Opens `path` (made, mode 0700, when it does not exist) and checks who may change it.
    public init(_ path: RawPath) throws {
        let directory = try HeldDirectory(path, create: true)
        let status = try directory.status()
        let me = ThisProcess.effectiveUserID
        guard status.uid == me else {
            let owner =
                ThisProcess.accountName(userID: status.uid).map { "\($0), uid \(status.uid)" } ?? "uid \(status.uid)"
            throw CustodyError(
                .refused,
                "\(path): is owned by another account (\(owner)), which could replace a file after it is written; "
                    + "write into a folder of your own (nothing was written)")
        }
        let sticky: UInt32 = 0o1000
        guard status.mode & 0o022 == 0 || status.mode & sticky != 0 else {
            throw CustodyError(
                .refused,
                "\(path): is writable by \(status.mode & 0o002 != 0 ? "others" : "its group") (mode "
                    + "\(String(status.mode & 0o7777, radix: 8))) without the sticky bit, so another account could "
                    + "replace a file after it is written; write into a folder only you can write (chmod go-w), "
                    + "nothing was written")
        }
        self.directory = directory
    }

    public var path: RawPath { directory.path }

    /// The path of `name` in the folder, for messages.
    public func path(of name: [UInt8]) -> RawPath { directory.path(of: name) }

    /// Whether anything of that name is in the folder.
    public func contains(_ name: [UInt8]) -> Bool { directory.contains(name) }

    /// Refuses (`.exists`, nothing written) when one of `names` is taken in the folder.
    public func refuseTaken(_ names: [[UInt8]], what: String) throws {
        for name in names where directory.contains(name) {
            throw CustodyError(
                .exists, "\(path(of: name)): exists; \(what) is never written over a file (nothing was written)")
        }
    }

    /// Refuses, before anything is written, the names of an extraction (`plans`, as planned by
    /// `CustodySession.planExtraction` in process or by the daemon): one that is taken in the
    /// folder (`.exists`), or two items of the same name (`.refused`).
    public func refuseExtractionNames(_ plans: [(item: String, name: [UInt8])]) throws {
        var taken = Set<[UInt8]>()
        for plan in plans {
            guard !contains(plan.name) else {
                throw CustodyError(
                    .exists,
                    "\(path(of: plan.name)): exists; item \(plan.item) is not extracted over it (nothing was written)")
            }
            guard taken.insert(plan.name).inserted else {
                throw CustodyError(
                    .refused,
                    "\(path(of: plan.name)): two of the items given have this name; extract them into separate folders (nothing was written)"
                )
            }
        }
    }

    /// `refuseExtractionNames` for the plans of `CustodySession.planExtraction`.
    public func refuseExtractionNames(_ plans: [ExtractionPlan]) throws {
        try refuseExtractionNames(plans.map { (item: $0.record.item, name: $0.name) })
    }

    /// A new temporary in the folder, `.custos-<label>-<pid>-<random>` (the label short and this
    /// process's: an item id, an index; 16 random hex digits after the pid), for writing: its
    /// descriptor and its name. Finish it with `written`, or remove it with `discard`.
    ///
    /// The random part is why a leftover never blocks: a crash leaves its temporary behind, and
    /// a later process of the same pid (containers reuse pids) would otherwise find the name
    /// taken. A name taken all the same is passed over for a fresh one.
    public func createTemporary(_ label: String) throws -> (file: FileDescriptor, temporary: [UInt8]) {
        var attempt = 0
        while true {
            attempt += 1
            let random = Hex.encode(try SecureRandom.bytes(8))
            let temporary = Array(".custos-\(label)-\(ThisProcess.identifier)-\(random)".utf8)
            do {
                return (try directory.createExclusive(temporary), temporary)
            } catch let error as FileSystemError where error.code == .exists && attempt < 8 {
                continue
            }
        }
    }

    /// Syncs a temporary written through `file` and returns what `place` checks.
    public func written(_ file: FileDescriptor, temporary: [UInt8]) throws -> WrittenFile {
        try file.sync()
        let status = try file.status()
        return WrittenFile(temporary: temporary, device: status.device, inode: status.inode)
    }

    /// Writes `bytes` into a new temporary (`createTemporary(label)`), fsynced.
    public func write(_ bytes: [UInt8], label: String) throws -> WrittenFile {
        let (file, temporary) = try createTemporary(label)
        do {
            try file.write(bytes)
            return try written(file, temporary: temporary)
        } catch {
            directory.remove(temporary)
            throw error
        }
    }

    /// Removes a temporary that will not be placed (its event was not recorded).
    public func discard(_ temporary: [UInt8]) { directory.remove(temporary) }

    /// Gives a recorded file its name, without replacing anything, and checks that the file that
    /// took the name is the one written (the temporary could have been swapped); then syncs the
    /// folder. `recorded` says which event recorded it, for the messages.
    public func place(_ written: WrittenFile, as name: [UInt8], recorded: String) throws {
        let kept = directory.path(of: written.temporary)
        do {
            try directory.renameNoReplace(written.temporary, to: name)
        } catch {
            throw CustodyError(
                .exists,
                "\(directory.path(of: name)): \(recorded) is recorded, but the file could not take its name; it is "
                    + "kept as \(kept)", cause: error)
        }
        guard let placed = directory.identity(of: name), placed == (written.device, written.inode) else {
            throw CustodyError(
                .altered,
                "\(directory.path(of: name)): is not the file written for \(recorded) (the temporary was replaced in "
                    + "the folder); do not use it, write it again into a folder only you can write")
        }
        try directory.sync()
    }

    /// Places every file of one recorded event (`place`), going on past a file that cannot take
    /// its name: each recorded file is placed, or said not to be. Throws, once all were tried, an
    /// error that names each file not placed, why, and where its bytes are kept (its temporary,
    /// which is left in the folder).
    public func placeAll(_ files: [(written: WrittenFile, name: [UInt8])], recorded: String) throws {
        var failures = [(name: [UInt8], error: any Error)]()
        for file in files {
            do { try place(file.written, as: file.name, recorded: recorded) } catch {
                failures.append((file.name, error))
            }
        }
        guard let first = failures.first else { return }
        if failures.count == 1, files.count == 1 { throw first.error }
        // The gravest says the exit: a file replaced in the folder (altered, exit 1) over a name
        // taken (exists, exit 2).
        let codes = failures.compactMap { ($0.error as? CustodyError)?.code }
        let code: CustodyError.Code = codes.contains(.altered) ? .altered : codes.first ?? .exists
        throw CustodyError(
            code,
            "\(path): \(recorded) is recorded, but \(failures.count) of its \(files.count) files were not placed as "
                + "written: " + failures.map { "\($0.error)" }.joined(separator: "; "))
    }
}
