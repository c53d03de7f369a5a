import CustosTestSupport
import Foundation
import Glibc
import Testing

/// The real `custos daemon` of a node, running in the background.
final class RunningDaemon: @unchecked Sendable {
    let node: Node
    let process: BackgroundProcess

    /// Test settings: short settle and retry times so that tests run fast.
    static let quick = [
        "CUSTOS_SETTLE_SECONDS": "0.3", "CUSTOS_CHECKPOINT_SECONDS": "0.5", "CUSTOS_RESCAN_SECONDS": "3",
        "CUSTOS_RETRY_SECONDS": "0.3",
    ]

    /// Returns once the daemon serves on its socket and watches its inbox (or has ended);
    /// `untilServing: false`, once it has started (it holds the vault's lock).
    init(
        _ node: Node, environment: [String: String] = [:], arguments: [String] = [], prefix: [String] = [],
        binary: String = custosBinary, untilServing: Bool = true
    ) throws {
        self.node = node
        var env = Self.quick
        for (key, value) in environment { env[key] = value }
        let command = prefix + [binary, "daemon", "--vault", node.vault] + arguments
        process = try BackgroundProcess(
            command[0], Array(command.dropFirst()), environment: env,
            logPath: node.directory.file("daemon-\(UInt32.random(in: 0...UInt32.max)).log"))
        // Its services start side by side after "started": the socket and the watcher each say
        // when they are ready.
        let ready = untilServing ? ["serving on", "watching the inbox"] : ["custos daemon started"]
        #expect(
            waitUntil(timeout: 30) { ready.allSatisfy { log.contains($0) } || !process.isRunning }, "\(log)")
    }

    var log: String { process.log }

    /// How many times the daemon has logged `line` so far.
    func count(_ line: String) -> Int { log.components(separatedBy: line).count - 1 }

    /// Whether the daemon's inotify instance watches `folder`: its inode is among the watches
    /// the kernel lists for the daemon's inotify descriptor (/proc/PID/fdinfo). The daemon adds
    /// a watch on a new folder when it handles the folder's creation event, so a watch seen here
    /// also says that the daemon has handled every event queued before that one.
    func watches(_ folder: String) -> Bool {
        var info = stat()
        guard lstat(folder, &info) == 0 else { return false }
        let inode = " ino:" + String(info.st_ino, radix: 16) + " "
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd")) ?? []
        for descriptor in descriptors {
            guard
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process.pid)/fd/\(descriptor)"))
                    == "anon_inode:inotify",
                let watches = try? String(contentsOfFile: "/proc/\(process.pid)/fdinfo/\(descriptor)", encoding: .utf8)
            else { continue }
            if watches.split(separator: "\n").contains(where: { $0.hasPrefix("inotify ") && $0.contains(inode) }) {
                return true
            }
        }
        return false
    }

    /// SIGTERM (or `signal`), then the exit status (nil if it did not end within a minute).
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32? {
        process.signal(signal)
        return process.wait(timeout: 60)
    }
}

extension Node {
    /// Names `server` in the daemon's configuration as the external authority `independent`
    /// (with its CA as anchors, unless `anchors` names another file), plus `extra` settings.
    func useExternalAuthority(_ server: OpenSSLAuthority, extra: String = "", anchors: String? = nil) throws {
        _ = try directory.write(
            "vault/custos-daemon.yaml",
            """
            timestamp-authorities:
              independent:
                url: \(server.url)
                anchors: \(anchors ?? server.directory.file("ca.pem"))
                timeout-seconds: 5
            timestamp-retry-seconds: 0.3
            \(extra)
            """)
    }

    var inbox: String { vault + "/inbox" }
    var sealedFolder: String { vault + "/sealed" }
    var rejectedFolder: String { vault + "/rejected" }

    /// Waits until the ledger holds `count` items; whether it did within `timeout` seconds.
    func waitForItems(_ count: Int, timeout: Double = 60) throws -> Bool {
        try waitUntil(timeout: timeout) { try items().count >= count }
    }

    /// Every file (not folder) under `folder`, relative to it, as raw bytes.
    func entries(under folder: String) -> [[UInt8]] {
        var found = [[UInt8]]()
        func walk(_ path: [UInt8], _ relative: [UInt8]) {
            guard let dir = withCString(path, { opendir($0) }) else { return }
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if name == Array(".".utf8) || name == Array("..".utf8) { continue }
                let child = path + [UInt8(ascii: "/")] + name
                let childRelative = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
                var info = stat()
                _ = withCString(child) { lstat($0, &info) }
                if info.st_mode & S_IFMT == S_IFDIR {
                    walk(child, childRelative)
                } else {
                    found.append(childRelative)
                }
            }
        }
        walk(Array(folder.utf8), [])
        return found.sorted { $0.lexicographicallyPrecedes($1) }
    }

    func entryNames(under folder: String) -> [String] {
        entries(under: folder).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Calls `body` with raw path bytes as a C string.
func withCString<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    (bytes + [0]).withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}

/// Writes raw bytes to a raw path (names that are not UTF-8).
func writeRaw(_ path: [UInt8], _ bytes: [UInt8], mode: mode_t = 0o644) {
    let fd = withCString(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, mode) }
    precondition(fd >= 0, "open \(String(decoding: path, as: UTF8.self)): \(errno)")
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

/// An item's name from `list --json` (a byte string: `{"utf8": …}` or `{"base64": …}`), as text.
func itemName(_ item: [String: Any]) -> String? {
    (item["name"] as? [String: String])?["utf8"]
}

/// Reads the whole file at a raw path.
func readRaw(_ path: [UInt8]) -> [UInt8] {
    let fd = withCString(path) { open($0, O_RDONLY) }
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var bytes = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { return bytes }
        bytes += buffer[..<count]
    }
}
