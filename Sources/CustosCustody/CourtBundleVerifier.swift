import CustosArchive
import CustosFileSystem
import CustosFormats
import CustosOpenSSL
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

/// The verdict on a bundle: every claim checked, in order.
public struct BundleVerification: Sendable {
    public var claims: [BundleClaim]
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
        do {
            members = try read(file, path: path)
        } catch let failure as BundleFailure {
            return BundleVerification(claims: [BundleClaim("bundle", passed: false, detail: failure.message)])
        }
        claims.append(BundleClaim("bundle", passed: true, detail: "a pax tar of \(members.count) regular files"))
        claims.append(checkSums(members))
        let checkpoint = checkCheckpoint(members, claims: &claims)
        var items = [String]()
        for name in members.keys.sorted() {
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 3, parts[0] == "items", parts[2] == "entry.json" { items.append(String(parts[1])) }
        }
        if items.isEmpty { claims.append(BundleClaim("items", passed: false, detail: "the bundle holds no item")) }
        var sealed = [String: Hash]()
        for item in items {
            if let digest = checkItem(item, members, checkpoint: checkpoint, claims: &claims) {
                sealed[item] = digest
            }
        }
        claims.append(checkReport(members, items: sealed))
        return BundleVerification(claims: claims)
    }

    struct BundleFailure: Error { var message: String }

    private func read(_ file: FileDescriptor, path: RawPath) throws -> [String: Member] {
        var members = [String: Member]()
        let reader: ArchiveReader
        do {
            reader = try ArchiveReader(fileDescriptor: file.rawValue, path: path.description, compressions: [.none])
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
        while true {
            let header: ArchiveEntryHeader?
            do { header = try reader.nextEntry() } catch {
                throw BundleFailure(
                    message: members.isEmpty ? "not a tar file: \(error)" : "truncated or damaged tar: \(error)")
            }
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
            let isOriginal = parts.count == 3 && parts[0] == "items" && parts[2] == "original"
            let isArchive = parts.count == 3 && parts[0] == "items" && parts[2].hasPrefix("archive.tar")
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
            } else if isArchive {
                archiveWork = LaneWork(capacity: 8) { lane in Self.archiveContents(lane, name: name) }
            }
            let lanes = digestWork.map(\.lane) + (archiveWork.map { [$0.lane] } ?? [])
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
            let others = inline.isEmpty ? digestWork.map { $0.wait() } : inline.map { $0.finish() }
            let worked = Dictionary(uniqueKeysWithValues: zip(algorithms, others))
            members[relative] = Member(
                sha256: sha256.finishSHA256(), bytes: small, md5: worked[.md5], sha1: worked[.sha1], size: size,
                inside: archiveWork?.wait())
        }
        guard !members.isEmpty else { throw BundleFailure(message: "an empty tar: not a bundle") }
        return members
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
        var added = present.keys.filter { listed[$0] == nil }.sorted()
        for name in removed {
            if let index = added.firstIndex(where: { present[$0]?.sha256 == listed[name] }) {
                problems.append("renamed: \(name) is now \(added[index])")
                added.remove(at: index)
            } else {
                problems.append("removed: \(name)")
            }
        }
        problems += added.map { "added: \($0) (not listed)" }
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

    /// One item: its entry, original, manifest, archive, proof and tokens agree. Returns the
    /// original's SHA-256 as its entry records it.
    private func checkItem(
        _ item: String, _ members: [String: Member], checkpoint: (SignedNote, Checkpoint)?,
        claims: inout [BundleClaim]
    ) -> Hash? {
        func fail(_ what: String, _ detail: String) {
            claims.append(BundleClaim("item \(item) \(what)", passed: false, detail: detail))
        }
        func pass(_ what: String, _ detail: String) {
            claims.append(BundleClaim("item \(item) \(what)", passed: true, detail: detail))
        }
        guard let entryBytes = members[CourtBundleLayout.entry(item)]?.bytes,
            let entry = try? CustodyEntry(parsing: entryBytes), entry.type == .sealed, entry.item == item,
            let digests = entry.digests, let archiveHash = entry.archive, let manifestHash = entry.manifest
        else {
            fail("entry", "entry.json is not the sealed entry of item \(item)")
            return nil
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
        // The sealed archive, and the original inside it.
        if let (name, archive) = members.first(where: {
            $0.key.hasPrefix(CourtBundleLayout.folder(item) + "/archive.tar")
        }),
            let inside = archive.inside
        {
            if archive.sha256 != archiveHash {
                fail("archive", "\(name): SHA-256 \(archive.sha256.hex), the entry records \(archiveHash.hex)")
            } else if let problem = inside.problem {
                fail("archive", "\(name): cannot be read as an archive: \(problem)")
            } else if inside.evidence == digests.sha256, inside.manifest == manifestHash {
                pass("archive", "SHA-256 \(archiveHash.hex) as recorded; it holds the original and the manifest")
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
        while let token = members[CourtBundleLayout.token(item, index)]?.bytes {
            let what = "time-stamp token \(index)"
            let source = members[CourtBundleLayout.tokenEntry(item, index)]?.bytes
                .flatMap { try? CustodyEntry(parsing: $0) }.flatMap { TimeStampRecord(entry: $0) }?.source
            let chainName =
                source == nil || source == TimeStampRecord.nodeSource
                ? CourtBundleLayout.certificate("tsa-chain.pem")
                : CourtBundleLayout.certificate("anchors-\(source!).pem")
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
        return digests.sha256
    }

    /// What a sealed archive holds: the SHA-256 of its evidence member and of its manifest.json,
    /// or why it cannot be read.
    struct ArchiveInside: Sendable {
        var evidence: Hash?
        var manifest: Hash?
        var problem: String?
    }

    /// Reads an archive from the chunks of `lane` and hashes its evidence member and
    /// manifest.json.
    static func archiveContents(_ lane: ChunkLane, name: String) -> ArchiveInside {
        var evidence: Hash?
        var manifest: Hash?
        var held: Chunk?
        defer { held?.release() }
        do {
            let reader = try ArchiveReader(path: name) {
                held?.release()
                held = lane.take()
                return held?.bytes
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
            defer { buffer.deallocate() }
            while let header = try reader.nextEntry() {
                guard header.isRegularFile, !header.isLink else { continue }
                let isEvidence = header.pathname.starts(with: Array("evidence/".utf8))
                let isManifest = header.pathname == Array("manifest.json".utf8)
                guard isEvidence || isManifest else { continue }
                let digest = MessageDigest(.sha256)
                while true {
                    let count = try reader.read(into: buffer)
                    if count == 0 { break }
                    digest.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                }
                if isEvidence, evidence == nil { evidence = digest.finishSHA256() }
                if isManifest, manifest == nil { manifest = digest.finishSHA256() }
            }
        } catch {
            return ArchiveInside(problem: "\(error)")
        }
        return ArchiveInside(evidence: evidence, manifest: manifest)
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

    /// The report's detached signature verifies with the bundled report chain, and its facts
    /// are about the bundle's items and their SHA-256.
    private func checkReport(_ members: [String: Member], items: [String: Hash]) -> BundleClaim {
        let claim = "report"
        let folder = CourtBundleLayout.reportFolder + "/"
        guard
            let json = members.keys.sorted().first(where: {
                $0.hasPrefix(folder) && $0.hasSuffix(".json") && members[$0 + ".p7s"] != nil
            }), let content = members[json]?.bytes, let signature = members[json + ".p7s"]?.bytes
        else { return BundleClaim(claim, passed: false, detail: "no report and signature (report/*.json and .p7s)") }
        guard let chain = members[CourtBundleLayout.reportChain]?.bytes, let anchors = try? Certificate.all(pem: chain),
            !anchors.isEmpty
        else { return BundleClaim(claim, passed: false, detail: "\(CourtBundleLayout.reportChain) is missing") }
        let problems = DetachedSignature.verify(content, signature: signature, anchors: anchors)
        guard problems.isEmpty else {
            return BundleClaim(claim, passed: false, detail: "\(json): " + problems.joined(separator: "; "))
        }
        guard let report = try? CanonicalJSON.parse(content), let facts = report["items"]?.arrayValue else {
            return BundleClaim(claim, passed: false, detail: "\(json): not a report")
        }
        var reported = [String: String]()
        for fact in facts {
            if let item = fact["item"]?.stringValue { reported[item] = fact["original"]?["sha256"]?.stringValue ?? "" }
        }
        let expected = items.mapValues(\.hex)
        guard reported == expected else {
            return BundleClaim(
                claim, passed: false, detail: "\(json): its items and their SHA-256 are not the bundle's")
        }
        // Every other file of the report (the PDF) is signed too, each by its own `.p7s`.
        var others = [String]()
        for name in members.keys.sorted()
        where name.hasPrefix(folder) && name != json && !name.hasSuffix(".p7s") {
            guard let bytes = members[name]?.bytes, let signature = members[name + ".p7s"]?.bytes else {
                return BundleClaim(claim, passed: false, detail: "\(name): no signature (\(name).p7s)")
            }
            let problems = DetachedSignature.verify(bytes, signature: signature, anchors: anchors)
            guard problems.isEmpty else {
                return BundleClaim(claim, passed: false, detail: "\(name): " + problems.joined(separator: "; "))
            }
            others.append(name)
        }
        return BundleClaim(
            claim, passed: true,
            detail:
                "\(([json] + others).joined(separator: ", ")) signed (CMS, detached) by the bundled report chain; its \(facts.count) items are the bundle's"
        )
    }
}

extension String {
    fileprivate func trimmingSuffix() -> String {
        var text = self
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return text
    }
}
