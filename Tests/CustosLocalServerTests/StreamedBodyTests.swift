import CustosHTTP
import CustosLocalServer
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// The bodies of uploads (`LocalServerLimits.streamedPaths`): streamed to the handler as they
/// come, held to a pace rather than to the request deadline, and never read past a refusal.
@Suite("the local server: streamed bodies", .timeLimit(.minutes(3)))
struct StreamedBodyTests {
    @Test func anUploadReachesTheHandlerWholeAsItArrives() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 10))
        // Larger than the 1 MiB limit of collected bodies: only a streamed path takes it.
        let content = randomBytes(3 << 20)
        let response = try await offPool {
            try LocalSocketClient.upload(
                socket: server.path, method: "POST", path: "/upload", length: Int64(content.count), timeout: 30
            ) { send in
                var offset = 0
                while offset < content.count {
                    let end = min(offset + 100_000, content.count)
                    try content[offset..<end].withUnsafeBytes { try send($0) }
                    offset = end
                }
            }
        }
        #expect(response.status == 200)
        let sum = content.reduce(0) { $0 &+ Int($1) }
        #expect(String(decoding: response.body, as: UTF8.self) == "\(content.count) \(sum)")
        // The same path with a collected-size body over the ordinary limit: not a streamed one.
        let refused = try await offPool {
            try LocalSocketClient.send(
                socket: server.path, method: "POST", path: "/echo", body: [UInt8](repeating: 1, count: 2 << 20),
                timeout: 30)
        }
        #expect(refused.status == 413)
        try await server.stop()
    }

    @Test func aStreamedBodyThatKeepsComingOutlastsTheRequestDeadline() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 1))
        // 2.5 s in all, a chunk every 250 ms: longer than the 1 s deadline, never stalled that long.
        let chunk = [UInt8](repeating: 7, count: 256 << 10)
        let response = try await offPool {
            try LocalSocketClient.upload(
                socket: server.path, method: "POST", path: "/upload", length: Int64(chunk.count * 10), timeout: 30
            ) { send in
                for _ in 0..<10 {
                    Thread.sleep(forTimeInterval: 0.25)
                    try chunk.withUnsafeBytes { try send($0) }
                }
            }
        }
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "\(chunk.count * 10) \(chunk.count * 70)")
        try await server.stop()
    }

    @Test func aStreamedBodySentOneByteAtATimeIsCutOff() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 1))
        let (elapsed, closed) = try await offPool { () throws -> (Double, Bool) in
            let socket = try RawSocket(server.path)
            socket.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            let started = Date()
            // A byte every 200 ms: never a stall of 1 s, but far under the pace.
            while Date().timeIntervalSince(started) < 30 {
                guard socket.send([1]) else { break }
                var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 200) > 0 { break }  // answered or closed
            }
            let (_, closed) = socket.readToEnd(timeout: 30)
            return (Date().timeIntervalSince(started), closed)
        }
        print("a streamed body sent a byte every 200 ms was cut off after \(String(format: "%.3f", elapsed)) s")
        #expect(closed)
        #expect(elapsed >= 0.9 && elapsed < 10)
        #expect(try await offPool { waitUntil(timeout: 30) { server.seen.all.contains("/upload:cut") } })
        try await server.stop()
    }

    @Test func aStreamedBodyThatStallsIsCutOffAndTheHandlerSeesItCut() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 1))
        let (elapsed, closed) = try await offPool { () throws -> (Double, Bool) in
            let socket = try RawSocket(server.path)
            let started = Date()
            socket.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            socket.send([UInt8](repeating: 2, count: 50_000))
            let (_, closed) = socket.readToEnd(timeout: 30)
            return (Date().timeIntervalSince(started), closed)
        }
        #expect(closed)
        #expect(elapsed >= 0.9 && elapsed < 10)
        #expect(try await offPool { waitUntil(timeout: 30) { server.seen.all.contains("/upload:cut") } })
        try await server.stop()
    }

    @Test func aBodyCutShortByItsClientReadsAsCutNeverAsComplete() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 10))
        try await offPool {
            let socket = try RawSocket(server.path)
            socket.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            socket.send([UInt8](repeating: 3, count: 60_000))
            // deinit closes it: the body ends 40,000 bytes early.
        }
        #expect(try await offPool { waitUntil(timeout: 30) { server.seen.all.contains("/upload:cut") } })
        try await server.stop()
    }

    @Test func anUploadAnsweredBeforeItsBodyIsNotReadAndItsConnectionCloses() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 10))
        let (answer, closed, elapsed) = try await offPool { () throws -> (String, Bool, Double) in
            let socket = try RawSocket(server.path)
            let started = Date()
            // A body of 1 GiB announced, 1 MiB of it sent: the refusal comes and the server closes.
            socket.send("POST /refuse-upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(1 << 30)\r\n\r\n")
            socket.send([UInt8](repeating: 4, count: 1 << 20))
            let (bytes, closed) = socket.readToEnd(timeout: 30)
            return (String(decoding: bytes, as: UTF8.self), closed, Date().timeIntervalSince(started))
        }
        #expect(answer.hasPrefix("HTTP/1.1 403"), "\(answer)")
        #expect(answer.lowercased().contains("connection: close"))
        #expect(closed && elapsed < 10, "the server closed rather than read the rest")
        // The server goes on.
        let after = try await offPool {
            try LocalSocketClient.send(socket: server.path, method: "POST", path: "/echo", body: [1], timeout: 30)
        }
        #expect(after.status == 200)
        try await server.stop()
    }

    @Test func aStreamedBodyOverItsOwnLimitIsAnswered413() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")),
            limits: streamingLimits(seconds: 10, maximumStreamedBody: 1000))
        let response = try await offPool {
            try LocalSocketClient.upload(
                socket: server.path, method: "POST", path: "/upload", length: 5000, timeout: 30
            ) { send in try [UInt8](repeating: 5, count: 5000).withUnsafeBytes { try send($0) } }
        }
        #expect(response.status == 413)
        #expect(!server.seen.all.contains("/upload"), "the handler never saw it")
        try await server.stop()
    }

    @Test func anUploadWithoutItsLengthIsAnswered411AndNotRead() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 10))
        let (answer, closed) = try await offPool { () throws -> (String, Bool) in
            let socket = try RawSocket(server.path)
            socket.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n")
            socket.send([UInt8](repeating: 6, count: 1024))
            let (bytes, closed) = socket.readToEnd(timeout: 30)
            return (String(decoding: bytes, as: UTF8.self), closed)
        }
        #expect(answer.hasPrefix("HTTP/1.1 411") && answer.contains("length-required"), "\(answer)")
        #expect(closed)
        #expect(!server.seen.all.contains("/upload"), "the handler never saw it")
        try await server.stop()
    }

    @Test func aFastStartBuysNoCreditForATrickleAfter() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(
            LocalSocketSettings(path: directory.file("run/custos.sock")), limits: streamingLimits(seconds: 1))
        let (elapsed, closed) = try await offPool { () throws -> (Double, Bool) in
            let socket = try RawSocket(server.path)
            socket.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
            // 8 MiB at once: far over the pace for the first window...
            socket.send([UInt8](repeating: 8, count: 8 << 20))
            let started = Date()
            // ...then a byte every 200 ms.
            while Date().timeIntervalSince(started) < 60 {
                guard socket.send([1]) else { break }
                var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
                if poll(&poller, 1, 200) > 0 { break }
            }
            let (_, closed) = socket.readToEnd(timeout: 30)
            return (Date().timeIntervalSince(started), closed)
        }
        print("a trickle after a fast start was cut off after \(String(format: "%.3f", elapsed)) s")
        #expect(closed)
        #expect(elapsed < 10, "judged window by window, not on the average since the start")
        try await server.stop()
    }
}
