import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOPosix
import ServiceLifecycle
import Synchronization

/// HTTP/1.1 over a local Unix socket, for one handler. The caller is named by the kernel
/// (`PeerCredentials`), read once per connection at accept; a connection whose peer the kernel
/// does not name is answered 403 to every request.
///
/// The socket is set up by `run()` (see `LocalSocketSettings`): its folder is checked or created,
/// a stale socket is replaced, anything else at the path is refused and left alone. On shutdown
/// the socket file is removed if it is still the one bound.
public final class LocalServer: Service {
    public typealias Handler = @Sendable (LocalRequest, PeerCredentials) async -> LocalResponse

    public let settings: LocalSocketSettings
    public let limits: LocalServerLimits
    private let logger: Logger
    private let handler: Handler
    private let serving: @Sendable () -> Void
    private let gate: ConnectionGate
    private let connections = Connections()

    /// `serving` is called once the socket is at its path and listening, before any connection
    /// is served.
    public init(
        settings: LocalSocketSettings, limits: LocalServerLimits = LocalServerLimits(), logger: Logger,
        serving: @escaping @Sendable () -> Void = {}, handler: @escaping Handler
    ) throws(LocalServerError) {
        guard limits.maximumBody >= 0, limits.maximumConnections > 0, limits.requestDeadlineSeconds > 0,
            limits.idleSeconds > 0
        else {
            throw LocalServerError(.invalidSettings, path: settings.path, "the local server's limits must be positive")
        }
        self.settings = settings
        self.limits = limits
        self.logger = logger
        self.handler = handler
        self.serving = serving
        self.gate = ConnectionGate(maximum: limits.maximumConnections)
    }

    /// Serves until graceful shutdown or cancellation: then stops accepting, removes the socket
    /// file, lets requests under way finish (idle connections close at once), and returns. Throws
    /// when the socket cannot be set up (`LocalServerError`, naming the path and the reason), or
    /// when accepting fails for good.
    public func run() async throws {
        let socket = try ListeningSocket.open(settings, backlog: Int32(clamping: max(128, limits.maximumConnections)))
        let (stream, continuation) = AsyncStream.makeStream(of: AcceptedConnection.self)
        let acceptor: Acceptor
        do {
            acceptor = try Acceptor(socket: socket, gate: gate, logger: logger, continuation: continuation)
        } catch {
            socket.removeFile()
            throw error
        }
        serving()
        acceptor.start()
        logger.info("serving on \(settings.path)")
        let connections = self.connections
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    for await connection in stream {
                        group.addTask { await self.serve(connection) }
                    }
                }
            } onCancel: {
                acceptor.stop()
            }
        } onGracefulShutdown: {
            acceptor.stop()
            connections.quiesce()
        }
        socket.removeFile()
        // A loop that stopped on its own is a failure of the service, not an end.
        if let failure = acceptor.stoppedBy { throw failure }
        logger.info("stopped serving on \(settings.path)")
    }

    private func serve(_ connection: AcceptedConnection) async {
        defer { gate.leave() }
        let peer = connection.peer
        if case .failure(let error) = peer {
            logger.warning("a local connection is refused: \(error)")
        }
        let limits = self.limits
        let logger = self.logger
        let http1 = HTTP1Channel(
            responder: { [handler] request, writer, _ in
                try await Self.respond(to: request, writer: writer, peer: peer, limits: limits, handler: handler)
            },
            configuration: .init(
                additionalChannelHandlers: [
                    RequestBodyLimitHandler(
                        maximumBody: limits.maximumBody, maximumStreamedBody: limits.maximumStreamedBody,
                        streamedPaths: limits.streamedPaths)
                ],
                idleTimeout: .nanoseconds(Int64(limits.idleSeconds * 1e9))))
        let deadline = TimeAmount.nanoseconds(Int64(limits.requestDeadlineSeconds * 1e9))
        let pace = StreamedBodyPace(stall: deadline, minimumBytesPerSecond: limits.minimumStreamedBytesPerSecond)
        do {
            let value = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .withConnectedSocket(connection.descriptor) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            RequestDeadlineHandler(deadline: deadline, pace: pace, logger: logger))
                    }.flatMap { http1.setup(channel: channel, logger: logger) }
                }
            let key = connections.add(value.channel)
            defer { connections.remove(key) }
            await http1.handle(value: value, logger: logger)
        } catch {
            logger.warning("a local connection could not be set up: \(error)")
        }
    }

    private static func respond(
        to request: Request, writer: consuming ResponseWriter, peer: Result<PeerCredentials, LocalServerError>,
        limits: LocalServerLimits, handler: Handler
    ) async throws {
        let response: LocalResponse
        let streamed = RequestBodyLimitHandler.isStreamed(request.head.path, among: limits.streamedPaths)
        switch peer {
        case .failure(let error):
            response = .error(status: 403, code: "no-credentials", message: "refused: \(error.message)")
            if streamed {
                // An upload's body is not read for a caller nobody named.
                try await write(response.closing, to: writer)
                throw UnreadBody()
            }
        case .success(let peer) where streamed:
            let stream = LocalRequestBody(
                request.body, declaredLength: request.headers[.contentLength].flatMap { Int64($0) })
            response = await handler(LocalRequest(request, bodyStream: stream), peer)
            if !stream.wasReadToTheEnd {
                // Answered before the body's end (a refusal, a failure): the rest is not read.
                try await write(response.closing, to: writer)
                throw UnreadBody()
            }
        case .success(let peer):
            // The body limit handler has already refused a larger body; this is the second fence.
            var body = [UInt8]()
            for try await buffer in request.body {
                guard body.count + buffer.readableBytes <= limits.maximumBody else {
                    throw RequestBodyLimitHandler.TooLarge()
                }
                body += buffer.readableBytesView
            }
            if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared != body.count {
                throw RequestBodyLimitHandler.Incomplete()
            }
            response = await handler(LocalRequest(request, body: body), peer)
        }
        guard (200...599).contains(response.status) else {
            // HTTPTypes traps on a code over 999, and a 1xx is no final answer: the handler's fault.
            let fault = LocalResponse.error(
                status: 500, code: "internal", message: "the handler answered with status \(response.status)")
            try await write(fault, to: writer)
            return
        }
        try await write(response, to: writer)
    }

    /// Ends a connection whose streamed body was not read to its end, after its answer.
    struct UnreadBody: Error {}

    private static func write(_ response: LocalResponse, to writer: consuming ResponseWriter) async throws {
        var fields = HTTPFields()
        fields[.contentType] = response.contentType
        if response.closesConnection { fields[.connection] = "close" }
        let status = HTTPResponse.Status(code: response.status)
        switch response.body {
        case .bytes(let bytes):
            fields[.contentLength] = "\(bytes.count)"
            try await writer.write(
                response: HTTPResponse(status: status, headerFields: fields),
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .stream(let stream):
            var body = try await writer.writeHead(HTTPResponse(status: status, headerFields: fields))
            for try await chunk in stream where !chunk.isEmpty {
                try await body.write(ByteBuffer(bytes: chunk))
            }
            try await body.finish(nil)
        }
    }
}

/// The connections being served, to tell them to finish at shutdown.
private final class Connections: Sendable {
    private struct State {
        var next = 0
        var channels: [Int: any Channel] = [:]
        var quiescing = false
    }
    private let state = Mutex(State())

    func add(_ channel: any Channel) -> Int {
        let (key, quiescing) = state.withLock { state in
            state.next += 1
            state.channels[state.next] = channel
            return (state.next, state.quiescing)
        }
        if quiescing { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        return key
    }

    func remove(_ key: Int) { _ = state.withLock { $0.channels.removeValue(forKey: key) } }

    /// Idle connections close now, busy ones after their answer.
    func quiesce() {
        let channels = state.withLock { state in
            state.quiescing = true
            return Array(state.channels.values)
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }
}
