/// A JSON value restricted to what Custos' records use: no fractions, integers within ±2^53.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case integer(Int64)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { members[key] } else { nil }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var integerValue: Int64? { if case .integer(let i) = self { i } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }

    /// Bytes that are usually text, such as a file name: `{"utf8": …}` when they are valid
    /// UTF-8, else `{"base64": …}`, so that any name is kept byte-exact.
    public static func byteString(_ bytes: [UInt8]) -> JSONValue {
        if let text = String(validating: bytes, as: UTF8.self) { return .object(["utf8": .string(text)]) }
        return .object(["base64": .string(Base64.encode(bytes))])
    }

    /// The bytes of a `byteString` value, or nil when this is not one.
    public var byteStringValue: [UInt8]? {
        if let text = self["utf8"]?.stringValue { return Array(text.utf8) }
        return self["base64"]?.stringValue.flatMap { Base64.decode($0) }
    }
}

/// The members of a JSON object, kept in RFC 8785 order (by UTF-16 code units) at all times, so
/// encoding never sorts and a canonical parse never builds a hash table.
public struct JSONObject: Hashable, Sendable, ExpressibleByDictionaryLiteral, Sequence {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    public init(_ dictionary: [String: JSONValue]) {
        for (key, value) in dictionary { self[key] = value }
    }

    /// Members already in canonical order (the canonical parser checks that they are).
    init(orderedKeys: [String], values: [JSONValue]) {
        self.keys = orderedKeys
        self.values = values
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// RFC 8785 member order: UTF-16 code units. UTF-8 byte order is the same except between a
    /// character beyond U+FFFF (a surrogate pair in UTF-16, lead byte F0–F4 in UTF-8) and one in
    /// U+E000–U+FFFF (lead byte EE–EF), which the two orders rank the other way round.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = Swift.min(x.count, y.count)
                var index = 0
                while index < common && x[index] == y[index] { index += 1 }
                if index == common { return x.count < y.count }
                let (p, q) = (x[index], y[index])
                if p >= 0xF0 && (0xEE...0xEF).contains(q) { return true }
                if q >= 0xF0 && (0xEE...0xEF).contains(p) { return false }
                return p < q
            }
        }
    }

    /// The position of `key`, or where it would go.
    private func position(of key: String) -> (index: Int, found: Bool) {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle] == key { return (middle, true) }
            if Self.precedes(keys[middle], key) { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }

    public subscript(key: String) -> JSONValue? {
        get {
            let (index, found) = position(of: key)
            return found ? values[index] : nil
        }
        set {
            let (index, found) = position(of: key)
            switch (found, newValue) {
            case (true, let value?): values[index] = value
            case (true, nil):
                keys.remove(at: index)
                values.remove(at: index)
            case (false, let value?):
                keys.insert(key, at: index)
                values.insert(value, at: index)
            case (false, nil): break
            }
        }
    }

    public func makeIterator() -> Zip2Sequence<[String], [JSONValue]>.Iterator {
        zip(keys, values).makeIterator()
    }
}

/// RFC 8785 JSON Canonicalization Scheme: members sorted by UTF-16 code units, no white space,
/// the shortest string escapes.
public enum CanonicalJSON {
    /// The largest integer that JSON numbers carry exactly (2^53 - 1).
    public static let maxSafeInteger: Int64 = 9_007_199_254_740_991

    public static func encode(_ value: JSONValue) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(512)
        write(value, into: &out)
        return out
    }

    public static func encodeString(_ value: JSONValue) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .integer(let i):
            precondition(abs(i) <= maxSafeInteger, "integer outside the I-JSON range")
            out.append(contentsOf: String(i).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (key, member) in members {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        var text = s
        text.withUTF8 { bytes in
            out.append(UInt8(ascii: "\""))
            // Runs that need no escape are copied whole.
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
                case 0x08: out.append(contentsOf: "\\b".utf8)
                case 0x0c: out.append(contentsOf: "\\f".utf8)
                case 0x0a: out.append(contentsOf: "\\n".utf8)
                case 0x0d: out.append(contentsOf: "\\r".utf8)
                case 0x09: out.append(contentsOf: "\\t".utf8)
                default:
                    out.append(contentsOf: "\\u00".utf8)
                    out.append(contentsOf: Hex.encode([byte]).utf8)
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
            out.append(UInt8(ascii: "\""))
        }
    }

    /// Parses strict JSON (RFC 8259) into a value: duplicate member names, fractions, exponents
    /// and integers beyond ±2^53 are refused, as is anything after the value.
    public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
        var parser = Parser(bytes: Array(bytes), canonical: false)
        parser.skipSpace()
        let value = try parser.parseValue(depth: 0)
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw parser.error("trailing bytes after the JSON value") }
        return value
    }

    /// Parses bytes that must be exactly in RFC 8785 canonical form: no white space, members in
    /// order (so no duplicates), the shortest escapes, plain integers. Checked while parsing, so
    /// no second encoding is needed to compare.
    public static func parseCanonical(_ bytes: [UInt8]) throws -> JSONValue {
        var parser = Parser(bytes: bytes, canonical: true)
        let value = try parser.parseValue(depth: 0)
        guard parser.index == parser.bytes.count else { throw parser.error("trailing bytes after the JSON value") }
        return value
    }

    /// Whether `bytes` are exactly the canonical form of the value they hold.
    public static func isCanonical(_ bytes: [UInt8]) -> Bool {
        (try? parseCanonical(bytes)) != nil
    }

    private struct Parser {
        let bytes: [UInt8]
        /// Refuse anything that is not canonical.
        let canonical: Bool
        var index = 0

        init(bytes: [UInt8], canonical: Bool) {
            self.bytes = bytes
            self.canonical = canonical
        }

        mutating func space() {
            if !canonical { skipSpace() }
        }

        func error(_ message: String) -> FormatError {
            FormatError(.malformed, "JSON at byte \(index): \(message)")
        }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ literal: String) throws {
            let utf8 = Array(literal.utf8)
            guard bytes.count - index >= utf8.count, Array(bytes[index..<index + utf8.count]) == utf8 else {
                throw error("expected \(literal)")
            }
            index += utf8.count
        }

        mutating func parseValue(depth: Int) throws -> JSONValue {
            guard depth < 64 else { throw error("nested too deeply") }
            guard index < bytes.count else { throw error("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "n"):
                try expect("null")
                return .null
            case UInt8(ascii: "t"):
                try expect("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false")
                return .bool(false)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "["):
                index += 1
                var elements = [JSONValue]()
                space()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array([])
                }
                while true {
                    space()
                    elements.append(try parseValue(depth: depth + 1))
                    space()
                    guard index < bytes.count else { throw error("unterminated array") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if bytes[index] == UInt8(ascii: "]") {
                        index += 1
                        return .array(elements)
                    }
                    throw error("expected , or ]")
                }
            case UInt8(ascii: "{"):
                index += 1
                var members = JSONObject()
                var keys = [String]()
                var values = [JSONValue]()
                space()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object([:])
                }
                while true {
                    space()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                        throw error("expected a name")
                    }
                    let key = try parseString()
                    space()
                    try expect(":")
                    space()
                    let value = try parseValue(depth: depth + 1)
                    if canonical {
                        // In canonical form every name follows the one before it.
                        if let last = keys.last, !JSONObject.precedes(last, key) {
                            throw error("member \"\(key)\" is out of canonical order or repeated")
                        }
                        keys.append(key)
                        values.append(value)
                    } else {
                        guard members[key] == nil else { throw error("duplicate member \"\(key)\"") }
                        members[key] = value
                    }
                    space()
                    guard index < bytes.count else { throw error("unterminated object") }
                    if bytes[index] == UInt8(ascii: ",") {
                        index += 1
                        continue
                    }
                    if bytes[index] == UInt8(ascii: "}") {
                        index += 1
                        return .object(canonical ? JSONObject(orderedKeys: keys, values: values) : members)
                    }
                    throw error("expected , or }")
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .integer(try parseInteger())
            default:
                throw error("unexpected byte")
            }
        }

        mutating func parseInteger() throws -> Int64 {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digitsStart = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            let digits = index - digitsStart
            guard digits > 0, digits <= 16 else { throw error("bad integer") }
            if canonical, bytes[start] == UInt8(ascii: "-"), digits == 1, bytes[digitsStart] == UInt8(ascii: "0") {
                throw error("-0 is not canonical")
            }
            guard !(bytes[digitsStart] == UInt8(ascii: "0") && digits > 1) else { throw error("leading zero") }
            if index < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index]) {
                throw error("only integers are allowed")
            }
            guard let value = Int64(String(decoding: bytes[start..<index], as: UTF8.self)),
                abs(value) <= CanonicalJSON.maxSafeInteger
            else { throw error("integer out of range") }
            return value
        }

        mutating func parseString() throws -> String {
            index += 1
            // Fast path: a string with no escape is taken whole.
            var end = index
            while end < bytes.count {
                let byte = bytes[end]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                end += 1
            }
            if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
                guard let s = String(validating: bytes[index..<end], as: UTF8.self) else {
                    throw error("invalid UTF-8")
                }
                index = end + 1
                return s
            }
            var out = [UInt8]()
            while true {
                guard index < bytes.count else { throw error("unterminated string") }
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw error("unterminated escape") }
                    let escape = bytes[index]
                    index += 1
                    if canonical, escape == UInt8(ascii: "/") { throw error("\\/ is not canonical") }
                    switch escape {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5c)
                    case UInt8(ascii: "/"): out.append(0x2f)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0c)
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "r"): out.append(0x0d)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        if canonical {
                            // Canonical form uses \u only for the other control characters, in lower case.
                            let hex = index + 4 <= bytes.count ? Array(bytes[index..<index + 4]) : []
                            let value = try parseHex4()
                            guard value < 0x20, ![0x08, 0x09, 0x0a, 0x0c, 0x0d].contains(value),
                                hex == Array(("00" + Hex.encode([UInt8(value)])).utf8)
                            else { throw error("\\u escape is not canonical") }
                            out.append(UInt8(value))
                            continue
                        }
                        var scalar = try parseHex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            try expect("\\u")
                            let low = try parseHex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw error("unpaired surrogate")
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw error("bad escape") }
                        out.append(contentsOf: String(Character(unicode)).utf8)
                    default: throw error("bad escape")
                    }
                case 0x00..<0x20: throw error("control character in string")
                default: out.append(byte)
                }
            }
        }

        mutating func parseHex4() throws -> UInt32 {
            guard bytes.count - index >= 4,
                let hex = Hex.decode(String(decoding: bytes[index..<index + 4], as: UTF8.self))
            else { throw error("bad \\u escape") }
            index += 4
            return UInt32(hex[0]) << 8 | UInt32(hex[1])
        }
    }
}
