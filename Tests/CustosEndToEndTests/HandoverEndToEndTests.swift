import CustosTestSupport
import Foundation
import Glibc
import Testing

/// `custos transfer` and `custos receive` between two vaults, with the real binary, and the
/// handover file checked with bsdtar and sha256sum.
@Suite("custos transfer and receive", .timeLimit(.minutes(10)))
struct HandoverEndToEndTests {
    /// A sender with one sealed item and a receiver that knows the sender's key (unless told not to).
    struct Pair {
        let sender: Node
        let receiver: Node
        let item: [String: Any]
        let file: String

        init(trusted: Bool = true, size: Int = 200_000, senderInit: [String] = []) throws {
            sender = try Node(origin: "sender.example.tw/evidence", initArguments: senderInit)
            receiver = try Node(origin: "receiver.example.tw/evidence")
            let evidence = try sender.directory.write("in/disk image.bin", randomBytes(size))
            let sealed = try sender.custos(["ingest", "--case", "C-9", "--exhibit", "E-1", evidence])
            #expect(sealed.status == 0, "\(sealed.stderr)")
            item = try #require(try sender.items().first)
            file = sender.directory.file("handover.tar")
            if trusted {
                let key = try sender.custos(["key"])
                let keyFile = try receiver.directory.write("sender.vkey", key.stdout)
                let added = try receiver.custos(["peer", "add", keyFile])
                #expect(added.status == 0, "\(added.stderr)")
                #expect(added.output.contains("added peer sender.example.tw/evidence+"))
            }
        }

        var id: String { item["item"] as! String }

        func transfer(to recipient: String = "receiver.example.tw/evidence") throws {
            let result = try sender.custos([
                "transfer", id, "--to", recipient, "--reason", "trial", "-o", file,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.output.contains("transferred \(id) entry"))
        }

        /// `receive` is refused with this status; the receiver's ledger is unchanged.
        func refused(status: Int32) throws -> String {
            let before = try receiver.coverage()
            let result = try receiver.custos(["receive", file])
            #expect(result.status == status, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("custos: \(file): "), "\(result.stderr)")
            #expect(result.output.isEmpty)
            #expect(try receiver.coverage().entries == before.entries, "nothing is recorded")
            #expect(try receiver.items().isEmpty)
            return result.stderr
        }
    }

    /// Changes `replacement.count` bytes of a file in place, at the first place `marker` occurs
    /// (or at `offset` from its end).
    static func patch(_ path: String, marker: String? = nil, fromEnd offset: Int? = nil, _ replacement: [UInt8])
        throws
    {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var at = bytes.count - (offset ?? 0)
        if let marker {
            let needle = Array(marker.utf8)
            at = try #require(
                (0...(bytes.count - needle.count)).first { bytes[$0..<$0 + needle.count].elementsEqual(needle) })
        }
        bytes.replaceSubrange(at..<at + replacement.count, with: replacement)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func aHandoverArrivesWithTheSameDigestsAndBothNodesVerify() throws {
        let pair = try Pair()
        try pair.transfer()
        // The file, read with bsdtar: the documents, the manifest and the archive, by digest.
        let listed = try run("bsdtar", ["-tf", pair.file])
        #expect(listed.status == 0, "\(listed.stderr)")
        let sha256 = pair.item["sha256"] as! String
        let archive = pair.item["archive"] as! String
        let manifest = pair.item["manifest"] as! String
        #expect(
            listed.output.split(separator: "\n").map(String.init) == [
                "handover.json", "checkpoint.txt", "handover.sig", "manifests/\(manifest).json",
                "objects/\(sha256).tar.zst",
            ])
        let out = pair.sender.directory.file("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        #expect(try run("bsdtar", ["-xf", pair.file, "-C", out]).status == 0)
        #expect(try sha256sum("\(out)/objects/\(sha256).tar.zst") == archive, "the archive carried is the one sealed")
        #expect(try sha256sum("\(out)/manifests/\(manifest).json") == manifest)
        let document = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(out)/handover.json")))
        let object = try #require(document as? [String: Any])
        #expect(object["to"] as? String == "receiver.example.tw/evidence")
        #expect(object["origin"] as? String == "sender.example.tw/evidence")

        let received = try pair.receiver.custos(["receive", pair.file, "--reason", "for trial", "--examiner", "Lin"])
        #expect(received.status == 0, "\(received.stderr)")
        #expect(
            received.output.contains("received \(pair.id) entry 0 sha256 \(sha256) from sender.example.tw/evidence"))
        let items = try pair.receiver.items()
        #expect(items.count == 1)
        #expect(items.first?["item"] as? String == pair.id)
        #expect(items.first?["sha256"] as? String == sha256)
        #expect(items.first?["archive"] as? String == archive)
        #expect(items.first?["case"] as? String == "C-9")
        #expect(items.first?["timeStamped"] as? Bool == true)
        #expect(try sha256sum(pair.receiver.archivePath(item: items[0])) == archive)
        let shown = try pair.receiver.custos(["show", pair.id])
        #expect(shown.status == 0, "\(shown.stderr)")
        for node in [pair.sender, pair.receiver] {
            let verified = try node.verify()
            #expect(verified.status == 0, "\(verified.output) \(verified.stderr)")
            #expect(verified.output.contains("items: 1 checked"))
        }
        // The entries: transferred at the sender, received at the receiver, naming the sender's entry.
        let entries = try pair.receiver.custos(["entry", "0"])
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(entries.stdout)) as? [String: Any])
        #expect(entry["type"] as? String == "received")
        #expect(entry["from"] as? String == "sender.example.tw/evidence")
        #expect(entry["fromIndex"] as? Int == pair.item["sequence"] as? Int)
        #expect((entry["digests"] as? [String: Any])?["sha256"] as? String == sha256)
        let peers = try pair.receiver.custos(["peer", "list"])
        #expect(peers.output.hasPrefix("sender.example.tw/evidence+"))
        // The sender's checkpoint is kept beside its key, verbatim, for the next handover to be
        // compared with; it is not taken for a key.
        let keptFolder = pair.receiver.vault + "/keys/peers/sender.example.tw%2Fevidence.checkpoints"
        let keptNames = try FileManager.default.contentsOfDirectory(atPath: keptFolder)
        #expect(keptNames.count == 1 && UInt64(keptNames[0]) != nil, "one file, named by the size: \(keptNames)")
        let kept = keptFolder + "/" + (keptNames.first ?? "")
        #expect(try sha256sum(kept) == (try sha256sum("\(out)/checkpoint.txt")))
        var status = stat()
        #expect(stat(kept, &status) == 0 && status.st_mode & 0o7777 == 0o400)
        #expect(peers.output.split(separator: "\n").count == 1)
    }

    /// A node that shows this one two logs of the same size (here, a copy of the sender's vault
    /// that went on on its own) is refused as a fork, with both roots named (exit 1).
    @Test func aSecondLogOfTheSameSizeFromTheSenderIsRefusedAsAFork() throws {
        let pair = try Pair()
        let clone = Node(
            existing: pair.sender.directory.file("clone-vault"), directory: pair.sender.directory)
        #expect(try run("cp", ["-a", pair.sender.vault, clone.vault]).status == 0)
        // Both logs grow alike (a seal each, then a transfer), so both checkpoints are of one size.
        let more = try pair.sender.directory.write("in/more.bin", randomBytes(5000))
        #expect(try pair.sender.custos(["ingest", "--case", "C-9", more]).status == 0)
        try pair.transfer()
        #expect(try pair.receiver.custos(["receive", pair.file]).status == 0)
        let evidence = try clone.directory.write("in/other.bin", randomBytes(5000))
        #expect(try clone.custos(["ingest", "--case", "C-9", evidence]).status == 0)
        let otherID = try #require(try clone.items().first { $0["item"] as? String != pair.id }?["item"] as? String)
        let forked = clone.directory.file("forked.tar")
        let sent = try clone.custos([
            "transfer", otherID, "--to", "receiver.example.tw/evidence", "--reason", "trial", "-o", forked,
        ])
        #expect(sent.status == 0, "\(sent.stderr)")
        let before = try pair.receiver.coverage()
        let refused = try pair.receiver.custos(["receive", forked])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("signed two different logs of size"), "\(refused.stderr)")
        #expect(refused.stderr.contains("(a fork)"), "\(refused.stderr)")
        #expect(try pair.receiver.coverage().entries == before.entries, "nothing is recorded")
    }

    @Test func anAlteredHandoverIsRefused() throws {
        let pair = try Pair()
        try pair.transfer()
        // The recipient rewritten: the signature over handover.json no longer holds.
        try Self.patch(pair.file, marker: "\"to\":\"receiver", Array("\"to\":\"deceiver".utf8))
        let message = try pair.refused(status: 1)
        #expect(message.contains("handover.json was altered"), "\(message)")
    }

    @Test func aHandoverSignedByAnUnknownNodeIsRefused() throws {
        let pair = try Pair(trusted: false)
        try pair.transfer()
        let message = try pair.refused(status: 2)
        #expect(message.contains("signed by an unknown node (sender.example.tw/evidence)"), "\(message)")
    }

    @Test func itemsAlreadyReceivedAreRefused() throws {
        let pair = try Pair()
        try pair.transfer()
        #expect(try pair.receiver.custos(["receive", pair.file]).status == 0)
        let before = try pair.receiver.coverage()
        let again = try pair.receiver.custos(["receive", pair.file])
        #expect(again.status == 2)
        #expect(
            again.stderr.contains("custos: \(pair.file): item \(pair.id) is already in this vault"), "\(again.stderr)")
        #expect(try pair.receiver.coverage().entries == before.entries)
    }

    @Test func aHandoverWhoseArchiveIsNotTheOneItsEntryNamesIsRefused() throws {
        let pair = try Pair()
        try pair.transfer()
        // The archive is the last member: change a byte in its middle.
        try Self.patch(pair.file, fromEnd: 120_000, [0x42, 0x42, 0x42, 0x42])
        let message = try pair.refused(status: 1)
        #expect(message.contains("objects/\(pair.item["sha256"] as! String).tar.zst"), "\(message)")
    }

    @Test func aHandoverNamingDigestsThatDoNotMatchTheArchiveCarriedIsRefused() throws {
        // Uncompressed, so the changed archive still reads: its digests are what does not match.
        let pair = try Pair(senderInit: ["--compression", "none"])
        try pair.transfer()
        try Self.patch(pair.file, fromEnd: 120_000, [0x42, 0x42, 0x42, 0x42])
        let message = try pair.refused(status: 1)
        let sha256 = pair.item["sha256"] as! String
        #expect(
            message.contains("objects/\(sha256).tar: its SHA-256 is ")
                && message.contains("names \(pair.item["archive"] as! String)"), "\(message)")
    }

    @Test(arguments: ["link", "symlink"])
    func aHandoverHoldingALinkIsRefused(kind: String) throws {
        let pair = try Pair()
        try pair.transfer()
        // The manifest's member made a link to handover.json, with Python's tarfile.
        let script = """
            import sys, tarfile
            source = tarfile.open(sys.argv[1])
            target = tarfile.open(sys.argv[2], 'w', format=tarfile.PAX_FORMAT)
            for member in source.getmembers():
                if member.name.startswith('manifests/'):
                    link = tarfile.TarInfo(member.name)
                    link.type = tarfile.LNKTYPE if sys.argv[3] == 'link' else tarfile.SYMTYPE
                    link.linkname = 'handover.json'
                    target.addfile(link)
                else:
                    target.addfile(member, source.extractfile(member))
            target.close()
            """
        let linked = pair.sender.directory.file("linked.tar")
        let made = try run("python3", ["-c", script, pair.file, linked, kind])
        #expect(made.status == 0, "\(made.stderr)")
        try FileManager.default.removeItem(atPath: pair.file)
        try FileManager.default.moveItem(atPath: linked, toPath: pair.file)
        let message = try pair.refused(status: 2)
        #expect(message.contains("is not a regular file (a link or a folder)"), "\(message)")
    }

    @Test func transferRefusesAnArchiveThatIsNotTheOneSealed() throws {
        let pair = try Pair()
        let archive = pair.sender.archivePath(item: pair.item)
        #expect(chmod(archive, 0o600) == 0)
        try Self.patch(archive, fromEnd: 100_000, [0x00, 0x01, 0x02])
        let before = try pair.sender.coverage()
        let result = try pair.sender.custos(["transfer", pair.id, "--to", "Court", "--reason", "r", "-o", pair.file])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("custos: \(archive): "), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pair.file))
        #expect(try pair.sender.coverage().entries == before.entries, "no transferred entry")
    }

    @Test func peerAddRefusesAMalformedKeyAndAnotherKeyForAKnownOrigin() throws {
        let pair = try Pair()
        let peers = pair.receiver.vault + "/keys/peers"
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: peers).first)
        #expect(file == "sender.example.tw%2Fevidence.vkey")
        let mode = try FileManager.default.attributesOfItem(atPath: "\(peers)/\(file)")[.posixPermissions] as? Int
        #expect(mode == 0o400)
        let malformed = try pair.receiver.directory.write("bad.vkey", "sender.example.tw/evidence+00000000+AAAA\n")
        let bad = try pair.receiver.custos(["peer", "add", malformed])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("not a signed-note verifier key"), "\(bad.stderr)")
        // Another node that calls itself by the sender's origin.
        let impostor = try Node(origin: "sender.example.tw/evidence")
        let key = try pair.receiver.directory.write("impostor.vkey", try impostor.custos(["key"]).stdout)
        let other = try pair.receiver.custos(["peer", "add", key])
        #expect(other.status == 2)
        #expect(other.stderr.contains("is already known with another key"), "\(other.stderr)")
        let listed = try pair.receiver.custos(["peer", "list"])
        #expect(listed.output == (try pair.sender.custos(["key"]).output))
    }

    @Test func receiveRefusesAHandoverAddressedToAnotherNode() throws {
        let pair = try Pair()
        try pair.transfer(to: "court.example.tw/evidence")
        let message = try pair.refused(status: 2)
        #expect(
            message.contains("addressed to court.example.tw/evidence, not to this node (receiver.example.tw/evidence)"),
            "\(message)")
    }

    @Test func transferRefusesARecipientThatIsNotAnOrigin() throws {
        let pair = try Pair()
        let result = try pair.sender.custos(["transfer", pair.id, "--to", "Taipei District Court", "--reason", "r", "-o", pair.file])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--to \"Taipei District Court\": not a node's origin"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pair.file))
    }

    @Test func transferRefusesAnExistingFile() throws {
        let pair = try Pair()
        try pair.sender.directory.write("handover.tar", "already here")
        let before = try pair.sender.coverage()
        let result = try pair.sender.custos(["transfer", pair.id, "--to", "Court", "--reason", "r", "-o", pair.file])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("custos: \(pair.file): already exists"), "\(result.stderr)")
        #expect(try String(contentsOfFile: pair.file, encoding: .utf8) == "already here")
        #expect(try pair.sender.coverage().entries == before.entries)
    }

    @Test func transferWithoutAReasonIsRefused() throws {
        let pair = try Pair()
        let before = try pair.sender.coverage()
        for reason in [[], ["--reason", ""]] {
            let result = try pair.sender.custos(["transfer", pair.id, "--to", "Court", "-o", pair.file] + reason)
            #expect(result.status == 2)
            #expect(result.stderr.contains("reason"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: pair.file))
        }
        #expect(try pair.sender.coverage().entries == before.entries)
    }
}
