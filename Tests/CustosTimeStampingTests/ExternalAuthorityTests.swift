import CustosFormats
import CustosOpenSSL
import CustosTestSupport
import CustosTimeStamping
import Foundation
import Glibc
import Testing

/// An independent authority: `openssl ts -reply` behind a small HTTP server (Python's
/// http.server), with its own key and CA, and variants of it that misbehave.
final class OpenSSLAuthority: @unchecked Sendable {
    static let server = #"""
        import http.server, os, subprocess, sys, time
        port_file, mode, folder = sys.argv[1], sys.argv[2], sys.argv[3]
        config = os.path.join(folder, "tsa.cnf")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                query = self.rfile.read(int(self.headers["Content-Length"]))
                if mode == "slow":
                    time.sleep(5)
                if mode == "http500":
                    self.send_response(500)
                    self.end_headers()
                    return
                stem = os.path.join(folder, "q%d" % time.time_ns())
                with open(stem + ".tsq", "wb") as f:
                    f.write(query)
                digest = query[query.index(b"\x04\x20") + 2:][:32].hex()
                if mode == "otherhash":
                    subprocess.run(["openssl", "ts", "-query", "-digest", "00" * 32, "-sha256", "-cert",
                                    "-out", stem + ".tsq"], check=True)
                if mode == "nonce":
                    subprocess.run(["openssl", "ts", "-query", "-digest", digest, "-sha256", "-cert", "-no_nonce",
                                    "-out", stem + ".tsq"], check=True)
                subprocess.run(["openssl", "ts", "-reply", "-config", config, "-queryfile", stem + ".tsq",
                                "-out", stem + ".tsr"], check=True, capture_output=True)
                data = open(stem + ".tsr", "rb").read()
                content_type = "application/timestamp-reply"
                if mode == "contenttype":
                    content_type = "text/html"
                if mode == "malformed":
                    data = b"<html>busy</html>"
                if mode == "rejection":
                    data = bytes([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02])
                if mode == "waiting":
                    data = bytes([0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x03])
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *arguments):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(port_file + ".tmp", port_file)
        server.serve_forever()
        """#

    let directory = TemporaryDirectory("tsa-server")
    let pki: TestAuthority
    let process: BackgroundProcess
    let url: String

    init(mode: String, pki: TestAuthority? = nil) throws {
        self.pki = try pki ?? TestAuthority(name: "Independent TSA")
        try directory.write("tsa.pem", try self.pki.tsa.pem())
        try directory.write("tsa.key", try self.pki.tsaKey.pem())
        try directory.write("ca.pem", try self.pki.ca.pem())
        try directory.write("serial", "01\n")
        try directory.write(
            "tsa.cnf",
            """
            [ tsa ]
            default_tsa = tsa_config
            [ tsa_config ]
            serial = \(directory.file("serial"))
            crypto_device = builtin
            signer_cert = \(directory.file("tsa.pem"))
            certs = \(directory.file("ca.pem"))
            signer_key = \(directory.file("tsa.key"))
            signer_digest = sha256
            default_policy = 1.2.3.4.1
            digests = sha256, sha384, sha512
            accuracy = secs:1
            ordering = no
            tsa_name = yes
            ess_cert_id_chain = no
            ess_cert_id_alg = sha256

            """)
        let script = try directory.write("server.py", Self.server)
        let portFile = directory.file("port")
        process = try BackgroundProcess(
            "python3", [script, portFile, mode, directory.path], logPath: directory.file("server.log"))
        _ = eventually(timeout: 10) { FileManager.default.fileExists(atPath: portFile) }
        let port = (try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "0"
        url = "http://127.0.0.1:\(port)/tsa"
    }
}

@Suite(
    "external time-stamping authorities over HTTP", .enabled(if: haveProgram("python3") && haveProgram("openssl")))
struct ExternalAuthorityTests {
    let digest = OpenSSLSHA256().sha256(Array("an item's content".utf8))

    func refusal(_ authority: ExternalAuthority) -> TimeStampFailure? {
        do {
            _ = try TimeStampClient.stamp(sha256: digest, authority: authority)
            return nil
        } catch {
            return error
        }
    }

    @Test func aGoodAuthoritysTokenIsCheckedAndKept() throws {
        let server = try OpenSSLAuthority(mode: "ok")
        let token = try TimeStampClient.stamp(
            sha256: digest, authority: ExternalAuthority(url: server.url, anchors: [server.pki.ca]))
        #expect(token.info.policy == "1.2.3.4.1" && token.info.accuracyMilliseconds == 1000)
        #expect(abs(token.skewSeconds) < 60)
        #expect(token.info.authority.contains("CN=Independent TSA"))
        // The kept token is one `openssl ts -verify` accepts.
        let tsr = try server.directory.write("kept.tsr", token.response)
        let verify = try run(
            "openssl", ["ts", "-verify", "-digest", digest.hex, "-in", tsr, "-CAfile", server.directory.file("ca.pem")])
        #expect(verify.output.contains("Verification: OK"), "\(verify.output) \(verify.stderr)")
    }

    @Test(arguments: [
        ("http500", "http", "HTTP 500"),
        ("contenttype", "contentType", "text/html"),
        ("malformed", "malformed", "not a DER"),
        ("rejection", "notGranted", "rejection"),
        ("waiting", "notGranted", "waiting"),
        ("otherhash", "invalid", "does not verify"),
        ("nonce", "invalid", "nonce"),
    ])
    func aMisbehavingAuthorityIsRefused(_ mode: String, _ code: String, _ reason: String) throws {
        let server = try OpenSSLAuthority(mode: mode)
        let failure = try #require(refusal(ExternalAuthority(url: server.url, anchors: [server.pki.ca])))
        #expect(failure.code.description == code, "\(failure)")
        #expect(failure.message.contains(reason), "\(failure)")
    }

    @Test func anUntrustedOrExpiredSignerIsRefused() throws {
        let server = try OpenSSLAuthority(mode: "ok")
        let stranger = try TestAuthority(name: "Stranger")
        let untrusted = try #require(refusal(ExternalAuthority(url: server.url, anchors: [stranger.ca])))
        #expect(untrusted.code == .invalid && untrusted.message.contains("certificate"), "\(untrusted)")
        let now = Int64(Date().timeIntervalSince1970)
        let expired = try OpenSSLAuthority(
            mode: "ok", pki: TestAuthority(name: "Expired TSA", notBefore: now - 86400 * 30, notAfter: now - 86400))
        let late = try #require(refusal(ExternalAuthority(url: expired.url, anchors: [expired.pki.ca])))
        #expect(late.code == .invalid && late.message.contains("expired"), "\(late)")
    }

    @Test func anUnreachableOrSlowAuthorityFailsWithinTheTimeout() throws {
        // A port nobody listens on.
        let unreachable = try #require(
            refusal(ExternalAuthority(url: "http://127.0.0.1:9/tsa", anchors: [], timeoutSeconds: 2)))
        #expect(unreachable.code == .unreachable, "\(unreachable)")
        let slow = try OpenSSLAuthority(mode: "slow")
        let start = Date()
        let timedOut = try #require(
            refusal(ExternalAuthority(url: slow.url, anchors: [slow.pki.ca], timeoutSeconds: 1)))
        #expect(timedOut.code == .timeout, "\(timedOut)")
        #expect(Date().timeIntervalSince(start) < 3)
        let https = try #require(refusal(ExternalAuthority(url: "https://tsa.example/", anchors: [])))
        #expect(https.code == .unreachable && https.message.contains("only http://"))
    }
}
