import CPangoCairo

#if canImport(Glibc)
    import Glibc
#endif

/// Renders a document whose blocks come in parts, on a thread of its own: each part is laid out
/// as soon as it is given, while the caller makes the next (a report's items, as their facts are
/// gathered from the ledger and the vault); the pages are drawn once every part is in. The bytes
/// are those ``PDFRenderer/render(_:)`` gives for the layout whose blocks are the parts in order,
/// each after the first preceded by a page break.
///
/// pango and cairo are used by the renderer's thread only; the caller's thread hands it blocks.
public final class PDFStreamingRenderer: @unchecked Sendable {
    private let job: Job
    private var thread = pthread_t()
    private var joined = false

    /// Starts the renderer's thread for `layout` (its blocks are not used: the parts are).
    public init(_ layout: PDFDocumentLayout) throws(PDFError) {
        job = Job(layout: layout)
        let retained = Unmanaged.passRetained(job).toOpaque()
        let started = pthread_create(
            &thread, nil,
            { argument in
                guard let argument else { return nil }
                Unmanaged<Job>.fromOpaque(argument).takeRetainedValue().run()
                return nil
            }, retained)
        guard started == 0 else {
            Unmanaged<Job>.fromOpaque(retained).release()
            joined = true
            throw PDFError(
                code: .cairo, message: "cannot start the PDF's thread", cause: String(cString: strerror(started)))
        }
    }

    deinit { cancel() }

    /// Part `index` of the document (each index once; part 0 first in the document).
    public func add(part index: Int, _ blocks: [PDFBlock]) {
        job.queue.push((index, blocks))
    }

    /// The PDF's bytes, once every part given is laid out and the pages drawn.
    public func finish() throws(PDFError) -> [UInt8] {
        job.queue.close(cancel: false)
        wait()
        guard let result = job.result else {
            throw PDFError(code: .cairo, message: "the PDF's thread ended without a result")
        }
        return try result.get()
    }

    /// Stops the renderer, nothing drawn (the caller failed before giving every part).
    public func cancel() {
        job.queue.close(cancel: true)
        wait()
    }

    private func wait() {
        guard !joined else { return }
        pthread_join(thread, nil)
        joined = true
    }

    /// What the renderer's thread works on: the layout, the parts given, and its result
    /// (written by that thread, read after it was joined).
    private final class Job: @unchecked Sendable {
        let layout: PDFDocumentLayout
        let queue = PartQueue()
        var result: Result<[UInt8], PDFError>?

        init(layout: PDFDocumentLayout) { self.layout = layout }

        func run() {
            let sink = OutputSink(fileDescriptor: nil)
            do throws(PDFError) {
                try PDFRenderer.render(
                    layout, into: sink, nextPart: { self.queue.pop() }, cancelled: { self.queue.cancelled })
                result = .success(sink.bytes)
            } catch {
                result = .failure(error)
            }
        }
    }
}

/// The parts given and not yet taken, under a lock; `pop` waits for one, or for the close.
private final class PartQueue: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var parts: [(Int, [PDFBlock])] = []
    private var closed = false
    private var isCancelled = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    func push(_ part: (Int, [PDFBlock])) {
        locked {
            guard !closed else { return }
            parts.append(part)
            pthread_cond_signal(condition)
        }
    }

    /// No more parts; with `cancel`, those not yet taken are dropped and nothing is drawn.
    func close(cancel: Bool) {
        locked {
            if !closed { isCancelled = cancel }
            closed = true
            if cancel { parts = [] }
            pthread_cond_broadcast(condition)
        }
    }

    var cancelled: Bool { locked { isCancelled } }

    /// The next part, or nil once the queue is closed and empty (or cancelled).
    func pop() -> (Int, [PDFBlock])? {
        locked {
            while parts.isEmpty && !closed { pthread_cond_wait(condition, mutex) }
            return parts.isEmpty ? nil : parts.removeFirst()
        }
    }
}
