import Foundation
import Synchronization

/// Buffers of one size, handed out and given back: the one pass reads into them, and the
/// threads beside it read the same bytes, without copying, until each is done with them. A
/// pass waits for a free buffer, so memory stays at `count` buffers whatever the input.
final class ChunkPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var free: [Chunk]

    init(count: Int, size: Int) {
        free = []
        free = (0..<count).map { _ in Chunk(size: size, pool: self) }
    }

    /// A free buffer; waits for one.
    func take() -> Chunk {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty { condition.wait() }
        return free.removeLast()
    }

    fileprivate func give(_ chunk: Chunk) {
        condition.lock()
        free.append(chunk)
        condition.signal()
        condition.unlock()
    }

    /// Frees the buffers (when every chunk is back).
    deinit {
        for chunk in free { chunk.storage.deallocate() }
    }
}

/// One buffer of a `ChunkPool`, and how many readers still hold it: the last to `release` it
/// gives it back. Its bytes are written once, before it is handed out, and only read after.
final class Chunk: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private let holders = Atomic<Int>(0)
    private unowned let pool: ChunkPool

    fileprivate init(size: Int, pool: ChunkPool) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        self.pool = pool
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }

    /// Fills the chunk with `count` bytes read into `storage`, for `holders` readers (none:
    /// given back at once).
    func share(count: Int, holders: Int) {
        self.count = count
        guard holders > 0 else {
            pool.give(self)
            return
        }
        self.holders.store(holders, ordering: .releasing)
    }

    /// A reader is done with it.
    func release() {
        if holders.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 { pool.give(self) }
    }
}

/// Chunks in order to one thread: `put` waits while `capacity` are waiting (a slower reader
/// holds the pass back rather than letting memory grow); `nil` ends the lane.
final class ChunkLane: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [Chunk?] = []
    private var head = 0
    private var ended = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func put(_ chunk: Chunk?) {
        condition.lock()
        while waiting.count - head >= capacity { condition.wait() }
        waiting.append(chunk)
        condition.broadcast()
        condition.unlock()
    }

    /// The next chunk, or nil at the lane's end (and after it).
    func take() -> Chunk? {
        condition.lock()
        defer { condition.unlock() }
        if ended { return nil }
        while head == waiting.count { condition.wait() }
        let chunk = waiting[head]
        if chunk == nil { ended = true }
        waiting[head] = nil
        head += 1
        if head == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            head = 0
        }
        condition.broadcast()
        return chunk
    }
}

/// Work on a thread of its own over the chunks of a lane: the pass puts chunks, then `nil`,
/// then waits for the value. Whatever the work leaves untaken is taken and released, so the
/// pass never waits for good.
final class LaneWork<Value: Sendable>: Sendable {
    let lane: ChunkLane
    private let value = Mutex<Value?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    init(capacity: Int, _ body: @escaping @Sendable (ChunkLane) -> Value) {
        let lane = ChunkLane(capacity: capacity)
        self.lane = lane
        let thread = Thread { [self] in
            let result = body(lane)
            while let chunk = lane.take() { chunk.release() }
            value.withLock { $0 = result }
            finished.signal()
        }
        thread.start()
    }

    /// The value, once the work is done (after the pass put the lane's end); any number of
    /// times.
    func wait() -> Value {
        finished.wait()
        finished.signal()
        guard let result = value.withLock({ $0 }) else { preconditionFailure("the work signalled no value") }
        return result
    }
}
