import HTTPTypes
import HummingbirdCore
import NIOCore
import Synchronization

/// One request as the handler sees it: its body complete (at most `LocalServerLimits.maximumBody`),
/// or, for a path of `LocalServerLimits.streamedPaths`, streamed (`bodyStream`).
public struct LocalRequest: Sendable {
    public var method: String
    /// The path as sent (percent-encoding kept), without the query.
    public var path: String
    /// The query's parameters, values percent-decoded; of a repeated name, the last.
    public var query: [String: String]
    /// The header fields in the order sent (names as sent).
    public var headers: [(name: String, value: String)]
    /// The body, collected; empty when it is streamed.
    public var body: [UInt8]
    /// The body as it arrives, for a path whose body is streamed; nil otherwise.
    public var bodyStream: LocalRequestBody?

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [(name: String, value: String)] = [],
        body: [UInt8] = [], bodyStream: LocalRequestBody? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.bodyStream = bodyStream
    }

    /// The request as HummingbirdCore read it, with its body collected or streamed.
    init(_ request: Request, body: [UInt8] = [], bodyStream: LocalRequestBody? = nil) {
        var query = [String: String]()
        for (name, value) in request.uri.queryParameters { query[String(name)] = String(value) }
        self.init(
            method: request.method.rawValue, path: request.uri.path, query: query,
            headers: request.headers.map { (name: $0.name.rawName, value: $0.value) }, body: body,
            bodyStream: bodyStream)
    }

    /// The value of the first header field of this name (compared without case).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

/// A streamed request body: its chunks as they arrive. Iterate it once. It throws when the
/// connection closes before the body's end, or when the body is not the length its head
/// declared: a cut upload never reads as complete. A handler that answers before reading it to
/// its end has the connection closed after its answer (the rest is never read).
public struct LocalRequestBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    /// The length the head declared (`Content-Length`), nil for a chunked body.
    public let declaredLength: Int64?
    private let body: RequestBody
    private let state: ReadState

    init(_ body: RequestBody, declaredLength: Int64?) {
        self.body = body
        self.declaredLength = declaredLength
        self.state = ReadState()
    }

    /// Whether the body was read to its end.
    var wasReadToTheEnd: Bool { state.ended.withLock { $0 } }

    final class ReadState: Sendable {
        let ended = Mutex(false)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: RequestBody.AsyncIterator
        let declaredLength: Int64?
        let state: ReadState
        var received: Int64 = 0

        public mutating func next() async throws -> [UInt8]? {
            guard let buffer = try await inner.next() else {
                if let declaredLength, declaredLength != received {
                    throw LocalServerError(
                        .incompleteBody, path: "",
                        "the request body ended after \(received) of the \(declaredLength) bytes its head declared")
                }
                state.ended.withLock { $0 = true }
                return nil
            }
            received += Int64(buffer.readableBytes)
            return Array(buffer.readableBytesView)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: body.makeAsyncIterator(), declaredLength: declaredLength, state: state)
    }
}
