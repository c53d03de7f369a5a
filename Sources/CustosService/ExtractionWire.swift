import CustosCustody
import CustosFormats
import CustosLedger

/// The header line of a streamed file (`ExtractionWire`): what the daemon says of the file
/// before its bytes, which the client checks them against.
public protocol StreamedFileHeader: Sendable, Equatable {
    var json: JSONValue { get }
    init?(json: JSONValue)
    /// The size and SHA-256 the bytes must have.
    var size: UInt64 { get }
    var sha256: Hash { get }
    /// What the bytes are, for messages ("the original's bytes").
    static var bytesName: String { get }
}

/// What the daemon says of one original before its bytes (the stream's header line), and what
/// a planning call (`extract` with `plan: true`) gives for each item: the item, the name it is
/// written under, and the sealed size and SHA-256 the bytes must have (from the ledger's
/// `sealed` entry).
public struct ExtractionHeader: StreamedFileHeader {
    public var item: String
    public var name: [UInt8]
    public var nameNote: String?
    public var size: UInt64
    public var sha256: Hash

    public init(item: String, name: [UInt8], nameNote: String?, size: UInt64, sha256: Hash) {
        self.item = item
        self.name = name
        self.nameNote = nameNote
        self.size = size
        self.sha256 = sha256
    }

    /// The header of a plan; nil when its sealed entry lacks the size or the digests (the
    /// extraction is then recorded as failed without a byte sent).
    public init?(_ plan: ExtractionPlan) {
        guard let size = plan.size, let sha256 = plan.sha256 else { return nil }
        self.init(item: plan.record.item, name: plan.name, nameNote: plan.nameNote, size: size, sha256: sha256)
    }

    public var json: JSONValue {
        var object: JSONObject = [
            "item": .string(item), "name": .byteString(name), "size": .integer(Int64(clamping: size)),
            "sha256": .string(sha256.hex),
        ]
        if let nameNote { object["nameNote"] = .string(nameNote) }
        return .object(object)
    }

    public init?(json: JSONValue) {
        guard let item = json["item"]?.stringValue, let name = json["name"]?.byteStringValue,
            let size = json["size"]?.integerValue, size >= 0,
            let sha256 = json["sha256"]?.stringValue.flatMap({ Hash(hex: $0) })
        else { return nil }
        self.init(
            item: item, name: name, nameNote: json["nameNote"]?.stringValue, size: UInt64(size), sha256: sha256)
    }

    public static var bytesName: String { "the original's bytes" }
}

/// What the daemon says of a file it built and recorded before its bytes (the header line of
/// a streamed `transfer` or `bundle`): the file as the client declared it (the name the
/// `transferred` or `exported` event records), and the size and SHA-256 of the file the daemon
/// built.
public struct BuiltFileHeader: StreamedFileHeader {
    public var file: [UInt8]
    public var size: UInt64
    public var sha256: Hash

    public init(file: [UInt8], size: UInt64, sha256: Hash) {
        self.file = file
        self.size = size
        self.sha256 = sha256
    }

    public var json: JSONValue {
        .object(["file": .byteString(file), "size": .integer(Int64(clamping: size)), "sha256": .string(sha256.hex)])
    }

    public init?(json: JSONValue) {
        guard let file = json["file"]?.byteStringValue, let size = json["size"]?.integerValue, size >= 0,
            let sha256 = json["sha256"]?.stringValue.flatMap({ Hash(hex: $0) })
        else { return nil }
        self.init(file: file, size: UInt64(size), sha256: sha256)
    }

    public static var bytesName: String { "the file's bytes" }
}

/// The body of a streamed `extract`, `transfer` or `bundle` (Docs/Protocol.md), one file per
/// request:
///
/// 1. the header: one line of canonical JSON (`ExtractionHeader`, `BuiltFileHeader`) and `\n`;
/// 2. the file's bytes in frames, each a 4-byte big-endian length (1 to `maximumFrame`) and
///    that many bytes; a frame of length 0 ends them (early, when the read failed);
/// 3. the trailer: one line of canonical JSON, the reply the call would have given without a
///    stream (`extract`: `{"result": {…, "result": "ok"|"failed", "entries"}, "error"?,
///    "notes"?}`), sent once the event is recorded; then the connection closes.
///
/// A body that ends before its trailer is a failed extraction (the daemon stopped); a
/// `transfer` or a `bundle` is recorded before its header is sent, so such a body is a recorded
/// handover or bundle whose file did not arrive.
public enum ExtractionWire {
    public static let contentType = "application/x-custos-extract"
    /// The content type of a streamed `transfer`.
    public static let transferContentType = "application/x-custos-transfer"
    /// The content type of a streamed `bundle` (a court bundle).
    public static let bundleContentType = "application/x-custos-bundle"
    /// The largest frame; a longer one is a protocol error.
    public static let maximumFrame = 1 << 20
    /// The longest header or trailer line.
    public static let maximumLine = 1 << 20

    public static func header(_ header: some StreamedFileHeader) -> [UInt8] {
        CanonicalJSON.encode(header.json) + [UInt8(ascii: "\n")]
    }

    /// Frames of `bytes` (split at `maximumFrame`); nothing for no bytes.
    public static func frames(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count + 4 * (bytes.count / maximumFrame + 1))
        var start = 0
        while start < bytes.count {
            let count = min(maximumFrame, bytes.count - start)
            out += length(count)
            out += bytes[start..<start + count]
            start += count
        }
        return out
    }

    /// The frame that ends the bytes.
    public static let end: [UInt8] = [0, 0, 0, 0]

    public static func trailer(_ reply: ServiceReply) -> [UInt8] {
        CanonicalJSON.encode(reply.json) + [UInt8(ascii: "\n")]
    }

    private static func length(_ count: Int) -> [UInt8] {
        let value = UInt32(count)
        return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// The reader of a streamed `extract`.
    public typealias Reader = StreamReader<ExtractionHeader>

    /// Reads a streamed body as it arrives, handing each part on: the header, the bytes, the
    /// end of the bytes, the trailer. Throws (`ServiceFailure`, `failed`) on a body that is not
    /// this format; `finish` throws when the body ended before its trailer.
    public struct StreamReader<Header: StreamedFileHeader> {
        private enum State {
            case header
            case length
            case data(remaining: Int)
            case trailer
            case done
        }
        private var state = State.header
        private var pending = [UInt8]()

        public init() {}

        public var isDone: Bool { if case .done = state { true } else { false } }

        public mutating func consume(
            _ input: UnsafeRawBufferPointer, header: (Header) throws -> Void,
            data: (UnsafeRawBufferPointer) throws -> Void, end: () throws -> Void,
            trailer: (ServiceReply) throws -> Void
        ) throws {
            var index = 0
            while index < input.count {
                switch state {
                case .header, .trailer:
                    guard let newline = input[index...].firstIndex(of: UInt8(ascii: "\n")) else {
                        pending += input[index...]
                        guard pending.count <= maximumLine else { throw Self.fault("a line longer than 1 MiB") }
                        return
                    }
                    pending += input[index..<newline]
                    index = newline + 1
                    let line = pending
                    pending = []
                    guard line.count <= maximumLine, let value = try? CanonicalJSON.parse(line) else {
                        throw Self.fault("a line that is not JSON")
                    }
                    if case .header = state {
                        guard let parsed = Header(json: value) else {
                            throw Self.fault("a header it cannot read")
                        }
                        state = .length
                        try header(parsed)
                    } else {
                        state = .done
                        try trailer(try ServiceReply(json: value))
                    }
                case .length:
                    let take = min(4 - pending.count, input.count - index)
                    pending += input[index..<index + take]
                    index += take
                    guard pending.count == 4 else { return }
                    let count = pending.reduce(0) { $0 << 8 | Int($1) }
                    pending = []
                    guard count <= maximumFrame else { throw Self.fault("a frame longer than 1 MiB") }
                    if count == 0 {
                        state = .trailer
                        try end()
                    } else {
                        state = .data(remaining: count)
                    }
                case .data(let remaining):
                    let take = min(remaining, input.count - index)
                    try data(UnsafeRawBufferPointer(rebasing: input[index..<index + take]))
                    index += take
                    state = take == remaining ? .length : .data(remaining: remaining - take)
                case .done:
                    throw Self.fault("bytes after its trailer")
                }
            }
        }

        /// Checks that the body was whole (its trailer read).
        public func finish() throws {
            let missing: String
            switch state {
            case .done: return
            case .header: missing = "its header"
            case .trailer: missing = "its trailer"
            case .length, .data: missing = "the end of \(Header.bytesName)"
            }
            throw ServiceFailure(.failed, "the daemon's stream ended before \(missing)")
        }

        private static func fault(_ what: String) -> ServiceFailure {
            ServiceFailure(.failed, "the daemon's stream holds \(what)")
        }
    }
}
