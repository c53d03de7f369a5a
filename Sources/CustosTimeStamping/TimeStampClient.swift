import CustosFormats
import CustosHTTP
import CustosOpenSSL
import Foundation

/// An external time-stamping authority: where to ask, whom to trust, how long to wait.
public struct ExternalAuthority: Sendable {
    /// `http://host[:port]/path` (RFC 3161 HTTP transport).
    public var url: String
    /// The trust anchors its chain must reach.
    public var anchors: [Certificate]
    /// Intermediate certificates, if the authority does not include them.
    public var intermediates: [Certificate]
    /// The whole exchange must finish within this many seconds.
    public var timeoutSeconds: Double

    public init(url: String, anchors: [Certificate], intermediates: [Certificate] = [], timeoutSeconds: Double = 10) {
        self.url = url
        self.anchors = anchors
        self.intermediates = intermediates
        self.timeoutSeconds = timeoutSeconds
    }
}

/// A token that was checked before it was kept.
public struct CheckedToken: Sendable {
    /// The DER `TimeStampResp`, as the authority sent it (a `.tsr` file).
    public var response: [UInt8]
    public var info: TimeStampInfo
    /// genTime minus this node's clock, in seconds, when it was received.
    public var skewSeconds: Int64
}

/// Why no token was kept: nothing is recorded, the item stays "awaiting time stamp".
public struct TimeStampFailure: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case unreachable, timeout, http, contentType, malformed, notGranted, invalid
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// No connection (refused, unresolved, reset).
        public static let unreachable = Code(.unreachable)
        /// No answer within the timeout.
        public static let timeout = Code(.timeout)
        /// An HTTP status other than 200, or not HTTP.
        public static let http = Code(.http)
        /// Not `application/timestamp-reply`.
        public static let contentType = Code(.contentType)
        /// Not a DER time-stamp response.
        public static let malformed = Code(.malformed)
        /// Status rejection, waiting or another refusal.
        public static let notGranted = Code(.notGranted)
        /// A token that does not check: another hash, another nonce, an untrusted or expired
        /// signer, a signer without the timeStamping usage, genTime in the future.
        public static let invalid = Code(.invalid)

        public var description: String { "\(value)" }
    }

    public let code: Code
    public let authority: String
    public let message: String

    public init(_ code: Code, authority: String, _ message: String) {
        self.code = code
        self.authority = authority
        self.message = message
    }

    public var description: String { "\(authority): \(message)" }
}

/// Asks an external authority for a token over a SHA-256 digest, with a fresh nonce and
/// `certReq`, and checks the answer before it is returned. Blocking: call it from a thread of
/// its own.
public enum TimeStampClient {
    static let replyTypes: Set<String> = ["application/timestamp-reply", "application/timestamp-response"]

    public static func stamp(
        sha256: Hash, authority: ExternalAuthority, now: () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) throws(TimeStampFailure) -> CheckedToken {
        let request: TimeStampRequest
        let query: [UInt8]
        do {
            request = try TimeStampRequest.withRandomNonce(sha256: sha256)
            query = try request.der()
        } catch {
            throw TimeStampFailure(.malformed, authority: authority.url, "the request cannot be made: \(error)")
        }
        let response: HTTPResponse
        do {
            response = try HTTPClient.post(
                url: authority.url, contentType: "application/timestamp-query", body: query,
                timeout: authority.timeoutSeconds)
        } catch let error as HTTPError {
            let code: TimeStampFailure.Code =
                switch error.code {
                case .timeout: .timeout
                case .unreachable, .badURL: .unreachable
                default: .http
                }
            throw TimeStampFailure(code, authority: authority.url, error.message)
        } catch {
            throw TimeStampFailure(.unreachable, authority: authority.url, "\(error)")
        }
        guard response.status == 200 else {
            throw TimeStampFailure(.http, authority: authority.url, "answered HTTP \(response.status)")
        }
        let type =
            (response.headers["content-type"] ?? "").split(separator: ";").first.map {
                $0.trimmingCharacters(in: .whitespaces).lowercased()
            } ?? ""
        guard replyTypes.contains(type) else {
            throw TimeStampFailure(
                .contentType, authority: authority.url,
                "answered with content type \"\(type)\", not application/timestamp-reply")
        }
        let received = now()
        let check = TimeStampVerifier.check(
            response: response.body, request: request, anchors: authority.anchors,
            intermediates: authority.intermediates, now: received)
        guard let info = check.info else {
            let problem = check.problems.first ?? "no token"
            let code: TimeStampFailure.Code = problem.hasPrefix("not a DER") ? .malformed : .notGranted
            throw TimeStampFailure(code, authority: authority.url, problem)
        }
        guard check.passed else {
            throw TimeStampFailure(.invalid, authority: authority.url, check.problems.joined(separator: "; "))
        }
        return CheckedToken(response: response.body, info: info, skewSeconds: info.genTimeSeconds - received)
    }
}
