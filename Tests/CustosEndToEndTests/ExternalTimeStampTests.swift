import CustosOpenSSL
import CustosTestSupport
import Foundation
import Glibc
import Testing

extension DaemonSuites {
    /// The daemon with an external time-stamping authority: `openssl ts -reply` behind an HTTP
    /// server the test starts (its own key and CA), asked in the background.
    @Suite(
        "the daemon with an external time-stamping authority", .serialized, .timeLimit(.minutes(2)),
    .enabled(if: haveProgram("openssl") && haveProgram("python3") && haveProgram("sqlite3")))
    struct ExternalTimeStampTests {
    /// A node whose daemon configuration names `server` as the authority `independent` (with
    /// its CA as anchors, unless `anchors` names another file).
    func node(_ server: OpenSSLAuthority, extra: String = "", anchors: String? = nil) throws -> Node {
        let node = try Node()
        try node.useExternalAuthority(server, extra: extra, anchors: anchors)
        return node
    }

    /// The stamps index, as SQLite holds it: (subject, source) rows.
    func stampRows(_ node: Node) throws -> [(subject: String, source: String)] {
        let result = try run(
            "sqlite3", [node.vault + "/ledger.sqlite", "SELECT subject, source FROM stamps ORDER BY seq"])
        return result.output.split(separator: "\n").map { line in
            let parts = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return (parts.first ?? "", parts.last ?? "")
        }
    }

    /// Drops a file into the inbox's folder `folder` (created when needed).
    func drop(_ node: Node, _ folder: String, _ name: String, _ bytes: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: node.inbox + "/" + folder, withIntermediateDirectories: true)
        writeRaw(Array((node.inbox + "/" + folder + "/" + name).utf8), bytes)
    }

    func awaiting(_ node: Node) throws -> [String] {
        try node.items().flatMap { ($0["awaitingTimeStamps"] as? [String]) ?? [] }
    }

    @Test func everyItemAndTheLatestCheckpointGetAnIndependentTokenThatOpensslAccepts() throws {
        let server = try OpenSSLAuthority(mode: "ok")
        let node = try node(server)
        let daemon = try RunningDaemon(node)
        for index in 0..<3 {
            try drop(node, "CASE-7", "photo-\(index).jpg", randomBytes(20_000 + index))
        }
        #expect(try node.waitForItems(3))
            #expect(try waitUntil(timeout: 30) { try awaiting(node).isEmpty }, "\(daemon.log)")
        // The latest checkpoint gets the authority's token too, kept beside it (not as an entry):
        // it calls for no new checkpoint, so the ledger comes to rest.
        #expect(
                try waitUntil(timeout: 30) {
                let checkpointTokens = try run(
                    "sqlite3",
                    [
                        node.vault + "/ledger.sqlite",
                        "SELECT count(*) FROM checkpoint_stamps WHERE source = 'independent'",
                    ]
                ).output
                let itemTokens = try stampRows(node).filter { $0.source == "independent" }.count
                return checkpointTokens != "0\n" && itemTokens == 3
            })
            // At rest: the latest checkpoint covers every entry and holds the authority's token. Were
            // a checkpoint's token an entry after it, this would never hold.
        #expect(
                try waitUntil(timeout: 30) {
                    try run(
                        "sqlite3",
                        [
                            node.vault + "/ledger.sqlite",
                            """
                            SELECT (SELECT size FROM latest_checkpoint) = (SELECT count(*) FROM entries) AND EXISTS (
                                SELECT 1 FROM checkpoint_stamps WHERE source = 'independent'
                                AND size = (SELECT size FROM latest_checkpoint))
                            """,
                        ]
                    ).output == "1\n"
                }, "the ledger does not come to rest: \(daemon.log)")
        #expect(daemon.stop() == 0)
        // At rest, the latest checkpoint covers every entry: the items' external tokens too.
        let coverage = try node.coverage()
        #expect(coverage.entries == 9 && coverage.latest == 9, "\(coverage)")

        let item = try #require(try node.items().first?["item"] as? String)
        let shown = try node.custos(["show", item]).output
        #expect(shown.contains("[node] genTime") && shown.contains("[independent] genTime"), "\(shown)")
        #expect(shown.contains("CN=Independent TSA") && shown.contains("skew ") && !shown.contains("awaiting"))
        #expect(!(try node.custos(["list"]).output.contains("awaiting")))
        // The anchors the token was checked against are kept in the vault, by their SHA-256.
        let kept = node.entryNames(under: node.vault + "/tsa/anchors")
        #expect(kept.count == 1)
        let verify = try node.verify()
        #expect(verify.status == 0, "\(verify.output)")

        // An expert's own anchors: the authority's CA (from the authority) and the node's.
        let withOwnAnchors = try node.custos([
            "verify", "--tsa-anchor", server.directory.file("ca.pem"), "--tsa-anchor", node.vault + "/tsa/chain.pem",
        ])
        #expect(withOwnAnchors.status == 0, "\(withOwnAnchors.output) \(withOwnAnchors.stderr)")
        let stranger = try TestAuthority(name: "Stranger")
        let strangerFile = try node.directory.write("stranger.pem", try stranger.ca.pem())
        let withStranger = try node.custos([
            "verify", "--tsa-anchor", strangerFile, "--tsa-anchor", node.vault + "/tsa/chain.pem",
        ])
        #expect(withStranger.status == 1 && withStranger.output.contains("[stamp-invalid]"), "\(withStranger.output)")

        // The export: every token with its anchors, each command run as printed.
        let folder = node.directory.file("court")
        let export = try run(custosBinary, ["timestamp", "export", "--vault", node.vault, item, "-o", folder, "--reason", "for the court"])
        #expect(export.status == 0, "\(export.stderr)")
        let commands = export.output.split(separator: "\n").filter { $0.hasPrefix("openssl ts -verify -digest") }
        #expect(commands.count == 2 && commands.contains { $0.contains("anchors-independent.pem") })
        for command in commands {
            let result = try run(
                "openssl", command.split(separator: " ").dropFirst().map(String.init), directory: folder)
            #expect(result.output.contains("Verification: OK"), "\(command): \(result.output) \(result.stderr)")
        }

        // The latest checkpoint's tokens, the node's and the authority's, each checked over its text.
        let checkpointFolder = node.directory.file("court-checkpoint")
        // The checkpoint the stamper's daemon left at rest (size 9): the verifications since then
        // recorded their events under checkpoints of the node's alone.
        #expect(try node.custos(["checkpoint", "9", "--export", checkpointFolder, "--reason", "for the court"]).status == 0)
        let checkpointCommands = try String(contentsOfFile: checkpointFolder + "/VERIFY.txt", encoding: .utf8)
            .split(separator: "\n").filter { $0.hasPrefix("openssl ts -verify -data") }
        #expect(checkpointCommands.count == 2 && checkpointCommands.contains { $0.contains("anchors-independent.pem") })
        for command in checkpointCommands {
            let result = try run(
                "openssl", command.split(separator: " ").dropFirst().map(String.init), directory: checkpointFolder)
            #expect(result.output.contains("Verification: OK"), "\(command): \(result.output) \(result.stderr)")
        }

        // Kept anchors altered: a fault, named.
        let anchorsPath = node.vault + "/tsa/anchors/" + kept[0]
        chmod(anchorsPath, 0o644)
        try Data("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8).write(
            to: URL(fileURLWithPath: anchorsPath))
        let altered = try node.verify()
        #expect(altered.status == 1 && altered.output.contains("[stamp-anchors-missing]"), "\(altered.output)")
    }

    /// Items sealed by `custos ingest` (or while the daemon was stopped) are stamped once the
    /// daemon runs; a restart asks for nothing already stamped.
    @Test func itemsSealedBeforeTheDaemonRanAreStampedOnceAndOnlyOnce() throws {
        let server = try OpenSSLAuthority(mode: "ok")
        let node = try node(server)
        for index in 0..<3 {
            let file = try node.directory.write("before-\(index).bin", randomBytes(1_000 + index))
            #expect(try node.custos(["ingest", "--case", "C-11", file]).status == 0)
        }
        // Before any daemon ran, nothing is known of the authority.
        #expect(try awaiting(node).isEmpty && !(try node.custos(["list"]).output.contains("awaiting")))
        var daemon = try RunningDaemon(node)
        #expect(
                try waitUntil(timeout: 30) { try awaiting(node).isEmpty && stampRows(node).count == 6 }, "\(daemon.log)")
            #expect(waitUntil(timeout: 10) { daemon.log.contains("external time stamps recorded") })
        #expect(daemon.stop() == 0)
        let external = try stampRows(node).filter { $0.source == "independent" }
        #expect(external.count == 3)
            // A new item for the next daemon: the items are asked for in ledger order, so once the new
            // one has its token, the old ones would have been asked again before it, were they.
        daemon = try RunningDaemon(node)
            try drop(node, "C-11", "after.bin", randomBytes(1_500))
            #expect(
                try waitUntil(timeout: 30) {
                    try awaiting(node).isEmpty && stampRows(node).filter { $0.source == "independent" }.count >= 4
                }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        let after = try stampRows(node).filter { $0.source == "independent" }
            #expect(after.count == 4, "\(daemon.log)")
            #expect(Set(after.map(\.subject)).count == 4, "an item stamped twice: \(after)")
            #expect(Set(after.map(\.subject)).isSuperset(of: external.map(\.subject)))
        #expect(try node.verify().status == 0)
    }

    @Test func aFailingAuthorityLeavesItemsAwaitingRaisesTheAlarmAndIsAskedAgain() throws {
        let server = try OpenSSLAuthority(mode: "http500")
        let node = try node(server, extra: "timestamp-alarm-seconds: 1")
        let daemon = try RunningDaemon(node)
        try drop(node, "CASE-8", "disk.img", randomBytes(50_000))
        try drop(node, "CASE-8", "notes.txt", Array("seized at 09:12".utf8))
        // Sealing does not wait for the authority.
        #expect(try node.waitForItems(2, timeout: 30))
        #expect(try node.custos(["list"]).output.contains("(awaiting time stamp from independent)"))
        let item = try #require(try node.items().first?["item"] as? String)
        #expect(try node.custos(["show", item]).output.contains("time stamp:  awaiting from independent"))
        #expect(
                waitUntil(timeout: 30) {
                daemon.log.contains("ALARM: items await a time stamp from an external authority")
            },
            "\(daemon.log)")
        #expect(daemon.log.contains("HTTP 500") && daemon.log.contains("retryInSeconds"))
        #expect(try stampRows(node).allSatisfy { $0.source == "node" })
        // The authority recovers: asked again with back-off, every item gets its token.
        try server.setMode("ok")
            #expect(try waitUntil(timeout: 60) { try awaiting(node).isEmpty }, "\(daemon.log)")
            #expect(waitUntil(timeout: 10) { daemon.log.contains("ALARM cleared") }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(try node.verify().status == 0)
    }

    @Test(arguments: ["otherhash", "nousage", "future", "malformed"])
    func aBadTokenIsNeverRecorded(_ mode: String) throws {
        let server = try OpenSSLAuthority(mode: mode)
        let node = try node(server)
        let daemon = try RunningDaemon(node)
        try drop(node, "CASE-9", "a.bin", randomBytes(1_000))
        #expect(try node.waitForItems(1, timeout: 30))
        #expect(
                waitUntil(timeout: 30) { daemon.log.contains("an external time-stamping authority failed") },
            "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(try stampRows(node).allSatisfy { $0.source == "node" })
        #expect(try awaiting(node) == ["independent"])
        #expect(try node.verify().status == 0)
    }

    @Test func aSkewAboveTheBoundIsRecordedAndFlagged() throws {
        // genTime ten minutes behind the node's clock; the bound is a minute.
        let server = try OpenSSLAuthority(mode: "skewed")
        let node = try node(server, extra: "timestamp-skew-seconds: 60")
        let daemon = try RunningDaemon(node)
        try drop(node, "CASE-10", "a.bin", randomBytes(1_000))
        #expect(try node.waitForItems(1, timeout: 30))
            #expect(try waitUntil(timeout: 30) { try awaiting(node).isEmpty }, "\(daemon.log)")
        #expect(daemon.stop() == 0)
        #expect(daemon.log.contains("differs from the authority's genTime by more than the bound"))
        let item = try #require(try node.items().first?["item"] as? String)
        let shown = try node.custos(["show", item]).output
        #expect(shown.contains("ABOVE THE BOUND"), "\(shown)")
        let json = try JSONSerialization.jsonObject(with: Data(try node.custos(["show", "--json", item]).stdout))
        let stamps = (json as! [String: Any])["timestamps"] as! [[String: Any]]
        let external = try #require(stamps.first { $0["source"] as? String == "independent" })
        #expect(external["skewExceeded"] as? Bool == true)
        #expect((-700 ... -500).contains(external["skewSeconds"] as? Int ?? 0))
        #expect(try node.verify().status == 0)
    }

    @Test func anAuthorityWhoseAnchorsCannotBeReadIsRefusedAtStart() throws {
        let server = try OpenSSLAuthority(mode: "ok")
        let node = try node(server, anchors: "/nonexistent/ca.pem")
        let result = try node.custos(["daemon"])
        #expect(result.status == 2)
        #expect(
            result.stderr.contains("timestamp-authorities.independent") && result.stderr.contains("/nonexistent/ca.pem")
        )
    }
    }
}
