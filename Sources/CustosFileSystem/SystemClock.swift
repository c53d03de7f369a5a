import CustosFormats
import Glibc

/// The system's clocks: wall time for records (informative only: order comes from log position,
/// trusted time from time-stamp tokens), monotonic time for waiting and measuring.
public enum SystemClock {
    /// Now, RFC 3339 in UTC with milliseconds.
    public static func now() -> String {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return RFC3339.format(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec), fractionDigits: 3)
    }

    /// Now, by the real-time clock, as a file time (for the times of files Custos writes).
    public static func fileTimeNow() -> FileStatus.Time {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    /// Whole seconds since the Unix epoch, by the real-time clock.
    public static func secondsSinceEpoch() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec)
    }

    /// Seconds since `time` (a file time), by the real-time clock; negative for a time ahead.
    public static func secondsSince(_ time: FileStatus.Time) -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(Int64(now.tv_sec) - time.seconds) + Double(Int64(now.tv_nsec) - time.nanoseconds) / 1e9
    }

    /// Seconds on the monotonic clock.
    public static func monotonic() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
