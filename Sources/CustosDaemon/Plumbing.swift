import CustosFormats
import Foundation

/// A FIFO queue between threads: `pop` blocks (with a timeout) until an element comes or the queue
/// is closed. The daemon's threads hand work and results through these, never through Swift's
/// cooperative pool, so blocking calls (reads, fsync, SQLite) never starve it.
/// Sendable: every stored property is read and written under `condition`.
final class BlockingQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    /// Taken elements are set to nil at once: a slot not yet compacted away must not keep what
    /// its element holds (a request's closure and its megabyte of an upload, a sealed file).
    private var items: [Element?] = []
    private var head = 0
    private var closed = false

    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count - head
    }

    /// Adds `element`; with `limit`, first waits while `limit` elements are waiting (back-pressure
    /// from a slower consumer keeps memory bounded).
    func push(_ element: Element, limit: Int = .max) {
        condition.lock()
        while items.count - head >= limit, !closed { condition.wait() }
        items.append(element)
        condition.broadcast()
        condition.unlock()
    }

    /// The next element; nil when `timeout` seconds pass first or the queue is closed and empty.
    func pop(timeout: Double) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while head == items.count {
            if closed || !condition.wait(until: deadline) { break }
        }
        guard head < items.count else { return nil }
        return take()
    }

    /// Up to `limit` elements that are waiting now, without blocking.
    func drain(limit: Int) -> [Element] {
        condition.lock()
        defer { condition.unlock() }
        var taken = [Element]()
        while head < items.count, taken.count < limit { taken.append(take()) }
        return taken
    }

    var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    /// Wakes every waiter; `pop` then returns what is left, then nil.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    private func take() -> Element {
        let element = items[head].take()!
        head += 1
        condition.broadcast()  // Room for a producer waiting on its limit.
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024, head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }
}

/// A flag set once by another thread (a stop request), with a wait that wakes when it is set.
/// Sendable: `set` is read and written under `condition`.
final class StopSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var set = false

    var isSet: Bool {
        condition.lock()
        defer { condition.unlock() }
        return set
    }

    func raise() {
        condition.lock()
        set = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits up to `seconds`; true when the flag is set.
    func wait(seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !set {
            if !condition.wait(until: deadline) { break }
        }
        return set
    }
}

/// Runs `body` on a new thread of its own and waits for its result without holding a
/// cooperative thread.
func runOnThread<T: Sendable>(name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let thread = Thread {
            do {
                continuation.resume(returning: try body())
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.name = name
        thread.start()
    }
}
