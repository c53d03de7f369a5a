import CustosCustody
import CustosFormats

/// The operations of the custody service, version 1 (Docs/Protocol.md): each is `POST
/// /v1/<name>` on the daemon's socket with a JSON object of arguments, or a call in process on
/// a vault the caller's account owns. Each names the actions a role must grant.
public struct ServiceOperation: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    /// What the caller's role must allow (the action a refusal names first).
    public let action: CustodyAction
    /// What else the caller's role must allow (a court bundle holds originals and a report).
    public let alsoRequires: [CustodyAction]
    /// Whether it records custody events (a read-only one is served from a read-only session).
    public let records: Bool

    public init(name: String, action: CustodyAction, alsoRequires: [CustodyAction] = [], records: Bool) {
        self.name = name
        self.action = action
        self.alsoRequires = alsoRequires
        self.records = records
    }

    /// Every action the caller's role must allow, `action` first.
    public var actions: [CustodyAction] { [action] + alsoRequires }

    public var description: String { name }

    public static let node = ServiceOperation(name: "node", action: .view, records: false)
    public static let list = ServiceOperation(name: "list", action: .view, records: false)
    public static let show = ServiceOperation(name: "show", action: .view, records: false)
    public static let history = ServiceOperation(name: "history", action: .view, records: false)
    /// Verification records a `verified` event when the daemon runs it.
    public static let verify = ServiceOperation(name: "verify", action: .view, records: true)
    public static let annotate = ServiceOperation(name: "annotate", action: .annotate, records: true)

    public static let all: [ServiceOperation] = [
        .node, .list, .show, .history, .verify, .entry, .proof, .checkpoint, .key, .annotate, .hold, .releaseHold,
        .setRetention, .dispose, .approve, .disposalRequest, .extract, .export, .transfer, .ingest, .receive,
        .report, .bundle,
    ]

    public static func named(_ name: String) -> ServiceOperation? { all.first { $0.name == name } }
}

/// One request: the operation and its arguments. The actor is never among them: the service
/// takes it from the caller (`Caller`), and ignores any member that claims one.
public struct ServiceCall: Sendable {
    public var operation: ServiceOperation
    public var arguments: JSONObject

    public init(_ operation: ServiceOperation, _ arguments: JSONObject = [:]) {
        self.operation = operation
        self.arguments = arguments
    }
}

/// Why a call failed, or why its result says a check failed: a code, a sentence that names
/// the item or file and the reason, and the CLI's exit status.
public struct ServiceFailure: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The arguments are not what the operation takes.
        public static let badRequest = Code(rawValue: "bad-request")
        /// No such operation (in this version of the protocol).
        public static let unknownOperation = Code(rawValue: "unknown-operation")
        /// The caller's role does not allow the action (recorded as a `refused` event).
        public static let forbidden = Code(rawValue: "forbidden")
        /// The input is refused (a missing reason, a note too long, a lifecycle rule).
        public static let refused = Code(rawValue: "refused")
        public static let unknownItem = Code(rawValue: "unknown-item")
        /// Something recorded failed its check (a document, an archive, the ledger): exit 1.
        public static let faultFound = Code(rawValue: "fault-found")
        /// The target exists; nothing was overwritten.
        public static let exists = Code(rawValue: "exists")
        /// Recorded, but no signed checkpoint covers it yet.
        public static let uncovered = Code(rawValue: "uncovered")
        /// The request is too large.
        public static let tooLarge = Code(rawValue: "too-large")
        /// The daemon cannot take the call now (a verification under way, too many waiting).
        public static let busy = Code(rawValue: "busy")
        /// The vault or the service failed.
        public static let failed = Code(rawValue: "failed")
    }

    public var code: Code
    public var message: String
    public var exitCode: Int32

    public init(_ code: Code, _ message: String, exitCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.exitCode = exitCode ?? (code == .faultFound ? 1 : 2)
    }

    public var description: String { message }

    /// Recorded from entry `first` on, which no signed checkpoint covers yet (exit 2; the
    /// record stands).
    public static func uncovered(since first: UInt64) -> ServiceFailure {
        ServiceFailure(
            .uncovered,
            "recorded from entry \(first) on, but no signed checkpoint covers it yet; `custos checkpoint --sign` covers it"
        )
    }

    /// The HTTP status the daemon answers with.
    public var httpStatus: Int {
        switch code {
        case .badRequest, .refused: 400
        case .forbidden: 403
        case .unknownItem, .unknownOperation: 404
        case .exists: 409
        case .tooLarge: 413
        case .busy: 503
        case .faultFound, .uncovered: 200
        default: 500
        }
    }

    public var json: JSONValue {
        .object(["code": .string(code.rawValue), "message": .string(message), "exit": .integer(Int64(exitCode))])
    }

    /// Reads an error as the service writes it. Its exit status is 1 for `fault-found` and 2
    /// otherwise, whatever the reply says (a reply cannot make a failure exit 0).
    public init?(json: JSONValue?) {
        guard let code = json?["code"]?.stringValue, let message = json?["message"]?.stringValue else { return nil }
        self.init(Code(rawValue: code), message)
    }
}

/// What a call gave: its result (the same JSON the CLI prints with `--json`), and a failure
/// when there is one. Both may be present: `show` of an item whose manifest was altered gives
/// what it could read, and a `fault-found` failure (exit 1).
public struct ServiceReply: Sendable {
    public var result: JSONValue?
    public var failure: ServiceFailure?
    /// Lines for standard error that do not change the status (`verify`: "not recorded: …").
    public var notes: [String]

    public init(result: JSONValue? = nil, failure: ServiceFailure? = nil, notes: [String] = []) {
        self.result = result
        self.failure = failure
        self.notes = notes
    }

    public var httpStatus: Int { failure?.httpStatus ?? 200 }

    /// The reply's body on the wire: `{"result": …, "error": {code, message, exit}, "notes": […]}`.
    public var json: JSONValue {
        var object: JSONObject = [:]
        if let result { object["result"] = result }
        if let failure { object["error"] = failure.json }
        if !notes.isEmpty { object["notes"] = .array(notes.map { .string($0) }) }
        return .object(object)
    }

    public init(json: JSONValue) throws(ServiceFailure) {
        guard case .object(let object) = json else {
            throw ServiceFailure(.failed, "the daemon's reply is not a JSON object")
        }
        result = object["result"]
        failure = ServiceFailure(json: object["error"])
        if failure == nil, let message = object["error"]?.stringValue {
            // The transport's own refusals (busy, too large, no credentials): `{"error": text, "code": …}`.
            failure = ServiceFailure(ServiceFailure.Code(rawValue: object["code"]?.stringValue ?? "failed"), message)
        }
        if object["error"] != nil, failure == nil {
            throw ServiceFailure(.failed, "the daemon's reply holds an error that cannot be read")
        }
        notes = (object["notes"]?.arrayValue ?? []).compactMap(\.stringValue)
    }
}

/// The version of the protocol this build speaks (the path's `/v1/`).
public let serviceProtocolVersion = 1
