import CustosTestSupport
import Foundation
import Testing

extension DaemonSuites {
    /// Docs/Verification.md, run as written: every `sh` block of the guide, in order, in one bash
    /// session in one folder (as an expert's terminal), with the vault's copy as `vault`, the
    /// guide's `Docs/tools` beside it, `custos` on the PATH and `CUSTOS_VAULT` naming the vault.
    /// Only the guide's documented placeholders are filled in (`ITEM`, `ARCHIVE`, `KEY`, `NAME`),
    /// and the files an expert is handed (the TSA's chain, an authority's root, kept checkpoints,
    /// a tlog-proof) are put where the guide names them. Each step's promised output is checked
    /// against the vault's real values.
    @Suite(
        "the verification guide, run as written", .serialized, .timeLimit(.minutes(1)),
        .enabled(
            if: ["bash", "python3", "sqlite3", "openssl", "bsdtar", "hashdeep", "sha256sum"].allSatisfy(haveProgram)))
    struct VerificationGuideTests {
        static let docs: URL = {
            var url = URL(fileURLWithPath: #filePath)
            for _ in 0..<3 { url.deleteLastPathComponent() }
            return url.appendingPathComponent("Docs")
        }()

        /// One fenced `sh` block of the guide and the `## ` section it is in.
        struct Block {
            var section: String
            var script: String
        }

        /// The guide's `sh` blocks, in order.
        static func blocks() throws -> [Block] {
            let guide = try String(contentsOf: docs.appendingPathComponent("Verification.md"), encoding: .utf8)
            var blocks = [Block]()
            var section = ""
            var script: String?
            for line in guide.split(separator: "\n", omittingEmptySubsequences: false) {
                if script == nil, line.hasPrefix("## ") { section = String(line.dropFirst(3)) }
                if line == "```sh" {
                    script = ""
                } else if line == "```", let done = script {
                    blocks.append(Block(section: section, script: done))
                    script = nil
                } else if script != nil {
                    script! += line + "\n"
                }
            }
            return blocks
        }

        /// The block with its placeholders filled in: a line `NAME=…` (a shell assignment the guide
        /// documents as set by hand) gets `value`, and the word `NAME` in a file name its value.
        static func fill(_ script: String, _ values: [String: String], names: [String: String]) -> String {
            var lines = script.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for index in lines.indices {
                for (name, value) in values where lines[index].hasPrefix(name + "=") {
                    lines[index] = "\(name)='\(value)'"
                }
            }
            var filled = lines.joined(separator: "\n")
            for (placeholder, value) in names { filled = filled.replacingOccurrences(of: placeholder, with: value) }
            return filled
        }

        /// The lines `sha256sum`, `md5sum` and `sha1sum` printed: path → digest, by digest length.
        static func digests(_ output: String, length: Int) -> [String: String] {
            var found = [String: String]()
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, parts[0].count == length, parts[0].allSatisfy(\.isHexDigit) else { continue }
                found[parts[1].trimmingCharacters(in: .whitespaces)] = String(parts[0])
            }
            return found
        }

        @Test
        func everyStepRunsAsWrittenAndGivesWhatItPromises() throws {
            // A vault with a history: an item, a kept checkpoint, more items, and an external
            // authority's tokens (from a daemon run), so that every block has something to check.
            let server = try OpenSSLAuthority(mode: "ok")
            let node = try Node()
            let evidence = try node.directory.write("originals/disk.img", randomBytes(70_000))
            #expect(try node.custos(["ingest", "--case", "C-9", evidence]).status == 0)
            let kept = try node.custos(["checkpoint"]).stdout
            for index in 0..<2 {
                let file = try node.directory.write("originals/more-\(index).bin", randomBytes(5_000 + index))
                #expect(try node.custos(["ingest", file]).status == 0)
            }
            try node.useExternalAuthority(server)
            let daemon = try RunningDaemon(node)
            #expect(
                try waitUntil(timeout: 30) {
                    try node.items().allSatisfy { (($0["awaitingTimeStamps"] as? [String]) ?? []).isEmpty }
                }, "\(daemon.log)")
            #expect(daemon.stop() == 0, "\(daemon.log)")

            // What the expert is handed, where the guide names it.
            let folder = node.directory.path
            let item = try #require(try node.items().first { ($0["case"] as? String) == "C-9" })
            let itemID = try #require(item["item"] as? String)
            let key = try node.custos(["key"]).output.trimmingCharacters(in: .newlines)
            try FileManager.default.createSymbolicLink(atPath: folder + "/Docs", withDestinationPath: Self.docs.path)
            try FileManager.default.copyItem(atPath: node.vault + "/tsa/chain.pem", toPath: folder + "/tsa-chain.pem")
            try FileManager.default.copyItem(
                atPath: server.directory.file("ca.pem"), toPath: folder + "/authority-root.pem")
            try node.directory.write("kept-checkpoint.txt", kept)
            try node.directory.write("kept-2026-11.txt", kept)
            try node.directory.write("court-bundle/checkpoint.txt", try node.custos(["checkpoint", "4"]).stdout)
            #expect(try node.custos(["proof", itemID, "-o", folder + "/item.tlog-proof"]).status == 0)
            let handedOver = try node.custos(
                ["transfer", itemID, "--to", "Court", "--reason", "the guide", "-o", folder + "/handover.tar"])
            #expect(handedOver.status == 0, "\(handedOver.stderr)")
            // A chain-of-custody report, and its CA's certificate as the bureau hands it over.
            let reported = try node.custos(["report", itemID, "--reason", "the guide", "-o", folder + "/report.json"])
            #expect(reported.status == 0, "\(reported.stderr)")
            try FileManager.default.copyItem(
                atPath: node.vault + "/report/chain.pem", toPath: folder + "/report-chain.pem")
            // A court bundle of the item, as the court is handed it.
            let bundled = try node.custos(["export", itemID, "--reason", "the guide", "-o", folder + "/BUNDLE.tar"])
            #expect(bundled.status == 0, "\(bundled.stderr)")

            let blocks = try Self.blocks()
            #expect(blocks.count >= 10, "the guide's sh blocks: \(blocks.count)")
            var script = "exec 2>&1\n"
            for (index, block) in blocks.enumerated() {
                let filled = Self.fill(
                    block.script, ["ITEM": itemID, "ARCHIVE": node.archivePath(item: item), "KEY": key],
                    names: ["item-NAME.tsr": "item-independent.tsr"])
                // On a line of its own: the block before may end without a newline (cat of a JSON file).
                script += "printf '\\n@@@ \(index)\\n'\n" + filled
            }
            let bin = URL(fileURLWithPath: custosBinary).deletingLastPathComponent().path
            let session = try run(
                "bash", ["-e", "-o", "pipefail", "-c", script],
                environment: [
                    "CUSTOS_VAULT": node.vault, "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? ""),
                ], directory: folder)
            #expect(session.status == 0, "\(session.output)")
            // Each block's output, by its index.
            var outputs = [String](repeating: "", count: blocks.count)
            var current = -1
            for line in session.output.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("@@@ "), let index = Int(line.dropFirst(4)) {
                    current = index
                } else if current >= 0 {
                    outputs[current] += line + "\n"
                }
            }
            func output(_ section: String, _ number: Int = 0) -> String {
                let indices = blocks.indices.filter { blocks[$0].section.hasPrefix(section) }
                return number < indices.count ? outputs[indices[number]] : ""
            }

            // 1. The archive, the original's three digests and the manifest equal the entry's.
            let entryText = try String(contentsOfFile: folder + "/entry.json", encoding: .utf8)
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(entryText.utf8)) as? [String: Any])
            let entryDigests = try #require(entry["digests"] as? [String: String])
            let step1 = output("1.")
            let sha256 = Self.digests(step1, length: 64)
            #expect(sha256[node.archivePath(item: item)] == entry["archive"] as? String, "\(step1)")
            #expect(sha256["out/evidence/disk.img"] == entryDigests["sha256"])
            #expect(Self.digests(step1, length: 32)["out/evidence/disk.img"] == entryDigests["md5"])
            #expect(Self.digests(step1, length: 40)["out/evidence/disk.img"] == entryDigests["sha1"])
            #expect(step1.contains("hashdeep: Audit passed"))
            #expect(sha256["out/manifest.json"] == entry["manifest"] as? String, "the manifest's SHA-256: \(step1)")
            #expect(step1.contains("C-9"), "the manifest, shown: \(step1)")

            // 2. The chain: entry 0's SHA-256 is entry 1's prev, and the checker agrees.
            let step2 = output("2.")
            let entry1 = try String(contentsOfFile: folder + "/entries/entry-1.json", encoding: .utf8)
            let prev = try #require(Self.digests(step2, length: 64)["entries/entry-0.json"], "\(step2)")
            #expect(entry1.contains("\"prev\":\"\(prev)\""), "\(step2)")

            // 3. The root recomputed is the checkpoint's; its signature verifies with the key.
            let checkpoint = try String(contentsOfFile: folder + "/checkpoint.txt", encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false)
            let coverage = try node.coverage()
            #expect(checkpoint[1] == "\(coverage.entries)")
            #expect(
                output("3.").split(separator: "\n").last.map(String.init) == String(checkpoint[2]), "\(output("3."))")
            #expect(output("3.", 1).contains("Signature Verified Successfully"), "\(output("3.", 1))")

            // 4. The receipt: the entry is in the tree, and its checkpoint's signature verifies.
            let step4 = output("4.")
            #expect(step4.contains("entry \(item["sequence"] as! Int) is in"), "\(step4)")
            #expect(step4.contains("Signature Verified Successfully"), "\(step4)")

            // 5. The kept checkpoint is extended by the latest.
            #expect(output("5.").contains("consistent: the tree of \(coverage.entries) entries"), "\(output("5."))")
            #expect(output("5.").contains("extends the tree of 2 entries"))

            // 6. The item's token, over its digest and over the file; the checkpoint's; the authority's.
            let step6 = output("6.")
            #expect(step6.components(separatedBy: "Verification: OK").count - 1 == 2, "\(step6)")
            #expect(step6.contains("Time stamp:") && step6.contains("Policy OID:"), "\(step6)")
            #expect(output("6.", 1).contains("Verification: OK"), "\(output("6.", 1))")
            #expect(output("6.", 2).contains("Verification: OK"), "\(output("6.", 2))")

            // The report: openssl accepts its signature, and its SHA-256 is in the item's history.
            let report = output("A chain-of-custody report")
            #expect(report.contains("CMS Verification successful"), "\(report)")
            let reportDigest = try sha256sum(folder + "/report.json")
            #expect(report.contains(reportDigest + "  report.json\n1\n"), "\(report)")
            let pdfDigest = try sha256sum(folder + "/report.pdf")
            #expect(report.contains(pdfDigest + "  report.pdf\n1\n"), "\(report)")
            #expect(report.components(separatedBy: "CMS Verification successful").count == 3, "\(report)")

            // A court bundle: every member as listed, VERIFY.md's commands pass, verify-bundle passes.
            let bundle = output("A court bundle")
            #expect(bundle.contains("/original: OK"), "\(bundle)")
            #expect(bundle.contains("Verification: OK") && bundle.contains("CMS Verification successful"), "\(bundle)")
            #expect(bundle.contains("驗證通過 / PASS: every claim of the bundle holds"), "\(bundle)")

            // 7. A handover: both signatures verify, every entry is in the sender's log, the carried
            // archive is the one the entry names.
            let step7 = output("7.")
            #expect(step7.components(separatedBy: "Signature Verified Successfully").count - 1 == 2, "\(step7)")
            let step7b = output("7.", 1)
            #expect(step7b.contains("entry \(item["sequence"] as! Int) is in"), "\(step7b)")
            #expect(step7b.contains("\(itemID) sealed archive \(item["archive"] as! String)"), "\(step7b)")
            let carried = Self.digests(step7b, length: 64)
            #expect(
                carried["handover/objects/\(item["sha256"] as! String).tar.zst"] == item["archive"] as? String,
                "\(step7b)")

            // custos verify with the pinned key, the anchors obtained elsewhere and the kept checkpoints.
            let verify = output("What `custos verify` does")
            #expect(verify.contains("kept checkpoints: 2 checked against the log"), "\(verify)")
            #expect(verify.contains("verification passed"), "\(verify)")
        }
    }
}
