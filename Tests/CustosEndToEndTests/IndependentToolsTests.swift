import CustosFormats
import CustosTestSupport
import Foundation
import Testing

/// What the verification guide (Docs/Verification.md) tells an expert to run, run here: sqlite3
/// to export the entries, the guide's own standard-library Python checker (no code shared with
/// Custos), and `openssl pkeyutl` for the checkpoint's Ed25519 signature.
@Suite(
    "the verification guide's commands", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: haveProgram("python3") && haveProgram("sqlite3")))
struct IndependentToolsTests {
    static let checker: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("Docs/tools/rfc6962_check.py").path
    }()

    @Test func anExpertChecksTheLedgerWithoutCustos() throws {
        let node = try Node()
        let files = try (0..<7).map { try node.directory.write("f\($0).bin", randomBytes(500 + $0)) }
        #expect(try node.custos(["ingest"] + files).status == 0)
        let export = node.directory.file("export")
        try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true)

        // 1. The entries, byte-exact, out of the SQLite file.
        let exported = try run(
            "sqlite3",
            [
                node.vault + "/ledger.sqlite",
                "SELECT writefile('\(export)/entry-' || seq || '.json', body) FROM entries;",
            ])
        #expect(exported.status == 0, "\(exported.stderr)")
        // The entries the latest checkpoint covers: each seal and its time stamp, every entry (the
        // checkpoint's own token is kept beside it, not as an entry after it).
        let checkpointText = try node.custos(["checkpoint"]).output
        let lines = checkpointText.split(separator: "\n", omittingEmptySubsequences: false)
        let size = try #require(Int(lines[1]))
        #expect(size == 14)
        let entries = (0..<size).map { "\(export)/entry-\($0).json" }

        // 2. The hash chain and the RFC 6962 root, recomputed by the independent checker.
        let chain = try run("python3", [Self.checker, "chain"] + entries)
        #expect(chain.status == 0, "\(chain.output)")
        let root = try run("python3", [Self.checker, "root"] + entries).output.trimmingCharacters(in: .newlines)
        #expect(String(lines[2]) == root)

        // 3. An item's tlog-proof checked by the same checker.
        let item = try #require(try node.items().last)
        let proofPath = node.directory.file("item.tlog-proof")
        #expect(try node.custos(["proof", item["item"] as! String, "-o", proofPath]).status == 0)
        let proof = try run("python3", [Self.checker, "proof", proofPath])
        #expect(proof.status == 0, "\(proof.output)")
        #expect(proof.output.contains("entry \(item["sequence"] as! Int) is in"))

        // 4. The item's RFC 3161 token, with openssl ts and the TSA's CA, against the original file.
        let tokens = node.directory.file("tokens")
        let tokenExport = try run(
            custosBinary, ["timestamp", "export", "--vault", node.vault, item["item"] as! String, "-o", tokens, "--reason", "independent check"])
        #expect(tokenExport.status == 0, "\(tokenExport.stderr)")
        let stamped = try run(
            "openssl",
            [
                "ts", "-verify", "-data", files[6], "-in", "\(tokens)/\(item["item"] as! String)-1.tsr", "-CAfile",
                "\(tokens)/tsa-chain.pem",
            ])
        #expect(stamped.output.contains("Verification: OK"), "\(stamped.output) \(stamped.stderr)")

        // 5. The checkpoint's signature, with openssl and the published verifier key.
        let key = try node.custos(["key"]).output.trimmingCharacters(in: .newlines)
        let keyBytes = Base64.decode(key.split(separator: "+", maxSplits: 2)[2])!
        let spki: [UInt8] =
            [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00] + keyBytes.dropFirst()
        let der = try node.directory.write("node.pub.der", spki)
        let pem = node.directory.file("node.pub.pem")
        #expect(try run("openssl", ["pkey", "-pubin", "-inform", "DER", "-in", der, "-out", pem]).status == 0)
        let note = try SignedNote(parsing: checkpointText)
        let body = try node.directory.write("checkpoint.body", note.text)
        let signature = try node.directory.write("checkpoint.sig", note.signatures[0].signature)
        let verified = try run(
            "openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", body, "-sigfile", signature])
        #expect(verified.status == 0, "\(verified.output) \(verified.stderr)")
        #expect(verified.output.contains("Signature Verified Successfully"))
        // A changed body does not verify.
        try node.directory.write("checkpoint.body", note.text.replacingOccurrences(of: "\n14\n", with: "\n15\n"))
        let forged = try run(
            "openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", body, "-sigfile", signature])
        #expect(forged.status != 0)
    }
}

extension DaemonSuites {
    /// A large file's archive is zstd in independent frames compressed on several threads: one
    /// stream to every standard reader, each frame with its checksum.
    @Suite(
        "a large archive in zstd frames", .serialized, .timeLimit(.minutes(1)),
        .enabled(if: haveProgram("zstd") && haveProgram("tar")))
    struct ZstdFramesTests {
    @Test func aLargeCompressibleFileIsSealedInFramesThatStandardToolsRead() throws {
        let node = try Node()
        // 6 MiB of log-like text: compressible, so zstd's work is spread over its workers.
        var text = ""
        var line = 0
        while text.utf8.count < 6 << 20 {
            text += "2026-11-25T10:\(line % 60):00Z web\(line % 7) sshd[\(line)]: session \(line * 7919 % 10007) closed\n"
            line += 1
        }
        let input = try node.directory.write("server.log", text)
        #expect(try node.custos(["ingest", input]).status == 0)
        let item = try #require(try node.items().first)
        let archive = node.archivePath(item: item)
        let listed = try run("zstd", ["-lv", archive])
        #expect(listed.status == 0, "\(listed.stderr)")
        let frames = listed.output.split(separator: "\n").first { $0.contains("Zstandard Frames:") }
        #expect(Int(frames?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0 >= 6)
        #expect(listed.output.contains("Check: XXH64"))
        #expect(try run("zstd", ["-tq", archive]).status == 0)
        // GNU tar (through zstd) and bsdtar give back the very bytes.
        let member = "evidence/server.log"
        for (tool, arguments) in [("tar", ["--zstd", "-xOf", archive, member]), ("bsdtar", ["-xOf", archive, member])] {
            let extracted = try run(tool, arguments)
            #expect(extracted.status == 0, "\(tool): \(extracted.stderr)")
            #expect(extracted.stdout == Array(text.utf8), "\(tool)")
        }
        #expect(try node.verify().status == 0)
    }
    }
}

extension DaemonSuites.ZstdFramesTests {
    /// Each seal's frame writer, buffers and digests are freed: the daemon's memory stays flat
    /// through a burst of large files (a leak of one seal's buffers would be about 20 MiB each).
    @Test func theDaemonsMemoryStaysFlatThroughLargeSeals() throws {
        let node = try Node()
        let daemon = try RunningDaemon(node)
        try FileManager.default.createDirectory(atPath: node.inbox + "/C-1", withIntermediateDirectories: true)
        let block = randomBytes(2 << 20)
        for index in 0..<48 {
            writeRaw(Array((node.inbox + "/C-1/f\(index).bin").utf8), Array("\(index)".utf8) + block)
        }
        #expect(try node.waitForItems(48, timeout: 120))
        let peak = try #require(daemon.process.peakMemoryKiB)
        // Four workers with a large file each hold about 53 MiB apiece (OnePass's rings and frame
        // slots) beside the process's own 40-odd MiB: 245-258 MiB measured. 48 seals that each
        // kept their buffers would pass 1 GiB; the bound leaves room for the allocator, not for that.
        #expect(peak < 320 * 1024, "peak \(peak / 1024) MiB")
        #expect(daemon.stop() == 0)
    }
}
