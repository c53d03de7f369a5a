/// The handler's answer. A `.bytes` body is sent with its length; a `.stream` body is sent
/// chunked as its elements come, and a stream that throws cuts the connection (the client sees
/// an incomplete answer, never a complete-looking one).
public struct LocalResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        case stream(AsyncThrowingStream<[UInt8], any Error>)
    }

    /// 200 to 599; any other is sent as a 500 (the handler's fault).
    public var status: Int
    public var contentType: String
    public var body: Body
    /// Sent with `Connection: close` (the server closes the connection after it).
    var closesConnection = false

    public init(status: Int, contentType: String = "application/json", body: Body) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// This answer, closing its connection.
    var closing: LocalResponse {
        var response = self
        response.closesConnection = true
        return response
    }

    /// The transport's own error answer: `{"error": message, "code": code}`.
    public static func error(status: Int, code: String, message: String) -> LocalResponse {
        LocalResponse(status: status, body: .bytes(errorDocument(code: code, message: message)))
    }

    static func errorDocument(code: String, message: String) -> [UInt8] {
        Array("{\"error\":\(jsonString(message)),\"code\":\(jsonString(code))}\n".utf8)
    }

    private static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
