import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// `custos show` as a new user meets it: prefixes of UUIDv7 ids, content sealed twice, the
    /// acquisition details and where an item came from, read from a manifest that matches the ledger.
    @Suite("custos show", .serialized, .timeLimit(.minutes(1)))
    struct ShowTests {
        /// The longest start the strings share.
        static func commonPrefix(_ texts: [String]) -> String {
            var prefix = texts[0]
            for text in texts.dropFirst() {
                while !text.hasPrefix(prefix) { prefix.removeLast() }
            }
            return prefix
        }

        @Test func anAmbiguousPrefixListsTheCandidates() throws {
            let node = try Node()
            var names = ["first.bin", "second.bin", "evil\nname.bin"]
            for name in names { try node.directory.write("in/\(name)", randomBytes(1000)) }
            let sealed = try node.custos(["ingest", "--case", "C-7", node.directory.file("in")])
            #expect(sealed.status == 0, "\(sealed.stderr)")
            let items = try node.items()
            #expect(items.count == 3)
            let ids = items.map { $0["item"] as! String }
            // UUIDv7: sealed within moments of each other, the ids share at least their first digit.
            let prefix = Self.commonPrefix(ids)
            #expect(!prefix.isEmpty)
            let shown = try node.custos(["show", prefix])
            #expect(shown.status == 2)
            #expect(shown.output.isEmpty)
            #expect(shown.stderr.contains("\"\(prefix)\" matches 3 items"), "\(shown.stderr)")
            let lines = shown.stderr.split(separator: "\n")
            #expect(lines.count == 4, "one line per candidate, the name escaped: \(shown.stderr)")
            for item in items {
                let line = try #require(lines.first { $0.contains(item["item"] as! String) })
                #expect(line.contains(item["sealedAt"] as! String))
                #expect(line.contains(item["sha256"] as! String))
                #expect(line.contains("case C-7"))
            }
            names[2] = "evil\\nname.bin"
            for name in names { #expect(lines.contains { $0.hasSuffix("  " + name) }, "\(name)") }
            // The other commands that take one item refuse the same way.
            let proof = try node.custos(["proof", prefix])
            #expect(proof.status == 2 && proof.stderr.contains("matches 3 items"))
            #expect(proof.stderr.contains(ids[0]))
            // The whole id, and its first 12 digits plus one (unique here), name one item.
            for start in ids.map({ String($0.prefix(14)) }) + ids {
                let one = try node.custos(["show", start])
                if ids.filter({ $0.hasPrefix(start) }).count == 1 {
                    #expect(one.status == 0, "\(start): \(one.stderr)")
                }
            }
        }

        @Test func theSameContentSealedTwiceIsShownWhole() throws {
            let node = try Node()
            let content = randomBytes(5000)
            let first = try node.directory.write("one.bin", content)
            let second = try node.directory.write("copy/two.bin", content)
            let other = try node.directory.write("other.bin", randomBytes(5000))
            #expect(try node.custos(["ingest", "--case", "K-1", first, other]).status == 0)
            #expect(try node.custos(["ingest", "--case", "K-2", second]).status == 0)
            let items = try node.items()
            let sha256 = items[0]["sha256"] as! String
            let same = items.filter { $0["sha256"] as! String == sha256 }.map { $0["item"] as! String }
            #expect(same.count == 2)
            let start = String(sha256.prefix(10))

            let shown = try node.custos(["show", start])
            #expect(shown.status == 0, "\(shown.stderr)")
            #expect(shown.output.hasPrefix("2 items hold this content (SHA-256 \(sha256)):\n"))
            for id in same { #expect(shown.output.contains("item:        \(id)\n")) }
            #expect(shown.output.contains("name:        one.bin\n") && shown.output.contains("name:        two.bin\n"))
            #expect(shown.output.contains("case:        K-1\n") && shown.output.contains("case:        K-2\n"))
            #expect(!shown.output.contains(items[1]["item"] as! String))

            let json = try JSONSerialization.jsonObject(with: Data(try node.custos(["show", "--json", start]).stdout))
            let objects = try #require(json as? [[String: Any]])
            #expect(objects.map { ($0["item"] as! [String: Any])["item"] as! String } == same)
            // One item by its id is still one object.
            let single = try JSONSerialization.jsonObject(
                with: Data(try node.custos(["show", "--json", same[0]]).stdout))
            #expect(single is [String: Any])
            // A command that needs one item says which to choose.
            let proof = try node.custos(["proof", start])
            #expect(proof.status == 2)
            #expect(proof.stderr.contains("sealed more than once") && proof.stderr.contains(same[1]))
        }

        @Test func theAcquisitionDetailsAndThePathUnderTheInbox() throws {
            let node = try Node()
            let folder = node.directory.file("stage/2026-偵-9/phone/extraction")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try node.directory.write(
                "stage/2026-偵-9/phone/extraction/dump.bin.custos.yaml",
                """
                exhibit: B-2
                examiner: 陳大文
                description: 手機映像
                seizure:
                  place: 臺北市中正區
                  time: 2026-11-20T14:30:00+08:00
                device:
                  make: Apple
                  model: iPhone 15
                  serial: F2LX-0001
                """)
            try node.directory.write("stage/2026-偵-9/phone/extraction/dump.bin", randomBytes(4000))
            #expect(rename(node.directory.file("stage/2026-偵-9"), node.inbox + "/2026-偵-9") == 0)
            let daemon = try RunningDaemon(node)
            #expect(try node.waitForItems(1))
            #expect(daemon.stop() == 0)
            let item = try #require(try node.items().first?["item"] as? String)

            let shown = try node.custos(["show", item])
            #expect(shown.status == 0, "\(shown.stderr)")
            let text = shown.output
            #expect(text.contains("name:        dump.bin\n"))
            #expect(text.contains("inbox path:  2026-偵-9/phone/extraction/dump.bin\n"), "\(text)")
            #expect(text.contains("sidecar:     2026-偵-9/phone/extraction/dump.bin.custos.yaml  sha256 "))
            #expect(text.contains("case:        2026-偵-9\n"))
            #expect(text.contains("exhibit:     B-2\n"))
            #expect(text.contains("examiner:    陳大文\n"))
            #expect(text.contains("description: 手機映像\n"))
            #expect(text.contains("seized:      at 臺北市中正區, on 2026-11-20T14:30:00+08:00\n"))
            #expect(text.contains("device:      make Apple, model iPhone 15, serial F2LX-0001\n"))
            #expect(text.contains("(its SHA-256 matches the ledger entry)"))
            // The report gives the declared seizure time (with its offset) in its zone, with the
            // ROC date.
            let report = node.directory.file("seizure.json")
            let reported = try node.custos(["report", item, "--reason", "r", "--format", "json", "-o", report])
            #expect(reported.status == 0, "\(reported.stderr)")
            let facts = try #require(
                JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
            )
            let acquisition = try #require(
                (facts["items"] as? [[String: Any]])?.first?["acquisition"] as? [String: Any])
            let seized = try #require(acquisition["seizureTimeLocal"] as? [String: String])
            #expect(seized == ["time": "2026-11-20T14:30:00+08:00", "rocDate": "中華民國115年11月20日"])
        }

        @Test func aManifestThatDoesNotMatchTheLedgerIsNotTrusted() throws {
            let node = try Node()
            let file = try node.directory.write("a.bin", randomBytes(3000))
            #expect(
                try node.custos(["ingest", "--examiner", "Alice", "--description", "two\nlines", file]).status == 0)
            let item = try #require(try node.items().first)
            let id = item["item"] as! String
            let manifestHash = item["manifest"] as! String
            let path = "\(node.vault)/manifests/\(manifestHash.prefix(2))/\(manifestHash).json"
            let original = try String(contentsOfFile: path, encoding: .utf8)
            let shown = try node.custos(["show", id]).output
            #expect(shown.contains("examiner:    Alice\n"))
            #expect(shown.contains("description: two\\nlines\n"), "free text is escaped as names are: \(shown)")

            // Someone rewrites the manifest: show reads it, re-hashes it, and refuses to repeat it.
            chmod(path, 0o600)
            try original.replacingOccurrences(of: "Alice", with: "Mallory").write(
                toFile: path, atomically: false, encoding: .utf8)
            let altered = try node.custos(["show", id])
            #expect(altered.status == 1)
            #expect(!altered.output.contains("Mallory") && !altered.output.contains("examiner:"))
            #expect(altered.output.contains("manifest:    NOT TRUSTED: the manifest \(path) does not match the ledger"))
            #expect(altered.output.contains("sha256:      \(item["sha256"] as! String)\n"))
            #expect(altered.stderr.contains("item \(id): the manifest") && altered.stderr.contains("run custos verify"))
            let json = try JSONSerialization.jsonObject(with: Data(try node.custos(["show", "--json", id]).stdout))
            let object = try #require(json as? [String: Any])
            #expect(object["manifest"] is NSNull)
            #expect((object["manifestFault"] as? String)?.contains("does not match the ledger") == true)

            // And a missing manifest.
            try FileManager.default.removeItem(atPath: path)
            let missing = try node.custos(["show", id])
            #expect(missing.status == 1)
            #expect(missing.output.contains("manifest:    NOT TRUSTED: the manifest cannot be read"))
        }
    }
}

extension DaemonSuites {
    /// The README's tour, run as written (up to `custos list --json`), with the vault in a fresh
    /// folder and the daemon's settle time shortened.
    @Suite("the README tour", .serialized, .timeLimit(.minutes(1)))
    struct ReadmeTourTests {
        @Test func theTourRunsAsWritten() throws {
            let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md")
            let text = try String(contentsOf: readme, encoding: .utf8)
            let tour = try #require(
                text.components(separatedBy: "## A short tour\n\n```sh\n").last?
                    .components(separatedBy: "\n```").first)
            let lines = tour.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let start = try #require(lines.firstIndex { $0.hasPrefix("custos init ") })
            let end = try #require(lines.firstIndex { $0.hasPrefix("custos list --json") })
            let steps = lines[start...end].joined(separator: "\n")
            #expect(steps.contains("custos daemon &") && steps.contains("cp disk2.dd"))

            let directory = TemporaryDirectory("tour")
            try directory.write("disk.dd", randomBytes(20_000))
            try directory.write("photos/1.jpg", randomBytes(3000))
            try directory.write("photos/2.jpg", randomBytes(3000))
            try directory.write("disk2.dd", randomBytes(20_000))
            let binaries = URL(fileURLWithPath: custosBinary).deletingLastPathComponent().path
            // After the tour's steps: wait until the daemon sealed disk2.dd, then stop it. Should a
            // step fail, the daemon is stopped all the same (it holds the output pipes open).
            let script = """
                set -euo pipefail
                trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
                \(steps)
                for attempt in $(seq 600); do
                    custos list | grep -q disk2.dd && break
                    sleep 0.1
                done
                kill -TERM $!
                wait $!
                """
            var environment = RunningDaemon.quick
            environment["PATH"] = binaries + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            environment["CUSTOS_VAULT"] = directory.file("vault")
            let result = try run(
                "timeout", ["120", "bash", "-c", script], environment: environment, directory: directory.path)
            #expect(result.status == 0, "\(result.output)\n\(result.stderr)")

            let listed = try run(custosBinary, ["list", "--vault", directory.file("vault")])
            #expect(listed.output.split(separator: "\n").count == 4, "\(listed.output)")
            #expect(listed.output.contains("case 2026-偵-123  exhibit -  disk2.dd"))
            #expect(FileManager.default.fileExists(atPath: directory.file("vault/sealed/2026-偵-123/disk2.dd")))
            #expect(!FileManager.default.fileExists(atPath: directory.file("vault/inbox/2026-偵-123/disk2.dd")))
        }
    }
}
