import CustosFileSystem
import CustosOpenSSL
import Dispatch
import Foundation

/// Reads a file once and hands every chunk to several consumers running on their own threads
/// (SHA-256 with SHA-1, MD5, the archive writer), so one pass runs near the speed of the slowest
/// consumer instead of the sum of them. Memory is bounded by the ring of buffers, whatever the
/// file size.
final class OnePass: @unchecked Sendable {
    /// A consumer of chunks, called in order on one thread of its own.
    typealias Consumer = (UnsafeRawBufferPointer) throws -> Void

    static let chunkSize = 1 << 20
    static let bufferCount = 8

    private let buffers: [UnsafeMutableRawBufferPointer]
    private let lock = NSLock()
    private var firstError: (any Error)?

    init() {
        buffers = (0..<Self.bufferCount).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 64)
        }
    }

    deinit { for buffer in buffers { buffer.deallocate() } }

    private func fail(_ error: any Error) {
        lock.lock()
        if firstError == nil { firstError = error }
        lock.unlock()
    }

    private var failure: (any Error)? {
        lock.lock()
        defer { lock.unlock() }
        return firstError
    }

    /// Reads `file` to its end, feeding each consumer. Returns the byte count read.
    /// Throws the first error of the reader or of any consumer.
    func run(file: FileDescriptor, consumers: [Consumer]) throws -> Int64 {
        let lanes = consumers.enumerated().map { DispatchQueue(label: "custos.onepass.\($0.offset)") }
        let free = DispatchSemaphore(value: Self.bufferCount)
        let group = DispatchGroup()
        var total: Int64 = 0
        var chunkIndex = 0
        defer {
            // Every lane must be done with the buffers before they are freed.
            group.wait()
        }
        while failure == nil {
            free.wait()
            let buffer = buffers[chunkIndex % Self.bufferCount]
            let count: Int
            do {
                count = try file.read(into: buffer)
            } catch {
                free.signal()
                throw error
            }
            if count == 0 {
                free.signal()
                break
            }
            total += Int64(count)
            chunkIndex += 1
            // The chunk and the consumers cross to the lane threads: each consumer is used by its own
            // lane only, and the buffer is not reused until every lane has released it.
            let chunk = Unchecked(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            let remaining = Countdown(consumers.count)
            for (lane, consume) in zip(lanes, consumers.map(Unchecked.init)) {
                group.enter()
                lane.async {
                    if self.failure == nil {
                        do { try consume.value(chunk.value) } catch { self.fail(error) }
                    }
                    if remaining.decrement() { free.signal() }
                    group.leave()
                }
            }
        }
        group.wait()
        if let failure { throw failure }
        return total
    }
}

/// Counts down the consumers still using a buffer.
private final class Countdown: @unchecked Sendable {
    private var value: Int
    private let lock = NSLock()

    init(_ value: Int) { self.value = value }

    /// True for the call that reached zero.
    func decrement() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        value -= 1
        return value == 0
    }
}

/// Carries a value to another thread where the code guarantees exclusive use by other means.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A digest fed on a thread of its own, so hashing the archive's output does not slow the
/// compressor. Chunks are copied into a fixed ring of buffers, so memory stays bounded and the
/// allocator is not churned across threads.
final class BackgroundDigest: @unchecked Sendable {
    private let digest: MessageDigest
    private let queue = DispatchQueue(label: "custos.background-digest")
    private let slots: DispatchSemaphore
    private let buffers: [UnsafeMutableRawBufferPointer]
    private var next = 0

    init(_ algorithm: DigestAlgorithm, buffers count: Int = 32, bufferSize: Int = 128 << 10) {
        digest = MessageDigest(algorithm)
        slots = DispatchSemaphore(value: count)
        buffers = (0..<count).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64) }
    }

    // Every queued closure holds `self`, so this runs only once they are all done (and may run
    // on the queue's own thread: it must not wait for the queue).
    deinit { for buffer in buffers { buffer.deallocate() } }

    /// Queues a copy of `bytes` (called from one thread: the archive writer's).
    func update(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            slots.wait()
            let buffer = buffers[next]
            next = (next + 1) % buffers.count
            let count = min(buffer.count, bytes.count - offset)
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
            offset += count
            let chunk = Unchecked(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            queue.async {
                self.digest.update(chunk.value)
                self.slots.signal()
            }
        }
    }

    /// Waits for every queued chunk and returns the digest.
    func finish() -> [UInt8] {
        queue.sync { digest.finish() }
    }
}
