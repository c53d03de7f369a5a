import Foundation

/// A SHA-256 value: 32 bytes held inline, so that Merkle math allocates nothing per node.
public struct Hash: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The byte count of a SHA-256 value.
    public static let byteCount = 32

    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// All zero bytes (the `prev` of the first ledger entry).
    public static let zero = Hash()

    private init() {}

    /// Makes a hash from exactly 32 bytes; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        self.init(bytes: Array(bytes))
    }

    /// Makes a hash from exactly 32 bytes; `nil` for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        bytes.withUnsafeBytes { source in
            withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
        }
    }

    /// Makes a hash from exactly 32 raw bytes; `nil` for any other count.
    public init?(bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.byteCount else { return nil }
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) }
    }

    /// Makes a hash by letting `body` fill the 32 bytes.
    public init(filling body: (UnsafeMutableRawBufferPointer) -> Void) {
        withUnsafeMutableBytes(of: &storage) { body($0) }
    }

    /// Parses 64 hexadecimal digits (either case).
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex), let hash = Hash(bytes: bytes) else { return nil }
        self = hash
    }

    /// Parses standard base64 of 32 bytes.
    public init?(base64: some StringProtocol) {
        guard let data = Data(base64Encoded: String(base64)), let hash = Hash(bytes: data) else { return nil }
        self = hash
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: storage) { try body($0) }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
    public var hex: String { Hex.encode(bytes) }
    public var base64: String { Data(bytes).base64EncodedString() }
    public var description: String { hex }

    public static func == (lhs: Hash, rhs: Hash) -> Bool {
        lhs.storage.0 == rhs.storage.0 && lhs.storage.1 == rhs.storage.1 && lhs.storage.2 == rhs.storage.2
            && lhs.storage.3 == rhs.storage.3
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    public static func < (lhs: Hash, rhs: Hash) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

/// Lower-case hexadecimal, as `sha256sum` prints it.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the 64 hex digits of a hash, without making a string.
    public static func append(_ hash: Hash, to out: inout [UInt8]) {
        let offset = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 2 * Hash.byteCount))
        write(hash, into: &out, at: offset)
    }

    /// Writes the 64 hex digits of a hash over `out[offset ..< offset + 64]`.
    public static func write(_ hash: Hash, into out: inout [UInt8], at offset: Int) {
        precondition(offset >= 0 && offset + 2 * Hash.byteCount <= out.count, "no room for the hex digits")
        out.withUnsafeMutableBufferPointer { buffer in
            hash.withUnsafeBytes { bytes in
                for index in 0..<Hash.byteCount {
                    buffer[offset + 2 * index] = digits[Int(bytes[index] >> 4)]
                    buffer[offset + 2 * index + 1] = digits[Int(bytes[index] & 0x0f)]
                }
            }
        }
    }

    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// Strict standard base64 (RFC 4648, with padding), as signed notes and tlog proofs use it.
public enum Base64 {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Decodes, refusing whitespace, URL-safe letters and non-canonical padding.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let string = String(text)
        guard let data = Data(base64Encoded: string) else { return nil }
        let bytes = [UInt8](data)
        // Round-trip so that a text with unused bits set, or other slack, is refused.
        guard data.base64EncodedString() == string else { return nil }
        return bytes
    }
}
