import CustosTestSupport
import Foundation
import Glibc
import Testing

/// The node's time-stamping authority as `custos init` makes or imports it.
@Suite("custos init: the node's time-stamping authority", .timeLimit(.minutes(2)), .enabled(if: haveProgram("openssl")))
struct TimeStampAuthorityTests {
    /// A bureau's own PKI, made with the openssl command: a CA and a TSA certificate under it.
    func bureauPKI(_ directory: TemporaryDirectory, usage: String = "critical,timeStamping", keyType: String = "ec")
        throws
    {
        let p256 =
            keyType == "rsa"
            ? ["-newkey", "rsa:2048", "-nodes"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        #expect(
            try run(
                "openssl",
                ["req", "-x509"] + p256 + [
                    "-keyout", directory.file("ca.key"), "-out", directory.file("ca.pem"), "-subj", "/CN=Bureau CA",
                    "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ]
            ).status == 0)
        #expect(
            try run(
                "openssl",
                ["req", "-new"] + p256 + [
                    "-keyout", directory.file("tsa.key"), "-out", directory.file("tsa.csr"), "-subj", "/CN=Bureau TSA",
                ]
            ).status == 0)
        try directory.write("ext.cnf", "extendedKeyUsage=\(usage)\nkeyUsage=critical,digitalSignature\n")
        #expect(
            try run(
                "openssl",
                [
                    "x509", "-req", "-in", directory.file("tsa.csr"), "-CA", directory.file("ca.pem"), "-CAkey",
                    directory.file("ca.key"), "-CAcreateserial", "-out", directory.file("tsa.pem"), "-days", "365",
                    "-extfile", directory.file("ext.cnf"),
                ]
            ).status == 0)
    }

    @Test func initMakesATSAWhoseCertificateIsForTimeStampingOnly() throws {
        let node = try Node()
        var status = stat()
        #expect(stat(node.vault + "/keys/tsa.key", &status) == 0 && status.st_mode & 0o777 == 0o600)
        let verify = try run(
            "openssl",
            [
                "verify", "-CAfile", node.vault + "/tsa/chain.pem", "-purpose", "timestampsign",
                node.vault + "/tsa/tsa.pem",
            ])
        #expect(verify.output.contains(": OK"), "\(verify.output) \(verify.stderr)")
        let text = try run(
            "openssl", ["x509", "-in", node.vault + "/tsa/tsa.pem", "-noout", "-ext", "extendedKeyUsage"])
        #expect(text.output.contains("critical") && text.output.contains("Time Stamping"))
        let configuration = try String(contentsOfFile: node.vault + "/custos.json", encoding: .utf8)
        #expect(configuration.contains("\"timeStampPolicy\" : \"2.25."))
    }

    /// An EC key's tokens come from the token builder, an RSA key's from OpenSSL's TS API: both
    /// are kept, verified by `custos verify`, and accepted by `openssl ts -verify`.
    @Test(arguments: ["ec", "rsa"])
    func aBureausOwnTSAIsImportedOnceProvenAndStamps(_ keyType: String) throws {
        let pki = TemporaryDirectory("pki")
        try bureauPKI(pki, keyType: keyType)
        let directory = TemporaryDirectory("e2e")
        let result = try run(
            custosBinary,
            [
                "init", "--vault", directory.file("vault"), "--origin", "bureau.example.tw/evidence", "--tsa-key",
                pki.file("tsa.key"), "--tsa-cert", pki.file("tsa.pem"), "--tsa-chain", pki.file("ca.pem"),
                "--tsa-policy", "1.3.6.1.4.1.99999.1",
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains("policy 1.3.6.1.4.1.99999.1"))
        let kept = try run("openssl", ["x509", "-in", directory.file("vault/tsa/tsa.pem"), "-noout", "-fingerprint"])
        let given = try run("openssl", ["x509", "-in", pki.file("tsa.pem"), "-noout", "-fingerprint"])
        #expect(kept.output == given.output)

        let vault = directory.file("vault")
        let file = try directory.write("seized.bin", randomBytes(5000))
        #expect(try run(custosBinary, ["ingest", "--vault", vault, file]).status == 0)
        let verify = try run(custosBinary, ["verify", "--vault", vault])
        #expect(verify.status == 0 && verify.output.contains("time stamps: 2 tokens"), "\(verify.output)")
        let list = try run(custosBinary, ["list", "--vault", vault, "--json"])
        let items = try JSONSerialization.jsonObject(with: Data(list.stdout)) as! [[String: Any]]
        let item = try #require(items.first?["item"] as? String)
        let folder = directory.file("court")
        let export = try run(custosBinary, ["timestamp", "export", "--vault", vault, item, "-o", folder, "--reason", "for the court"])
        let command = try #require(
            export.output.split(separator: "\n").first { $0.hasPrefix("openssl ts -verify -data") })
        let arguments = command.split(separator: " ").dropFirst().map { $0 == "ORIGINAL-FILE" ? file : String($0) }
        let checked = try run("openssl", arguments, directory: folder)
        #expect(checked.output.contains("Verification: OK"), "\(checked.output) \(checked.stderr)")
        let text = try run("openssl", ["ts", "-reply", "-in", folder + "/\(item)-1.tsr", "-text"])
        #expect(text.output.contains("Policy OID: 1.3.6.1.4.1.99999.1"), "\(text.output)")
    }

    @Test(arguments: ["wrong usage", "wrong key", "half the options"])
    func aTSAThatCannotSignIsRefusedAndNothingIsCreated(_ fault: String) throws {
        let pki = TemporaryDirectory("pki")
        try bureauPKI(pki, usage: fault == "wrong usage" ? "critical,codeSigning" : "critical,timeStamping")
        var key = pki.file("tsa.key")
        if fault == "wrong key" { key = pki.file("ca.key") }
        let directory = TemporaryDirectory("e2e")
        var arguments = [
            "init", "--vault", directory.file("vault"), "--origin", "bureau.example.tw/evidence", "--tsa-key", key,
            "--tsa-cert", pki.file("tsa.pem"), "--tsa-chain", pki.file("ca.pem"),
        ]
        if fault != "half the options" { arguments += ["--tsa-policy", "1.3.6.1.4.1.99999.1"] }
        let result = try run(custosBinary, arguments)
        #expect(result.status == 2)
        let expected = [
            "wrong usage": "timeStamping", "wrong key": "does not belong to the TSA certificate",
            "half the options": "importing a TSA takes all four",
        ][fault]!
        #expect(result.stderr.contains(expected), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("vault")))
    }
}
