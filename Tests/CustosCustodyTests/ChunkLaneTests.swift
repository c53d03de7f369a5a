import Foundation
import Testing

@testable import CustosCustody

/// The chunks a bundle's pass shares with the threads beside it: every reader sees every byte in
/// order, a reader that stops early never holds the pass, and every chunk goes back to its pool.
@Suite("chunk lanes", .timeLimit(.minutes(1)))
struct ChunkLaneTests {
    /// Puts `chunks` chunks of a counter's bytes through `works`, then ends their lanes.
    func pass(_ pool: ChunkPool, chunks: Int, into works: [LaneWork<[UInt8]>]) {
        for index in 0..<chunks {
            let chunk = pool.take()
            for offset in 0..<100 { chunk.storage[offset] = UInt8(truncatingIfNeeded: index + offset) }
            chunk.share(count: 100, holders: works.count + 1)
            for work in works { work.lane.put(chunk) }
            chunk.release()
        }
        for work in works { work.lane.put(nil) }
    }

    @Test func everyReaderSeesEveryByteInOrderAndTheChunksComeBack() {
        let pool = ChunkPool(count: 4, size: 128)
        let works = (0..<3).map { _ in
            LaneWork<[UInt8]>(capacity: 2) { lane in
                var seen = [UInt8]()
                while let chunk = lane.take() {
                    seen += chunk.bytes
                    chunk.release()
                }
                return seen
            }
        }
        pass(pool, chunks: 500, into: works)
        var expected = [UInt8]()
        for index in 0..<500 { expected += (0..<100).map { UInt8(truncatingIfNeeded: index + $0) } }
        for work in works { #expect(work.wait() == expected) }
        #expect(works[0].wait() == expected)  // a value is given any number of times
        // All four chunks are free again (taking them never waits).
        let taken = (0..<4).map { _ in pool.take() }
        for chunk in taken { chunk.share(count: 0, holders: 0) }
    }

    @Test func aReaderThatStopsEarlyNeverHoldsThePass() {
        let pool = ChunkPool(count: 4, size: 128)
        let quitter = LaneWork<[UInt8]>(capacity: 2) { lane in
            let first = lane.take()
            defer { first?.release() }
            return Array(first?.bytes ?? UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let reader = LaneWork<[UInt8]>(capacity: 2) { lane in
            var count = 0
            while let chunk = lane.take() {
                count += chunk.bytes.count
                chunk.release()
            }
            return [UInt8(count / 100 % 256)]
        }
        pass(pool, chunks: 300, into: [quitter, reader])
        #expect(quitter.wait().count == 100)
        #expect(reader.wait() == [UInt8(300 % 256)])
        let taken = (0..<4).map { _ in pool.take() }
        for chunk in taken { chunk.share(count: 0, holders: 0) }
    }
}
