import Foundation
import Testing

@testable import CustosDaemon

/// A counter the producer thread and the test share.
private final class Count: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    private var failure: (any Error)?

    func add() { lock.withLock { value += 1 } }
    var current: Int { lock.withLock { value } }
    func fail(_ error: any Error) { lock.withLock { failure = error } }
    var error: (any Error)? { lock.withLock { failure } }
}

@Suite("the daemon's streamed answers: a blocking producer, back-pressure, a client gone", .timeLimit(.minutes(1)))
struct ChunkFeedTests {
    @Test func theProducerWaitsWhileItsChunksAreNotTakenAndAllArriveInOrder() async throws {
        let feed = ChunkFeed(capacity: 4)
        let stream = feed.stream
        let sent = Count()
        let producer = Thread {
            do {
                for index in 0..<64 {
                    try feed.send([UInt8(index)])
                    sent.add()
                }
            } catch { sent.fail(error) }
            feed.finish()
        }
        producer.start()
        // Nothing taken yet: the producer gets as far ahead as the capacity allows (however slowly
        // its thread runs), and no further.
        let deadline = ContinuousClock.now + .seconds(30)
        while sent.current < 4 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(sent.current == 4)
        var received = [UInt8]()
        for try await chunk in stream { received += chunk }
        #expect(received == (0..<64).map { UInt8($0) })
        #expect(sent.current == 64 && sent.error == nil)
    }

    @Test func aStreamDroppedByTheServerStopsTheProducer() async throws {
        let feed = ChunkFeed(capacity: 2)
        var stream: AsyncThrowingStream<[UInt8], any Error>? = feed.stream
        let sent = Count()
        let producer = Thread {
            do {
                while true {
                    try feed.send([1, 2, 3])
                    sent.add()
                }
            } catch { sent.fail(error) }
        }
        producer.start()
        var iterator = stream?.makeAsyncIterator()
        _ = try await iterator?.next()
        // The connection closes: the server drops its stream.
        iterator = nil
        stream = nil
        let deadline = ContinuousClock.now + .seconds(10)
        while sent.error == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(sent.error is ClientGone, "\(String(describing: sent.error))")
        #expect(sent.current <= 3)
    }
}
