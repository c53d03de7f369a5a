// TEMPORARY until the transport branch merges.
public enum LocalSocketClient {
    public static func send(
        socket: String, method: String, path: String, headers: [(String, String)], body: [UInt8], timeout: Double
    ) throws -> HTTPResponse { throw HTTPError(.unreachable, url: socket, "placeholder") }
}
