import Foundation
import Glibc

/// Writes `size` bytes like a seized server's logs and archives: 80 % log-like text (syslog,
/// web and kernel lines with varying hosts, numbers and times) and 20 % random 64 KiB blocks
/// (compressed or encrypted content), interleaved. Deterministic but for the random blocks.
func writeMixedData(to path: String, size: Int) {
    var state: UInt64 = 0x5eed_c057_05
    func next() -> UInt64 {  // SplitMix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    func number(_ bound: UInt64) -> UInt64 { next() % bound }
    let hosts = (0..<20).map { String(format: "web%02d", $0) }
    let processes = ["sshd", "nginx", "kernel", "cron", "postfix/smtpd", "systemd", "sudo"]
    func message() -> String {
        switch number(5) {
        case 0:
            "Accepted publickey for user\(number(500)) from 10.\(number(256)).\(number(256)).\(number(256)) port \(number(65536)) ssh2"
        case 1: "GET /api/v1/items/\(number(100_000)) HTTP/1.1 200 \(number(60_000)) \"-\" \"Mozilla/5.0\""
        case 2:
            "connection from 192.168.\(number(256)).\(number(256)) closed after \(number(10_000)) ms (\(number(1 << 20)) bytes)"
        case 3: "session opened for user root by (uid=\(number(2000))) tty=pts/\(number(16)) pid=\(number(99_999))"
        default: "TCP: request_sock_TCP: Possible SYN flooding on port \(number(65536)). Sending cookies."
        }
    }
    guard let file = fopen(path, "w") else { fatalError("cannot write \(path)") }
    defer { fclose(file) }
    let random = FileHandle(forReadingAtPath: "/dev/urandom")!
    var written = 0
    while written < size {
        var block: [UInt8]
        if number(5) == 0 {
            block = [UInt8](random.readData(ofLength: 65536))
        } else {
            var text = ""
            text.reserveCapacity(270_000)
            while text.utf8.count < 262_144 {
                text += String(
                    format: "2026-11-%02dT%02d:%02d:%02d.%03dZ ", number(30) + 1, number(24), number(60), number(60),
                    number(1000))
                text +=
                    "\(hosts[Int(number(20))]) \(processes[Int(number(7))])[\(number(99_900) + 100)]: \(message())\n"
            }
            block = Array(text.utf8)
        }
        let count = min(block.count, size - written)
        _ = block.withUnsafeBytes { fwrite($0.baseAddress, 1, count, file) }
        written += count
    }
}
