import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// What the body limit handler (after the HTTP decoder) tells the deadline handler (before it),
/// as outbound user events.
enum RequestProgress: Sendable {
    case started
    case complete
}

/// Closes a connection whose request has not fully arrived within the deadline: counted from
/// the connection, or from the first byte of each later request. It sits first in the pipeline,
/// so it sees raw bytes: a head sent one byte a second is cut off too.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let deadline: TimeAmount
    private let logger: Logger
    /// Armed while a request is awaited or arriving; between a request's end and the next byte
    /// the idle timeout applies instead.
    private var timer: Scheduled<Void>?

    init(deadline: TimeAmount, logger: Logger) {
        self.deadline = deadline
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context) }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if timer == nil { arm(context) }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? RequestProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch progress {
        case .started:
            if timer == nil { arm(context) }
        case .complete:
            disarm()
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

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

/// Stops a body over the limit: a Content-Length over it is answered 413 before the request
/// reaches the handler; a chunked body that grows over it is failed (the handler never sees it)
/// and answered 413. Either way the connection is closed and the rest is never read.
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
    private var received = 0
    private var inRequest = false
    private var rejected = false

    init(maximumBody: Int) { self.maximumBody = maximumBody }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !rejected else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            received = 0
            inRequest = true
            context.triggerUserOutboundEvent(RequestProgress.started, promise: nil)
            if let length = head.headerFields[.contentLength].flatMap({ Int($0) }), length > maximumBody {
                reject(context, forwarded: false)
                return
            }
        case .body(let buffer):
            received += buffer.readableBytes
            if received > maximumBody {
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

    private func reject(_ context: ChannelHandlerContext, forwarded: Bool) {
        rejected = true
        inRequest = false
        // The handler has the head already: fail its body so it never runs on part of it.
        if forwarded { context.fireErrorCaught(TooLarge()) }
        let body = LocalResponse.errorDocument(
            code: "too-large", message: "the request body is larger than \(maximumBody) bytes")
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        fields[.contentLength] = "\(body.count)"
        fields[.connection] = "close"
        context.write(
            wrapOutboundOut(.head(HTTPResponse(status: .contentTooLarge, headerFields: fields))), promise: nil)
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
