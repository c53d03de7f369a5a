import Foundation
import Glibc

/// Waits for an event, not for a fixed time: polls `condition` every 20 ms until it holds or
/// `timeout` seconds pass, and says whether it held. The timeout is only a bound for a test that
/// would otherwise hang; a passing test waits no longer than the event takes.
public func waitUntil(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    repeat {
        if try condition() { return true }
        usleep(20_000)
    } while Date() < deadline
    return try condition()
}
