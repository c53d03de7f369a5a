import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosTimeStamping
import CustosVault

extension CustodyEventType {
    /// Items left the vault's custody (CustosCustody's lifecycle: a disposal approved by a second
    /// account). Its facts: `mode` (`destroy` or `return`) and `request`. After `destroy` the
    /// original's archive is removed from the object store (unless an item of the same content
    /// that is not destroyed still holds it); `verify` then proves the entries and the manifest
    /// and does not look for the archive.
    public static let disposed = CustodyEventType(rawValue: "disposed")

    /// The `mode` fact of a `disposed` entry whose original's bytes were destroyed.
    public static let destroyedMode = "destroy"
}

/// The result of verifying a vault: what was checked and every fault found.
public struct VerificationReport: Sendable {
    public var entries: UInt64
    /// The size of the log audited: its last entry's sequence number plus one (more than
    /// `entries` when an entry is missing).
    public var ledgerSize: UInt64 = 0
    public var checkpointsChecked: Int
    public var latestCheckpointSize: UInt64
    public var itemsChecked: Int
    public var archivesRehashed: Int
    public var bytesRehashed: Int64
    /// Time-stamp tokens re-hashed and verified.
    public var timeStampsChecked = 0
    /// Checkpoints kept outside the vault, checked against its log.
    public var keptCheckpointsChecked = 0
    public var faults: [VerificationFault]
    /// How many of `faults` are about the ledger itself (its audit, a pinned key, a kept
    /// checkpoint) rather than about what it records: nothing should be appended to a ledger
    /// whose own audit failed.
    public var ledgerFaults = 0
    /// Details documents of custody events re-hashed.
    public var detailsChecked = 0
    /// Items checked that were disposed of (a `disposed` entry, either mode): each still proven by
    /// its entries and manifest.
    public var itemsDisposed = 0
    /// Of `itemsDisposed`, those destroyed: their archive is not checked (one still in the vault
    /// that no item left undestroyed holds is noted, not a fault).
    public var itemsDestroyed = 0
    /// `received` entries whose handover proof was re-checked (`checkHandoverProof`).
    public var handoversChecked = 0
    /// Files in the vault that nothing records (a seal interrupted, or one in progress beside a
    /// running daemon; a file put there by hand): not faults of what is recorded, but an
    /// expert sees each.
    public var unrecordedFiles: [String] = []
    /// What is not a fault but an expert should know (entries beside a running daemon that its
    /// next checkpoint covers).
    public var notes: [String] = []

    public var passed: Bool { faults.isEmpty }

    public var json: JSONValue {
        .object([
            "result": .string(passed ? "passed" : "failed"),
            "entries": .integer(Int64(entries)),
            "checkpointsChecked": .integer(Int64(checkpointsChecked)),
            "latestCheckpointSize": .integer(Int64(latestCheckpointSize)),
            "itemsChecked": .integer(Int64(itemsChecked)),
            "archivesRehashed": .integer(Int64(archivesRehashed)),
            "bytesRehashed": .integer(bytesRehashed),
            "timeStampsChecked": .integer(Int64(timeStampsChecked)),
            "keptCheckpointsChecked": .integer(Int64(keptCheckpointsChecked)),
            "detailsChecked": .integer(Int64(detailsChecked)),
            "handoversChecked": .integer(Int64(handoversChecked)),
            "itemsDisposed": .integer(Int64(itemsDisposed)),
            "itemsDestroyed": .integer(Int64(itemsDestroyed)),
            "faults": .array(faults.map(\.json)),
            "unrecordedFiles": .array(unrecordedFiles.map { .string($0) }),
            "notes": .array(notes.map { .string($0) }),
        ])
    }
}

/// Verifies a vault from the bytes up: the ledger audit (chain, tree, checkpoints), then every
/// archive re-read, its original re-hashed and compared with the ledger entry, never with a
/// stored digest alone.
public struct VaultVerifier {
    public let vault: Vault
    private let digester = OpenSSLSHA256()

    public init(vault: Vault) { self.vault = vault }

    /// Verifies the whole ledger and the items whose ids are in `items` (all when nil), with
    /// `key` as the node's verifier key (the vault's own when nil; when given, it is pinned: a
    /// vault whose own key differs is a fault). Time-stamp tokens are checked against
    /// `timeStampAnchors` when given (anchors an expert obtained on their own), else each against
    /// its source's anchors kept in the vault. `keptCheckpoints` are checkpoints the expert kept
    /// elsewhere (name, note text): each must be signed by the key and consistent with the log.
    ///
    /// `checkpointed`: the size of a checkpoint the caller signed, covering every entry, just
    /// before (a report does). Entries after it that the latest checkpoint does not cover yet were
    /// appended since by another writer, whose checkpoint follows its append: a note, not a fault
    /// (as beside a running daemon).
    public func verify(
        ledger: Ledger, items: Set<String>? = nil, key: Ed25519NoteVerifier? = nil,
        timeStampAnchors: [Certificate]? = nil, keptCheckpoints: [(name: String, note: String)] = [],
        checkpointed: UInt64? = nil, progress: (String) -> Void = { _ in }
    ) throws -> VerificationReport {
        let verifier = try key ?? vault.verifierKey()
        // A process that seals from before the audit to its end: entries it appended may await
        // its checkpoint (one that started later did not append those the audit read).
        let sealingThroughout = checkpointed == nil && vault.sealingIsUnderWay
        let audit = try ledger.audit(verifiers: [verifier]) { progress("ledger: \($0) entries") }
        var report = VerificationReport(
            entries: audit.entryCount, ledgerSize: audit.size, checkpointsChecked: audit.checkpointsChecked,
            latestCheckpointSize: audit.latestCheckpointSize, itemsChecked: 0, archivesRehashed: 0, bytesRehashed: 0,
            faults: audit.faults)
        if let key {
            let own = try? vault.verifierKey()
            if own?.key.text != key.key.text {
                report.faults.append(
                    VerificationFault(
                        subject: "key", code: .keyMismatch,
                        message: "the vault's own verifier key (\(vault.verifierKeyPath)) is not the one given",
                        expected: key.key.text, found: own?.key.text ?? "no readable key"))
            }
        }
        for kept in keptCheckpoints {
            report.faults += ledger.checkKeptCheckpoint(kept.note, name: kept.name, verifiers: [verifier])
        }
        report.keptCheckpointsChecked = keptCheckpoints.count
        report.ledgerFaults = report.faults.count
        let records = Dictionary(try ledger.items().map { ($0.item, $0) }, uniquingKeysWith: { first, _ in first })
        let sealed = audit.entries.filter { $0.type.recordsContent && (items == nil || items!.contains($0.item)) }
        var archiveResults = [Hash: ArchiveContents]()  // by content SHA-256
        let disposals = Self.disposals(in: audit.entries, faults: &report.faults)
        // The contents an item holds that is not destroyed: their archives must be there.
        var kept = Set<Hash>()
        for entry in audit.entries where entry.type.recordsContent && disposals[entry.item]?.destroyed != true {
            if let content = entry.digests?.sha256 { kept.insert(content) }
        }
        for (index, entry) in sealed.enumerated() {
            progress("items: \(index + 1)/\(sealed.count)")
            report.itemsChecked += 1
            if let disposal = disposals[entry.item] {
                report.itemsDisposed += 1
                if disposal.destroyed {
                    report.itemsDestroyed += 1
                    report.faults += checkDestroyedItem(
                        entry, disposal: disposal.entry, record: records[entry.item],
                        shared: entry.digests.map { kept.contains($0.sha256) } ?? false, archives: &archiveResults,
                        report: &report)
                    continue
                }
            }
            report.faults += checkItem(entry, record: records[entry.item], archives: &archiveResults, report: &report)
        }
        progress("time stamps")
        let stamps = try TimeStampAudit(vault: vault).check(
            entries: audit.entries, ledger: ledger, items: items, anchorsOverride: timeStampAnchors)
        report.timeStampsChecked = stamps.checked
        report.faults += stamps.faults
        progress("details documents")
        let documented = audit.entries.filter {
            $0.details[CustodyEntry.detailsDocumentMember] != nil && (items == nil || items!.contains($0.item))
        }
        for entry in documented { report.faults += checkDetailsDocument(of: entry) }
        report.detailsChecked = documented.count
        progress("handovers received")
        for entry in audit.entries where entry.type == .received && (items == nil || items!.contains(entry.item)) {
            report.faults += checkHandoverProof(of: entry)
            report.handoversChecked += 1
        }
        if items == nil { report.unrecordedFiles = try unrecordedFiles(ledger: ledger) }
        // Beside a running daemon, the entries since its last checkpoint await its next one.
        if vault.daemonIsRunning {
            report.noteUncoveredEntries("a daemon runs for this vault")
        } else if let checkpointed, report.latestCheckpointSize >= checkpointed {
            report.noteUncoveredEntries(
                "appended by another writer after the checkpoint of size \(checkpointed) was signed")
        } else if sealingThroughout && vault.sealingIsUnderWay {
            // A `custos ingest` of many files signs one checkpoint when it is done.
            report.noteUncoveredEntries(
                "a process seals into this vault now (custos ingest or receive; it signs a checkpoint when it is done)")
        }
        return report
    }

    /// The details document an entry names, re-hashed: `details-missing` when the vault does not
    /// hold it, `details-altered` when its bytes are not those the entry names.
    public func checkDetailsDocument(of entry: CustodyEntry) -> [VerificationFault] {
        let subject = "entry \(entry.sequence)"
        guard let hash = entry.detailsDocument else {
            return [
                VerificationFault(
                    subject: subject, code: .detailsAltered,
                    message: "the entry's details digest is not 64 lower-case hex digits",
                    found: entry.details[CustodyEntry.detailsDocumentMember].map { CanonicalJSON.encodeString($0) })
            ]
        }
        let path = vault.objects.describe(.details(hash))
        guard let bytes = try? vault.objects.read(.details(hash)) else {
            return [
                VerificationFault(
                    subject: subject, code: .detailsMissing,
                    message: "the details document of this \(entry.type) entry (\(path)) is missing", expected: hash.hex
                )
            ]
        }
        let found = digester.sha256(bytes)
        guard found == hash else {
            return [
                VerificationFault(
                    subject: subject, code: .detailsAltered,
                    message: "the details document of this \(entry.type) entry (\(path)) was altered",
                    expected: hash.hex, found: found.hex)
            ]
        }
        return []
    }

    /// What the object store holds that no ledger entry records (archives, manifests, details
    /// documents, and the strays among them), the files under `tmp/`, and the names at the
    /// vault's top that its layout does not name: each as the store describes it, or its path.
    public func unrecordedFiles(ledger: Ledger) throws -> [String] {
        let referenced = try ledger.referencedContent()
        let details = try ledger.referencedDetails()
        var found = [String]()
        for (family, known) in [
            (StoredObject.Family.archives, referenced.contents), (.manifests, referenced.manifests),
            (.details, details),
        ] {
            let listing = (try? vault.objects.list(family)) ?? ObjectListing()
            found += listing.objects.filter { !known.contains($0.hash) }.map(vault.objects.describe)
            found += listing.strays
        }
        for name in (try? FileSystem.listDirectory(vault.temporaryPath)) ?? [] {
            found.append(vault.temporaryPath.appending(component: name).description)
        }
        for name in (try? FileSystem.listDirectory(vault.root)) ?? [] where !Vault.topLevelNames.contains(name) {
            found.append(vault.root.appending(component: name).description)
        }
        return found
    }

    /// What re-reading one archive gave.
    public struct ArchiveContents: Sendable {
        /// Where the archive was read, for messages (the store's description, or the path of a
        /// temporary).
        public var location: String
        public var archiveHash: Hash
        public var member: [UInt8]
        public var size: Int64
        public var digests: EvidenceDigests
        public var manifest: [UInt8]?
        public var hashdeep: [UInt8]?
    }

    /// The first `disposed` entry of each item, and whether it destroyed the original. A
    /// destruction counts only when the ledger shows it approved a request for it by another
    /// account (`disposalProof`); one that does not is reported (`disposal-unproven`) and the
    /// item checked as any other, its archive required.
    static func disposals(in entries: [CustodyEntry], faults: inout [VerificationFault])
        -> [String: (entry: CustodyEntry, destroyed: Bool)]
    {
        var found = [String: (entry: CustodyEntry, destroyed: Bool)]()
        let bySequence = Dictionary(entries.map { ($0.sequence, $0) }, uniquingKeysWith: { first, _ in first })
        for entry in entries where entry.type == .disposed && found[entry.item] == nil {
            let mode = entry.details["mode"]?.stringValue
            var destroyed = mode == CustodyEventType.destroyedMode
            if let mode, let reason = disposalProof(of: entry, mode: mode, bySequence: bySequence) {
                faults.append(
                    VerificationFault(
                        subject: "entry \(entry.sequence)", code: .disposalUnproven,
                        message: "item \(entry.item): disposed (\(mode)) by \(entry.actor), but \(reason)"))
                destroyed = false
            }
            found[entry.item] = (entry, destroyed)
        }
        return found
    }

    /// Why `disposal` is not the approval of a request by another account, or nil when it is:
    /// its `request` names an earlier `disposal-requested` entry, the first of its event, whose
    /// entries name this item with this mode, and whose account is not the approver's (the
    /// account each entry records; the custody service also compares uids from the details
    /// documents).
    static func disposalProof(
        of disposal: CustodyEntry, mode: String, bySequence: [UInt64: CustodyEntry]
    ) -> String? {
        guard let text = disposal.details["request"]?.stringValue, let request = UInt64(text),
            request < disposal.sequence, let first = bySequence[request],
            first.type.rawValue == disposalRequestType
        else {
            return "its request is not an earlier disposal request of this ledger"
        }
        var sequence = request
        var named = false
        while let entry = bySequence[sequence], sequence < disposal.sequence,
            entry.type.rawValue == disposalRequestType, entry.detailsDocument == first.detailsDocument
        {
            if entry.item == disposal.item && entry.details["mode"]?.stringValue == mode { named = true }
            sequence += 1
        }
        guard named else { return "request \(request) does not ask to \(mode) this item" }
        guard first.actor != disposal.actor else {
            return "request \(request) was made by the same account (\(first.actor)): four eyes were not kept"
        }
        return nil
    }

    /// The type of a disposal request's entries (the custody layer records them).
    static let disposalRequestType = "disposal-requested"

    /// A destroyed item: its manifest as any item's; its archive is not looked at (its bytes are no
    /// longer the item's evidence). An archive of its content still in the vault is either held by
    /// an item of the same content that is not destroyed (`shared`: that item's check reads it; a
    /// content sealed again after its destruction has a new archive, whose digest is the new
    /// item's) or left by a removal that did not finish (a crash after the `disposed` entry):
    /// noted, not a fault; finishing the request removes it.
    private func checkDestroyedItem(
        _ entry: CustodyEntry, disposal: CustodyEntry, record: ItemRecord?, shared: Bool,
        archives: inout [Hash: ArchiveContents], report: inout VerificationReport
    ) -> [VerificationFault] {
        if !shared, let content = entry.digests?.sha256,
            let archive = (try? vault.objects.findArchive(content: content)) ?? nil
        {
            let request = disposal.details["request"]?.stringValue ?? "?"
            report.notes.append(
                "item \(entry.item): destroyed by entry \(disposal.sequence) (request \(request)), but its archive \(vault.objects.describe(archive)) is still in the vault (the removal did not finish); `custos approve --finish \(request)` removes it"
            )
        }
        return checkItem(entry, record: record, archives: &archives, report: &report, archive: false)
    }

    private func checkItem(
        _ entry: CustodyEntry, record: ItemRecord?, archives: inout [Hash: ArchiveContents],
        report: inout VerificationReport, archive checksArchive: Bool = true
    ) -> [VerificationFault] {
        let subject = "item \(entry.item)"
        var faults = [VerificationFault]()
        guard let want = entry.digests, entry.archive != nil, let manifestHash = entry.manifest, entry.size != nil
        else {
            return [
                VerificationFault(subject: subject, code: .entryIncomplete, message: "the sealed entry lacks digests")
            ]
        }

        // The manifest, re-hashed.
        let manifestPath = vault.objects.describe(.manifest(manifestHash))
        if let bytes = try? vault.objects.read(.manifest(manifestHash)) {
            faults += checkManifest(bytes: bytes, location: manifestPath, entry: entry, record: record)
        } else {
            faults.append(
                VerificationFault(
                    subject: subject, code: .manifestMissing, message: "the manifest \(manifestPath) is missing"))
        }

        guard checksArchive else { return faults }
        // The archive, re-read and its original re-hashed (once per archive, shared by duplicates).
        let contents: ArchiveContents
        if let cached = archives[want.sha256] {
            contents = cached
        } else {
            let stored: StoredObject?
            do { stored = try vault.objects.findArchive(content: want.sha256) } catch {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .archiveUnreadable,
                        message: "the archive cannot be looked up in the vault: \(error)"))
                return faults
            }
            guard let archive = stored else {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .archiveMissing, message: "the archive is missing from the vault",
                        expected: "objects/\(want.sha256.hex.prefix(2))/\(want.sha256.hex).tar…"))
                return faults
            }
            do {
                contents = try readArchive(archive, wantMD5: want.md5 != nil, wantSHA1: want.sha1 != nil)
                archives[want.sha256] = contents
                report.archivesRehashed += 1
                report.bytesRehashed += contents.size
            } catch {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .archiveUnreadable,
                        message: "the archive \(vault.objects.describe(archive)) cannot be read: \(error)"))
                return faults
            }
        }
        faults += checkArchive(contents, entry: entry)
        return faults
    }

    /// A manifest's bytes against the entry that names it, as `checkManifest(bytes:location:...)`
    /// does: `path` names a carried one (`receive`) in messages.
    public func checkManifest(bytes: [UInt8], at path: RawPath, entry: CustodyEntry, record: ItemRecord?)
        -> [VerificationFault]
    {
        checkManifest(bytes: bytes, location: path.description, entry: entry, record: record)
    }

    /// A manifest's bytes against the entry that names it: re-hashed, then read (digests, size,
    /// item, and the index row when given). What `verify` checks of a stored manifest, and what
    /// `receive` checks of a carried one before anything is stored. `location` names it in
    /// messages.
    public func checkManifest(bytes: [UInt8], location path: String, entry: CustodyEntry, record: ItemRecord?)
        -> [VerificationFault]
    {
        let subject = "item \(entry.item)"
        guard let manifestHash = entry.manifest else {
            return [VerificationFault(subject: subject, code: .entryIncomplete, message: "the entry names no manifest")]
        }
        let found = digester.sha256(bytes)
        guard found == manifestHash else {
            return [
                VerificationFault(
                    subject: subject, code: .manifestDigest, message: "the manifest was altered (\(path))",
                    expected: manifestHash.hex, found: found.hex)
            ]
        }
        guard let manifest = try? CanonicalJSON.parse(bytes) else {
            return [VerificationFault(subject: subject, code: .manifestMalformed, message: "the manifest is not JSON")]
        }
        return checkManifest(manifest, entry: entry, record: record, subject: subject)
    }

    /// An archive, as read in one pass, against the entry that records it: its own SHA-256, the
    /// original's digests and size, its `hashdeep.txt` and its `manifest.json`. What `verify`
    /// checks of a stored archive, and what `receive` checks of a carried one before storing it.
    public func checkArchive(_ contents: ArchiveContents, entry: CustodyEntry) -> [VerificationFault] {
        let subject = "item \(entry.item)"
        guard let want = entry.digests, let archive = entry.archive, let size = entry.size else {
            return [
                VerificationFault(subject: subject, code: .entryIncomplete, message: "the sealed entry lacks digests")
            ]
        }
        var faults = [VerificationFault]()
        if contents.archiveHash != archive {
            faults.append(
                VerificationFault(
                    subject: subject, code: .archiveDigest,
                    message: "the archive's bytes are not those that were sealed (\(contents.location))",
                    expected: archive.hex, found: contents.archiveHash.hex))
        }
        if contents.digests.sha256 != want.sha256 {
            faults.append(
                VerificationFault(
                    subject: subject, code: .contentSha256,
                    message: "the original in the archive has another SHA-256",
                    expected: want.sha256.hex, found: contents.digests.sha256.hex))
        }
        if let md5 = want.md5, contents.digests.md5 != md5 {
            faults.append(
                VerificationFault(
                    subject: subject, code: .contentMd5, message: "the original in the archive has another MD5",
                    expected: Hex.encode(md5), found: contents.digests.md5.map { Hex.encode($0) }))
        }
        if let sha1 = want.sha1, contents.digests.sha1 != sha1 {
            faults.append(
                VerificationFault(
                    subject: subject, code: .contentSha1, message: "the original in the archive has another SHA-1",
                    expected: Hex.encode(sha1), found: contents.digests.sha1.map { Hex.encode($0) }))
        }
        if UInt64(contents.size) != size {
            faults.append(
                VerificationFault(
                    subject: subject, code: .contentSize, message: "the original in the archive has another size",
                    expected: "\(size)", found: "\(contents.size)"))
        }
        // The hashdeep list inside the archive must name the same member, size and digests.
        let hashdeepLine = contents.hashdeep.flatMap { list in
            String(decoding: list, as: UTF8.self).split(separator: "\n").last {
                !$0.hasPrefix("%") && !$0.hasPrefix("#")
            }
        }
        let wantLine =
            ([String(size)] + [want.md5, want.sha1].compactMap { $0.map { Hex.encode($0) } } + [want.sha256.hex])
            .joined(separator: ",") + "," + String(decoding: contents.member, as: UTF8.self)
        if hashdeepLine.map(String.init) != wantLine {
            faults.append(
                VerificationFault(
                    subject: subject, code: .archiveHashdeep,
                    message: "the archive's hashdeep.txt does not list the original with its digests",
                    expected: wantLine, found: hashdeepLine.map(String.init) ?? "no hashdeep.txt"))
        }
        if let inner = contents.manifest {
            // The archive's own manifest must describe the same content.
            if let named = Manifest.namedSHA256(inner) {
                if named != want.sha256 {
                    faults.append(
                        VerificationFault(
                            subject: subject, code: .archiveManifest,
                            message: "the manifest inside the archive names another SHA-256", expected: want.sha256.hex,
                            found: named.hex))
                }
            } else {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .archiveManifest, message: "the archive's manifest is malformed"))
            }
        } else {
            faults.append(
                VerificationFault(
                    subject: subject, code: .archiveManifest, message: "the archive holds no manifest.json"))
        }
        return faults
    }

    private func checkManifest(_ manifest: JSONValue, entry: CustodyEntry, record: ItemRecord?, subject: String)
        -> [VerificationFault]
    {
        var faults = [VerificationFault]()
        let digests = manifest["digests"].flatMap { try? EvidenceDigests(json: $0) }
        if manifest["item"]?.stringValue != entry.item || digests != entry.digests
            || manifest["original"]?["size"]?.integerValue != entry.size.map(Int64.init)
        {
            faults.append(
                VerificationFault(
                    subject: subject, code: .manifestMismatch, message: "the manifest does not describe this entry"))
        }
        if let record {
            let name = manifest["original"]?["name"]?.byteStringValue
            if name != record.name || manifest["acquisition"]?["case"]?.stringValue != record.caseID
                || manifest["acquisition"]?["exhibit"]?.stringValue != record.exhibit
            {
                faults.append(
                    VerificationFault(
                        subject: subject, code: .indexMismatch,
                        message: "the item index's name, case or exhibit differ from the manifest"))
            }
        }
        return faults
    }

    /// Reads a stored archive in one pass, as `readArchive(file:location:...)` does, from the
    /// stream its object store opens.
    public func readArchive(
        _ archive: StoredObject, wantMD5: Bool, wantSHA1: Bool,
        evidence: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> ArchiveContents {
        try readArchive(
            file: try vault.objects.openForReading(archive), location: vault.objects.describe(archive),
            wantMD5: wantMD5, wantSHA1: wantSHA1, evidence: evidence)
    }

    /// Reads the archive file at `path` (a temporary not stored yet) in one pass, as
    /// `readArchive(file:location:...)` does.
    public func readArchive(
        _ path: RawPath, wantMD5: Bool, wantSHA1: Bool,
        evidence: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> ArchiveContents {
        try readArchive(
            file: try FileSystem.openForReading(path), location: path.description, wantMD5: wantMD5,
            wantSHA1: wantSHA1, evidence: evidence)
    }

    /// Reads an archive in one pass: the file's SHA-256 from its raw bytes, the original's digests
    /// from the decompressed member, and the small members whole. `location` names it in
    /// messages. `evidence`, when given, receives the original's bytes as they are hashed
    /// (`extract` writes them out in the same pass); an error it throws ends the read.
    /// Reads the archive open as `file` (from its current offset: a descriptor just opened),
    /// as `readArchive(_:)` does; `location` names it in errors.
    public func readArchive(
        file: FileDescriptor, location: String, wantMD5: Bool, wantSHA1: Bool,
        evidence: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> ArchiveContents {
        defer { withExtendedLifetime(file) {} }  // the reader reads its descriptor to the end
        file.adviseSequential()
        let raw = MessageDigest(.sha256)
        let reader = try ArchiveReader(fileDescriptor: file.rawValue, path: location) { raw.update($0) }
        var member = [UInt8]()
        var size: Int64 = 0
        var digests: EvidenceDigests?
        var manifest: [UInt8]?
        var hashdeep: [UInt8]?
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while let header = try reader.nextEntry() {
            let name = String(decoding: header.pathname, as: UTF8.self)
            if name == "manifest.json" {
                manifest = try reader.readAll()
            } else if name == "hashdeep.txt" {
                hashdeep = try reader.readAll()
            } else if header.isRegularFile, name.hasPrefix("evidence/"), digests == nil {
                member = header.pathname
                let sha256 = MessageDigest(.sha256)
                let md5 = wantMD5 ? MessageDigest(.md5) : nil
                let sha1 = wantSHA1 ? MessageDigest(.sha1) : nil
                while true {
                    let count = try reader.read(into: buffer)
                    if count == 0 { break }
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                    sha256.update(chunk)
                    md5?.update(chunk)
                    sha1?.update(chunk)
                    try evidence?(chunk)
                    size += Int64(count)
                }
                digests = EvidenceDigests(
                    sha256: Hash(bytes: sha256.finish())!, md5: md5?.finish(), sha1: sha1?.finish())
            }
        }
        try reader.drainRawBytes()
        guard let digests else {
            throw ArchiveError(path: location, message: "no evidence/ member in the archive")
        }
        return ArchiveContents(
            location: location, archiveHash: Hash(bytes: raw.finish())!, member: member, size: size, digests: digests,
            manifest: manifest,
            hashdeep: hashdeep)
    }
}

extension VerificationReport {
    /// Moves the ledger's `entries-uncovered` faults to the notes, `why` before each, and keeps
    /// `ledgerFaults` the count of the ledger's own faults among those left (the faults after
    /// them are about what the ledger records, and a report tells them apart by that count).
    mutating func noteUncoveredEntries(_ why: String) {
        let ledgerOwn = faults.prefix(ledgerFaults).filter { $0.code == .entriesUncovered }.count
        for fault in faults where fault.code == .entriesUncovered { notes.append("\(why): \(fault.message)") }
        faults.removeAll { $0.code == .entriesUncovered }
        ledgerFaults -= ledgerOwn
    }
}
