import Foundation
import Testing

@testable import CustosCustody

/// The chunks a bundle's pass shares with the threads beside it: every reader sees every byte in
/// order, a reader that stops early never holds the pass, and every chunk goes back to its pool.
@Suite("chunk lanes", .timeLimit(.minutes(1)))
struct ChunkLaneTests {
    /// Puts `chunks` chunks of a counter's bytes through `works`, then ends their lanes.
    func pass<Value>(_ pool: ChunkPool, chunks: Int, into works: [LaneWork<Value>]) {
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

    /// A comparison of bytes given in pieces of other sizes than the chunks': equal only for the
    /// same bytes, all of them; a stop at the first difference, then the lane drained by its work.
    @Test(arguments: [
        ("the same", 0), ("one byte changed", 1), ("one byte short", 2), ("one byte more", 3), ("none", 4),
    ])
    func aComparisonWithTheLaneSeesEveryDifference(_ label: String, _ change: Int) {
        var expected = [UInt8]()
        for index in 0..<50 { expected += (0..<100).map { UInt8(truncatingIfNeeded: index + $0) } }
        var given = expected
        switch change {
        case 1: given[2_345] ^= 1
        case 2: given.removeLast()
        case 3: given.append(0)
        case 4: given = []
        default: break
        }
        let pool = ChunkPool(count: 4, size: 128)
        let work = LaneWork<Bool>(capacity: 2) { [given] lane in
            let comparison = LaneComparison(lane)
            var offset = 0
            while offset < given.count {
                let count = min(37, given.count - offset)
                given[offset..<(offset + count)].withUnsafeBytes { comparison.compare($0) }
                offset += count
            }
            return comparison.finish()
        }
        pass(pool, chunks: 50, into: [work])
        #expect(work.wait() == (change == 0), "\(label)")
        let taken = (0..<4).map { _ in pool.take() }
        for chunk in taken { chunk.share(count: 0, holders: 0) }
    }
}
