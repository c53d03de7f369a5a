import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosOpenSSL
import CustosSealing
import Foundation
import Synchronization

/// One claim of a bundle, checked: what it says, whether it holds, and why not.
public struct BundleClaim: Sendable, Equatable {
    public var claim: String
    public var passed: Bool
    public var detail: String

    public init(_ claim: String, passed: Bool, detail: String) {
        self.claim = claim
        self.passed = passed
        self.detail = detail
    }
}

/// The verdict on a bundle: every claim checked, in order, and the NOTEs of what was checked
/// only with the bundle's own keys (no `--key`, no `--sender-key` of a sender).
public struct BundleVerification: Sendable {
    public var claims: [BundleClaim]
    public var notes: [String] = []
    public var passed: Bool { !claims.isEmpty && claims.allSatisfy(\.passed) }
}

/// Checks a court bundle with no vault present (`custos verify-bundle`): the tar is read once,
/// as a stream; every member's name is checked before its bytes are looked at (one top folder,
/// no `..`, no absolute name, no link, no duplicate, regular files only). Nothing is written to
/// disk: an original's MD5 and SHA-1, and each sealed archive opened as an archive, are worked
/// out on threads of their own reading the pass's chunks (`LaneWork`), beside the pass.
/// Blocking: run it off Swift's cooperative threads.
public struct BundleVerifier {
    /// The verifier key the checkpoint must be signed by (vkey text), when given; the bundled
    /// key must be this one.
    public var key: String?
    /// Trust anchors (PEM) for the time-stamp tokens, instead of the bundled chains.
    public var timeStampAnchors: [UInt8]?
    /// A checkpoint kept elsewhere (signed note text).
    public var checkpoint: String?
    /// The verifier keys (vkey text) of senders, obtained from their bureaus: a received item's
    /// bundled sender key of the same origin must be the one given; one that is not a key, or
    /// of an origin no item was received from, fails the `sender keys` claim (never passed
    /// over). Each sender given none is named in the verdict's `notes`.
    public var senderKeys: [String] = []

    public init(key: String? = nil, timeStampAnchors: [UInt8]? = nil, checkpoint: String? = nil) {
        self.key = key
        self.timeStampAnchors = timeStampAnchors
        self.checkpoint = checkpoint
    }

    /// A member as read: its SHA-256, the bytes of a small member, the digests of an original,
    /// what a sealed archive holds.
    struct Member {
        var sha256: Hash
        var bytes: [UInt8]?
        var md5: [UInt8]?
        var sha1: [UInt8]?
        var size: Int64
        var inside: ArchiveInside?
    }

    /// Checks the bundle at `path`. Throws only when the file cannot be opened (bad input);
    /// a file that is not a well-formed bundle is a failed claim.
    public func verify(_ path: RawPath) throws -> BundleVerification {
        let file = try FileSystem.openForReading(path)
        guard try file.status().isRegularFile else {
            throw CustodyError(.refused, "\(path): not a regular file")
        }
        var claims = [BundleClaim]()
        var members = [String: Member]()
        var order = [String]()
        do {
            (members, order) = try read(file, path: path)
        } catch let failure as BundleFailure {
            return BundleVerification(
                claims: [BundleClaim("bundle", passed: false, detail: failure.message)], notes: keyNotes(origins: []))
        }
        claims.append(BundleClaim("bundle", passed: true, detail: "a pax tar of \(members.count) regular files"))
        claims.append(checkSums(members))
        // Only the layout's members: anything else (a second report, a file the guide does not
        // name) would be taken as part of a bundle nothing checked.
        claims.append(checkLayout(order))
        let checkpoint = checkCheckpoint(members, claims: &claims)
        // The items in the order the bundle gives them, each once.
        var items = [String]()
        for name in order {
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 3, parts[0] == "items", parts[2] == "entry.json" { items.append(String(parts[1])) }
        }
        if items.isEmpty { claims.append(BundleClaim("items", passed: false, detail: "the bundle holds no item")) }
        var archives = [String: String]()
        for name in order where name.hasPrefix("items/") && name.contains("/archive.tar") {
            archives[String(name.split(separator: "/")[1])] = name
        }
        var sealed = [String: Hash]()
        var guide = BundleGuide(checkpointSize: checkpoint?.1.size ?? 0)
        for item in items {
            if let digests = checkItem(
                item, members, archive: archives[item], checkpoint: checkpoint, guide: &guide, claims: &claims)
            {
                sealed[item] = digests.sha256
            }
        }
        // Each sender key given is of a sender of the bundle's items.
        let origins = senderOrigins(items, members)
        if let claim = checkSenderKeys(origins: origins) { claims.append(claim) }
        claims += checkReport(members, order: order, items: sealed, checkpoint: checkpoint, guide: &guide)
        claims.append(checkTools(members, guide: guide))
        return BundleVerification(claims: claims, notes: keyNotes(origins: origins))
    }

    /// At most this many members (a case of 1,000 items gives about 7,000).
    static let maximumMembers = 200_000

    /// Whether `name` (under the top folder) is one of the layout's names (Docs/Formats.md).
    static func isLayoutName(_ name: String) -> Bool {
        let fixed: Set<String> = [
            CourtBundleLayout.sums, CourtBundleLayout.guide, CourtBundleLayout.checkpoint,
            CourtBundleLayout.verifierKey, CourtBundleLayout.checker, CourtBundleLayout.reportChain,
            CourtBundleLayout.reportedEntry, CourtBundleLayout.reportedProof, "certs/tsa-chain.pem",
            "report/report.pdf", "report/report.pdf.p7s", "report/report.json", "report/report.json.p7s",
        ]
        if fixed.contains(name) { return true }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2, parts[0] == "certs", parts[1].hasPrefix("anchors-"), parts[1].hasSuffix(".pem") {
            let source = parts[1].dropFirst("anchors-".count).dropLast(".pem".count)
            return CourtBundleLayout.isSourceName(String(source))
        }
        guard parts.count == 3, parts[0] == "items", isItemIdentifier(parts[1]) else { return false }
        let file = parts[2]
        let fixedFiles = [
            "entry.json", "manifest.json", "original", "proof.tlog", "sender-entry.json", "sender-proof.tlog",
            "sender-checkpoint.txt", "sender.vkey",
        ]
        if fixedFiles.contains(file) { return true }
        if Compression.allCases.contains(where: { "archive" + $0.suffix == file }) { return true }
        for suffix in [".tsr", ".entry.json"] where file.hasPrefix("stamp-") && file.hasSuffix(suffix) {
            let number = file.dropFirst("stamp-".count).dropLast(suffix.count)
            return !number.isEmpty && number.first != "0" && number.count <= 6
                && number.allSatisfy { ("0"..."9").contains($0) }
        }
        return false
    }

    /// A UUID as items are named: 8-4-4-4-12 lowercase hexadecimal digits.
    static func isItemIdentifier(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) } }
    }

    private func checkLayout(_ order: [String]) -> BundleClaim {
        let unexpected = order.filter { !Self.isLayoutName($0) }
        guard unexpected.isEmpty else {
            return BundleClaim(
                "layout", passed: false,
                detail: "not members of a bundle: "
                    + unexpected.prefix(10).map { DisplayName.escape(Array($0.utf8)) }.joined(separator: ", ")
                    + (unexpected.count > 10 ? " and \(unexpected.count - 10) more" : ""))
        }
        return BundleClaim("layout", passed: true, detail: "every member is one a bundle holds")
    }

    /// The Merkle checker and VERIFY.md are the ones this verifier would write for the bundle's
    /// facts: an expert is told to run them, so a changed one is never passed on.
    private func checkTools(_ members: [String: Member], guide: BundleGuide) -> BundleClaim {
        let claim = "VERIFY.md and tools"
        var problems = [String]()
        if members[CourtBundleLayout.checker]?.bytes != Array(MerkleChecker.script.utf8) {
            problems.append("\(CourtBundleLayout.checker) is not the checker Custos writes (do not run it)")
        }
        let key =
            members[CourtBundleLayout.verifierKey]?.bytes.flatMap { String(validating: $0, as: UTF8.self) }?
            .trimmingSuffix() ?? ""
        if members[CourtBundleLayout.guide]?.bytes != Array(guide.text(verifierKey: key).utf8) {
            problems.append("VERIFY.md is not the guide of this bundle's facts (do not run its commands)")
        }
        return problems.isEmpty
            ? BundleClaim(claim, passed: true, detail: "the checker and the guide are those of this bundle's facts")
            : BundleClaim(claim, passed: false, detail: problems.joined(separator: "; "))
    }

    struct BundleFailure: Error { var message: String }

    private func read(_ file: FileDescriptor, path: RawPath) throws -> (
        members: [String: Member], order: [String]
    ) {
        var members = [String: Member]()
        var order = [String]()
        let reader: ArchiveReader
        do {
            reader = try ArchiveReader(seekingIn: file.rawValue, path: path.description)
        } catch { throw BundleFailure(message: "not a tar file: \(error)") }
        let prefix = CourtBundleLayout.top + "/"
        // The pass reads each member into chunks of a small pool; an original's MD5 and SHA-1,
        // and a sealed archive opened as one, are worked out on threads of their own reading the
        // same chunks (no copy, no pipe). A slower thread holds the pass back: memory stays at
        // the pool's 16 MiB whatever the bundle holds.
        let pool = ChunkPool(count: 16, size: 1 << 20)
        // The small members are kept to be read; together they stay under a bound, so memory
        // stays flat whatever a hostile bundle holds.
        var kept: Int64 = 0
        // The archive read ahead beside the original before it, for the member after it.
        var ahead: LaneWork<ArchiveAhead?>?
        var readAhead: ArchiveAhead?
        defer { _ = ahead?.wait() }
        // Where the member after one seeked over must begin (where libarchive's data path, as
        // `bsdtar -x` reads, found it).
        var expectedHeader: Int64?
        while true {
            let header: ArchiveEntryHeader?
            do { header = try reader.nextEntry() } catch {
                throw BundleFailure(
                    message: members.isEmpty ? "not a tar file: \(error)" : "truncated or damaged tar: \(error)")
            }
            if let expected = expectedHeader, header == nil || reader.headerOffset != expected {
                throw BundleFailure(
                    message:
                        "the member before offset \(expected) is read two ways differently (a sparse or hole-data member); refused"
                )
            }
            expectedHeader = nil
            guard let header else { break }
            let shown = DisplayName.escape(header.pathname)
            guard let name = String(validating: header.pathname, as: UTF8.self) else {
                throw BundleFailure(message: "member \(shown): its name is not UTF-8; refused")
            }
            guard name.hasPrefix(prefix), !name.hasPrefix("/") else {
                throw BundleFailure(message: "member \(shown): outside the top folder \(prefix); refused")
            }
            let relative = String(name.dropFirst(prefix.count))
            let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
            guard !relative.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw BundleFailure(message: "member \(shown): an empty, . or .. component; refused")
            }
            guard !header.isLink else { throw BundleFailure(message: "member \(shown): a link; refused") }
            guard header.isRegularFile else {
                throw BundleFailure(message: "member \(shown): not a regular file; refused")
            }
            guard members[relative] == nil else {
                throw BundleFailure(message: "member \(shown): appears twice; refused")
            }
            guard members.count < Self.maximumMembers else {
                throw BundleFailure(message: "more than \(Self.maximumMembers) members: not a bundle")
            }
            let isOriginal = parts.count == 3 && parts[0] == "items" && parts[2] == "original"
            let isArchive = parts.count == 3 && parts[0] == "items" && parts[2].hasPrefix("archive.tar")
            // The archive read ahead, when it is this member as the pass's reader finds it: its
            // bytes are seeked over.
            if isArchive, let archive = readAhead, archive.headerOffset == reader.headerOffset,
                archive.dataOffset == reader.dataOffset, archive.pathname == header.pathname,
                archive.size == header.size, !header.isSparse
            {
                readAhead = nil
                do { try reader.skipData() } catch {
                    throw BundleFailure(message: "member \(shown): truncated or damaged tar: \(error)")
                }
                expectedHeader = archive.nextHeaderOffset
                var inside = archive.inside
                if inside.evidenceIsOriginal == true {
                    inside.evidence = members[CourtBundleLayout.original(String(parts[1]))]?.sha256
                }
                members[relative] = Member(
                    sha256: archive.sha256, bytes: nil, md5: nil, sha1: nil, size: archive.size, inside: inside)
                order.append(relative)
                continue
            }
            readAhead = nil
            let sha256 = MessageDigest(.sha256)
            // An original's MD5 and SHA-1 when its entry records them (a bundle gives the entry
            // first; when it has not come yet, both).
            var algorithms = [DigestAlgorithm]()
            if isOriginal {
                let entry = members[CourtBundleLayout.entry(String(parts[1]))]?.bytes.flatMap {
                    try? CustodyEntry(parsing: $0)
                }
                if entry?.digests?.md5 != nil || entry == nil { algorithms.append(.md5) }
                if entry?.digests?.sha1 != nil || entry == nil { algorithms.append(.sha1) }
            }
            // A small original is hashed here: a thread costs more than it saves.
            let inline = header.size <= 4 << 20 ? algorithms.map { MessageDigest($0) } : []
            var digestWork = [LaneWork<[UInt8]>]()
            var archiveWork: LaneWork<ArchiveInside>?
            if inline.isEmpty, !algorithms.isEmpty {
                digestWork = algorithms.map { algorithm in
                    LaneWork(capacity: 8) { lane in Self.digest(lane, algorithm) }
                }
            }
            // (A declared size beyond any file is not read ahead: the pass finds it short.)
            let readsAhead = isOriginal && !header.isSparse && header.size <= 1 << 50
            if readsAhead {
                // Its archive, read ahead from where the next header should begin; no more out
                // of it than the original and a little more (as below).
                _ = ahead?.wait()
                let at = reader.dataOffset + (header.size + 511) / 512 * 512
                let (fd, item, top, limit) = (
                    file.rawValue, String(parts[1]), CourtBundleLayout.top, header.size + (64 << 20)
                )
                ahead = LaneWork(capacity: 8) { lane in
                    ArchiveAhead.read(fd, at: at, item: item, top: top, limit: limit, original: lane)
                }
            } else if isArchive {
                // Only the compression its name gives, and no more bytes out than the original the
                // bundle gave before it, and a little more: its bytes were read, so a small
                // archive that decompresses without end costs no more than a large bundle would.
                // (Not the entry's size: the entry is checked only later.) No original before it:
                // the item fails anyway.
                let compression = Compression.allCases.first { "archive" + $0.suffix == parts[2] }
                let limit = (members[CourtBundleLayout.original(String(parts[1]))]?.size ?? 0) + (64 << 20)
                archiveWork = LaneWork(capacity: 8) { lane in
                    Self.archiveContents(lane, name: name, compression: compression, limit: limit)
                }
            }
            let aheadLane = readsAhead ? ahead?.lane : nil
            let lanes = digestWork.map(\.lane) + (archiveWork.map { [$0.lane] } ?? []) + (aheadLane.map { [$0] } ?? [])
            // Whatever happens, the lanes end and their threads are done before the pass goes on.
            var ended = false
            func end() {
                guard !ended else { return }
                ended = true
                for lane in lanes { lane.put(nil) }
            }
            defer {
                end()
                for work in digestWork { _ = work.wait() }
                _ = archiveWork?.wait()
            }
            var small: [UInt8]? = isOriginal || isArchive || header.size > 16 << 20 ? nil : []
            if small != nil {
                kept += header.size
                guard kept <= 256 << 20 else {
                    throw BundleFailure(message: "member \(shown): the small members exceed 256 MiB; not a bundle")
                }
            }
            var size: Int64 = 0
            while true {
                let chunk = pool.take()
                let count: Int
                do { count = try reader.read(into: chunk.storage) } catch {
                    chunk.share(count: 0, holders: 0)
                    throw BundleFailure(message: "member \(shown): truncated or damaged tar: \(error)")
                }
                guard count > 0 else {
                    chunk.share(count: 0, holders: 0)
                    break
                }
                chunk.share(count: count, holders: lanes.count + 1)
                size += Int64(count)
                for lane in lanes { lane.put(chunk) }
                sha256.update(chunk.bytes)
                small?.append(contentsOf: chunk.bytes)
                for digest in inline { digest.update(chunk.bytes) }
                chunk.release()
            }
            guard size == header.size else {
                throw BundleFailure(message: "member \(shown): truncated (\(size) of \(header.size) bytes)")
            }
            end()
            readAhead = aheadLane == nil ? nil : ahead?.wait() ?? nil
            let others = inline.isEmpty ? digestWork.map { $0.wait() } : inline.map { $0.finish() }
            let worked = Dictionary(uniqueKeysWithValues: zip(algorithms, others))
            members[relative] = Member(
                sha256: sha256.finishSHA256(), bytes: small, md5: worked[.md5], sha1: worked[.sha1], size: size,
                inside: archiveWork?.wait())
            order.append(relative)
        }
        guard !members.isEmpty else { throw BundleFailure(message: "an empty tar: not a bundle") }
        return (members, order)
    }

    /// SHA256SUMS lists exactly the other members, each with its SHA-256.
    private func checkSums(_ members: [String: Member]) -> BundleClaim {
        let claim = "SHA256SUMS"
        guard let bytes = members[CourtBundleLayout.sums]?.bytes, let text = String(validating: bytes, as: UTF8.self)
        else { return BundleClaim(claim, passed: false, detail: "SHA256SUMS is missing (or not UTF-8)") }
        var listed = [String: Hash]()
        for line in text.split(separator: "\n") {
            guard line.count > 66, let hash = Hash(hex: String(line.prefix(64))), line.dropFirst(64).hasPrefix("  ")
            else { return BundleClaim(claim, passed: false, detail: "a line of SHA256SUMS is not `HASH  NAME`") }
            listed[String(line.dropFirst(66))] = hash
        }
        var present = members
        present[CourtBundleLayout.sums] = nil
        var problems = [String]()
        let removed = listed.keys.filter { present[$0] == nil }.sorted()
        let added = present.keys.filter { listed[$0] == nil }.sorted()
        // The unlisted members by their SHA-256, each taken once: a rename is found in one look.
        var addedByHash = [Hash: [String]]()
        for name in added.reversed() { addedByHash[present[name]!.sha256, default: []].append(name) }
        var renamedTo = Set<String>()
        for name in removed {
            if let hash = listed[name], let now = addedByHash[hash]?.popLast() {
                problems.append("renamed: \(name) is now \(now)")
                renamedTo.insert(now)
            } else {
                problems.append("removed: \(name)")
            }
        }
        problems += added.filter { !renamedTo.contains($0) }.map { "added: \($0) (not listed)" }
        for (name, member) in present.sorted(by: { $0.key < $1.key }) {
            if let hash = listed[name], hash != member.sha256 {
                problems.append("changed: \(name) (SHA-256 \(member.sha256.hex), listed \(hash.hex))")
            }
        }
        return problems.isEmpty
            ? BundleClaim(
                claim, passed: true, detail: "every one of the \(present.count) members has its listed SHA-256")
            : BundleClaim(claim, passed: false, detail: problems.joined(separator: "; "))
    }

    /// The bundled checkpoint is signed by the node's key (the bundled one, which must be
    /// `--key` when given), and is the checkpoint kept elsewhere at the same size.
    private func checkCheckpoint(_ members: [String: Member], claims: inout [BundleClaim]) -> (SignedNote, Checkpoint)?
    {
        let claim = "checkpoint"
        guard
            let text = members[CourtBundleLayout.checkpoint]?.bytes.flatMap({ String(validating: $0, as: UTF8.self) }),
            let note = try? SignedNote(parsing: text), let checkpoint = try? Checkpoint(parsing: note.text)
        else {
            claims.append(BundleClaim(claim, passed: false, detail: "checkpoint.txt is missing or not a checkpoint"))
            return nil
        }
        let bundled = members[CourtBundleLayout.verifierKey]?.bytes.flatMap { String(validating: $0, as: UTF8.self) }?
            .trimmingSuffix()
        guard let keyText = key ?? bundled, let verifier = try? Ed25519NoteVerifier(text: keyText) else {
            claims.append(BundleClaim(claim, passed: false, detail: "no verifier key (verifier.vkey or --key)"))
            return nil
        }
        if let given = key, let bundled, given != bundled {
            claims.append(
                BundleClaim(
                    "verifier key", passed: false, detail: "the bundled key \(bundled) is not the given key \(given)"))
        }
        guard (try? note.verifiedSignatures(by: [verifier]))?.isEmpty == false else {
            claims.append(
                BundleClaim(
                    claim, passed: false,
                    detail: "checkpoint \(checkpoint.size) is not signed by \(verifier.key.text)"))
            return nil
        }
        claims.append(
            BundleClaim(
                claim, passed: true,
                detail:
                    "\(checkpoint.origin) size \(checkpoint.size) root \(checkpoint.root.base64), signed by \(verifier.key.text)"
            ))
        if let kept = self.checkpoint {
            let claim = "checkpoint kept elsewhere"
            if let other = try? SignedNote(parsing: kept), let otherCheckpoint = try? Checkpoint(parsing: other.text),
                (try? other.verifiedSignatures(by: [verifier]))?.isEmpty == false
            {
                if otherCheckpoint.size == checkpoint.size {
                    claims.append(
                        otherCheckpoint.root == checkpoint.root && otherCheckpoint.origin == checkpoint.origin
                            ? BundleClaim(claim, passed: true, detail: "the same tree at size \(checkpoint.size)")
                            : BundleClaim(
                                claim, passed: false,
                                detail:
                                    "at size \(checkpoint.size) its root is \(otherCheckpoint.root.base64), the bundle's \(checkpoint.root.base64): two histories"
                            ))
                } else {
                    claims.append(
                        BundleClaim(
                            claim, passed: false,
                            detail:
                                "its size \(otherCheckpoint.size) is not the bundle's \(checkpoint.size), and the bundle holds no consistency proof between them (custos consistency gives one)"
                        ))
                }
            } else {
                claims.append(
                    BundleClaim(claim, passed: false, detail: "not a checkpoint signed by \(verifier.key.text)"))
            }
        }
        return (note, checkpoint)
    }

    /// One item: its entry (`sealed`, or `received` from another node), original, manifest,
    /// archive, proof and tokens agree; of a received item, the sender's seal too
    /// (`checkSender`). Returns the original's SHA-256 as its entry records it.
    private func checkItem(
        _ item: String, _ members: [String: Member], archive archiveName: String?,
        checkpoint: (SignedNote, Checkpoint)?,
        guide: inout BundleGuide, claims: inout [BundleClaim]
    ) -> EvidenceDigests? {
        func fail(_ what: String, _ detail: String) {
            claims.append(BundleClaim("item \(item) \(what)", passed: false, detail: detail))
        }
        func pass(_ what: String, _ detail: String) {
            claims.append(BundleClaim("item \(item) \(what)", passed: true, detail: detail))
        }
        guard let entryBytes = members[CourtBundleLayout.entry(item)]?.bytes,
            let entry = try? CustodyEntry(parsing: entryBytes), entry.type == .sealed || entry.type == .received,
            entry.item == item, let digests = entry.digests, let archiveHash = entry.archive,
            let manifestHash = entry.manifest
        else {
            fail("entry", "entry.json is not the sealed (or received) entry of item \(item)")
            return nil
        }
        // Of a received item, the sender's seal; an item this node sealed has no sender.
        var sender: BundleGuide.Sender?
        var senderClaim: BundleClaim?
        if entry.type == .received {
            (senderClaim, sender) = checkSender(item, entry: entry, members)
        } else if let stray = [
            CourtBundleLayout.senderEntry(item), CourtBundleLayout.senderProof(item),
            CourtBundleLayout.senderCheckpoint(item), CourtBundleLayout.senderKey(item),
        ].first(where: { members[$0] != nil }) {
            fail("sender's seal", "\(stray): the item was sealed by this node (entry \(entry.sequence)), not received")
        }
        // The original.
        if let original = members[CourtBundleLayout.original(item)] {
            var problems = [String]()
            if original.sha256 != digests.sha256 {
                problems.append("SHA-256 \(original.sha256.hex), the entry records \(digests.sha256.hex)")
            }
            if let md5 = digests.md5, original.md5 != md5 { problems.append("its MD5 is not the one recorded") }
            if let sha1 = digests.sha1, original.sha1 != sha1 { problems.append("its SHA-1 is not the one recorded") }
            if let size = entry.size, UInt64(original.size) != size {
                problems.append("its size is not the one recorded")
            }
            // The manifest's digests, the same values again.
            let stated = members[CourtBundleLayout.manifest(item)]?.bytes.flatMap { try? CanonicalJSON.parse($0) }?[
                "digests"]
            if stated?["sha256"]?.stringValue != original.sha256.hex
                || stated?["md5"]?.stringValue != digests.md5.map(Hex.encode)
                || stated?["sha1"]?.stringValue != digests.sha1.map(Hex.encode)
            {
                problems.append("its digests are not those its manifest states")
            }
            problems.isEmpty
                ? pass(
                    "original",
                    "SHA-256 \(digests.sha256.hex)\(digests.md5 == nil ? "" : ", MD5")\(digests.sha1 == nil ? "" : ", SHA-1") and size as entry \(entry.sequence) and the manifest record"
                )
                : fail("original", problems.joined(separator: "; "))
        } else {
            fail("original", "the original is missing")
        }
        // The manifest.
        let manifest = members[CourtBundleLayout.manifest(item)]
        if manifest?.sha256 == manifestHash {
            pass("manifest", "SHA-256 \(manifestHash.hex) as the entry records")
        } else {
            fail(
                "manifest", manifest == nil ? "the manifest is missing" : "its SHA-256 is not the one the entry records"
            )
        }
        // The sealed archive, and the original inside it. Its manifest is the item's, or, when
        // the same content was sealed before and stored once, that seal's: it then names the
        // same SHA-256 (as `custos verify` checks it).
        var archiveManifest = BundleGuide.ArchiveManifest.same
        if let name = archiveName, let archive = members[name], let inside = archive.inside {
            let namesThisContent = inside.manifestBytes.flatMap(Manifest.namedSHA256) == digests.sha256
            if inside.manifest != manifestHash, namesThisContent { archiveManifest = .earlierSeal }
            if archive.sha256 != archiveHash {
                fail(
                    "archive",
                    "\(name): SHA-256 \(archive.sha256.hex), the entry records \(archiveHash.hex)"
                        + (inside.problem.map { "; nor can it be read as a sealed archive: \($0)" } ?? ""))
            } else if let problem = inside.problem {
                fail("archive", "\(name): cannot be read as an archive: \(problem)")
            } else if inside.evidence == digests.sha256, inside.manifest == manifestHash {
                pass("archive", "SHA-256 \(archiveHash.hex) as recorded; it holds the original and the manifest")
            } else if inside.evidence == digests.sha256, namesThisContent {
                pass(
                    "archive",
                    "SHA-256 \(archiveHash.hex) as recorded; it holds the original, and the manifest of the seal that first stored this content (stored once; it names the same SHA-256)"
                )
            } else {
                fail("archive", "the archive does not hold this original and manifest")
            }
        } else {
            fail("archive", "the sealed archive is missing")
        }
        // The inclusion proof, against the bundled checkpoint.
        if let bytes = members[CourtBundleLayout.proof(item)]?.bytes,
            let text = String(validating: bytes, as: UTF8.self), let proof = try? TLogProof(parsing: text)
        {
            if proof.extra != entryBytes || proof.index != entry.sequence {
                fail("inclusion proof", "the proof is not about entry \(entry.sequence) of this item")
            } else if let (note, checkpoint) = checkpoint, proof.checkpoint != note {
                fail(
                    "inclusion proof",
                    "the proof is for another checkpoint (\((try? Checkpoint(parsing: proof.checkpoint.text)).map { "size \($0.size), root \($0.root.base64)" } ?? "unreadable")), not the bundle's (size \(checkpoint.size))"
                )
            } else if let (_, checkpoint) = checkpoint {
                do {
                    try MerkleProofs.verifyInclusion(
                        index: proof.index, size: checkpoint.size, leafHash: MerkleHasher.openSSL.hashLeaf(entryBytes),
                        proof: proof.proof, root: checkpoint.root, hasher: MerkleHasher.openSSL)
                    pass("inclusion proof", "entry \(entry.sequence) is in the checkpoint of size \(checkpoint.size)")
                } catch {
                    fail("inclusion proof", "the proof does not lead to the checkpoint's root: \(error)")
                }
            } else {
                fail("inclusion proof", "no checkpoint to check it against")
            }
        } else {
            fail("inclusion proof", "proof.tlog is missing or not a tlog-proof")
        }
        // The time-stamp tokens.
        var index = 1
        var tokens = [(path: String, chain: String)]()
        while let token = members[CourtBundleLayout.token(item, index)]?.bytes {
            let what = "time-stamp token \(index)"
            let source = members[CourtBundleLayout.tokenEntry(item, index)]?.bytes
                .flatMap { try? CustodyEntry(parsing: $0) }.flatMap { TimeStampRecord(entry: $0) }?.source
            // A source's name becomes a file name in VERIFY.md's commands: only of the form the
            // layout allows (the token fails otherwise, and the guide names the node's chain).
            let sourceIsName = source.map(CourtBundleLayout.isSourceName) ?? true
            let chainName =
                source == nil || source == TimeStampRecord.nodeSource || !sourceIsName
                ? CourtBundleLayout.certificate("tsa-chain.pem")
                : CourtBundleLayout.certificate("anchors-\(source!).pem")
            tokens.append((CourtBundleLayout.token(item, index), chainName))
            guard sourceIsName else {
                fail(what, "its entry names a time-stamp source that is not a source's name")
                index += 1
                continue
            }
            let anchorBytes = timeStampAnchors ?? members[chainName]?.bytes
            let anchors = anchorBytes.flatMap { try? Certificate.all(pem: $0) } ?? []
            if anchors.isEmpty {
                fail(what, "no trust anchors (\(chainName) or --tsa-anchor)")
            } else {
                let check = TimeStampVerifier.check(
                    response: token, request: TimeStampRequest(sha256: digests.sha256), anchors: anchors,
                    intermediates: anchors)
                if check.info?.imprint != digests.sha256.bytes {
                    fail(what, "the token stamps another digest, not the original's SHA-256 \(digests.sha256.hex)")
                } else if !check.passed {
                    fail(what, check.problems.joined(separator: "; "))
                } else {
                    pass(what, "\(check.info?.authority ?? "?") stamped the SHA-256 at \(check.info?.genTime ?? "?")")
                }
            }
            index += 1
        }
        // Of a received item, last: the sender's seal, before this node's receipt.
        if let senderClaim { claims.append(senderClaim) }
        // What VERIFY.md says of the item, as the bundle's writer says it.
        guide.item(
            item, digests: digests, archive: archiveName ?? CourtBundleLayout.archive(item, .zstd),
            proof: CourtBundleLayout.proof(item), tokens: tokens, sender: sender, archiveManifest: archiveManifest,
            recorded: (archiveHash, manifestHash))
        return digests
    }

    /// What a sealed archive holds: the SHA-256 of its evidence member (or, read ahead, whether
    /// it is the original byte for byte) and of its manifest.json, or why it cannot be read.
    struct ArchiveInside: Sendable {
        var evidence: Hash?
        var manifest: Hash?
        /// The manifest's bytes (when at most 1 MiB).
        var manifestBytes: [UInt8]? = nil
        var problem: String?
        /// Read ahead: whether its evidence member is the original, byte for byte.
        var evidenceIsOriginal: Bool?
    }

    /// Reads an archive from the chunks of `lane` and hashes its evidence member and
    /// manifest.json.
    static func archiveContents(_ lane: ChunkLane, name: String, compression: Compression?, limit: Int64)
        -> ArchiveInside
    {
        var held: Chunk?
        defer { held?.release() }
        guard let compression else { return ArchiveInside(problem: "\(name): not a name of a sealed archive") }
        return archiveContents(name: name, compression: compression, limit: limit) {
            held?.release()
            held = lane.take()
            return held?.bytes
        }
    }

    /// Reads an archive whose bytes `pull` gives (as `ArchiveReader` takes them) and hashes its
    /// manifest.json and its evidence member, or compares that with the chunks of `original`.
    /// No more than `limit` bytes come out of it.
    static func archiveContents(
        name: String, compression: Compression, limit: Int64, compare original: ChunkLane? = nil,
        pull: @escaping () -> UnsafeRawBufferPointer?
    ) -> ArchiveInside {
        var evidence: Hash?
        var manifest: Hash?
        var manifestBytes: [UInt8]?
        var comparison: LaneComparison?
        var out: Int64 = 0
        do {
            let reader = try ArchiveReader(path: name, compressions: [compression], pull: pull)
            var sawEvidence = false
            while let header = try reader.nextEntry() {
                // Every member's bytes are counted, kept or not (a member skipped is decompressed
                // all the same).
                let isEvidence = header.pathname.starts(with: Array("evidence/".utf8))
                let isManifest = header.pathname == Array("manifest.json".utf8)
                let wanted = header.isRegularFile && !header.isLink && (isEvidence || isManifest)
                let compared = wanted && isEvidence && !sawEvidence ? original.map(LaneComparison.init) : nil
                if compared != nil { comparison = compared }
                let digest = wanted && compared == nil ? MessageDigest(.sha256) : nil
                // The first manifest's bytes, when small, to read what it describes.
                var kept: [UInt8]? = isManifest && wanted && manifest == nil && header.size <= 1 << 20 ? [] : nil
                // Read where libarchive holds the bytes (a sparse member is an error: a sealed
                // archive has none).
                var position: Int64 = 0
                while let bytes = try reader.nextBlock(position: position) {
                    position += Int64(bytes.count)
                    out += Int64(bytes.count)
                    guard out <= limit else {
                        return ArchiveInside(
                            problem: "it decompresses to more than \(limit) bytes, far more than the original it seals")
                    }
                    digest?.update(bytes)
                    compared?.compare(bytes)
                    if kept != nil, position <= 1 << 20 { kept!.append(contentsOf: bytes) }
                }
                // Its bytes are its size: a hole at its end would be zeros to `bsdtar -x`.
                guard position == header.size else {
                    throw ArchiveError(path: name, message: "a member whose bytes are not its size (a sparse member)")
                }
                if let compared { _ = compared.finish() }
                if wanted, isEvidence { sawEvidence = true }
                guard let digest else { continue }
                if isEvidence, evidence == nil { evidence = digest.finishSHA256() }
                if isManifest, manifest == nil {
                    manifest = digest.finishSHA256()
                    manifestBytes = kept
                }
            }
        } catch {
            return ArchiveInside(problem: "\(error)")
        }
        return ArchiveInside(
            evidence: evidence, manifest: manifest, manifestBytes: manifestBytes,
            evidenceIsOriginal: original == nil ? nil : comparison?.equal ?? false)
    }

    /// The digest of the chunks of `lane`.
    static func digest(_ lane: ChunkLane, _ algorithm: DigestAlgorithm) -> [UInt8] {
        let digest = MessageDigest(algorithm)
        while let chunk = lane.take() {
            digest.update(chunk.bytes)
            chunk.release()
        }
        return digest.finish()
    }

    /// The report: each of its files signed (detached CMS) up to the bundled report chain; its
    /// facts about the bundle's items and their SHA-256; and anchored: the `reported` entry
    /// that records each file's SHA-256 is proven in the bundle's checkpoint, so the node's key
    /// (`--key`) vouches for the report as it does for the items. Its own verdict is a claim of
    /// its own. Sets the report's part of `guide`.
    private func checkReport(
        _ members: [String: Member], order: [String], items: [String: Hash], checkpoint: (SignedNote, Checkpoint)?,
        guide: inout BundleGuide
    ) -> [BundleClaim] {
        let claim = "report"
        let json = CourtBundleLayout.reportFolder + "/report.json"
        // The report's files are those of the layout (any other member fails the layout, and is
        // never named in VERIFY.md's commands).
        let files = ["report.pdf", "report.json"].map { CourtBundleLayout.reportFolder + "/" + $0 }.filter {
            members[$0] != nil
        }
        guide.reports = files.compactMap { name in members[name].map { (path: name, sha256: $0.sha256.hex) } }
        func fail(_ detail: String) -> [BundleClaim] { [BundleClaim(claim, passed: false, detail: detail)] }
        guard let content = members[json]?.bytes else { return fail("no report (\(json))") }
        guard let chain = members[CourtBundleLayout.reportChain]?.bytes, let anchors = try? Certificate.all(pem: chain),
            !anchors.isEmpty
        else { return fail("\(CourtBundleLayout.reportChain) is missing") }
        // Each file signed.
        for name in files {
            guard let bytes = members[name]?.bytes, let signature = members[name + ".p7s"]?.bytes else {
                return fail("\(name): no signature (\(name).p7s)")
            }
            let problems = DetachedSignature.verify(bytes, signature: signature, anchors: anchors)
            guard problems.isEmpty else { return fail("\(name): " + problems.joined(separator: "; ")) }
        }
        // About the bundle's items.
        guard let report = try? CanonicalJSON.parse(content), let facts = report["items"]?.arrayValue,
            let id = report["report"]?.stringValue
        else { return fail("\(json): not a report") }
        var reported = [String: String]()
        for fact in facts {
            if let item = fact["item"]?.stringValue { reported[item] = fact["original"]?["sha256"]?.stringValue ?? "" }
        }
        guard reported == items.mapValues(\.hex) else {
            return fail("\(json): its items and their SHA-256 are not the bundle's")
        }
        // Anchored: the `reported` entry records these very files, in the bundle's checkpoint.
        guard let entryBytes = members[CourtBundleLayout.reportedEntry]?.bytes,
            let entry = try? CustodyEntry(parsing: entryBytes), entry.type.rawValue == "reported",
            entry.details["report"]?.stringValue == id, items[entry.item] != nil
        else {
            return fail(
                "\(CourtBundleLayout.reportedEntry) is missing or is not the `reported` entry of report \(id): the ledger does not vouch for this report"
            )
        }
        for name in files {
            let format = name.hasSuffix(".pdf") ? "pdf" : "json"
            guard entry.details["files"]?[format]?.stringValue == members[name]?.sha256.hex else {
                return fail("\(name): its SHA-256 is not the one the `reported` entry \(entry.sequence) records")
            }
        }
        guard let (note, signed) = checkpoint else { return fail("no checkpoint to prove the `reported` entry in") }
        guard let proofBytes = members[CourtBundleLayout.reportedProof]?.bytes,
            let proofText = String(validating: proofBytes, as: UTF8.self),
            let proof = try? TLogProof(parsing: proofText), proof.extra == entryBytes,
            proof.index == entry.sequence, proof.checkpoint == note,
            (try? MerkleProofs.verifyInclusion(
                index: proof.index, size: signed.size, leafHash: MerkleHasher.openSSL.hashLeaf(entryBytes),
                proof: proof.proof, root: signed.root, hasher: MerkleHasher.openSSL)) != nil
        else {
            return fail(
                "\(CourtBundleLayout.reportedProof) does not prove entry \(entry.sequence) in the bundle's checkpoint")
        }
        let anchor = (try? anchors.last?.sha256Fingerprint()).flatMap { $0?.hex } ?? "?"
        var claims = [
            BundleClaim(
                claim, passed: true,
                detail:
                    "report \(id): \(files.joined(separator: ", ")) signed (CMS, detached) up to the bundled report chain (CA SHA-256 \(anchor)); the `reported` entry \(entry.sequence) records their SHA-256 and is in checkpoint \(signed.size); its \(facts.count) items are the bundle's"
            )
        ]
        let verdict = report["result"]?.stringValue ?? "?"
        claims.append(
            verdict == "PASS"
                ? BundleClaim("report verdict", passed: true, detail: "the report says PASS")
                : BundleClaim(
                    "report verdict", passed: false,
                    detail: "the report says \(verdict): it found faults when it was made (its first page says which)"))
        return claims
    }
}

extension String {
    fileprivate func trimmingSuffix() -> String {
        var text = self
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return text
    }
}
