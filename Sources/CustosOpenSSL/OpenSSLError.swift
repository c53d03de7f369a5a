import COpenSSL

/// An error from OpenSSL: the call that failed and OpenSSL's own error queue.
public struct OpenSSLError: Error, CustomStringConvertible, Sendable {
    /// The function that failed.
    public let call: String
    /// The messages OpenSSL queued, oldest first.
    public let queue: [String]
    public let message: String

    init(call: String, message: String? = nil) {
        self.call = call
        self.queue = Self.drainQueue()
        self.message = message ?? "\(call) failed"
    }

    public var description: String {
        queue.isEmpty ? message : "\(message): \(queue.joined(separator: "; "))"
    }

    /// Empties OpenSSL's thread-local error queue into strings.
    static func drainQueue() -> [String] {
        var messages = [String]()
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            var message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // The detail some calls add (a certificate verification error, say).
            if flags & 0x02 /* ERR_TXT_STRING */ != 0, let data, data.pointee != 0 {
                message += " (\(String(cString: data)))"
            }
            messages.append(message)
        }
        return messages
    }
}
