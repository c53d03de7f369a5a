import Foundation
import Glibc

/// A fresh temporary directory for one test, removed when the test is done.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "custos-test") {
        var template = Array("\(NSTemporaryDirectory())/\(label)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        // Make everything writable again (tests make files read-only), then remove it.
        _ = try? Process.run(URL(fileURLWithPath: "/bin/chmod"), arguments: ["-R", "u+rwX", path]).waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }

    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `bytes` to `name` (creating folders) and returns its path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try FileManager.default.createDirectory(
            atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }
}

/// Random bytes for test files.
public func randomBytes(_ count: Int) -> [UInt8] {
    let handle = FileHandle(forReadingAtPath: "/dev/urandom")!
    defer { try? handle.close() }
    var bytes = [UInt8]()
    bytes.reserveCapacity(count)
    while bytes.count < count {
        bytes += handle.readData(ofLength: min(count - bytes.count, 1 << 20))
    }
    return bytes
}
