import COpenSSL
import CustosOpenSSL
import Foundation

/// An independent authority: `openssl ts -reply` behind a small HTTP server (Python's
/// http.server), with its own key and CA, and variants of it that misbehave.
public final class OpenSSLAuthority: @unchecked Sendable {
    static let server = #"""
        import http.server, os, subprocess, sys, time
        port_file, start_mode, folder = sys.argv[1], sys.argv[2], sys.argv[3]
        if sys.argv[4:] == ["nice"]:
            os.nice(19)  # Stands for an authority on another machine: only the CPU left over.
        config = os.path.join(folder, "tsa.cnf")

        def der(tag, body):
            n = len(body)
            if n < 128:
                return bytes([tag, n]) + body
            size = n.to_bytes((n.bit_length() + 7) // 8, "big")
            return bytes([tag, 0x80 | len(size)]) + size + body

        def children(data):
            # The TLVs inside a DER SEQUENCE, each as raw bytes.
            body_start = 2 if data[1] < 128 else 2 + (data[1] & 0x7F)
            found, i = [], body_start
            while i < len(data):
                length, head = data[i + 1], 2
                if length >= 128:
                    count = length & 0x7F
                    length, head = int.from_bytes(data[i + 2:i + 2 + count], "big"), 2 + count
                found.append(data[i:i + head + length])
                i += head + length
            return found

        def crafted(query, gen_time, signer, key):
            # A token made by hand: a TSTInfo signed with `openssl cms -sign -cades` (ESSCertIDv2),
            # for what `openssl ts -reply` refuses to make (genTime of our choosing, any signer).
            parts = children(query)
            imprint = parts[1]
            nonce = [p for p in parts[2:] if p[0] == 0x02]
            stamp = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(gen_time)).encode()
            tst = der(0x30, der(0x02, b"\x01") + der(0x06, bytes([0x2A, 0x03, 0x04, 0x01])) + imprint
                      + der(0x02, os.urandom(8).lstrip(b"\x00\x80") or b"\x01") + der(0x18, stamp)
                      + der(0x30, der(0x02, b"\x01")) + b"".join(nonce))
            stem = os.path.join(folder, "c%d" % time.time_ns())
            open(stem + ".tst", "wb").write(tst)
            subprocess.run(["openssl", "cms", "-sign", "-binary", "-nodetach", "-in", stem + ".tst",
                            "-econtent_type", "1.2.840.113549.1.9.16.1.4", "-signer", signer, "-inkey", key,
                            "-md", "sha256", "-cades", "-nosmimecap", "-outform", "DER", "-out", stem + ".p7"],
                           check=True, capture_output=True)
            token = open(stem + ".p7", "rb").read()
            return der(0x30, der(0x30, der(0x02, b"\x00")) + token)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                query = self.rfile.read(int(self.headers["Content-Length"]))
                mode = start_mode
                if os.path.exists(os.path.join(folder, "mode")):
                    mode = open(os.path.join(folder, "mode")).read().strip()
                tsa_pem, tsa_key = os.path.join(folder, "tsa.pem"), os.path.join(folder, "tsa.key")
                if mode in ("future", "skewed", "nousage", "crafted"):
                    shift = {"future": 3600, "skewed": -600}.get(mode, 0)
                    signer = (os.path.join(folder, "other.pem"), os.path.join(folder, "other.key")) \
                        if mode == "nousage" else (tsa_pem, tsa_key)
                    data = crafted(query, time.time() + shift, *signer)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/timestamp-reply")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
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

    public let directory = TemporaryDirectory("tsa-server")
    public let pki: TestAuthority
    let process: BackgroundProcess
    public let url: String

    /// `nice`: the server (and its `openssl` processes) runs at the lowest CPU priority.
    public init(mode: String, pki: TestAuthority? = nil, nice: Bool = false) throws {
        self.pki = try pki ?? TestAuthority(name: "Independent TSA")
        try directory.write("tsa.pem", try self.pki.tsa.pem())
        try directory.write("tsa.key", try self.pki.tsaKey.pem())
        try directory.write("ca.pem", try self.pki.ca.pem())
        try directory.write("serial", "01\n")
        // A certificate of the same CA without the timeStamping usage, for the "nousage" mode.
        let otherKey = try SigningKey.generateP256()
        let other = try Certificate.issue(
            commonName: "Not a TSA", organization: "Custos tests", subjectKey: otherKey, issuer: self.pki.ca,
            issuerKey: self.pki.caKey, notBefore: Int64(Date().timeIntervalSince1970) - 86400,
            notAfter: Int64(Date().timeIntervalSince1970) + 86400,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, "clientAuth"),
            ])
        try directory.write("other.pem", try other.pem())
        try directory.write("other.key", try otherKey.pem())
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
            "python3", [script, portFile, mode, directory.path] + (nice ? ["nice"] : []),
            logPath: directory.file("server.log"))
        guard waitUntil(timeout: 60, { FileManager.default.fileExists(atPath: portFile) }),
            let port = try? String(contentsOfFile: portFile, encoding: .utf8)
        else {
            throw NSError(
                domain: "test authority", code: 1,
                userInfo: [NSLocalizedDescriptionKey: "it did not start within 60 s: \(process.log)"])
        }
        url = "http://127.0.0.1:\(port)/tsa"
    }

    /// Changes how it answers from the next request on (the modes of `server`).
    public func setMode(_ mode: String) throws {
        try directory.write("mode", mode)
    }
}
