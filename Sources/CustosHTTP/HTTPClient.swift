import Foundation
import Glibc

/// Why an HTTP exchange failed: a code, the URL, and the reason.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case badURL, unreachable, timeout, protocolError, status, noServer, notASocket, permissionDenied,
                wrongServer
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let badURL = Code(.badURL)
        /// The name did not resolve, or the connection was refused or reset.
        public static let unreachable = Code(.unreachable)
        /// No answer within the time allowed.
        public static let timeout = Code(.timeout)
        /// The answer was not HTTP/1.x as expected.
        public static let protocolError = Code(.protocolError)
        /// A status other than 200.
        public static let status = Code(.status)
        /// A local socket: nothing at its path, or a stale socket no daemon answers on.
        public static let noServer = Code(.noServer)
        /// A local socket's path holds something else (a symbolic link, a regular file, a folder).
        public static let notASocket = Code(.notASocket)
        /// A local socket refused this account (its mode and group).
        public static let permissionDenied = Code(.permissionDenied)
        /// The process serving a local socket runs as neither the socket file's owner nor root.
        public static let wrongServer = Code(.wrongServer)

        public var description: String { "\(value)" }
    }

    public let code: Code
    public let url: String
    public let message: String

    public init(_ code: Code, url: String, _ message: String) {
        self.code = code
        self.url = url
        self.message = message
    }

    /// The message, after the URL unless the message names it already (a local socket's
    /// messages name its path).
    public var description: String { message.contains(url) ? message : "\(url): \(message)" }
}

/// Who serves a local socket, as the kernel says (SO_PEERCRED at connect).
public struct SocketPeer: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

/// An HTTP response: status, headers (names lower-cased), body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    /// Over a local socket: the process that answered, as the kernel named it.
    public var peer: SocketPeer?

    public init(status: Int, headers: [String: String], body: [UInt8], peer: SocketPeer? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.peer = peer
    }
}

/// A small, blocking HTTP/1.1 client over a plain socket, for RFC 3161's HTTP transport (a
/// time-stamp token authenticates itself, so authorities serve plain `http://`). One request per
/// connection; the whole exchange must finish within `timeout` seconds. Call it from a thread of
/// its own, never from Swift's cooperative pool.
public enum HTTPClient {
    /// The most a response may hold.
    public static let maximumResponse = 1 << 20

    public static func post(url: String, contentType: String, body: [UInt8], timeout: Double) throws -> HTTPResponse {
        let target = try Target(url)
        let deadline = Date(timeIntervalSinceNow: timeout)
        let socket = try connect(target, deadline: deadline, url: url)
        defer { close(socket) }
        var request = "POST \(target.path) HTTP/1.1\r\nHost: \(target.hostHeader)\r\n"
        request += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
        request += "Accept: */*\r\nConnection: close\r\nUser-Agent: custos\r\n\r\n"
        try send(socket, Array(request.utf8) + body, deadline: deadline, url: url)
        let raw = try receive(socket, deadline: deadline, url: url)
        return try parse(raw, url: url)
    }

    struct Target {
        var host: String
        var port: String
        var path: String
        var hostHeader: String

        init(_ url: String) throws {
            guard url.hasPrefix("http://") else {
                throw HTTPError(
                    .badURL, url: url,
                    "only http:// authorities are supported (a token is signed, the channel need not be)")
            }
            let rest = url.dropFirst("http://".count)
            let authority = rest.prefix { $0 != "/" }
            path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
            hostHeader = String(authority)
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                port = after.hasPrefix(":") ? String(after.dropFirst()) : "80"
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                port = String(authority[authority.index(after: colon)...])
            } else {
                host = String(authority)
                port = "80"
            }
            guard !host.isEmpty, UInt16(port) != nil else { throw HTTPError(.badURL, url: url, "not a valid URL") }
        }
    }

    private static func remaining(_ deadline: Date) -> Int32 {
        Int32(max(0, deadline.timeIntervalSinceNow * 1000))
    }

    private static func connect(_ target: Target, deadline: Date, url: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(target.host, target.port, &hints, &list)
        guard status == 0, let list else {
            throw HTTPError(
                .unreachable, url: url, "cannot resolve \(target.host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(
                address.pointee.ai_family,
                address.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastError = String(cString: strerror(errno))
                close(fd)
                continue
            }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&poller, 1, remaining(deadline))
            if ready == 0 {
                close(fd)
                throw HTTPError(.timeout, url: url, "no connection within the time allowed")
            }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
            if ready > 0, failure == 0 { return fd }
            lastError = String(cString: strerror(failure == 0 ? errno : failure))
            close(fd)
        }
        throw HTTPError(.unreachable, url: url, "cannot connect: \(lastError)")
    }

    private static func send(_ fd: Int32, _ bytes: [UInt8], deadline: Date, url: String) throws {
        var offset = 0
        while offset < bytes.count {
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&poller, 1, remaining(deadline)) > 0 else {
                throw HTTPError(.timeout, url: url, "the request could not be sent within the time allowed")
            }
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw HTTPError(.unreachable, url: url, "sending failed: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    private static func receive(_ fd: Int32, deadline: Date, url: String) throws -> [UInt8] {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, remaining(deadline))
            if ready == 0 { throw HTTPError(.timeout, url: url, "no complete answer within the time allowed") }
            if ready < 0 {
                if errno == EINTR { continue }
                throw HTTPError(.unreachable, url: url, "poll failed: \(String(cString: strerror(errno)))")
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw HTTPError(.unreachable, url: url, "the connection failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { return received }
            received += buffer[..<count]
            guard received.count <= maximumResponse else {
                throw HTTPError(.protocolError, url: url, "the answer is larger than \(maximumResponse) bytes")
            }
        }
    }

    static func parse(_ raw: [UInt8], url: String) throws -> HTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = raw.firstRange(of: separator) else {
            throw HTTPError(.protocolError, url: url, "the answer is not HTTP (no end of headers)")
        }
        let head = String(decoding: raw[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = head.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw HTTPError(.protocolError, url: url, "the answer is not HTTP/1.x")
        }
        var headers = [String: String]()
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(raw[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try dechunk(body, url: url)
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            guard body.count >= length else {
                throw HTTPError(.protocolError, url: url, "the answer ended after \(body.count) of \(length) bytes")
            }
            body = Array(body.prefix(length))
        }
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    static func dechunk(_ bytes: [UInt8], url: String) throws -> [UInt8] {
        var out = [UInt8]()
        var index = 0
        while true {
            guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else {
                throw HTTPError(.protocolError, url: url, "a chunked answer is cut short")
            }
            let sizeText =
                String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
                .split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw HTTPError(.protocolError, url: url, "a chunk size is not hexadecimal")
            }
            index = lineEnd.upperBound
            if size == 0 { return out }
            guard index + size <= bytes.count else {
                throw HTTPError(.protocolError, url: url, "a chunked answer is cut short")
            }
            out += bytes[index..<index + size]
            index += size + 2
        }
    }
}
