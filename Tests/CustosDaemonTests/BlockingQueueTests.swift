import Foundation
import Testing

@testable import CustosDaemon

/// Something whose release the test can see.
private final class Payload: @unchecked Sendable {
    let bytes = [UInt8](repeating: 1, count: 1 << 20)
}

@Suite("the daemon's blocking queue")
struct BlockingQueueTests {
    /// An element taken is no longer held by the queue, even while other elements wait behind it
    /// (an upload's megabytes handed to its thread, a sealed file): before, taken elements stayed
    /// in the queue's storage until 1,024 of them had been taken, and an upload of 512 MiB kept
    /// 512 MiB in memory.
    @Test func aTakenElementIsReleasedAtOnce() {
        let queue = BlockingQueue<Payload>()
        weak var first: Payload?
        weak var second: Payload?
        do {
            let a = Payload()
            let b = Payload()
            first = a
            second = b
            queue.push(a)
            queue.push(b)
            queue.push(Payload())
        }
        _ = queue.pop(timeout: 1)
        #expect(first == nil, "the first element is released once taken")
        #expect(second != nil && queue.count == 2)
        _ = queue.drain(limit: 10)
        #expect(second == nil && queue.count == 0)
    }

    @Test func theQueueKeepsItsOrderAcrossManyPushesAndPops() {
        let queue = BlockingQueue<Int>()
        var taken = [Int]()
        for round in 0..<3000 {
            queue.push(round)
            if round % 3 == 2 { taken += queue.drain(limit: 2) }
        }
        taken += queue.drain(limit: .max)
        #expect(taken == Array(0..<3000))
    }
}
