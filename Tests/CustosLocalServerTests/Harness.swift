import CustosHTTP
import CustosLocalServer
import CustosTestSupport
import Foundation
import Glibc
import Logging
import Synchronization
import Testing

let quiet = Logger(label: "custos.test.local-server", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs a blocking call on a thread of its own, off Swift's cooperative pool (two threads here).
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// What the test handler has seen.
final class Seen: Sendable {
    private let paths = Mutex([String]())
    func add(_ path: String) { paths.withLock { $0.append(path) } }
    var all: [String] { paths.withLock { $0 } }
}

/// The handler of these tests: `/echo` answers `method|path|query|` and the body; `/whoami` the
/// caller; `/slow` answers after 300 ms; `/stream` answers `count` chunks of 64 KiB as a stream.
func testHandler(_ seen: Seen) -> LocalServer.Handler {
    { request, peer in
        seen.add(request.path)
        switch request.path {
        case "/echo":
            let query = request.query.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
            return LocalResponse(
                status: 200, contentType: "application/octet-stream",
                body: .bytes(Array("\(request.method)|\(request.path)|\(query)|".utf8) + request.body))
        case "/whoami":
            let groups = peer.groups.map(String.init).joined(separator: ",")
            return LocalResponse(
                status: 200, contentType: "text/plain",
                body: .bytes(Array("\(peer.pid) \(peer.uid) \(peer.gid) \(groups)".utf8)))
        case "/slow":
            try? await Task.sleep(for: .milliseconds(300))
            return LocalResponse(status: 200, contentType: "text/plain", body: .bytes(Array("ok".utf8)))
        case "/stream":
            let count = Int(request.query["count"] ?? "1") ?? 1
            let stream = AsyncThrowingStream<[UInt8], any Error> { continuation in
                for index in 0..<count { continuation.yield([UInt8](repeating: UInt8(index % 256), count: 1 << 16)) }
                continuation.finish()
            }
            return LocalResponse(status: 200, contentType: "application/octet-stream", body: .stream(stream))
        case "/upload":
            // Streamed (`streamingLimits`): the count and the sum of the bytes, or the cut.
            guard let stream = request.bodyStream else {
                return .error(status: 500, code: "not-streamed", message: "the body was not streamed")
            }
            var count = 0
            var sum = 0
            do {
                for try await chunk in stream {
                    count += chunk.count
                    for byte in chunk { sum &+= Int(byte) }
                }
            } catch {
                seen.add("/upload:cut")
                return .error(status: 400, code: "cut", message: "\(error)")
            }
            return LocalResponse(status: 200, contentType: "text/plain", body: .bytes(Array("\(count) \(sum)".utf8)))
        case "/refuse-upload":
            // Streamed, and answered without reading a byte of the body.
            return .error(status: 403, code: "forbidden", message: "refused before the body")
        case "/bad-status":
            return LocalResponse(status: 1000, body: .bytes([]))
        default:
            return .error(status: 404, code: "not-found", message: "no route \(request.path)")
        }
    }
}

/// Limits with the uploads of `testHandler` streamed, the deadline (and the stall) `seconds`.
func streamingLimits(seconds: Double = 1, maximumStreamedBody: Int64 = 1 << 40) -> LocalServerLimits {
    LocalServerLimits(
        requestDeadlineSeconds: seconds, streamedPaths: ["/upload", "/refuse-upload"],
        maximumStreamedBody: maximumStreamedBody)
}

/// A LocalServer running in a task; `stop()` cancels it and waits for it to end.
final class RunningServer: Sendable {
    let path: String
    let seen: Seen
    private let task: Task<Void, any Error>

    private init(path: String, seen: Seen, task: Task<Void, any Error>) {
        self.path = path
        self.seen = seen
        self.task = task
    }

    /// Starts a server and waits until it accepts connections (or throws what run() threw).
    static func start(
        _ settings: LocalSocketSettings, limits: LocalServerLimits = LocalServerLimits(), seen: Seen = Seen()
    ) async throws -> RunningServer {
        let server = try LocalServer(settings: settings, limits: limits, logger: quiet, handler: testHandler(seen))
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let task = Task {
            do {
                try await server.run()
                outcome.withLock { $0 = .success(()) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
                throw error
            }
        }
        let path = settings.path
        let ready = try await offPool {
            waitUntil(timeout: 120) { outcome.withLock { $0 != nil } || connects(path) }
        }
        if case .failure(let error) = outcome.withLock({ $0 }) { throw error }
        guard ready else { throw CocoaError(.fileNoSuchFile) }
        return RunningServer(path: path, seen: seen, task: task)
    }

    /// Cancels the server and waits for its end: at most 90 s, so that a server that does not
    /// end fails the test instead of hanging the whole run.
    func stop() async throws {
        task.cancel()
        let task = self.task
        let ended = await firstOf(
            {
                _ = try? await task.value
                return true
            },
            {
                try? await Task.sleep(for: .seconds(90))
                return false
            })
        #expect(ended, "the server did not end within 90 s of its cancellation")
    }

    /// Runs `run()` of a server expected to refuse its socket, and returns the error; nil when
    /// it served instead (cancelled after 30 s: the test fails rather than hangs).
    static func refusal(_ settings: LocalSocketSettings) async throws -> LocalServerError? {
        let server = try LocalServer(settings: settings, logger: quiet, handler: testHandler(Seen()))
        let running = Task { () -> LocalServerError? in
            do {
                try await server.run()
                return nil
            } catch let error as LocalServerError {
                return error
            } catch {
                return nil
            }
        }
        let refusal = await firstOf(
            { await running.value },
            {
                try? await Task.sleep(for: .seconds(30))
                return nil
            })
        running.cancel()
        return refusal
    }
}

/// The result of whichever of two bodies ends first; the other is left to end on its own (never
/// awaited: a body that never ends cannot hang the test).
func firstOf<T: Sendable>(
    _ one: @escaping @Sendable () async -> T, _ other: @escaping @Sendable () async -> T
) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        let pending = Pending(continuation)
        Task { pending.resume(await one()) }
        Task { pending.resume(await other()) }
    }
}

/// A continuation resumed once, by the first who comes.
private final class Pending<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>
    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = Mutex(continuation) }
    func resume(_ value: T) {
        continuation.withLock { waiting in
            waiting?.resume(returning: value)
            waiting = nil
        }
    }
}

/// Whether a connection to the socket at `path` is accepted.
func connects(_ path: String) -> Bool {
    guard let socket = try? RawSocket(path) else { return false }
    _ = socket
    return true
}

/// A plain Unix socket connection, to send exactly the bytes a test wants, at its pace.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    init(_ path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = unixAddress(path)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        // deinit closes fd, also when this throws (the object is whole by then).
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    deinit { close(fd) }

    /// Sends all of `bytes`; false once the server has closed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Reads until the server closes or `timeout` seconds pass without a byte; `closed` says which.
    func readToEnd(timeout: Double) -> (bytes: [UInt8], closed: Bool) {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return (received, false) }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return (received, true) }
            received += buffer[..<count]
        }
    }

    /// Reads until `marker` has arrived (or the server closes).
    func read(until marker: String, timeout: Double) -> String {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !String(decoding: received, as: UTF8.self).contains(marker) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { break }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[..<count]
        }
        return String(decoding: received, as: UTF8.self)
    }
}

/// This process's resident memory, in KiB (VmRSS).
func residentKiB() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

func fileMode(_ path: String) -> (mode: UInt32, gid: UInt32, uid: UInt32, kind: UInt32)? {
    var status = stat()
    guard lstat(path, &status) == 0 else { return nil }
    return (UInt32(status.st_mode & 0o7777), status.st_gid, status.st_uid, UInt32(status.st_mode & S_IFMT))
}

/// The address of the Unix socket at `path`.
func unixAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        let bytes = Array(path.utf8)
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return address
}

/// A socket file with no server behind it: bound, then closed.
func makeStaleSocket(_ path: String) throws {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = unixAddress(path)
    let status = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard status == 0 else { throw POSIXError(.EADDRINUSE) }
}

let isRoot = geteuid() == 0
