import CustosFileSystem
import CustosFormats

/// The manifest of a sealed item (canonical JSON, `manifest.json` in the archive and in
/// `manifests/`), and the names and the hashdeep list that go with it.
public enum Manifest {
    static let format = "custos-manifest/1"

    /// The SHA-256 of the original a manifest's bytes name (its `digests`), or nil when they are
    /// not a manifest's JSON. An archive holds its own seal's manifest, or, for content sealed
    /// before and stored once, that earlier seal's, which names the same SHA-256.
    public static func namedSHA256(_ bytes: [UInt8]) -> Hash? {
        (try? CanonicalJSON.parse(bytes))?["digests"].flatMap { try? EvidenceDigests(json: $0) }?.sha256
    }

    /// A name for the original inside the archive: the original name when it is printable UTF-8
    /// without `/`, `\` or `%`; otherwise those bytes as `%XX`. Never empty, `.` or `..`, never
    /// longer than 240 bytes (a digest of the full name keeps shortened names apart).
    static func safeMemberName(_ name: [UInt8], digester: some SHA256Digesting) -> String {
        var out = ""
        var index = 0
        while index < name.count {
            let length = DisplayName.utf8SequenceLength(name, at: index)
            if length > 0 {
                let text = String(decoding: name[index..<index + length], as: UTF8.self)
                let scalar = text.unicodeScalars.first!
                let unsafe =
                    DisplayName.isInvisibleOrControl(scalar) || scalar == "/" || scalar == "\\" || scalar == "%"
                if !unsafe {
                    out += text
                    index += length
                    continue
                }
                for byte in name[index..<index + length] { out += "%" + Hex.encode([byte]).uppercased() }
                index += length
            } else {
                out += "%" + Hex.encode([name[index]]).uppercased()
                index += 1
            }
        }
        if out.isEmpty || out == "." || out == ".." { out = "_" + out }
        if out.utf8.count > 240 {
            let tag = "~" + digester.sha256(name).hex.prefix(12)
            var cut = ""
            for character in out {
                if cut.utf8.count + character.utf8.count + tag.utf8.count > 240 { break }
                cut.append(character)
            }
            out = cut + tag
        }
        return out
    }

    static func timeString(_ time: FileStatus.Time) -> String {
        RFC3339.format(seconds: time.seconds, nanoseconds: time.nanoseconds, fractionDigits: 9)
    }

    static func build(
        item: String, request: SealRequest, absolutePath: RawPath, status: FileStatus, digests: EvidenceDigests,
        member: String, origin: String, bureau: String? = nil, context: SealingContext, sealedAt: String,
        compression: Compression
    ) -> [UInt8] {
        let original: JSONObject = [
            "name": .byteString(request.path.lastComponent),
            "path": .byteString(absolutePath.bytes),
            "size": .integer(status.size),
            "mode": .string("0" + String(status.mode & 0o7777, radix: 8)),
            "uid": .integer(Int64(status.uid)),
            "gid": .integer(Int64(status.gid)),
            "inode": .integer(Int64(min(status.inode, UInt64(CanonicalJSON.maxSafeInteger)))),
            "device": .integer(Int64(min(status.device, UInt64(CanonicalJSON.maxSafeInteger)))),
            "links": .integer(Int64(status.linkCount)),
            "mtime": .string(timeString(status.modificationTime)),
            "ctime": .string(timeString(status.changeTime)),
            "atime": .string(timeString(status.accessTime)),
        ]
        var acquisition = request.acquisition.json
        acquisition["case"] = .string(request.caseID)
        var sealing: JSONObject = [
            "host": .string(context.host),
            "node": .string(origin),
            "tool": .string(context.tool),
            "operator": .string(context.operatorName),
            "operatorUID": .integer(Int64(context.operatorUID)),
            "time": .string(sealedAt),
            "compression": .string(compression.rawValue),
            // What the one pass re-checked before anything was recorded (a seal is recorded only
            // when all of it held): the bytes read are the size, and the file's status after the
            // pass is the one before it, its name still leading to it.
            "recheck": .object([
                "result": .string("pass"),
                // An upload: the node re-checked the copy it received (the sender's client
                // re-checked its own file before its last bytes left).
                "of": .string(request.upload == nil ? "original" : "received-copy"),
                "checked": .array(
                    ["bytes-read-equal-size", "size", "mtime", "ctime", "inode", "device", "still-linked"].map {
                        .string($0)
                    }),
            ]),
        ]
        if let bureau { sealing["bureau"] = .string(bureau) }
        if let actor = context.verifiedActor { sealing["actor"] = .object(actor) }
        var manifest: JSONObject = [
            "format": .string(format),
            "item": .string(item),
            "original": .object(original),
            "digests": digests.json,
            "member": .string("evidence/" + member),
            "acquisition": .object(acquisition),
            "sealing": .object(sealing),
        ]
        if let upload = request.upload {
            // The original's facts above are the sender's declaration; the bytes are what came.
            manifest["upload"] = .object([
                "via": .string("socket"),
                "account": .string(upload.account), "uid": .integer(Int64(upload.uid)),
                "pid": .integer(Int64(upload.pid)),
                "declared": .array(
                    ["name", "path", "mode", "uid", "gid", "inode", "device", "links", "mtime", "ctime", "atime"].map {
                        .string($0)
                    }),
            ])
        }
        if let inbox = request.inbox {
            var flags = [JSONValue]()
            if status.linkCount > 1 { flags.append(.string("hardLinked")) }
            manifest["inbox"] = .object([
                "path": .byteString(inbox.relativePath),
                "sidecars": .array(
                    inbox.sidecars.map { .object(["path": .byteString($0.path), "sha256": .string($0.sha256.hex)]) }),
                "flags": .array(flags),
            ])
        }
        return CanonicalJSON.encode(.object(manifest))
    }

    /// The original's line list in hashdeep's format, so `hashdeep -a -k hashdeep.txt` audits the
    /// extracted file.
    static func hashdeepList(member: String, size: Int64, digests: EvidenceDigests) -> [UInt8] {
        var columns = ["size"]
        var values = [String(size)]
        if let md5 = digests.md5 {
            columns.append("md5")
            values.append(Hex.encode(md5))
        }
        if let sha1 = digests.sha1 {
            columns.append("sha1")
            values.append(Hex.encode(sha1))
        }
        columns.append("sha256")
        values.append(digests.sha256.hex)
        let text = """
            %%%% HASHDEEP-1.0
            %%%% \(columns.joined(separator: ",")),filename
            ## Invoked from: the extracted archive's top folder
            ## $ hashdeep -l -r -a -k hashdeep.txt evidence
            ##
            \((values + ["evidence/" + member]).joined(separator: ","))

            """
        return Array(text.utf8)
    }
}
