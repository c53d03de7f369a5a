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
    public func extract(_ records: [ItemRecord], to folder: RawPath, reason: String) throws -> [ExtractionOutcome] {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        try checkExaminer()
        let directory = try OutputFolder(folder)
        let absoluteFolder = folder.absolute

        // Every name first: nothing is written when one is taken.
        var plans = [(record: ItemRecord, entry: CustodyEntry, name: [UInt8], note: String?)]()
        var taken = Set<[UInt8]>()
        for record in records {
            if let destroyed = try destruction(of: record) {
                throw CustodyError(
                    .forbiddenByLifecycle,
                    "item \(record.item): its original was destroyed (entry \(destroyed.sequence), request \(destroyed.details["request"]?.stringValue ?? "?")); there is nothing to extract (nothing was written)"
                )
            }
            let entry = try CustodyEntry(parsing: ledger.entryBytes(record.sequence))
            let (name, note) = originalName(of: record, entry: entry)
            guard !directory.contains(name) else {
                throw CustodyError(
                    .exists,
                    "\(directory.path(of: name)): exists; item \(record.item) is not extracted over it (nothing was written)"
                )
            }
            guard taken.insert(name).inserted else {
                throw CustodyError(
                    .refused,
                    "\(directory.path(of: name)): two of the items given have this name; extract them into separate folders (nothing was written)"
                )
            }
            plans.append((record, entry, name, note))
        }

        var outcomes = [ExtractionOutcome]()
        for plan in plans {
            let result = try takeOut(plan.record, entry: plan.entry, name: plan.name, into: directory)
            var facts: JSONObject = [:]
            var details: JSONObject = [
                "reason": .string(reason), "folder": .byteString(absoluteFolder.bytes), "name": .byteString(plan.name),
            ]
            if let note = plan.note { details["nameNote"] = .string(note) }
            if let archive = result.archive {
                // The archive's identity, not where a driver keeps it: its object name,
                // `<sha256 of the original>.tar.zst` (the suffix gives its compression).
                details["archive"] = .string(archive.name)
            }
            switch result.outcome {
            case .ok(let sha256):
                facts["result"] = .string("ok")
                facts["sha256"] = .string(sha256.hex)
            case .failed(let code, let message):
                facts["result"] = .string("failed")
                facts["fault"] = .string(code)
                if let found = result.found { facts["sha256"] = .string(found.hex) }
                details["fault"] = .string(message)
            }
            let recorded: RecordedEvent
            do {
                recorded = try recordEvent(.extracted, items: [plan.record.item], facts: facts, details: details)
            } catch {
                if let written = result.written { directory.discard(written.temporary) }  // not recorded: not out
                throw error
            }
            if let written = result.written {
                try directory.place(
                    written, as: plan.name, recorded: "the extraction (entry \(recorded.entries[0].sequence))")
            }
            outcomes.append(
                ExtractionOutcome(
                    record: plan.record, name: plan.name, nameNote: plan.note, result: result.outcome,
                    entry: recorded.entries[0]))
        }
        return outcomes
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

    /// One original out, into a temporary: written while re-hashed, compared, synced. On success
    /// the temporary is kept, not yet named: the caller records the extraction, then names it
    /// (`place`), so no original leaves the vault that the log does not record.
    private func takeOut(_ record: ItemRecord, entry: CustodyEntry, name: [UInt8], into directory: OutputFolder)
        throws -> (
            outcome: ExtractionOutcome.Result, found: Hash?, archive: StoredObject?, written: OutputFolder.WrittenFile?
        )
    {
        guard let want = entry.digests, let archiveHash = entry.archive, let size = entry.size else {
            return (.failed(code: "entry-incomplete", message: "the sealed entry lacks digests"), nil, nil, nil)
        }
        let stored: StoredObject?
        do { stored = try vault.objects.findArchive(content: want.sha256) } catch {
            return (
                .failed(code: "archive-unreadable", message: "the archive cannot be looked up in the vault: \(error)"),
                nil, nil, nil
            )
        }
        guard let archive = stored else {
            return (
                .failed(
                    code: "archive-missing",
                    message: "the archive objects/\(want.sha256.hex.prefix(2))/\(want.sha256.hex).tar… is missing"),
                nil, nil, nil
            )
        }
        let location = vault.objects.describe(archive)
        let (file, temporary) = try directory.createTemporary("extract-\(record.item)")
        var kept = false
        defer { if !kept { directory.discard(temporary) } }
        var writeFailure: (any Error)?
        let contents: VaultVerifier.ArchiveContents
        do {
            contents = try VaultVerifier(vault: vault).readArchive(
                archive, wantMD5: want.md5 != nil, wantSHA1: want.sha1 != nil
            ) { chunk in
                do { try file.write(chunk) } catch {
                    writeFailure = error
                    throw error
                }
            }
        } catch {
            if let writeFailure { throw writeFailure }  // the output's failure, not the evidence's
            return (
                .failed(code: "archive-unreadable", message: "the archive \(location) cannot be read: \(error)"), nil,
                archive,
                nil
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
        if let (code, message) = mismatch { return (.failed(code: code, message: message), found, archive, nil) }
        let written = try directory.written(file, temporary: temporary)
        kept = true
        return (.ok(sha256: found), found, archive, written)
    }
}
