/// What a client may cost the server.
public struct LocalServerLimits: Sendable {
    /// The largest request body; a larger one is answered 413 and the connection closed,
    /// without reading the rest.
    public var maximumBody: Int
    /// A whole request (head and body) must arrive within this many seconds of its first byte
    /// (or of the connection, for the first): a client that sends one byte a second is cut off.
    public var requestDeadlineSeconds: Double
    /// A kept-alive connection with no request is closed after this many seconds.
    public var idleSeconds: Double
    /// Connections served at once; more are answered 503 at accept and closed.
    public var maximumConnections: Int
    /// The paths (without the query) whose body is streamed to the handler as it arrives
    /// (`LocalRequest.bodyStream`) rather than collected: uploads. Their head is held to the
    /// request deadline like any other; their body, to a pace: no byte for
    /// `requestDeadlineSeconds` while the server waits for one, or fewer than
    /// `minimumStreamedBytesPerSecond` over the time it waited, and the connection is closed.
    public var streamedPaths: Set<String>
    /// The largest streamed body; a larger one is answered 413 as any other.
    public var maximumStreamedBody: Int64
    public var minimumStreamedBytesPerSecond: Int

    public init(
        maximumBody: Int = 1 << 20, requestDeadlineSeconds: Double = 10, idleSeconds: Double = 30,
        maximumConnections: Int = 512, streamedPaths: Set<String> = [], maximumStreamedBody: Int64 = 1 << 40,
        minimumStreamedBytesPerSecond: Int = 64 << 10
    ) {
        self.maximumBody = maximumBody
        self.requestDeadlineSeconds = requestDeadlineSeconds
        self.idleSeconds = idleSeconds
        self.maximumConnections = maximumConnections
        self.streamedPaths = streamedPaths
        self.maximumStreamedBody = maximumStreamedBody
        self.minimumStreamedBytesPerSecond = minimumStreamedBytesPerSecond
    }
}

/// Where the socket is, and who may connect to it.
public struct LocalSocketSettings: Sendable {
    /// The socket's path. Its folder is created if missing (group `group`; mode 0750 when `mode`
    /// lets the group connect, 0700 when it does not).
    public var path: String
    /// The group that may connect (e.g. "evidence"); nil: the daemon's own group.
    public var group: String?
    /// The socket file's mode, set right after bind and before listen.
    public var mode: UInt32

    public init(path: String, group: String? = nil, mode: UInt32 = 0o660) {
        self.path = path
        self.group = group
        self.mode = mode
    }
}
