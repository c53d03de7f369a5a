import CZstd
import Dispatch
import Foundation

/// Compresses a byte stream into independent zstd frames of at most `frameSize` input bytes each,
/// on `workers` threads of its own, and hands the frames to `output` in order, on one thread at a
/// time. Concatenated frames are one valid zstd stream (RFC 8878 §3.1): `zstd -d`, `bsdtar` and
/// GNU `tar --zstd` read it as any other. Each frame carries its content size and checksum.
///
/// Compressible data (logs, documents) is no longer held to one core's pace, and memory is
/// bounded: `workers + 2` slots of one input and one output buffer, and a context per worker.
///
/// With no workers, each frame is compressed and written on the caller's thread (a small file).
///
/// Ownership: a slot is filled by the caller, compressed by one worker, written by the writer
/// queue, then freed; each hand-off goes through a queue or a semaphore, so no slot is touched by
/// two threads at once. A worker's context is used on that worker's queue only. `failed` and
/// `discarding` are guarded by a lock.
/// Sendable: shared with its queues; slots move by queue and semaphore, `failure` and `discarding` are behind `lock`.
final class ZstdFrameWriter: @unchecked Sendable {
    /// Writes one finished frame; false when the write failed (the caller keeps the errno).
    typealias Output = (UnsafeRawBufferPointer) -> Bool

    /// Owned by one stage at a time (filler, worker, writer), handed on by queue and semaphore.
    /// Sendable: one stage owns it at a time, and each hand-off (a queue, a semaphore) orders the accesses.
    private final class Slot: @unchecked Sendable {
        let input: UnsafeMutableRawBufferPointer
        let output: UnsafeMutableRawBufferPointer
        var filled = 0
        var compressed = 0
        var error: String?
        let done = DispatchSemaphore(value: 0)

        init(frameSize: Int) {
            input = .allocate(byteCount: frameSize, alignment: 64)
            output = .allocate(byteCount: ZSTD_compressBound(frameSize), alignment: 64)
        }

        deinit {
            input.deallocate()
            output.deallocate()
        }
    }

    private let level: Int32
    private let output: Output
    private let slots: [Slot]
    private let free: DispatchSemaphore
    private let workerQueues: [DispatchQueue]
    private let contexts: [OpaquePointer]
    private let writer = DispatchQueue(label: "custos.zstd.writer")
    private let lock = NSLock()
    private var failure: String?
    private var discarding = false
    /// The slot being filled by the caller, and how many frames were handed on.
    private var current: Slot?
    private var frames = 0

    init(level: Int32, workers: Int, frameSize: Int = 1 << 20, output: @escaping Output) throws {
        self.level = level
        self.output = output
        let contextCount = max(workers, 1)
        var contexts = [OpaquePointer]()
        for _ in 0..<contextCount {
            guard let context = ZSTD_createCCtx() else {
                for made in contexts { ZSTD_freeCCtx(made) }
                throw ZstdError("cannot allocate a zstd context")
            }
            contexts.append(context)
        }
        self.contexts = contexts
        workerQueues = (0..<workers).map { DispatchQueue(label: "custos.zstd.worker-\($0)") }
        slots = (0..<(workers == 0 ? 1 : workers + 2)).map { _ in Slot(frameSize: frameSize) }
        free = DispatchSemaphore(value: slots.count)
    }

    deinit {
        // Every job holds `self`: none is running any more. Free the contexts.
        for context in contexts { ZSTD_freeCCtx(context) }
    }

    /// The first failure (a write, or zstd itself), if any.
    var failed: String? { lock.withLock { failure } }

    private func fail(_ message: String) {
        lock.withLock { if failure == nil { failure = message } }
    }

    /// Takes the next bytes of the stream. False once anything failed: nothing more is written.
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            if failed != nil { return false }
            let slot = currentSlot()
            let count = min(slot.input.count - slot.filled, bytes.count - offset)
            UnsafeMutableRawBufferPointer(rebasing: slot.input[slot.filled..<slot.filled + count])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
            slot.filled += count
            offset += count
            if slot.filled == slot.input.count { handOn() }
        }
        return failed == nil
    }

    /// Compresses what is left and waits until every frame is written. False when anything failed.
    func finish() -> Bool {
        if let slot = current, slot.filled > 0 { handOn() }
        writer.sync {}
        return failed == nil
    }

    /// Stops: frames still in flight are compressed but not written, and this returns only once
    /// no thread will write again, so the caller may close the descriptor.
    func abandon() {
        lock.withLock { discarding = true }
        writer.sync {}
        // The slot being filled goes back: a semaphore must end where it began.
        if current != nil {
            current = nil
            free.signal()
        }
    }

    private func currentSlot() -> Slot {
        if let current { return current }
        free.wait()
        let slot = slots[frames % slots.count]
        slot.filled = 0
        slot.compressed = 0
        slot.error = nil
        current = slot
        return slot
    }

    /// Sends the filled slot to be compressed (by the next worker in turn) and then written.
    private func handOn() {
        guard let slot = current else { return }
        current = nil
        let index = frames
        frames += 1
        if workerQueues.isEmpty {
            compress(slot, context: contexts[0])
            write(slot)
            return
        }
        let worker = index % workerQueues.count
        workerQueues[worker].async {
            self.compress(slot, context: self.contexts[worker])
            slot.done.signal()
        }
        writer.async {
            slot.done.wait()
            self.write(slot)
        }
    }

    private func compress(_ slot: Slot, context: OpaquePointer) {
        if lock.withLock({ discarding || failure != nil }) { return }
        ZSTD_CCtx_reset(context, ZSTD_reset_session_only)
        var result = ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        if ZSTD_isError(result) == 0 { result = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1) }
        if ZSTD_isError(result) == 0 {
            result = ZSTD_compress2(
                context, slot.output.baseAddress, slot.output.count, slot.input.baseAddress, slot.filled)
        }
        if ZSTD_isError(result) != 0 {
            slot.error = String(cString: ZSTD_getErrorName(result))
        } else {
            slot.compressed = result
        }
    }

    /// On the writer queue (or the caller's thread, with no workers), frames in order.
    private func write(_ slot: Slot) {
        defer { free.signal() }
        if lock.withLock({ discarding || failure != nil }) { return }
        if let error = slot.error {
            fail("zstd: \(error)")
            return
        }
        if !output(UnsafeRawBufferPointer(rebasing: slot.output[..<slot.compressed])) { fail("write failed") }
    }
}

/// zstd refused: the context could not be made, or a frame could not be compressed.
struct ZstdError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
