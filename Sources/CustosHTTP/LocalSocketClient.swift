import Foundation
import Glibc

/// A small, blocking HTTP/1.1 client for the daemon's local Unix socket. One request per
/// connection. Call it from a thread of its own, never from Swift's cooperative pool.
///
/// Before connecting it checks, with `lstat`, that the path is a socket (a symbolic link, a
/// regular file or a folder is refused, never followed); after, it asks the kernel who serves
/// it (`SO_PEERCRED`) and refuses a server that is neither the socket file's owner nor root.
/// The answer carries that peer (`HTTPResponse.peer`).
///
/// `timeout` bounds each wait (the connection, and every write and read): a large transfer
/// that keeps moving may take longer in all.
public enum LocalSocketClient {
    /// The most `send` collects; larger answers are read with the streaming variant.
    public static let maximumResponse = 64 << 20

    /// Sends a request and collects the whole answer (at most `maximumResponse` bytes).
    public static func send(
        socket: String, method: String, path: String, headers: [(String, String)] = [], body: [UInt8],
        timeout: Double
    ) throws -> HTTPResponse {
        try collecting(socket) { receive in
            try exchange(
                socket: socket, method: method, path: path, headers: headers, bodyLength: body.count,
                timeout: timeout, writeBody: { connection in try connection.write(body) }, head: { _ in },
                receive: receive)
        }
    }

    /// Sends a request and hands the answer's body to `receive` as it arrives, after `head`
    /// has seen the status and headers. The returned response has an empty body.
    public static func send(
        socket: String, method: String, path: String, headers: [(String, String)] = [], body: [UInt8],
        timeout: Double, head: (HTTPResponse) throws -> Void, receive: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> HTTPResponse {
        try exchange(
            socket: socket, method: method, path: path, headers: headers, bodyLength: body.count, timeout: timeout,
            writeBody: { connection in try connection.write(body) }, head: head, receive: receive)
    }

    /// Sends a request whose body is `length` bytes read from `file` (from its current offset),
    /// and collects the answer.
    public static func upload(
        socket: String, method: String, path: String, headers: [(String, String)] = [], file: Int32, length: Int,
        timeout: Double
    ) throws -> HTTPResponse {
        try collecting(socket) { receive in
            try exchange(
                socket: socket, method: method, path: path, headers: headers, bodyLength: length, timeout: timeout,
                writeBody: { connection in try connection.copy(from: file, length: length) }, head: { _ in },
                receive: receive)
        }
    }

    /// Sends a request whose body is `length` bytes that `produce` writes, chunk by chunk, through
    /// the function it is given, and collects the answer. A `produce` that throws ends the
    /// connection with the body incomplete (the server then takes nothing of it), and the error
    /// is thrown.
    public static func upload(
        socket: String, method: String, path: String, headers: [(String, String)] = [], length: Int64,
        timeout: Double, produce: (_ send: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    ) throws -> HTTPResponse {
        try collecting(socket) { receive in
            try exchange(
                socket: socket, method: method, path: path, headers: headers, bodyLength: Int(length), timeout: timeout,
                writeBody: { connection in
                    var sent: Int64 = 0
                    try produce { bytes in
                        guard sent + Int64(bytes.count) <= length else {
                            throw HTTPError(
                                .protocolError, url: socket,
                                "the body to send is longer than its announced \(length) bytes")
                        }
                        try connection.write(bytes)
                        sent += Int64(bytes.count)
                    }
                    guard sent == length else {
                        throw HTTPError(
                            .protocolError, url: socket,
                            "the body to send ended \(length - sent) bytes before its announced length")
                    }
                }, head: { _ in }, receive: receive)
        }
    }

    /// Runs an exchange whose answer is collected whole (at most `maximumResponse` bytes).
    private static func collecting(
        _ socket: String, _ exchange: ((UnsafeRawBufferPointer) throws -> Void) throws -> HTTPResponse
    ) throws -> HTTPResponse {
        var collected = [UInt8]()
        var response = try exchange { bytes in
            guard collected.count + bytes.count <= maximumResponse else {
                throw HTTPError(.protocolError, url: socket, "the answer is larger than \(maximumResponse) bytes")
            }
            collected += bytes
        }
        response.body = collected
        return response
    }

    // MARK: - The exchange

    private static func exchange(
        socket path: String, method: String, path target: String, headers: [(String, String)], bodyLength: Int,
        timeout: Double, writeBody: (inout Connection) throws -> Void, head: (HTTPResponse) throws -> Void,
        receive: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> HTTPResponse {
        var connection = try Connection.open(path, timeout: timeout)
        defer { close(connection.fd) }
        var request = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: custos\r\n"
        request += "Content-Length: \(bodyLength)\r\nConnection: close\r\n"
        for (name, value) in headers {
            guard !(name + value).contains(where: { $0 == "\r" || $0 == "\n" }) else {
                throw HTTPError(.badURL, url: path, "a header holds a line break")
            }
            request += "\(name): \(value)\r\n"
        }
        request += "\r\n"
        // A server that answers early (413, 503) and closes cuts the upload short: its answer is
        // still waiting to be read.
        do {
            try connection.write(Array(request.utf8))
            try writeBody(&connection)
        } catch let error as HTTPError where error.code == .unreachable {
            if !connection.peerClosed { throw error }
        }
        var response = try connection.readHead()
        response.peer = connection.peer
        try head(response)
        try connection.readBody(response, receive: receive)
        return response
    }

    /// One connection: its descriptor, the server's credentials, and what has been read.
    private struct Connection {
        let fd: Int32
        let path: String
        let timeout: Double
        let peer: SocketPeer
        var buffer = [UInt8]()
        var peerClosed = false

        static func open(_ path: String, timeout: Double) throws -> Connection {
            var before = stat()
            guard lstat(path, &before) == 0 else { throw lstatError(path, errno) }
            let kind = before.st_mode & S_IFMT
            guard kind == S_IFSOCK else {
                throw HTTPError(
                    .notASocket, url: path,
                    "\(path) is \(describe(kind)), not a socket: refused (the daemon's socket is never a link or a file)"
                )
            }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
                throw HTTPError(.badURL, url: path, "the socket path \(path) is too long for a Unix socket address")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
            let fd = socket(
                AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else {
                throw HTTPError(.unreachable, url: path, "socket failed: \(String(cString: strerror(errno)))")
            }
            let deadline = Date(timeIntervalSinceNow: timeout)
            while true {
                let status = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
                }
                if status == 0 { break }
                let error = errno
                // A full backlog: the daemon is there but busy.
                if error == EAGAIN || error == EINTR, deadline.timeIntervalSinceNow > 0 {
                    usleep(5000)
                    continue
                }
                close(fd)
                throw connectError(path, error)
            }
            var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
            var credentialsLength = socklen_t(12)
            guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &credentialsLength) == 0,
                credentialsLength == 12
            else {
                let error = errno
                close(fd)
                throw HTTPError(
                    .wrongServer, url: path,
                    "the kernel did not name the process behind \(path) (SO_PEERCRED: \(String(cString: strerror(error)))): refused"
                )
            }
            let peer = SocketPeer(pid: credentials.0, uid: credentials.1, gid: credentials.2)
            var after = stat()
            guard lstat(path, &after) == 0, after.st_ino == before.st_ino, after.st_dev == before.st_dev else {
                close(fd)
                throw HTTPError(.wrongServer, url: path, "the socket at \(path) was replaced while connecting: refused")
            }
            guard peer.uid == before.st_uid || peer.uid == 0 else {
                close(fd)
                throw HTTPError(
                    .wrongServer, url: path,
                    "the process serving \(path) runs as uid \(peer.uid), but the socket belongs to uid \(before.st_uid): "
                        + "someone else's socket is in place; refused")
            }
            return Connection(fd: fd, path: path, timeout: timeout, peer: peer)
        }

        private static func lstatError(_ path: String, _ error: Int32) -> HTTPError {
            switch error {
            case ENOENT:
                return HTTPError(
                    .noServer, url: path,
                    "no daemon is listening at \(path): the socket does not exist; start it with `custos daemon`")
            case EACCES:
                return HTTPError(
                    .permissionDenied, url: path,
                    "permission denied on \(path): its folder is open to the daemon's group only (ask an administrator to add you to it)"
                )
            default:
                return HTTPError(.unreachable, url: path, "cannot look at \(path): \(String(cString: strerror(error)))")
            }
        }

        private static func connectError(_ path: String, _ error: Int32) -> HTTPError {
            switch error {
            case ECONNREFUSED:
                return HTTPError(
                    .noServer, url: path,
                    "a socket is at \(path) but no daemon answers (stale: the daemon is not running)")
            case ENOENT:
                // Gone between the look and the connect: as if it had never been there.
                return lstatError(path, ENOENT)
            case EACCES, EPERM:
                return HTTPError(
                    .permissionDenied, url: path,
                    "permission denied on \(path): the socket is open to its group only (ask an administrator to add you to it)"
                )
            case EAGAIN:
                return HTTPError(
                    .timeout, url: path, "the daemon at \(path) accepted no connection within the time allowed")
            default:
                return HTTPError(
                    .unreachable, url: path, "cannot connect to \(path): \(String(cString: strerror(error)))")
            }
        }

        private static func describe(_ kind: mode_t) -> String {
            switch kind {
            case S_IFREG: "a regular file"
            case S_IFLNK: "a symbolic link"
            case S_IFDIR: "a folder"
            case S_IFIFO: "a FIFO"
            case S_IFCHR, S_IFBLK: "a device"
            default: "not a socket"
            }
        }

        private func wait(for events: Int32, _ what: String) throws {
            var poller = pollfd(fd: fd, events: Int16(events), revents: 0)
            while true {
                let ready = poll(&poller, 1, Int32(max(0, timeout * 1000)))
                if ready > 0 { return }
                if ready == 0 {
                    throw HTTPError(.timeout, url: path, "the daemon at \(path) did not \(what) within \(timeout) s")
                }
                if errno != EINTR {
                    throw HTTPError(.unreachable, url: path, "poll failed: \(String(cString: strerror(errno)))")
                }
            }
        }

        mutating func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try write($0) }
        }

        mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                try wait(for: Int32(POLLOUT), "take the request")
                let sent = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    if errno == EPIPE || errno == ECONNRESET { peerClosed = true }
                    throw HTTPError(
                        .unreachable, url: path, "sending to \(path) failed: \(String(cString: strerror(errno)))")
                }
                offset += sent
            }
        }

        mutating func copy(from file: Int32, length: Int) throws {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            var left = length
            while left > 0 {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress, min($0.count, left)) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else {
                    throw HTTPError(
                        .protocolError, url: path,
                        count == 0
                            ? "the file to send ended \(left) bytes before its announced length"
                            : "reading the file to send failed: \(String(cString: strerror(errno)))")
                }
                try chunk.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                left -= count
            }
        }

        /// Reads more into `buffer`; false at the end of the stream.
        private mutating func fill() throws -> Bool {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                try wait(for: Int32(POLLIN), "answer")
                let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    throw HTTPError(
                        .unreachable, url: path, "the connection to \(path) failed: \(String(cString: strerror(errno)))"
                    )
                }
                if count == 0 { return false }
                buffer += chunk[..<count]
                return true
            }
        }

        private mutating func readLine() throws -> [UInt8] {
            var searched = 0
            while true {
                if let end = buffer[searched...].firstRange(of: [13, 10]) {
                    let line = Array(buffer[..<end.lowerBound])
                    buffer.removeSubrange(..<end.upperBound)
                    return line
                }
                searched = max(0, buffer.count - 1)
                guard buffer.count < 1 << 16 else {
                    throw HTTPError(.protocolError, url: path, "a line of the answer is longer than 64 KiB")
                }
                guard try fill() else {
                    throw HTTPError(.protocolError, url: path, "the answer from \(path) is cut short")
                }
            }
        }

        mutating func readHead() throws -> HTTPResponse {
            let statusLine = String(decoding: try readLine(), as: UTF8.self).split(separator: " ", maxSplits: 2)
            guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
                throw HTTPError(.protocolError, url: path, "the answer from \(path) is not HTTP/1.x")
            }
            var headers = [String: String]()
            while true {
                let line = String(decoding: try readLine(), as: UTF8.self)
                if line.isEmpty { break }
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces)
            }
            return HTTPResponse(status: status, headers: headers, body: [])
        }

        mutating func readBody(_ response: HTTPResponse, receive: (UnsafeRawBufferPointer) throws -> Void) throws {
            if response.headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
                while true {
                    let line = String(decoding: try readLine(), as: UTF8.self)
                    let sizeText = line.split(separator: ";").first.map(String.init) ?? ""
                    guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                        throw HTTPError(.protocolError, url: path, "a chunk size from \(path) is not hexadecimal")
                    }
                    if size == 0 {
                        while try !readLine().isEmpty {}  // trailers
                        return
                    }
                    try readExactly(size, receive: receive)
                    guard try readLine().isEmpty else {
                        throw HTTPError(.protocolError, url: path, "a chunk from \(path) does not end where it says")
                    }
                }
            } else if let length = response.headers["content-length"].flatMap({ Int($0) }) {
                try readExactly(length, receive: receive)
            } else {
                while true {
                    if !buffer.isEmpty {
                        try buffer.withUnsafeBytes { try receive($0) }
                        buffer.removeAll(keepingCapacity: true)
                    }
                    guard try fill() else { return }
                }
            }
        }

        private mutating func readExactly(_ count: Int, receive: (UnsafeRawBufferPointer) throws -> Void) throws {
            var left = count
            while left > 0 {
                if buffer.isEmpty, try !fill() {
                    throw HTTPError(
                        .protocolError, url: path,
                        "the answer from \(path) ended \(left) bytes before its announced end")
                }
                let take = min(left, buffer.count)
                try buffer.withUnsafeBytes { try receive(UnsafeRawBufferPointer(rebasing: $0[..<take])) }
                buffer.removeSubrange(..<take)
                left -= take
            }
        }
    }
}
