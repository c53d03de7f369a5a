import CustosFormats
import Glibc
import Synchronization

/// Everything the CLI writes goes through here, with write(2) on descriptors 1 and 2.
///
/// A write that fails (a full disk, `>/dev/full`, a closed pipe) is remembered, never a crash:
/// Foundation's `FileHandle.write(_: Data)` traps on such a failure, and `print` leaves it in a
/// stdio buffer whose failed flush at exit nobody checks. After the first failure nothing more is
/// written to that stream (the output is incomplete already; a later write must not leave a
/// hole in it), and `Custos.finish` turns the failure into exit status 2.
enum Output {
    enum Stream: Int32, Sendable {
        case standardOutput = 1
        case standardError = 2

        var name: String { self == .standardOutput ? "standard output" : "standard error" }
    }

    /// The errno of the first failed write to each stream; 0 while none failed.
    private static let outputFailure = Atomic<Int32>(0)
    private static let errorFailure = Atomic<Int32>(0)

    private static func failure(_ stream: Stream) -> Int32 {
        switch stream {
        case .standardOutput: outputFailure.load(ordering: .acquiring)
        case .standardError: errorFailure.load(ordering: .acquiring)
        }
    }

    private static func recordFailure(_ stream: Stream, errno code: Int32) {
        switch stream {
        case .standardOutput:
            _ = outputFailure.compareExchange(expected: 0, desired: code, ordering: .acquiringAndReleasing)
        case .standardError:
            _ = errorFailure.compareExchange(expected: 0, desired: code, ordering: .acquiringAndReleasing)
        }
    }

    /// Writes all of `bytes` to `stream`, or records why it could not.
    static func write(_ bytes: [UInt8], to stream: Stream) {
        guard failure(stream) == 0, !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(stream.rawValue, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                    continue
                }
                let code = written < 0 ? errno : EIO
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    // A non-blocking descriptor inherited from the caller: wait until it takes more.
                    var waiting = pollfd(fd: stream.rawValue, events: Int16(POLLOUT), revents: 0)
                    if poll(&waiting, 1, -1) >= 0 || errno == EINTR { continue }
                }
                recordFailure(stream, errno: code)
                return
            }
        }
    }

    /// A line on standard output.
    static func line(_ text: String) { write(Array((text + "\n").utf8), to: .standardOutput) }

    /// Text on standard output, as it is.
    static func text(_ text: String) { write(Array(text.utf8), to: .standardOutput) }

    /// Bytes on standard output, as they are (entries, checkpoints, proofs).
    static func raw(_ bytes: [UInt8]) { write(bytes, to: .standardOutput) }

    static func json(_ value: JSONValue) { line(CanonicalJSON.encodeString(value)) }

    /// A line on standard error.
    static func error(_ text: String) { write(Array((text + "\n").utf8), to: .standardError) }

    static var stderrIsTerminal: Bool { isatty(Stream.standardError.rawValue) == 1 }

    /// A progress line on a terminal (overwritten in place); nothing when not on a terminal.
    static func progress(_ text: String) {
        guard stderrIsTerminal else { return }
        write(Array(("\r\u{1b}[K" + text).utf8), to: .standardError)
    }

    static func endProgress() {
        guard stderrIsTerminal else { return }
        write(Array("\r\u{1b}[K".utf8), to: .standardError)
    }

    /// What could not be written, one sentence per stream; empty when all was written. Anything
    /// a library left in a stdio buffer is flushed first, so its failure is seen too.
    static func failures() -> [String] {
        if fflush(nil) != 0 { recordFailure(.standardOutput, errno: errno == 0 ? EIO : errno) }
        return [Stream.standardOutput, .standardError].compactMap { stream in
            let code = failure(stream)
            guard code != 0 else { return nil }
            return "\(stream.name) could not be written: \(String(cString: strerror(code)))"
        }
    }

    /// The log handler's stream: log lines go to standard error through `Output` as well.
    struct LogStream: TextOutputStream, Sendable {
        mutating func write(_ string: String) { Output.write(Array(string.utf8), to: .standardError) }
    }
}
