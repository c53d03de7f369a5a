import CustosHTTP
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// A real HTTP server on the loopback (Python's http.server), whose answer depends on the path.
final class LocalServer {
    static let script = #"""
        import http.server, os, sys
        port_file = sys.argv[1]

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/echo":
                    data = b"type=" + self.headers["Content-Type"].encode() + b";" + body
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif self.path == "/fail":
                    data = b"the authority is down"
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif self.path == "/chunked":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in (b"first part, ", b"second part"):
                        self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                elif self.path == "/big":
                    data = b"x" * (2 << 20)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif self.path == "/short":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"only this")
                    self.close_connection = True
                elif self.path == "/garbage":
                    self.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
                    self.close_connection = True

            def log_message(self, *arguments):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        with open(port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(port_file + ".tmp", port_file)
        server.serve_forever()
        """#

    let directory = TemporaryDirectory("http")
    let process: BackgroundProcess
    let base: String

    init() throws {
        let script = try directory.write("server.py", Self.script)
        let portFile = directory.file("port")
        process = try BackgroundProcess("python3", [script, portFile], logPath: directory.file("server.log"))
        guard waitUntil(timeout: 30, { FileManager.default.fileExists(atPath: portFile) }) else {
            throw POSIXError(.ETIMEDOUT)
        }
        base = "http://127.0.0.1:" + (try String(contentsOfFile: portFile, encoding: .utf8))
    }
}

/// A TCP socket on the loopback; listening (connections complete, no one ever answers) or only
/// bound (a connection is refused).
final class LoopbackSocket {
    let fd: Int32
    let port: UInt16

    init(listening: Bool) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard fd >= 0, bound, !listening || listen(fd, 16) == 0 else {
            let failure = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: failure)!)
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }
}

@Suite("the HTTP client", .timeLimit(.minutes(2)))
struct HTTPClientTests {
    let body = randomBytes(5000)

    @Test func aSuccessfulAnswerGivesItsStatusHeadersAndBody() throws {
        let server = try LocalServer()
        let response = try HTTPClient.post(
            url: server.base + "/echo", contentType: "application/timestamp-query", body: body, timeout: 30)
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "application/octet-stream")
        #expect(response.headers["content-length"] == "\(response.body.count)")
        #expect(response.body == Array("type=application/timestamp-query;".utf8) + body)
    }

    /// Anything but 200 is the caller's to judge: the client gives the status and the body.
    @Test func aServerErrorIsReturnedWithItsStatus() throws {
        let server = try LocalServer()
        let response = try HTTPClient.post(url: server.base + "/fail", contentType: "a/b", body: body, timeout: 30)
        #expect(response.status == 500)
        #expect(response.body == Array("the authority is down".utf8))
    }

    @Test func aChunkedAnswerIsJoined() throws {
        let server = try LocalServer()
        let response = try HTTPClient.post(url: server.base + "/chunked", contentType: "a/b", body: body, timeout: 30)
        #expect(response.status == 200)
        #expect(response.body == Array("first part, second part".utf8))
    }

    @Test(arguments: [
        ("/big", "larger than \(HTTPClient.maximumResponse) bytes"), ("/short", "ended after 9 of 1000 bytes"),
        ("/garbage", "not HTTP"),
    ])
    func aBadAnswerIsAProtocolError(_ path: String, _ reason: String) throws {
        let server = try LocalServer()
        let error = #expect(throws: HTTPError.self) {
            try HTTPClient.post(url: server.base + path, contentType: "a/b", body: body, timeout: 30)
        }
        #expect(error?.code == .protocolError, "\(String(describing: error))")
        #expect(error?.message.contains(reason) == true, "\(String(describing: error))")
        #expect(error?.url == server.base + path)
    }

    /// The connection is accepted by the kernel (a listening socket) but nobody ever answers:
    /// the client gives up at its deadline.
    @Test func aServerThatNeverAnswersTimesOut() throws {
        let silent = try LoopbackSocket(listening: true)
        let error = #expect(throws: HTTPError.self) {
            try HTTPClient.post(url: "http://127.0.0.1:\(silent.port)/tsa", contentType: "a/b", body: body, timeout: 1)
        }
        #expect(error?.code == .timeout, "\(String(describing: error))")
    }

    @Test func aRefusedConnectionIsUnreachable() throws {
        // Bound but not listening: the kernel refuses connections to the port, and no one else gets it.
        let closed = try LoopbackSocket(listening: false)
        let error = #expect(throws: HTTPError.self) {
            try HTTPClient.post(url: "http://127.0.0.1:\(closed.port)/tsa", contentType: "a/b", body: body, timeout: 30)
        }
        #expect(error?.code == .unreachable, "\(String(describing: error))")
        #expect(error?.message.contains("refused") == true, "\(String(describing: error))")
    }

    @Test(arguments: ["https://tsa.example/", "ftp://x/", "http://:80/", "http://host:port/", "http://host:99999/"])
    func anUnsupportedOrMalformedURLIsRefused(_ url: String) throws {
        let error = #expect(throws: HTTPError.self) {
            try HTTPClient.post(url: url, contentType: "a/b", body: body, timeout: 1)
        }
        #expect(error?.code == .badURL, "\(String(describing: error))")
    }
}
