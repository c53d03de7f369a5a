import CustosCustody
import CustosFormats
import CustosLedger
import CustosLocalServer
import CustosService
import Foundation

/// A call whose file is streamed on the daemon's socket (Docs/Protocol.md), written once for
/// `extract` (one original), `transfer` (a handover file) and `bundle` (a court bundle). The
/// call runs on one of the daemon's request threads from start to end: the role check and the
/// plan (a failure is an ordinary JSON reply), then the shared workflow (`serve`) hands the
/// file's header to `open`, which answers with the stream and gives the `SocketSink` its bytes
/// go to; the sink feeds the answer's stream a few chunks ahead of the socket at most
/// (`ChunkFeed`): the reads block that thread, never a cooperative one, and memory stays flat
/// whatever the file's size. The bytes end (early when the workflow stopped), then the trailer
/// (the call's reply) follows. A call that never opens the stream is answered with its reply.
enum FileStreaming {
    /// Chunks sent but not yet taken by the server, at most.
    static let chunksAhead = 8

    /// `serve` runs the call for the caller the kernel named; `open` begins the stream with its
    /// header (the answer's content type `contentType`).
    static func respond<Header: StreamedFileHeader>(
        contentType: String, peer: PeerCredentials, threads: RequestThreads,
        serve: @escaping @Sendable (Caller, _ open: (Header) throws -> SocketSink) -> ServiceReply
    ) async -> LocalResponse {
        guard threads.waiting < RequestThreads.maximumWaiting else { return SocketService.busy() }
        return await withCheckedContinuation { (continuation: CheckedContinuation<LocalResponse, Never>) in
            let answer = Answer(continuation)
            Task {
                await threads.run {
                    let caller = Caller.peer(pid: peer.pid, uid: peer.uid, gid: peer.gid, groups: peer.groups)
                    let feed = ChunkFeed(capacity: chunksAhead)
                    var sink: SocketSink?
                    let reply = serve(caller) { header in
                        answer.give(LocalResponse(status: 200, contentType: contentType, body: .stream(feed.stream)))
                        let opened = SocketSink(feed: feed)
                        sink = opened
                        try feed.send(ExtractionWire.header(header))
                        return opened
                    }
                    guard let sink else {
                        answer.give(SocketService.reply(reply))
                        return
                    }
                    // The bytes ended (early when the workflow stopped), then the outcome.
                    sink.close()
                    try? feed.send(ExtractionWire.trailer(reply))
                    feed.finish()
                }
            }
        }
    }

    /// `extract` of one original: the shared workflow is `CustodyService.extract`
    /// (`CustodySession.takeOut`), which reads the archive and re-hashes the original.
    static func extract(
        _ call: ServiceCall, peer: PeerCredentials, service: CustodyService, threads: RequestThreads
    ) async -> LocalResponse {
        await respond(contentType: ExtractionWire.contentType, peer: peer, threads: threads) {
            (caller, open: (ExtractionHeader) throws -> SocketSink) in
            service.extract(call, as: caller) { plan in
                guard let header = ExtractionHeader(plan) else {
                    throw ServiceFailure(
                        .faultFound, "item \(plan.record.item): its sealed entry lacks digests; run custos verify")
                }
                return try open(header)
            }
        }
    }

    /// `transfer`: the handover file, built and recorded by the shared workflow
    /// (`CustodyService.transfer`, `CustodySession.transfer`) in the vault's `tmp/`.
    static func transfer(
        _ call: ServiceCall, peer: PeerCredentials, service: CustodyService, threads: RequestThreads
    ) async -> LocalResponse {
        await respond(contentType: ExtractionWire.transferContentType, peer: peer, threads: threads) {
            (caller, open: (BuiltFileHeader) throws -> SocketSink) in
            service.transfer(call, as: caller, open: open)
        }
    }

    /// `bundle`: the court bundle, built and recorded by the shared workflow
    /// (`CustodyService.exportBundle`, `CustodySession.exportCourtBundle`) in the vault's `tmp/`.
    static func bundle(
        _ call: ServiceCall, peer: PeerCredentials, service: CustodyService, threads: RequestThreads
    ) async -> LocalResponse {
        await respond(contentType: ExtractionWire.bundleContentType, peer: peer, threads: threads) {
            (caller, open: (BuiltFileHeader) throws -> SocketSink) in
            service.exportBundle(call, as: caller, open: open)
        }
    }

    /// The handler's answer, given once: the stream when the bytes begin, else the reply.
    final class Answer: @unchecked Sendable {
        private let lock = NSLock()
        private var continuation: CheckedContinuation<LocalResponse, Never>?

        init(_ continuation: CheckedContinuation<LocalResponse, Never>) { self.continuation = continuation }

        func give(_ response: LocalResponse) {
            lock.lock()
            let waiting = continuation
            continuation = nil
            lock.unlock()
            waiting?.resume(returning: response)
        }
    }
}

/// The daemon's sink: the file's bytes (an original, a handover, a bundle) as frames on the
/// answer's stream.
final class SocketSink: ExtractionSink, BuiltFileSink {
    let feed: ChunkFeed
    private var ended = false

    init(feed: ChunkFeed) { self.feed = feed }

    func begin(_ plan: ExtractionPlan) throws {}

    func write(_ bytes: UnsafeRawBufferPointer) throws { try feed.send(ExtractionWire.frames(bytes)) }

    func end(verified: Bool) throws {
        guard !ended else { return }
        ended = true
        try feed.send(ExtractionWire.end)
    }

    func recorded(_ outcome: ExtractionOutcome) throws {}

    func abandon(_ error: any Error) {}

    /// Ends the bytes when the workflow did not (it stopped before them, or mid-way).
    func close() {
        guard !ended else { return }
        ended = true
        try? feed.send(ExtractionWire.end)
    }
}

/// The client went away while the original's bytes were being sent: some may have left.
struct ClientGone: ExtractionDeliveryFailure, CustomStringConvertible {
    var fault: String { "not-delivered" }
    var description: String { "the client closed the connection before the original's bytes were all sent" }
}

/// A bounded hand-off from a request thread (which blocks) to the server's stream (which
/// awaits): `send` waits while `capacity` chunks are sent and not yet taken, so the producer is
/// never more than that ahead of the socket. When the server drops the stream (the connection
/// closed), `send` throws `ClientGone`. Sendable: its state is guarded by `condition`.
final class ChunkFeed: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var queue = [[UInt8]]()
    private var waiter: CheckedContinuation<[UInt8]?, any Error>?
    private var finished = false
    private var gone = false

    init(capacity: Int) { self.capacity = capacity }

    /// The answer's stream (take it once): each element a chunk sent.
    var stream: AsyncThrowingStream<[UInt8], any Error> {
        let consumer = Consumer(self)
        return AsyncThrowingStream(unfolding: { try await consumer.next() })
    }

    /// Sends a chunk, waiting while `capacity` are not yet taken.
    func send(_ chunk: [UInt8]) throws {
        condition.lock()
        while queue.count >= capacity && !gone {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 1))
        }
        if gone {
            condition.unlock()
            throw ClientGone()
        }
        if let waiting = waiter {
            waiter = nil
            condition.unlock()
            waiting.resume(returning: chunk)
            return
        }
        queue.append(chunk)
        condition.unlock()
    }

    /// No more chunks: the stream ends once those sent are taken.
    func finish() {
        condition.lock()
        finished = true
        let waiting = waiter
        waiter = nil
        condition.unlock()
        waiting?.resume(returning: nil)
    }

    /// The next chunk, nil at the end.
    fileprivate func next() async throws -> [UInt8]? {
        if case .ready(let chunk) = take() { return chunk }
        return try await withCheckedThrowingContinuation { continuation in
            if case .ready(let chunk) = take(orWait: continuation) { continuation.resume(returning: chunk) }
        }
    }

    private enum Taken {
        /// A chunk, or nil at the end.
        case ready([UInt8]?)
        case waiting
    }

    /// A chunk (or the end) when there is one; otherwise `continuation` waits for the next.
    private func take(orWait continuation: CheckedContinuation<[UInt8]?, any Error>? = nil) -> Taken {
        condition.lock()
        defer { condition.unlock() }
        if !queue.isEmpty {
            condition.signal()
            return .ready(queue.removeFirst())
        }
        if finished { return .ready(nil) }
        if let continuation { waiter = continuation }
        return .waiting
    }

    fileprivate func consumerGone() {
        condition.lock()
        gone = true
        condition.broadcast()
        condition.unlock()
    }

    /// Lets the feed know when the server has dropped its stream.
    private final class Consumer: @unchecked Sendable {
        let feed: ChunkFeed
        init(_ feed: ChunkFeed) { self.feed = feed }
        func next() async throws -> [UInt8]? { try await feed.next() }
        deinit { feed.consumerGone() }
    }
}
