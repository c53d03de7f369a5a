import Glibc
import CustosFormats

/// A file-system path as the kernel sees it: bytes, which need not be UTF-8. Names from outside
/// are kept byte-exact and only escaped when shown.
public struct RawPath: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// The path with one more component. The component must be a single name (no `/`, not `.` or `..`).
    public func appending(component: [UInt8]) -> RawPath {
        precondition(RawPath.isSafeComponent(component), "unsafe path component")
        var bytes = self.bytes
        if bytes.last != UInt8(ascii: "/") { bytes.append(UInt8(ascii: "/")) }
        return RawPath(bytes: bytes + component)
    }

    public func appending(_ component: String) -> RawPath { appending(component: Array(component.utf8)) }

    /// The last component's bytes.
    public var lastComponent: [UInt8] {
        var trimmed = bytes[...]
        while trimmed.count > 1, trimmed.last == UInt8(ascii: "/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: UInt8(ascii: "/")) else { return Array(trimmed) }
        return Array(trimmed[(slash + 1)...])
    }

    /// The directory that holds this path.
    public var parent: RawPath {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return RawPath(".") }
        return slash == 0 ? RawPath("/") : RawPath(bytes: Array(bytes[..<slash]))
    }

    /// The absolute form of the path, without resolving links (the name as the handler gave it,
    /// after the working directory).
    public var absolute: RawPath {
        if bytes.first == UInt8(ascii: "/") { return self }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return self }
        let cwd = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        var bytes = self.bytes
        while bytes.starts(with: Array("./".utf8)) { bytes.removeFirst(2) }
        return RawPath(bytes: cwd + [UInt8(ascii: "/")] + bytes)
    }

    /// True for a single, ordinary name: not empty, no `/` or NUL, not `.` or `..`.
    public static func isSafeComponent(_ component: [UInt8]) -> Bool {
        !component.isEmpty && component != [UInt8(ascii: ".")] && component != [UInt8(ascii: "."), UInt8(ascii: ".")]
            && !component.contains(UInt8(ascii: "/")) && !component.contains(0)
    }

    /// Calls `body` with the path as a NUL-terminated C string.
    public func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }

    /// The path escaped for display (logs, messages).
    public var description: String { DisplayName.escape(bytes) }

    /// The path as a String, when it is valid UTF-8.
    public var string: String? { String(validating: bytes, as: UTF8.self) }
}
