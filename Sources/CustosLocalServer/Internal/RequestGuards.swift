import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// What the body limit handler (after the HTTP decoder) tells the deadline handler (before it),
/// as outbound user events.
enum RequestProgress: Sendable {
    case started
    /// The head has arrived and the body is streamed to the handler (an upload): from here the
    /// body only has to keep coming (`StreamedBodyPace`) until `complete`.
    case streaming
    case complete
}

/// How a streamed body must keep coming. Only the time the server waits for bytes counts (a
/// read asked for and not yet answered): while the handler is busy with what came (the pipeline
/// withholds its reads), the client is not to blame.
struct StreamedBodyPace {
    /// No byte for this long while one is awaited: the connection is closed.
    var stall: TimeAmount
    /// Over each `stall` of waiting, fewer bytes than this a second closes the connection (a body
    /// sent one byte a second). Each window is judged on its own: a fast start buys no credit
    /// for a trickle after.
    var minimumBytesPerSecond: Int
}

/// Closes a connection whose request has not fully arrived within the deadline: counted from
/// the connection, or from the first byte of each later request. It sits first in the pipeline,
/// so it sees raw bytes: a head sent one byte a second is cut off too. A streamed body (an
/// upload) is held to its pace instead (`StreamedBodyPace`) once its head has arrived.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let deadline: TimeAmount
    private let pace: StreamedBodyPace
    private let logger: Logger
    /// Armed while a request is awaited or arriving; between a request's end and the next byte
    /// the idle timeout applies instead. While a streamed body arrives: armed while a read is
    /// awaited, for `pace.stall`.
    private var timer: Scheduled<Void>?
    /// A streamed body is arriving.
    private var streaming = false
    /// Since when a read is awaited (streaming only).
    private var awaitingSince: NIODeadline?
    /// How long reads were awaited in all, and the bytes they brought (streaming only).
    private var waited = TimeAmount.zero
    private var streamedBytes = 0

    init(deadline: TimeAmount, pace: StreamedBodyPace, logger: Logger) {
        self.deadline = deadline
        self.pace = pace
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if streaming {
            if let since = awaitingSince {
                waited = waited + (NIODeadline.now() - since)
                awaitingSince = nil
                disarm()
            }
            streamedBytes += unwrapInboundIn(data).readableBytes
            if waited >= pace.stall {
                guard Double(streamedBytes) >= Double(pace.minimumBytesPerSecond) * Double(waited.nanoseconds) / 1e9
                else {
                    logger.notice(
                        "closed a local connection: its body came at \(streamedBytes) bytes in \(waited.nanoseconds / 1_000_000) ms of waiting, under \(pace.minimumBytesPerSecond) bytes a second"
                    )
                    context.close(promise: nil)
                    return
                }
                // The next window starts.
                waited = .zero
                streamedBytes = 0
            }
        } else if timer == nil {
            arm(context)
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        if streaming, awaitingSince == nil {
            awaitingSince = .now()
            armStall(context)
        }
        context.read()
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? RequestProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch progress {
        case .started:
            if timer == nil { arm(context) }
        case .streaming:
            disarm()
            streaming = true
            awaitingSince = nil
            waited = .zero
            streamedBytes = 0
        case .complete:
            disarm()
            streaming = false
            awaitingSince = nil
        }
        promise?.succeed()
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: deadline) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.logger.notice(
                "closed a local connection: its request did not arrive within \(handler.deadline.nanoseconds / 1_000_000) ms"
            )
            context.close(promise: nil)
        }
    }

    private func armStall(_ context: ChannelHandlerContext) {
        disarm()
        let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: pace.stall) {
            let (handler, context) = loopBound.value
            handler.timer = nil
            handler.logger.notice(
                "closed a local connection: no byte of its body came for \(handler.pace.stall.nanoseconds / 1_000_000) ms"
            )
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

/// Stops a body over the limit: a Content-Length over it is answered 413 before the request
/// reaches the handler; a chunked body that grows over it is failed (the handler never sees it)
/// and answered 413. Either way the connection is closed and the rest is never read. The limit
/// is `maximumStreamedBody` for the paths whose body is streamed (uploads), `maximumBody` else.
///
/// It also fails a request whose connection closes before its end, so a cut body never reads as
/// complete (HummingbirdCore's request body takes the end of the stream for the end of the body).
final class RequestBodyLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct TooLarge: Error {}
    struct Incomplete: Error {}

    private let maximumBody: Int
    private let maximumStreamedBody: Int64
    private let streamedPaths: Set<String>
    private var received: Int64 = 0
    /// The limit of the request being read.
    private var limit: Int64
    private var inRequest = false
    private var rejected = false

    init(maximumBody: Int, maximumStreamedBody: Int64, streamedPaths: Set<String>) {
        self.maximumBody = maximumBody
        self.maximumStreamedBody = maximumStreamedBody
        self.streamedPaths = streamedPaths
        self.limit = Int64(maximumBody)
    }

    /// Whether the body of a request for `target` (path and query) is streamed to the handler.
    static func isStreamed(_ target: String?, among paths: Set<String>) -> Bool {
        guard let target, !paths.isEmpty else { return false }
        return paths.contains(String(target.prefix { $0 != "?" }))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !rejected else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            received = 0
            inRequest = true
            let streamed = Self.isStreamed(head.path, among: streamedPaths)
            limit = streamed ? maximumStreamedBody : Int64(maximumBody)
            context.triggerUserOutboundEvent(RequestProgress.started, promise: nil)
            let length = head.headerFields[.contentLength].flatMap { Int64($0) }
            if let length, length > limit {
                reject(context, forwarded: false)
                return
            }
            if streamed, length == nil {
                // An upload says its length first: the server judges it (the room it needs)
                // before a byte of it.
                reject(
                    context, forwarded: false, status: .init(code: 411), code: "length-required",
                    message: "an upload must give its Content-Length")
                return
            }
            if streamed { context.triggerUserOutboundEvent(RequestProgress.streaming, promise: nil) }
        case .body(let buffer):
            received += Int64(buffer.readableBytes)
            if received > limit {
                reject(context, forwarded: true)
                return
            }
        case .end:
            inRequest = false
            context.triggerUserOutboundEvent(RequestProgress.complete, promise: nil)
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if inRequest, !rejected { context.fireErrorCaught(Incomplete()) }
        context.fireChannelInactive()
    }

    private func reject(
        _ context: ChannelHandlerContext, forwarded: Bool, status: HTTPResponse.Status = .contentTooLarge,
        code: String = "too-large", message: String? = nil
    ) {
        rejected = true
        inRequest = false
        // The handler has the head already: fail its body so it never runs on part of it.
        if forwarded { context.fireErrorCaught(TooLarge()) }
        let body = LocalResponse.errorDocument(
            code: code, message: message ?? "the request body is larger than \(limit) bytes")
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = "\(body.count)"
        fields[.connection] = "close"
        context.write(
            wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(context.channel.allocator.buffer(bytes: body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Once rejected, this handler's 413 is the only answer.
        guard !rejected else {
            promise?.fail(TooLarge())
            return
        }
        context.write(data, promise: promise)
    }
}
