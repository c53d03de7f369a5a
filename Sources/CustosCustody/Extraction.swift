import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSealing
import CustosVault

/// What taking one original out of the vault gave.
public struct ExtractionOutcome: Sendable {
    public enum Result: Sendable {
        /// Written under `name`, its SHA-256 (and MD5 and SHA-1 when recorded) those of the seal.
        case ok(sha256: Hash)
        /// Not written: the archive is missing, damaged, or holds other bytes. `code` is the
        /// fault code `verify` uses for the same finding.
        case failed(code: String, message: String)
    }

    public var record: ItemRecord
    /// The name the original was (or would have been) written under, byte-exact.
    public var name: [UInt8]
    /// Why it is not the original name (an unsafe or unreadable one), when it is not.
    public var nameNote: String?
    public var result: Result
    /// The `extracted` entry that records it.
    public var entry: CustodyEntry

    public var succeeded: Bool { if case .ok = result { true } else { false } }
}

/// One original planned to leave the vault: its item, its sealed entry, and the name it is
/// written under. Every name of a command is planned before anything is written.
public struct ExtractionPlan: Sendable {
    public var record: ItemRecord
    /// The sealed entry (its digests, size and archive are what the original must match).
    public var entry: CustodyEntry
    /// The name the original is written under, byte-exact (`originalName`).
    public var name: [UInt8]
    /// Why it is not the original name (an unsafe or unreadable one), when it is not.
    public var nameNote: String?

    /// The sealed SHA-256, when the entry holds its digests.
    public var sha256: Hash? { entry.digests?.sha256 }
    /// The sealed size.
    public var size: UInt64? { entry.size }
}

/// Where an extraction's bytes go: a folder in process (`OutputFolder`), the socket's stream
/// for the daemon (whose client writes them into its own folder by the same rules). The
/// workflow (`CustodySession.takeOut`) reads and re-hashes the archive, hands the original's
/// bytes to the sink as they are hashed, records the event, then tells the sink; it is written
/// once, for both.
public protocol ExtractionSink: AnyObject {
    /// The original's bytes begin (its archive was found and opened).
    func begin(_ plan: ExtractionPlan) throws
    /// The next bytes of the original. An error ends the read: it is the output's failure, not
    /// the evidence's, and nothing is recorded, unless it is an `ExtractionDeliveryFailure`
    /// (some bytes may have left: the extraction is recorded as failed).
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// All the bytes were given. `verified`: they are the seal's (every digest, the size, the
    /// archive's own SHA-256); keep them (synced), not yet named. Otherwise drop them.
    func end(verified: Bool) throws
    /// The extraction is recorded (`outcome.entry`), succeeded or failed: a folder names the
    /// file, the daemon sends the outcome to its client.
    func recorded(_ outcome: ExtractionOutcome) throws
    /// The extraction could not be recorded (or the sink failed): nothing it holds may be named.
    func abandon(_ error: any Error)
}

/// A sink's failure after some of the original's bytes may have left the vault (the daemon's
/// client went away mid-stream): the extraction is recorded as failed, with this fault.
public protocol ExtractionDeliveryFailure: Error {
    var fault: String { get }
}

/// The in-process sink: a temporary in the folder (`OutputFolder`), named once recorded.
final class FolderSink: ExtractionSink {
    let directory: OutputFolder
    private var file: FileDescriptor?
    private var temporary: [UInt8]?
    private var written: OutputFolder.WrittenFile?

    init(_ directory: OutputFolder) { self.directory = directory }

    func begin(_ plan: ExtractionPlan) throws {
        let (file, temporary) = try directory.createTemporary("extract-\(plan.record.item)")
        self.file = file
        self.temporary = temporary
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws { try file?.write(bytes) }

    func end(verified: Bool) throws {
        guard let file, let temporary else { return }
        self.file = nil
        if verified {
            written = try directory.written(file, temporary: temporary)
        } else {
            directory.discard(temporary)
            self.temporary = nil
        }
    }

    func recorded(_ outcome: ExtractionOutcome) throws {
        guard let written, outcome.succeeded else { return }
        self.written = nil
        temporary = nil
        try directory.place(written, as: outcome.name, recorded: "the extraction (entry \(outcome.entry.sequence))")
    }

    func abandon(_ error: any Error) {
        file = nil
        written = nil
        if let temporary { directory.discard(temporary) }  // not recorded: not out
        temporary = nil
    }
}

extension CustodySession {
    /// Takes the originals of `records` out of the vault into `folder` (made, 0700, when
    /// missing): each archive read in one pass, its original's bytes written while they are
    /// re-hashed, and kept only when its SHA-256, MD5 and SHA-1 (those recorded) and the archive's
    /// own SHA-256 are those of the seal. Each original is written under its original name (the
    /// last component of the name in its manifest, byte-exact, the manifest re-hashed first), or
    /// under its item id when that name is not a safe single component.
    ///
    /// Safely (`OutputFolder`): the folder is held by a descriptor (a symbolic link as the folder
    /// is refused, and so is a folder another account owns or may write into without the sticky
    /// bit); each file is made beside its name as a new temporary (`O_CREAT | O_EXCL |
    /// O_NOFOLLOW`, 0600), fsynced, then, once recorded, renamed to its name without replacing
    /// anything, and the folder fsynced. An existing file is never overwritten: a name that is
    /// taken refuses the whole command before anything is written (`CustodyError.exists`), as
    /// do `reason` (`CustodyText.check`) and an item whose original was destroyed
    /// (`forbiddenByLifecycle`, naming its `disposed` entry).
    ///
    /// Each item gets its own `extracted` event (its result and digest are its own): `result`
    /// `ok` with the `sha256` written, or `failed` with the `fault` code (and the `sha256` found,
    /// when the original could be read whole). A failed item leaves no file and does not stop the
    /// others. The reason, the folder, the name and the archive go into the details document.
    ///
    /// The daemon takes originals out through the same workflow (`planExtraction`, `takeOut`)
    /// into its socket's stream; its client writes them by the same rules.
    public func extract(_ records: [ItemRecord], to folder: RawPath, reason: String) throws -> [ExtractionOutcome] {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        let directory = try OutputFolder(folder)
        let plans = try planExtraction(records, reason: reason)
        try directory.refuseExtractionNames(plans)
        var outcomes = [ExtractionOutcome]()
        for plan in plans {
            let sink = FolderSink(directory)
            outcomes.append(try takeOut(plan, reason: reason, folder: folder.absolute.bytes, into: sink))
        }
        return outcomes
    }

    /// Plans the extraction of `records`: checks the reason and the examiner, refuses an item
    /// whose original was destroyed (`forbiddenByLifecycle`), and names each original (the
    /// manifest re-hashed first). Nothing is written or recorded. Where the names go is the
    /// writer's to check (`OutputFolder.refuseExtractionNames`).
    public func planExtraction(_ records: [ItemRecord], reason: String) throws -> [ExtractionPlan] {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        var plans = [ExtractionPlan]()
        for record in records {
            if let destroyed = try destruction(of: record) {
                throw CustodyError(
                    .forbiddenByLifecycle,
                    "item \(record.item): its original was destroyed (entry \(destroyed.sequence), request \(destroyed.details["request"]?.stringValue ?? "?")); there is nothing to extract (nothing was written)"
                )
            }
            let entry = try CustodyEntry(parsing: ledger.entryBytes(record.sequence))
            let (name, note) = originalName(of: record, entry: entry)
            plans.append(ExtractionPlan(record: record, entry: entry, name: name, nameNote: note))
        }
        return plans
    }

    /// One original out, the workflow's one copy: the archive read in one pass, the original's
    /// bytes handed to `sink` as they are re-hashed, compared with the seal, the `extracted`
    /// event recorded (with `reason`, the `folder` as the writer named it, and the name), and
    /// only then the sink told (`recorded`), so no original takes a name the log does not record.
    /// Throws when the sink fails (nothing recorded, unless some bytes may have left the vault:
    /// `ExtractionDeliveryFailure`) or the event cannot be recorded (the sink abandons its bytes).
    public func takeOut<Sink: ExtractionSink>(
        _ plan: ExtractionPlan, reason: String, folder: [UInt8], into sink: Sink
    ) throws -> ExtractionOutcome {
        let found = try readOut(plan, into: sink)
        var facts: JSONObject = [:]
        var details: JSONObject = [
            "reason": .string(reason), "folder": .byteString(folder), "name": .byteString(plan.name),
        ]
        if let note = plan.nameNote { details["nameNote"] = .string(note) }
        if let archive = found.archive {
            // The archive's identity, not where a driver keeps it: its object name,
            // `<sha256 of the original>.tar.zst` (the suffix gives its compression).
            details["archive"] = .string(archive.name)
        }
        switch found.outcome {
        case .ok(let sha256):
            facts["result"] = .string("ok")
            facts["sha256"] = .string(sha256.hex)
        case .failed(let code, let message):
            facts["result"] = .string("failed")
            facts["fault"] = .string(code)
            if let sha256 = found.found { facts["sha256"] = .string(sha256.hex) }
            details["fault"] = .string(message)
        }
        let recorded: RecordedEvent
        do {
            recorded = try recordEvent(.extracted, items: [plan.record.item], facts: facts, details: details)
        } catch {
            sink.abandon(error)
            throw error
        }
        let outcome = ExtractionOutcome(
            record: plan.record, name: plan.name, nameNote: plan.nameNote, result: found.outcome,
            entry: recorded.entries[0])
        try sink.recorded(outcome)
        return outcome
    }

    /// Reads the original out of its archive into `sink` while re-hashing it, and compares.
    private func readOut<Sink: ExtractionSink>(_ plan: ExtractionPlan, into sink: Sink) throws -> (
        outcome: ExtractionOutcome.Result, found: Hash?, archive: StoredObject?
    ) {
        let entry = plan.entry
        guard let want = entry.digests, let archiveHash = entry.archive, let size = entry.size else {
            return (.failed(code: "entry-incomplete", message: "the sealed entry lacks digests"), nil, nil)
        }
        let stored: StoredObject?
        do { stored = try vault.objects.findArchive(content: want.sha256) } catch {
            return (
                .failed(code: "archive-unreadable", message: "the archive cannot be looked up in the vault: \(error)"),
                nil, nil
            )
        }
        guard let archive = stored else {
            return (
                .failed(
                    code: "archive-missing",
                    message: "the archive objects/\(want.sha256.hex.prefix(2))/\(want.sha256.hex).tar… is missing"),
                nil, nil
            )
        }
        let location = vault.objects.describe(archive)
        do { try sink.begin(plan) } catch {
            sink.abandon(error)
            throw error
        }
        var sinkFailure: (any Error)?
        let contents: VaultVerifier.ArchiveContents
        do {
            contents = try VaultVerifier(vault: vault).readArchive(
                archive, wantMD5: want.md5 != nil, wantSHA1: want.sha1 != nil
            ) { chunk in
                do { try sink.write(chunk) } catch {
                    sinkFailure = error
                    throw error
                }
            }
        } catch {
            if let delivery = sinkFailure as? any ExtractionDeliveryFailure {
                // Some bytes may have left: on the record, as a failed extraction.
                try? sink.end(verified: false)
                return (.failed(code: delivery.fault, message: "\(delivery)"), nil, archive)
            }
            if let sinkFailure {  // the output's failure, not the evidence's
                sink.abandon(sinkFailure)
                throw sinkFailure
            }
            do { try sink.end(verified: false) } catch {
                sink.abandon(error)
                throw error
            }
            return (
                .failed(code: "archive-unreadable", message: "the archive \(location) cannot be read: \(error)"), nil,
                archive
            )
        }
        let found = contents.digests.sha256
        let mismatch: (String, String)? =
            if found != want.sha256 {
                (
                    "content-sha256",
                    "the original in the archive \(location) has another SHA-256 (\(found.hex), sealed \(want.sha256.hex))"
                )
            } else if let md5 = want.md5, contents.digests.md5 != md5 {
                ("content-md5", "the original in the archive \(location) has another MD5")
            } else if let sha1 = want.sha1, contents.digests.sha1 != sha1 {
                ("content-sha1", "the original in the archive \(location) has another SHA-1")
            } else if UInt64(contents.size) != size {
                (
                    "content-size",
                    "the original in the archive \(location) has another size (\(contents.size), sealed \(size))"
                )
            } else if contents.archiveHash != archiveHash {
                (
                    "archive-digest",
                    "the archive \(location) is not the one that was sealed (its SHA-256 is \(contents.archiveHash.hex))"
                )
            } else {
                nil
            }
        do { try sink.end(verified: mismatch == nil) } catch let delivery as any ExtractionDeliveryFailure {
            return (.failed(code: delivery.fault, message: "\(delivery)"), found, archive)
        } catch {
            sink.abandon(error)
            throw error
        }
        if let (code, message) = mismatch { return (.failed(code: code, message: message), found, archive) }
        return (.ok(sha256: found), found, archive)
    }

    /// The last component of the original name the manifest holds (re-hashed against the
    /// entry), or the item id with a note saying why not.
    private func originalName(of record: ItemRecord, entry: CustodyEntry) -> (name: [UInt8], note: String?) {
        let fallback = Array(record.item.utf8)
        let manifest = StoredManifest.read(entry: .object(entry.details), vault: vault)
        guard let name = manifest.value?["original"]?["name"]?.byteStringValue else {
            return (fallback, "the manifest is missing or does not match the ledger; named by the item id")
        }
        let last = Array(name.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).last ?? [])
        // One ordinary name a shell and a file system take as it is: no control character (C0, DEL,
        // C1), no leading "-", at most 255 bytes (NAME_MAX).
        let isControl = { (byte: UInt8) in byte < 0x20 || byte == 0x7F }
        let hasC1 =
            String(validating: last, as: UTF8.self).map { text in
                text.unicodeScalars.contains { (0x80...0x9F).contains($0.value) }
            } ?? false
        guard RawPath.isSafeComponent(last), last.count <= 255, last.first != UInt8(ascii: "-"),
            !last.contains(where: isControl), !hasC1
        else {
            return (
                fallback,
                "the original name \"\(DisplayName.escape(name))\" is not a safe file name; named by the item id"
            )
        }
        return (last, nil)
    }
}
