import Foundation
import Glibc
import Logging
import Synchronization

/// A connection accepted and its peer, as the kernel named it (or why it could not).
struct AcceptedConnection: Sendable {
    var descriptor: Int32
    var peer: Result<PeerCredentials, LocalServerError>
}

/// Counts the connections being served; refuses one over the maximum.
final class ConnectionGate: Sendable {
    let maximum: Int
    private let count = Mutex(0)

    init(maximum: Int) { self.maximum = maximum }

    func enter() -> Bool {
        count.withLock { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
    }

    func leave() { count.withLock { $0 -= 1 } }

    var current: Int { count.withLock { $0 } }
}

/// Accepts connections on a thread of its own, reads each peer's credentials once (the accepted
/// descriptor is at hand only here: NIO does not show a channel's descriptor), and hands the
/// connection on. A connection over the maximum is answered 503 and closed at once.
final class Acceptor: Sendable {
    private let socket: ListeningSocket
    private let gate: ConnectionGate
    private let logger: Logger
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let continuation: AsyncStream<AcceptedConnection>.Continuation
    private let failure = Mutex<LocalServerError?>(nil)

    /// Why the loop stopped on its own (nil: it was stopped, or still runs).
    var stoppedBy: LocalServerError? { failure.withLock { $0 } }

    init(
        socket: ListeningSocket, gate: ConnectionGate, logger: Logger,
        continuation: AsyncStream<AcceptedConnection>.Continuation
    ) throws(LocalServerError) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw LocalServerError.system("pipe", path: socket.path, errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        self.socket = socket
        self.gate = gate
        self.logger = logger
        self.wakeRead = fds[0]
        self.wakeWrite = fds[1]
        self.continuation = continuation
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    func start() {
        Thread.detachNewThread { [self] in
            self.loop()
            self.socket.removeFile()
            self.continuation.finish()
        }
    }

    /// Ends the loop: no connection is accepted after this, and the socket file is removed.
    func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func loop() {
        var polls = [
            pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = poll(&polls, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                fail(.system("poll (accepting connections)", path: socket.path, errno: errno))
                return
            }
            if polls[1].revents != 0 { return }
            guard polls[0].revents != 0 else { continue }
            let fd = accept(socket.descriptor, nil, nil)
            guard fd >= 0 else {
                switch errno {
                case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: the connection waits in the backlog; try again soon.
                    logger.warning("cannot accept on \(socket.path): \(String(cString: strerror(errno)))")
                    usleep(100_000)
                    continue
                default:
                    fail(.system("accept", path: socket.path, errno: errno))
                    return
                }
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard gate.enter() else {
                refuse(fd)
                continue
            }
            let peer = Result { () throws(LocalServerError) in try PeerCredentials.read(socket: fd) }
            continuation.yield(AcceptedConnection(descriptor: fd, peer: peer))
        }
    }

    private func fail(_ error: LocalServerError) {
        logger.error("the local socket's accept loop stopped: \(error)")
        failure.withLock { $0 = error }
    }

    /// 503 without reading the request: the answer waits in the client's receive queue, which a
    /// Unix socket keeps after this side closes.
    private func refuse(_ fd: Int32) {
        logger.warning("refused a connection on \(socket.path): \(gate.maximum) connections are being served")
        let body = LocalResponse.errorDocument(
            code: "busy", message: "the daemon serves \(gate.maximum) connections already; try again")
        let head =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8) + body
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        close(fd)
    }
}
