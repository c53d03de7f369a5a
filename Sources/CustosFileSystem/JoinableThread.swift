import Glibc
import Synchronization

/// Work on a POSIX thread of its own, joined by `wait`: the thread has the priority of the one
/// that starts it (the daemon's request threads are niced, and so is work they start), and when
/// no thread can be started (a limit on threads reached), `wait` runs the work in place, so the
/// caller never waits for a thread that never ran. `wait` gives the work's value, once it is done.
public final class JoinableThread<Value: Sendable>: Sendable {
    private let body: @Sendable () -> Value
    private let value = Mutex<Value?>(nil)
    private let thread = Mutex<pthread_t?>(nil)

    public init(_ body: @escaping @Sendable () -> Value) {
        self.body = body
        let start = ThreadStart { [self] in
            let result = body()
            value.withLock { $0 = result }
        }
        let retained = Unmanaged.passRetained(start)
        var started = pthread_t()
        let status = pthread_create(
            &started, nil,
            { context in
                guard let context else { return nil }
                Unmanaged<ThreadStart>.fromOpaque(context).takeRetainedValue().run()
                return nil
            }, retained.toOpaque())
        if status == 0 {
            thread.withLock { $0 = started }
        } else {
            retained.release()
        }
    }

    /// The work's value, once it is done (run here when no thread could be started). Call it
    /// from one thread.
    public func wait() -> Value {
        if let started = thread.withLock({ $0.take() }) { pthread_join(started, nil) }
        if let result = value.withLock({ $0 }) { return result }
        let result = body()
        value.withLock { $0 = result }
        return result
    }
}

/// What a started thread runs (not generic: a C function starts it).
private final class ThreadStart: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}
