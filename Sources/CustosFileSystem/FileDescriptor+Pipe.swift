import CustosFormats
import Glibc

extension FileDescriptor {
    /// A new pipe (close-on-exec): its read end and its write end as raw descriptors,
    /// for the two threads that use them to adopt (`FileDescriptor(adopting:)`), each on its
    /// own thread. Closing the write end (its owner released) is the reader's end of file.
    public static func pipe(label: String) throws -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard Glibc.pipe(&ends) == 0 else { throw FileSystemError.syscall("pipe", path: label) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        // 1 MiB at a time between the threads (the default 64 KiB costs a switch per 64 KiB);
        // a smaller pipe where the system refuses it.
        // F_SETPIPE_SZ (1031), hidden by glibc behind _GNU_SOURCE.
        _ = fcntl(ends[1], 1031, Int32(1 << 20))
        return (ends[0], ends[1])
    }

    /// Owns `rawValue` (from `pipe(label:)`), closed in `deinit`.
    public convenience init(adopting rawValue: Int32, label: String) {
        self.init(rawValue: rawValue, path: RawPath(label))
    }
}
