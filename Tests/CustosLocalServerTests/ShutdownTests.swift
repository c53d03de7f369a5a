import CustosHTTP
import CustosLocalServer
import CustosTestSupport
import Foundation
import Glibc
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

@Suite("the local server: shutdown", .timeLimit(.minutes(3)))
struct LocalServerShutdownTests {
    @Test func aGracefulShutdownFinishesTheRequestUnderWayClosesIdleConnectionsAndRemovesTheSocket() async throws {
        let directory = TemporaryDirectory("local-server")
        let path = directory.file("run/custos.sock")
        let seen = Seen()
        let server = try LocalServer(
            settings: LocalSocketSettings(path: path), logger: quiet, handler: testHandler(seen))
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                try #require(try await offPool { waitUntil(timeout: 120) { connects(path) } })
                let idle = try await offPool { () throws -> RawSocket in
                    let socket = try RawSocket(path)
                    socket.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                    _ = socket.read(until: "GET|/echo||", timeout: 30)
                    return socket
                }
                async let slow = offPool {
                    try LocalSocketClient.send(socket: path, method: "GET", path: "/slow", body: [], timeout: 10)
                }
                try #require(try await offPool { waitUntil(timeout: 30) { seen.all.contains("/slow") } })
                trigger.triggerGracefulShutdown()

                #expect(try await slow.status == 200, "the request under way is answered")
                let (_, closed) = try await offPool { idle.readToEnd(timeout: 30) }
                #expect(closed, "the idle connection is closed")
                try await group.next()
                #expect(fileMode(path) == nil, "the socket file is removed")
            }
        }
    }

    @Test func aSocketReplacedWhileServingIsNotRemovedAtShutdown() async throws {
        let directory = TemporaryDirectory("local-server")
        let server = try await RunningServer.start(LocalSocketSettings(path: directory.file("run/custos.sock")))
        // Someone else's file now holds the name: shutdown leaves it.
        unlink(server.path)
        try directory.write("run/custos.sock", "someone else's")
        try await server.stop()
        #expect(try String(contentsOfFile: server.path, encoding: .utf8) == "someone else's")
    }
}
