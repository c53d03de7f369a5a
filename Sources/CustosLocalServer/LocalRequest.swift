/// One request as the handler sees it: its body complete (at most `LocalServerLimits.maximumBody`).
public struct LocalRequest: Sendable {
    public var method: String
    /// The path as sent (percent-encoding kept), without the query.
    public var path: String
    /// The query's parameters, values percent-decoded; of a repeated name, the last.
    public var query: [String: String]
    /// The header fields in the order sent (names as sent).
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [(name: String, value: String)] = [],
        body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The value of the first header field of this name (compared without case).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}
