import CustosCustody
import CustosFormats
import CustosLedger
import CustosSealing
import CustosVault
import Foundation
import Logging

/// The custody service as people reach it: one call, its caller, its reply. The daemon serves
/// it on its socket, for callers the kernel names; a command on a vault its own account owns
/// calls it in process. Either way the same code checks the caller's role (when a policy is in
/// force), records a refusal as a `refused` event, and drives `Custody`: no operation is
/// written twice, and the result is the same JSON.
///
/// Calls block (SQLite, file I/O): the daemon runs each on a thread of its pool, never on
/// Swift's cooperative threads.
public struct CustodyService: Sendable {
    public let vault: Vault
    public let tool: String
    /// The roles in force; nil on a vault the caller owns and reaches without a daemon.
    public let policy: AccessPolicy?
    /// Whether this is the vault's daemon (it then records verifications: it is the writer).
    public let isDaemon: Bool
    /// The account that owns the vault (the daemon's): every action is its own to take.
    public let ownerID: UInt32?
    /// What the actor's `groups` say when the vault's owner acted.
    public static let ownerRole = "(the vault's owner)"
    let logger: Logger
    /// One recording call at a time: a call's checks (a hold, a pending request, an approval
    /// already given) and its append are not one transaction, so two at once could both pass.
    let recording = RecordingGate()
    /// Held while a verification runs.
    private let verifying = NSLock()
    /// How many refusals of each account are recorded.
    private let refusals = RefusalLimiter()
    /// The daemon's read-only ledger connections, kept open from one call to the next; nil in
    /// process (one call, one connection).
    private let readers: ReadingConnections?

    public init(
        vault: Vault, tool: String, policy: AccessPolicy?, isDaemon: Bool, ownerID: UInt32? = nil,
        logger: Logger = Logger(label: "custos.service")
    ) {
        self.ownerID = ownerID
        self.vault = vault
        self.tool = tool
        self.policy = policy
        self.isDaemon = isDaemon
        self.logger = logger
        self.readers = isDaemon ? ReadingConnections(keeping: 16) : nil
    }

    /// Runs `body` on a read-only session: the daemon's on a connection kept from an earlier
    /// call when one is idle (else a new one, kept after), in process on a new one. A call that
    /// throws drops its connection rather than keep it.
    private func reading<T>(_ custody: Custody, _ body: (CustodySession) throws -> T) throws -> T {
        guard let readers else { return try body(try custody.session(readOnly: true)) }
        let ledger = try readers.take() ?? vault.openLedger(readOnly: true)
        let result = try body(try custody.session(on: ledger))
        readers.keep(ledger)
        return result
    }

    /// Performs `call` for `caller`: refused (and recorded) when the caller's role does not
    /// allow it; otherwise done, with the groups that granted it recorded with the actor.
    /// `progress` hears a long operation's progress (verify), in process only.
    public func perform(_ call: ServiceCall, as caller: Caller, progress: (String) -> Void = { _ in }) -> ServiceReply {
        if let missing = missingAction(call.operation, caller: caller) {
            return refuse(call, caller: caller, action: missing)
        }
        let granting = grantingGroups(call.operation, caller: caller)
        // Beside a running daemon, the daemon is the vault's only writer: a command on the vault
        // itself records nothing (it goes through the daemon's socket).
        if !isDaemon, call.operation.records, call.operation != .verify, vault.daemonIsRunning {
            return ServiceReply(
                failure: ServiceFailure(
                    .refused,
                    "\(vault.root): a daemon serves this vault and is its only writer; act through its socket (--socket PATH or $CUSTOS_SOCKET, its `socket` setting)"
                ))
        }
        let arguments = Arguments(call.arguments, operation: call.operation)
        do {
            let custody = Custody(
                vault: vault,
                actor: caller.actor(examiner: try arguments.optionalString("examiner"), grantingGroups: granting),
                tool: tool, logger: logger)
            // A verification appends only its result, after minutes of reading: not behind the gate.
            if call.operation.records, call.operation != .verify {
                return try recording.run {
                    try dispatch(call.operation, arguments, custody: custody, caller: caller, progress: progress)
                }
            }
            return try dispatch(call.operation, arguments, custody: custody, caller: caller, progress: progress)
        } catch let failure as ServiceFailure {
            return ServiceReply(failure: failure)
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
    }

    /// The failure a custody or storage error gives.
    static func failure(for error: any Error) -> ServiceFailure {
        if let error = error as? ServiceFailure { return error }
        if let error = error as? CustodyError {
            let code: ServiceFailure.Code =
                switch error.code {
                case .unknownItem: .unknownItem
                case .missing, .altered: .faultFound
                case .exists: .exists
                case .failed: .failed
                default: .refused
                }
            return ServiceFailure(code, error.description, exitCode: error.exitCode)
        }
        return ServiceFailure(.failed, "\(error)")
    }

    private func dispatch(
        _ operation: ServiceOperation, _ arguments: Arguments, custody: Custody, caller: Caller,
        progress: (String) -> Void
    ) throws -> ServiceReply {
        switch operation {
        case .node: return node(caller: caller)
        case .list: return try list(arguments, custody: custody)
        case .show: return try show(arguments, custody: custody)
        case .history: return try history(arguments, custody: custody)
        case .verify: return try verify(arguments, custody: custody, progress: progress)
        case .entry: return try entry(arguments, custody: custody)
        case .proof: return try proof(arguments, custody: custody)
        case .checkpoint: return try checkpoint(arguments, custody: custody)
        case .key: return try key(custody: custody)
        case .annotate: return try annotate(arguments, custody: custody)
        case .hold: return try hold(arguments, custody: custody, release: false)
        case .releaseHold: return try hold(arguments, custody: custody, release: true)
        case .setRetention: return try setRetention(arguments, custody: custody)
        case .dispose: return try dispose(arguments, custody: custody)
        case .approve: return try approve(arguments, custody: custody)
        case .disposalRequest: return try disposalRequest(arguments, custody: custody)
        case .extract: return try extractionPlan(arguments, custody: custody)
        case .export: return try export(arguments, custody: custody)
        case .report: return try report(arguments, custody: custody)
        case .transfer: return try transferPlan(arguments, custody: custody)
        case .bundle: return try bundlePlan(arguments, custody: custody)
        case .ingest, .receive:
            throw ServiceFailure(
                .badRequest,
                "\(operation): its bytes are the request's body, on the daemon's socket (arguments in the \(UploadArguments.header) header)"
            )
        default: throw ServiceFailure(.unknownOperation, "\(operation): not served by this version")
        }
    }

    // MARK: - Refusals

    /// The groups whose role grants `action` to `caller` (the owner's role for the vault's own
    /// account; none needed without a policy); nil when nothing grants it.
    func grantingGroups(_ action: CustodyAction, caller: Caller) -> [String]? {
        guard let policy else { return [] }
        // The vault's own account (the daemon's): it may write the vault directly anyway, so its
        // own socket refuses it nothing (a vault of one's own, the service account).
        if caller.uid == ownerID { return [Self.ownerRole] }
        let granting = policy.groupsGranting(action, among: caller.groups)
        return granting.isEmpty ? nil : granting
    }

    /// The first of `operation`'s actions that no role of `caller` grants; nil when all are.
    func missingAction(_ operation: ServiceOperation, caller: Caller) -> CustodyAction? {
        operation.actions.first { grantingGroups($0, caller: caller) == nil }
    }

    /// The groups whose roles grant `operation`'s actions to `caller` (each once, sorted).
    func grantingGroups(_ operation: ServiceOperation, caller: Caller) -> [String] {
        Array(Set(operation.actions.flatMap { grantingGroups($0, caller: caller) ?? [] })).sorted()
    }

    /// Refuses a call the caller's role does not allow, and records the attempt: a `refused`
    /// event about the items it named by id (at most 10; the whole vault when it named none, or
    /// a case), whose details say the operation, the action, what the call named and the
    /// caller's groups. The caller learns nothing of the vault from it (not which items
    /// resolved, not the entries, not the policy's groups). At most `RefusalLimiter.perMinute`
    /// refusals a minute are recorded for one account; beyond, the daemon's log keeps them, so
    /// nobody can grow the ledger without bound by being refused. The refusal stands even when
    /// recording it fails.
    func refuse(_ call: ServiceCall, caller: Caller, action: CustodyAction? = nil) -> ServiceReply {
        let action = action ?? call.operation.action
        let allowed = policy?.actions(of: caller.groups) ?? []
        let message =
            "refused: account \(caller.account) (uid \(caller.uid)) may not \(action) (\(call.operation)): "
            + (allowed.isEmpty
                ? "no role of its groups allows anything"
                : "its roles allow \(allowed.map(\.rawValue).joined(separator: ", ")) only")
            + "; an administrator gives roles in the daemon's `roles` setting"
        var note: String
        if refusals.admit(caller.uid) {
            do {
                let custody = Custody(
                    vault: vault, actor: caller.actor(examiner: nil, grantingGroups: []), tool: tool, logger: logger)
                let session = try custody.session()
                var named = JSONObject()
                for key in ["item", "items", "case", "request"] where call.arguments[key] != nil {
                    named[key] = call.arguments[key]
                }
                let namedBytes = CanonicalJSON.encode(.object(named))
                try session.recordEvent(
                    .refused, items: refusedItems(call.arguments, session: session),
                    facts: ["action": .string(action.rawValue)],
                    details: [
                        "operation": .string(call.operation.name), "action": .string(action.rawValue),
                        "callerGroups": .array(caller.groups.map { .string($0) }),
                        // What the call named, at most 4 KiB of it.
                        "named": .string(String(decoding: namedBytes.prefix(4096), as: UTF8.self)),
                    ])
                note = "the refusal is recorded"
            } catch {
                logger.error(
                    "a refusal could not be recorded", metadata: ["account": "\(caller.account)", "error": "\(error)"])
                note = "the refusal could not be recorded: \(error)"
            }
        } else {
            logger.warning(
                "refusal not recorded: too many from this account",
                metadata: [
                    "account": "\(caller.account)", "uid": "\(caller.uid)", "operation": "\(call.operation)",
                ])
            note =
                "the refusal is not recorded (more than \(RefusalLimiter.perMinute) a minute from this account); the daemon's log keeps it"
        }
        return ServiceReply(failure: ServiceFailure(.forbidden, message), notes: [note])
    }

    /// The items a refused call named by id or unique prefix (at most 10); `[""]` (the whole
    /// vault) when it named none that resolves.
    private func refusedItems(_ arguments: JSONObject, session: CustodySession) -> [String] {
        var texts = [String]()
        if let item = arguments["item"]?.stringValue { texts.append(item) }
        for case .string(let item) in arguments["items"]?.arrayValue ?? [] { texts.append(item) }
        var items = [String]()
        for text in texts.prefix(10) {
            if let record = try? session.resolveItem(text), !items.contains(record.item) { items.append(record.item) }
        }
        return items.isEmpty ? [""] : items
    }

    // MARK: - Reading

    private func node(caller: Caller) -> ServiceReply {
        let actions =
            caller.uid == ownerID ? CustodyAction.all : (policy?.actions(of: caller.groups) ?? CustodyAction.all)
        return ServiceReply(
            result: .object([
                "origin": .string(vault.configuration.origin),
                "version": .string(tool),
                "protocol": .integer(Int64(serviceProtocolVersion)),
                "caller": .object([
                    "account": .string(caller.account), "uid": .integer(Int64(caller.uid)),
                    "groups": .array(caller.groups.map { .string($0) }),
                    "verifiedBy": .string(caller.verification.rawValue),
                ]),
                "actions": .array(actions.map { .string($0.rawValue) }),
            ]))
    }

    private func list(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let caseID = try arguments.optionalString("case")
        let statuses = try reading(custody) { session in try session.statuses(caseID: caseID) }
        return ServiceReply(result: .array(statuses.map(\.json)))
    }

    private func show(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let shown = try reading(custody) { session in
            let records = try ItemResolution.items(try arguments.string("item"), in: session.ledger)
            return try records.map { try session.details(of: $0) }
        }
        let faults = shown.compactMap { item in item.manifest.fault.map { "item \(item.record.item): \($0)" } }
        return ServiceReply(
            result: .array(shown.map(\.json)),
            failure: faults.isEmpty
                ? nil : ServiceFailure(.faultFound, (faults + ["run custos verify"]).joined(separator: "\n")))
    }

    private func history(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let items = try arguments.strings("items")
        let caseID = try arguments.optionalString("case")
        guard items.isEmpty != (caseID == nil) else {
            throw ServiceFailure(.badRequest, "history: give items or a case (one of them)")
        }
        let histories = try reading(custody) { session in
            var records = [ItemRecord]()
            if let caseID {
                records = try session.items(ofCase: caseID)
            } else {
                for text in items {
                    for record in try ItemResolution.items(text, in: session.ledger)
                    where !records.contains(where: { $0.item == record.item }) {
                        records.append(record)
                    }
                }
            }
            return try records.map { try session.history(of: $0) }
        }
        let faults = histories.flatMap { history in
            history.faults.map { event in
                "item \(history.record.item): entry \(event.sequence): "
                    + [event.proof.fault, event.document.fault].compactMap { $0 }.joined(separator: "; ")
            }
        }
        return ServiceReply(
            result: .object([
                "items": .array(
                    histories.map { history in
                        .object(["item": history.record.json, "events": .array(history.eventsJSON)])
                    })
            ]),
            failure: faults.isEmpty
                ? nil : ServiceFailure(.faultFound, (faults + ["run custos verify"]).joined(separator: "\n")))
    }

    /// Verifies the vault (or the items named) and, unless told not to or unable to, records a
    /// `verified` event. Recording never changes the result: a note says why it was not.
    private func verify(_ arguments: Arguments, custody: Custody, progress: (String) -> Void) throws -> ServiceReply {
        // One verification at a time: each re-reads the whole vault, and a caller with `view`
        // must not be able to queue hundreds of them.
        guard verifying.try() else {
            throw ServiceFailure(
                .busy, "verify: a verification of this vault is under way; try again when it has finished")
        }
        defer { verifying.unlock() }
        let session: CustodySession
        do {
            session = try custody.session(readOnly: true)
        } catch let error as LedgerError where error.code == .corrupt || error.code == .missing {
            throw ServiceFailure(.faultFound, "verification failed: \(error)")
        }
        let items = try arguments.strings("items")
        var selection: Set<String>?
        if !items.isEmpty { selection = Set(try items.map { try session.resolveItem($0).item }) }
        let report: VerificationReport
        do {
            report = try session.verify(items: selection, progress: progress)
        } catch let error as LedgerError where error.code == .corrupt {
            throw ServiceFailure(.faultFound, "verification failed: \(error)")
        }
        var result = report.json.objectValue ?? [:]
        var notes = [String]()
        if try arguments.bool("record") ?? true {
            if let refusal = custody.verificationRecordingRefusal(report, independentCheck: false, byDaemon: isDaemon) {
                notes.append("not recorded: \(refusal)")
            } else {
                do {
                    let event = try custody.session().recordVerification(report, items: selection.map { Array($0) })
                    result["recorded"] = .array(event.entries.map { .integer(Int64($0.sequence)) })
                    if let failure = event.checkpointFailure {
                        notes.append(
                            "recorded, but no signed checkpoint covers it yet (`custos checkpoint --sign` covers it): \(failure)"
                        )
                    }
                } catch {
                    notes.append("not recorded: \(error)")
                }
            }
        }
        return ServiceReply(
            result: .object(result),
            failure: report.passed
                ? nil : ServiceFailure(.faultFound, "verification FAILED: \(report.faults.count) faults"),
            notes: notes)
    }

    // MARK: - Acting

    private func annotate(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let session = try custody.session()
        let record = try session.resolveItem(try arguments.string("item"))
        let event = try session.annotate(record, note: try arguments.string("note"))
        return recorded(event, items: [record], session: session)
    }

    /// The reply of an operation that recorded an event: the items and the entries; a failure
    /// (`uncovered`, exit 2) when no signed checkpoint covers them yet, though they stand.
    func recorded(_ event: RecordedEvent, items: [ItemRecord], session: CustodySession, extra: JSONObject = [:])
        -> ServiceReply
    {
        var result = extra
        result["items"] = .array(items.map(\.json))
        result["entries"] = .array(event.entries.map { .integer(Int64($0.sequence)) })
        result["event"] = .string(event.entries.first?.type.rawValue ?? "")
        var failure: ServiceFailure?
        if let first = session.uncoveredSince {
            failure = ServiceFailure.uncovered(since: first)
        }
        return ServiceReply(result: .object(result), failure: failure)
    }
}

/// At most `perMinute` recorded refusals a minute for one account.
/// Sendable: `recent` is read and written under `lock`.
public final class RefusalLimiter: @unchecked Sendable {
    public static let perMinute = 20
    private let lock = NSLock()
    private var recent = [UInt32: [Double]]()

    func admit(_ uid: UInt32, now: Double = Date().timeIntervalSince1970) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        var times = (recent[uid] ?? []).filter { now - $0 < 60 }
        guard times.count < Self.perMinute else {
            recent[uid] = times
            return false
        }
        times.append(now)
        recent[uid] = times
        if recent.count > 10_000 { recent = recent.filter { !($0.value.last.map { now - $0 >= 60 } ?? true) } }
        return true
    }
}

/// Read-only ledger connections kept open between the daemon's calls: opening one (the file, its
/// schema read, every statement prepared anew) cost about as much as a `show` itself. A kept
/// connection holds no snapshot between calls (its statements are reset after each use, its
/// read transactions ended), so each call reads the ledger as committed when it reads, as a new
/// connection would. One call uses a connection at a time. Sendable: `idle` is behind `lock`, and
/// a connection is in it or in the hands of one call, never both.
final class ReadingConnections: @unchecked Sendable {
    private let lock = NSLock()
    private var idle = [Ledger]()
    /// The most kept idle; more (calls at once beyond it) are closed after their call.
    private let keeping: Int

    init(keeping: Int) { self.keeping = keeping }

    /// An idle connection, or nil.
    func take() -> Ledger? { lock.withLock { idle.popLast() } }

    /// Keeps a connection whose call has ended, for the next.
    func keep(_ ledger: Ledger) {
        lock.withLock { if idle.count < keeping { idle.append(ledger) } }
    }
}

/// A lock around the calls that record. Sendable: `lock` guards nothing but the calls' order.
final class RecordingGate: @unchecked Sendable {
    private let lock = NSLock()

    func run<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

extension CustodyEventType {
    /// A request the caller's role did not allow: the attempt is on the record too.
    public static let refused = CustodyEventType(rawValue: "refused")
}

/// A call's arguments, read strictly: a member of the wrong type is a bad request naming it.
/// Members the operation does not read are ignored (an `actor` among them: the actor is the
/// caller the kernel names).
struct Arguments {
    let object: JSONObject
    let operation: ServiceOperation

    init(_ object: JSONObject, operation: ServiceOperation) {
        self.object = object
        self.operation = operation
    }

    /// The text under `key`, nil when absent or null; a value of another type is a bad request.
    func optionalString(_ key: String) throws -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard let text = value.stringValue else {
            throw ServiceFailure(.badRequest, "\(operation): \(key) must be text")
        }
        return text
    }

    func string(_ key: String) throws -> String {
        guard let value = object[key] else { throw ServiceFailure(.badRequest, "\(operation): \(key) is missing") }
        guard let text = value.stringValue else {
            throw ServiceFailure(.badRequest, "\(operation): \(key) must be text")
        }
        return text
    }

    /// The most texts an array argument may hold (items of one call).
    static let maximumElements = 1000

    func strings(_ key: String) throws -> [String] {
        guard let value = object[key], value != .null else { return [] }
        guard let elements = value.arrayValue else {
            throw ServiceFailure(.badRequest, "\(operation): \(key) must be an array of text")
        }
        guard elements.count <= Self.maximumElements else {
            throw ServiceFailure(
                .badRequest,
                "\(operation): \(key) holds \(elements.count) values; at most \(Self.maximumElements) a call")
        }
        return try elements.map { element in
            guard let text = element.stringValue else {
                throw ServiceFailure(.badRequest, "\(operation): \(key) must be an array of text")
            }
            return text
        }
    }

    /// The flag under `key`, nil when absent or null; a value of another type is a bad request.
    func bool(_ key: String) throws -> Bool? {
        guard let value = object[key], value != .null else { return nil }
        guard let flag = value.boolValue else {
            throw ServiceFailure(.badRequest, "\(operation): \(key) must be true or false")
        }
        return flag
    }
}
