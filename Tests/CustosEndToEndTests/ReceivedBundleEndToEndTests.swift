import CustosTestSupport
import Foundation
import Testing

/// Court bundles and reports of items this node RECEIVED by a handover: each is bundled with this
/// node's `received` entry, its proof in this node's checkpoint, its original, archive, manifest and
/// this node's tokens, and with what the node kept of the sender's proof (the sender's `sealed`
/// entry, its inclusion proof in the sender's signed checkpoint, the sender's key); the custody at
/// the sender after its seal is said plainly not to be checked. A case mixing sealed and received
/// items is checked by other people's tools and by `verify-bundle`; tampering is named.
@Suite(
    "court bundles of received items", .timeLimit(.minutes(5)),
    .enabled(if: haveProgram("openssl") && haveProgram("bsdtar") && systemPython != nil))
struct ReceivedBundleEndToEndTests {
    static let senderOrigin = "sender.example.tw/evidence"

    /// A receiver holding, in case C-9, one item received from a sender (5 MB: its MD5 and SHA-1
    /// are worked out on threads of their own) and one it sealed itself.
    struct Mixed {
        let sender: Node
        let receiver: Node
        let received: String
        let sealed: String
        /// The sender's entry index of the received item's seal.
        let fromIndex: Int

        init(senderOrigin: String = ReceivedBundleEndToEndTests.senderOrigin) throws {
            sender = try Node(origin: senderOrigin)
            receiver = try Node(origin: "receiver.example.tw/evidence")
            let evidence = try sender.directory.write("in/disk image.bin", randomBytes(5_000_000))
            let first = try sender.custos(["ingest", "--case", "C-9", "--exhibit", "E-1", evidence])
            #expect(first.status == 0, "\(first.stderr)")
            let received = try #require(try sender.items().first?["item"] as? String)
            self.received = received
            fromIndex = try #require(try sender.items().first?["sequence"] as? Int)
            let key = try receiver.directory.write("sender.vkey", try sender.custos(["key"]).stdout)
            #expect(try receiver.custos(["peer", "add", key]).status == 0)
            let file = sender.directory.file("handover.tar")
            let transferred = try sender.custos([
                "transfer", received, "--to", "receiver.example.tw/evidence", "--reason", "trial", "-o", file,
            ])
            #expect(transferred.status == 0, "\(transferred.stderr)")
            let receipt = try receiver.custos(["receive", file, "--reason", "for trial"])
            #expect(receipt.status == 0, "\(receipt.stderr)")
            let own = try receiver.directory.write("in/phone.bin", randomBytes(3_000))
            let second = try receiver.custos(["ingest", "--case", "C-9", "--exhibit", "E-2", own])
            #expect(second.status == 0, "\(second.stderr)")
            sealed = try #require(
                try receiver.items().compactMap { $0["item"] as? String }.first { $0 != received })
        }
    }

    let bundles = BundleEndToEndTests()

    func extract(_ node: Node, _ bundle: String, as label: String) throws -> String {
        let folder = node.directory.file("extracted-\(label)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let extracted = try run("bsdtar", ["-xf", bundle, "-C", folder])
        #expect(extracted.status == 0, "\(extracted.stderr)")
        return folder + "/custos-bundle"
    }

    @Test func aCaseMixingSealedAndReceivedItemsIsBundledAndCheckedByOtherToolsAndByVerifyBundle() throws {
        let nodes = try Mixed()
        let bundle = nodes.receiver.directory.file("case.tar")
        let made = try nodes.receiver.custos(["export", "--case", "C-9", "--reason", "for the court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        let folder = try extract(nodes.receiver, bundle, as: "case")
        let item = "items/\(nodes.received)"
        // This node's `received` entry is the item's entry; the sender's parts sit beside it.
        let entry = try String(contentsOfFile: "\(folder)/\(item)/entry.json", encoding: .utf8)
        #expect(entry.contains("\"type\":\"received\""), "\(entry)")
        #expect(entry.contains("\"from\":\"\(Self.senderOrigin)\""), "\(entry)")
        let senderEntry = try String(contentsOfFile: "\(folder)/\(item)/sender-entry.json", encoding: .utf8)
        #expect(senderEntry.contains("\"type\":\"sealed\"") && senderEntry.contains("\"seq\":\(nodes.fromIndex)"))
        let senderKey = try String(contentsOfFile: "\(folder)/\(item)/sender.vkey", encoding: .utf8)
        #expect(senderKey.hasPrefix(Self.senderOrigin + "+"))
        for name in [
            "original", "manifest.json", "archive.tar.zst", "proof.tlog", "stamp-1.tsr", "sender-proof.tlog",
            "sender-checkpoint.txt",
        ] {
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(item)/\(name)"), "\(name)")
        }
        // VERIFY.md says, in both languages, what the bundle does not prove, and its commands run.
        let guide = try String(contentsOfFile: folder + "/VERIFY.md", encoding: .utf8)
        #expect(guide.contains("未驗證項目"), "\(guide)")
        #expect(guide.contains("which this bundle does not hold"), "\(guide)")
        #expect(guide.contains("\(Self.senderOrigin)") && guide.contains("帳本紀錄 \(nodes.fromIndex)"), "\(guide)")
        try bundles.runGuide(folder)
        #expect(guide.contains("sender-proof.tlog") && guide.contains("sender-checkpoint.txt"))
        // The report in the bundle says so too, in both languages.
        let report = try String(contentsOfFile: folder + "/report/report.json", encoding: .utf8)
        #expect(report.contains("which this report does not hold"), "\(report)")
        #expect(report.contains("接收前之證據監管鏈"), "\(report)")

        // No vault: moved away before the check.
        try FileManager.default.moveItem(
            atPath: nodes.receiver.vault, toPath: nodes.receiver.directory.file("vault-gone"))
        let checked = try bundles.verifyBundle(bundle)
        #expect(checked.status == 0, "\(checked.output) \(checked.stderr)")
        for claim in ["original", "manifest", "archive", "inclusion proof", "time-stamp token 1", "sender's seal"] {
            #expect(checked.output.contains("驗證通過 / PASS  item \(nodes.received) \(claim)"), "\(claim)")
        }
        #expect(checked.output.contains("驗證通過 / PASS  item \(nodes.sealed) archive"), "\(checked.output)")
        #expect(!checked.output.contains("item \(nodes.sealed) sender"), "\(checked.output)")
        #expect(checked.output.contains("No --sender-key"), "\(checked.output)")
        // The claim says, in both languages, what the bundle does not prove.
        let seal = try #require(
            checked.output.split(separator: "\n").first { $0.contains("item \(nodes.received) sender's seal") })
        #expect(seal.contains("未驗證項目 / Not checked: 接收前之證據監管鏈") && seal.contains("which this bundle does not hold"))
        // The sender's key obtained from its bureau: its own passes; another key of the same
        // origin (a forged sender) fails the claim.
        let senderKeyFile = nodes.receiver.directory.file("sender.vkey")
        let withKey = try bundles.verifyBundle(bundle, ["--sender-key", senderKeyFile])
        #expect(withKey.status == 0 && !withKey.output.contains("No --sender-key"), "\(withKey.output)")
        let forger = try Node(origin: Self.senderOrigin)
        let forged = try #require(
            try forger.custos(["key"]).output.split(separator: "\n").first { $0.contains("+") }.map(String.init))
        let wrong = try bundles.verifyBundle(bundle, ["--sender-key", forged])
        #expect(wrong.status == 1, "\(wrong.output)")
        #expect(
            wrong.output.contains("驗證失敗 / FAIL  item \(nodes.received) sender's seal: the bundled key of"),
            "\(wrong.output)")
    }

    /// A key given to verify-bundle is never passed over: one that is neither a file holding a
    /// verifier key nor a key is bad usage, named (exit 2); a sender key of an origin no item was
    /// received from fails a claim; each sender given no key is named in a NOTE, in the text and
    /// in the JSON.
    @Test func aKeyGivenToVerifyBundleIsNeverPassedOver() throws {
        let nodes = try Mixed()
        let bundle = nodes.receiver.directory.file("keys.tar")
        let made = try nodes.receiver.custos(["export", "--case", "C-9", "--reason", "court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        let typo = nodes.receiver.directory.file("typo.vkey")
        let notAKey = try nodes.receiver.directory.write("not-a-key.vkey", Array("hello\n".utf8))
        for option in ["--sender-key", "--key"] {
            for value in [typo, notAKey, "sender.example.tw/evidence+0000"] {
                let result = try bundles.verifyBundle(bundle, [option, value])
                #expect(result.status == 2, "\(option) \(value): \(result.output) \(result.stderr)")
                #expect(
                    result.stderr.contains(option) && result.stderr.contains(value) && !result.output.contains("PASS"),
                    "\(option) \(value): \(result.output) \(result.stderr)")
            }
        }
        // A key of another origin: no item of the bundle was received from it.
        let other = try Node(origin: "other.example.tw/evidence")
        let otherKey = try #require(
            try other.custos(["key"]).output.split(separator: "\n").first { $0.contains("+") }.map(String.init))
        let stray = try bundles.verifyBundle(bundle, ["--sender-key", otherKey])
        #expect(stray.status == 1, "\(stray.output)")
        #expect(
            stray.output.contains(
                "驗證失敗 / FAIL  sender keys: --sender-key for other.example.tw/evidence: no item of this bundle was received from other.example.tw/evidence"
            ), "\(stray.output)")
        #expect(stray.output.contains("No --sender-key for \(Self.senderOrigin)"), "\(stray.output)")
        // The NOTEs in the JSON too.
        let json = try bundles.verifyBundle(bundle, ["--json", "--sender-key", otherKey])
        #expect(json.status == 1, "\(json.output)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any])
        #expect(object["result"] as? String == "FAIL")
        let notes = try #require(object["notes"] as? [String], "\(json.output)")
        #expect(notes.contains { $0.contains("No --sender-key for \(Self.senderOrigin)") }, "\(notes)")
        #expect(notes.contains { $0.contains("No --key") }, "\(notes)")
        // The sender's own key, from a file: no NOTE of the sender, a claim that says so.
        let senderKey = nodes.receiver.directory.file("sender.vkey")
        let keyed = try bundles.verifyBundle(bundle, ["--json", "--sender-key", senderKey])
        #expect(keyed.status == 0, "\(keyed.output)")
        let keyedObject = try #require(
            try JSONSerialization.jsonObject(with: Data(keyed.stdout)) as? [String: Any])
        let keyedNotes = try #require(keyedObject["notes"] as? [String], "\(keyed.output)")
        #expect(!keyedNotes.contains { $0.contains("--sender-key") }, "\(keyedNotes)")
    }

    /// VERIFY.md checks of the sender's seal what verify-bundle checks: a `received` entry whose
    /// size or manifest is not the sender's seal's (VERIFY.md rewritten to match it) fails a
    /// command on sender-entry.json.
    @Test func theGuideComparesTheSendersEntryWithTheReceivedOne() throws {
        let nodes = try Mixed()
        let bundle = nodes.receiver.directory.file("guide.tar")
        let made = try nodes.receiver.custos(["export", nodes.received, "--reason", "court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        let folder = try extract(nodes.receiver, bundle, as: "guide")
        try bundles.runGuide(folder)
        let entryPath = "\(folder)/items/\(nodes.received)/entry.json"
        let guidePath = folder + "/VERIFY.md"
        let entry = try String(contentsOfFile: entryPath, encoding: .utf8)
        let guide = try String(contentsOfFile: guidePath, encoding: .utf8)
        let manifest = try #require(
            entry.range(of: "\"manifest\":\"").map { String(entry[$0.upperBound...].prefix(64)) })
        let otherManifest = (manifest.hasPrefix("0") ? "1" : "0") + manifest.dropFirst()
        for (from, to) in [
            ("\"size\":5000000,", "\"size\":5000001,"),
            ("\"manifest\":\"\(manifest)\"", "\"manifest\":\"\(otherManifest)\""),
        ] {
            #expect(entry.contains(from), "\(entry)")
            try entry.replacingOccurrences(of: from, with: to).write(
                toFile: entryPath, atomically: true, encoding: .utf8)
            try guide.replacingOccurrences(of: from, with: to).write(
                toFile: guidePath, atomically: true, encoding: .utf8)
            let failing = try bundles.failingGuideCommands(folder)
            #expect(failing.contains { $0.contains("sender-entry.json") }, "\(from): \(failing)")
        }
    }

    /// The sender's checkpoint with a second signature line of the sender's name (by another key,
    /// before or after the sender's own): verify-bundle and VERIFY.md judge it alike, and both
    /// refuse it (a node signs its checkpoint once).
    @Test func aSecondSignatureLineOfTheSendersNameFailsInVerifyBundleAndInTheGuide() throws {
        let nodes = try Mixed()
        let node = nodes.receiver
        let bundle = node.directory.file("lines.tar")
        #expect(try node.custos(["export", nodes.received, "--reason", "court", "-o", bundle]).status == 0)
        let folder = try extract(node, bundle, as: "lines")
        let item = "items/\(nodes.received)"
        let checkpoint = try String(contentsOfFile: "\(folder)/\(item)/sender-checkpoint.txt", encoding: .utf8)
        let proof = try String(contentsOfFile: "\(folder)/\(item)/sender-proof.tlog", encoding: .utf8)
        let parts = checkpoint.components(separatedBy: "\n\n")
        #expect(parts.count == 2, "\(checkpoint)")
        let genuine = parts[1]
        let prefix = "\u{2014} \(Self.senderOrigin) "
        #expect(genuine.hasPrefix(prefix), "\(genuine)")
        // Another key's ID and a signature that is not one.
        var blob = try #require(Data(base64Encoded: String(genuine.dropFirst(prefix.count).dropLast())))
        blob[0] ^= 0xff
        blob[10] ^= 0x01
        let bogus = prefix + blob.base64EncodedString() + "\n"
        for (label, lines) in [("before", bogus + genuine), ("after", genuine + bogus)] {
            let changed = parts[0] + "\n\n" + lines
            let checkpointFile = try node.directory.write("checkpoint-\(label).txt", Array(changed.utf8))
            let proofFile = try node.directory.write(
                "proof-\(label).tlog", Array(proof.replacingOccurrences(of: checkpoint, with: changed).utf8))
            var tampered = try bundles.tamper(
                node, bundle, "replace", ["\(item)/sender-checkpoint.txt", checkpointFile])
            tampered = try bundles.tamper(node, tampered, "replace", ["\(item)/sender-proof.tlog", proofFile])
            let checked = try bundles.verifyBundle(tampered)
            #expect(checked.status == 1, "\(label): \(checked.output)")
            #expect(
                checked.output.contains("驗證失敗 / FAIL  item \(nodes.received) sender's seal"),
                "\(label): \(checked.output)")
            let extracted = try extract(node, tampered, as: "lines-\(label)")
            let failing = try bundles.failingGuideCommands(extracted)
            #expect(failing.contains { $0.contains("checkpoint") }, "\(label): \(failing)")
        }
    }

    /// An origin is the sender's to choose, and VERIFY.md's commands are run as written: one
    /// made of quotes, `$`, `;` and a backslash is one word in every command, and runs nothing.
    @Test func aSendersOriginOfShellCharactersRunsNothingInTheGuide() throws {
        let origin = #"evil.example.tw/x';touch${IFS}PWNED;'"\"#
        let nodes = try Mixed(senderOrigin: origin)
        let bundle = nodes.receiver.directory.file("hostile.tar")
        let made = try nodes.receiver.custos(["export", nodes.received, "--reason", "court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try bundles.verifyBundle(bundle).status == 0)
        let folder = try extract(nodes.receiver, bundle, as: "hostile")
        try bundles.runGuide(folder)
        #expect(!FileManager.default.fileExists(atPath: folder + "/PWNED"))
        #expect(!FileManager.default.fileExists(atPath: nodes.receiver.directory.file("PWNED")))
    }

    @Test func aReceivedItemAloneIsBundledAndItsReportSaysWhatIsNotChecked() throws {
        let nodes = try Mixed()
        let bundle = nodes.receiver.directory.file("one.tar")
        let made = try nodes.receiver.custos(["export", nodes.received, "--reason", "court", "-o", bundle])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(try bundles.verifyBundle(bundle).status == 0)
        // The report made on its own says it too (JSON and PDF).
        let report = nodes.receiver.directory.file("r.pdf")
        let reported = try nodes.receiver.custos(["report", nodes.received, "--reason", "court", "-o", report])
        #expect(reported.status == 0, "\(reported.stderr)")
        let json = try String(contentsOfFile: nodes.receiver.directory.file("r.json"), encoding: .utf8)
        #expect(json.contains("\(Self.senderOrigin) (its entry \(nodes.fromIndex))"), "\(json)")
        // Sealed when the sender sealed it (its manifest's time), received when this node did.
        let facts = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let item = try #require((facts["items"] as? [[String: Any]])?.first)
        let sealed = try #require((item["sealed"] as? [String: Any])?["time"] as? String)
        let received = try #require((item["received"] as? [String: Any])?["time"] as? String)
        #expect(sealed < received, "sealed \(sealed), received \(received)")
        if haveProgram("pdftotext") {
            let text = try run("pdftotext", [report, "-"]).output
            #expect(text.contains("接收前之證據監管鏈"), "\(text)")
            #expect(text.contains("接收時間 / Received"), "\(text)")
        }
    }

    /// Each member of a received item, changed (SHA256SUMS rewritten to match where the bytes must
    /// be judged), fails and is named.
    @Test func tamperingAReceivedItemsMembersFailsAndIsNamed() throws {
        let nodes = try Mixed()
        let node = nodes.receiver
        let bundle = node.directory.file("case.tar")
        #expect(try node.custos(["export", "--case", "C-9", "--reason", "court", "-o", bundle]).status == 0)
        let item = "items/\(nodes.received)"
        func expectFailure(_ tampered: String, _ claim: String, _ detail: String) throws {
            let result = try bundles.verifyBundle(tampered)
            #expect(result.status == 1, "\(claim): \(result.output)")
            let line = result.output.split(separator: "\n").first { $0.contains("FAIL  \(claim)") }
            #expect(line?.contains(detail) == true, "\(claim): \(result.output)")
        }
        // Unlisted changes are found by SHA256SUMS.
        let changed = try bundles.tamper(node, bundle, "change", ["\(item)/original"])
        try expectFailure(changed, "SHA256SUMS", "changed: \(item)/original")
        try expectFailure(
            try bundles.tamper(node, bundle, "remove", ["\(item)/sender-proof.tlog"]), "SHA256SUMS",
            "removed: \(item)/sender-proof.tlog")
        // Changes listed anew: each check of the item names what is wrong.
        let other = "items/\(nodes.sealed)"
        let copies: [([String], String, String)] = [
            ([("\(other)/original"), "\(item)/original"], "item \(nodes.received) original", "SHA-256"),
            ([("\(other)/manifest.json"), "\(item)/manifest.json"], "item \(nodes.received) manifest", "SHA-256"),
            ([("\(other)/proof.tlog"), "\(item)/proof.tlog"], "item \(nodes.received) inclusion proof", "not about"),
            (
                [("\(other)/stamp-1.tsr"), "\(item)/stamp-1.tsr"], "item \(nodes.received) time-stamp token 1",
                "another"
            ),
            (
                [("\(other)/entry.json"), "\(item)/sender-entry.json"], "item \(nodes.received) sender's seal",
                "not the sealed entry"
            ),
            (
                ["checkpoint.txt", "\(item)/sender-checkpoint.txt"], "item \(nodes.received) sender's seal",
                "checkpoint"
            ),
            (["verifier.vkey", "\(item)/sender.vkey"], "item \(nodes.received) sender's seal", "key"),
            (
                [("\(other)/proof.tlog"), "\(item)/sender-proof.tlog"], "item \(nodes.received) sender's seal",
                "proof"
            ),
        ]
        for (arguments, claim, detail) in copies {
            try expectFailure(try bundles.tamper(node, bundle, "copy", arguments), claim, detail)
        }
        // The sender's part removed, SHA256SUMS rewritten: a received item without it fails.
        let removed = try bundles.tamper(node, bundle, "remove-listed", ["\(item)/sender-entry.json"])
        try expectFailure(removed, "item \(nodes.received) sender's seal", "sender-entry.json")
    }

    /// The sender's proof the node kept no longer holds (the sender's key gone from keys/peers/):
    /// the export is refused, as for an altered archive, with nothing written or recorded.
    @Test func exportRefusesAReceivedItemWhoseSendersProofNoLongerHolds() throws {
        let nodes = try Mixed()
        let node = nodes.receiver
        let key = "\(node.vault)/keys/peers/sender.example.tw%2Fevidence.vkey"
        #expect(FileManager.default.fileExists(atPath: key))
        try FileManager.default.removeItem(atPath: key)
        let before = try node.coverage().entries
        let out = node.directory.file("b.tar")
        let refused = try node.custos(["export", "--case", "C-9", "--reason", "court", "-o", out])
        #expect(refused.status == 1, "\(refused.stderr)")
        #expect(refused.stderr.contains("the sender's proof kept with its received entry"), "\(refused.stderr)")
        #expect(refused.stderr.contains("is not kept"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try node.coverage().entries == before)
    }
}
