import CustosFileSystem
import Glibc
import Testing

@Suite("work on a joinable thread")
struct JoinableThreadTests {
    /// The work runs on another thread, beside the caller, and `wait` gives its value once it
    /// is done, as often as asked.
    @Test func theWorkRunsBesideTheCallerAndItsValueIsGiven() {
        let caller = UInt(pthread_self())
        let work = JoinableThread { () -> (thread: UInt, sum: Int) in
            (UInt(pthread_self()), (1...1000).reduce(0, +))
        }
        let first = work.wait()
        #expect(first.thread != caller)
        #expect(first.sum == 500_500)
        #expect(work.wait().sum == 500_500 && work.wait().thread == first.thread)
    }

    /// An error the work meets is its value, given to the caller.
    @Test func anErrorOfTheWorkReachesTheCaller() {
        struct Refused: Error {}
        let work = JoinableThread { () -> Result<Int, any Error> in Result { throw Refused() } }
        #expect(throws: Refused.self) { try work.wait().get() }
    }
}
