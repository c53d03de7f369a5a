import CustosFileSystem
import CustosOpenSSL
import Dispatch
import Foundation
import Synchronization

/// Reads a file once and hands every chunk to several consumers running on their own threads
/// (SHA-256 with SHA-1, MD5, the archive writer), so one pass runs near the speed of the slowest
/// consumer instead of the sum of them. Memory is bounded by the ring of buffers, whatever the
/// file size.
/// Sendable: shared with its lanes; buffers are handed on by semaphore and group, `firstError` is behind `lock`.
final class OnePass: @unchecked Sendable {
    /// A consumer of chunks, called in order on one thread of its own.
    typealias Consumer = (UnsafeRawBufferPointer) throws -> Void

    static let chunkSize = 1 << 20
    static let bufferCount = 8

    private let buffers: [UnsafeMutableRawBufferPointer]
    private let lock = NSLock()
    private var firstError: (any Error)?
    /// A small file is read and consumed on the caller's thread: handing a single chunk to
    /// other threads would cost more than its work.
    let inline: Bool

    /// Buffers for a file of `expectedSize` bytes: a ring of 8 × 1 MiB, or for a small file two
    /// buffers just larger than it (a small file is read in one chunk and costs little memory).
    init(expectedSize: Int64 = .max) {
        let small = expectedSize < Int64(Self.chunkSize)
        inline = small
        let chunk = small ? Int((expectedSize + 1 + 4095) / 4096 * 4096) : Self.chunkSize
        buffers = (0..<(small ? 2 : Self.bufferCount)).map { _ in
            UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
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
        if inline { return try runInline(file: file, consumers: consumers) }
        let lanes = consumers.enumerated().map { DispatchQueue(label: "custos.onepass.\($0.offset)") }
        let free = DispatchSemaphore(value: buffers.count)
        let group = DispatchGroup()
        var total: Int64 = 0
        var chunkIndex = 0
        defer {
            // Every lane must be done with the buffers before they are freed.
            group.wait()
        }
        while failure == nil {
            free.wait()
            let buffer = buffers[chunkIndex % buffers.count]
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

extension OnePass {
    /// The same pass on this thread alone, consumers called in order.
    private func runInline(file: FileDescriptor, consumers: [Consumer]) throws -> Int64 {
        var total: Int64 = 0
        while true {
            let count = try file.read(into: buffers[0])
            if count == 0 { return total }
            total += Int64(count)
            let chunk = UnsafeRawBufferPointer(rebasing: buffers[0][..<count])
            for consume in consumers { try consume(chunk) }
        }
    }
}

/// Counts down the consumers still using a buffer.
private final class Countdown: Sendable {
    private let value: Mutex<Int>

    init(_ value: Int) { self.value = Mutex(value) }

    /// True for the call that reached zero.
    func decrement() -> Bool {
        value.withLock { value in
            value -= 1
            return value == 0
        }
    }
}

/// Carries a value to another thread where the code guarantees exclusive use by other means.
/// Sendable: unchecked by design; at each use a semaphore or a group gives one thread at a time the value.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// A digest fed on a thread of its own, so hashing the archive's output does not slow the
/// compressor. Chunks are copied into a fixed ring of buffers, so memory stays bounded and the
/// allocator is not churned across threads.
/// Sendable: `digest` is used on `queue` only; the ring is the caller's, its slots handed on by semaphore.
final class BackgroundDigest: @unchecked Sendable {
    private let digest: MessageDigest
    private let queue = DispatchQueue(label: "custos.background-digest")
    private let slots: DispatchSemaphore
    private let bufferSize: Int
    /// Allocated when first used: a small archive needs one.
    private var buffers: [UnsafeMutableRawBufferPointer?]
    private var next = 0
    /// Hash on the caller's thread (for a small archive).
    private let inline: Bool

    init(_ algorithm: DigestAlgorithm, inline: Bool = false, buffers count: Int = 32, bufferSize: Int = 128 << 10) {
        digest = MessageDigest(algorithm)
        self.inline = inline
        slots = DispatchSemaphore(value: count)
        self.bufferSize = bufferSize
        buffers = Array(repeating: nil, count: count)
    }

    // Every queued closure holds `self`, so this runs only once they are all done (and may run
    // on the queue's own thread: it must not wait for the queue).
    deinit { for buffer in buffers { buffer?.deallocate() } }

    /// Queues a copy of `bytes` (called from one thread: the archive writer's).
    func update(_ bytes: UnsafeRawBufferPointer) {
        if inline {
            digest.update(bytes)
            return
        }
        var offset = 0
        while offset < bytes.count {
            slots.wait()
            if buffers[next] == nil {
                buffers[next] = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
            }
            let buffer = buffers[next]!
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
        if inline { return digest.finish() }
        return queue.sync { digest.finish() }
    }
}
