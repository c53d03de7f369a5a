import CustosCustody
import CustosFormats
import CustosLedger

extension ServiceOperation {
    /// Legal holds: `{items | case, reason}`.
    public static let hold = ServiceOperation(name: "hold", action: .hold, records: true)
    public static let releaseHold = ServiceOperation(name: "release-hold", action: .hold, records: true)
    /// A case's retention date: `{case, retainUntil, reason?}`.
    public static let setRetention = ServiceOperation(name: "case-set", action: .administer, records: true)
    /// A disposal request: `{items | case, mode, reason, recipient?}`; its id in the result.
    public static let dispose = ServiceOperation(name: "dispose", action: .dispose, records: true)
    /// Another account's approval of a disposal request: `{request}`.
    public static let approve = ServiceOperation(name: "approve", action: .approve, records: true)
    /// A disposal request as the ledger records it, for the approver to read before approving:
    /// `{request}` → `{request, mode, items, requester, reason, recipient, status, approvedBy}`.
    public static let disposalRequest = ServiceOperation(name: "disposal-request", action: .approve, records: false)
}

extension CustodyService {
    /// The items a lifecycle call names: each of `items` resolved to one item, or every item of
    /// `case` (one of the two).
    func namedItems(_ arguments: Arguments, session: CustodySession) throws -> [ItemRecord] {
        let items = try arguments.strings("items")
        let caseID = try arguments.optionalString("case")
        guard items.isEmpty != (caseID == nil) else {
            throw ServiceFailure(.badRequest, "\(arguments.operation): give items or a case (one of them)")
        }
        if let caseID { return try session.items(ofCase: caseID) }
        var records = [ItemRecord]()
        for text in items {
            let record = try session.resolveItem(text)
            if !records.contains(where: { $0.item == record.item }) { records.append(record) }
        }
        return records
    }

    func hold(_ arguments: Arguments, custody: Custody, release: Bool) throws -> ServiceReply {
        let session = try custody.session()
        let records = try namedItems(arguments, session: session)
        let reason = try arguments.string("reason")
        let event =
            release ? try session.releaseHold(records, reason: reason) : try session.hold(records, reason: reason)
        return recorded(event, items: records, session: session)
    }

    func setRetention(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let session = try custody.session()
        let caseID = try arguments.string("case")
        let until = try arguments.string("retainUntil")
        let event = try session.setRetention(
            caseID: caseID, until: until, reason: try arguments.optionalString("reason"))
        return recorded(
            event, items: [], session: session,
            extra: ["case": .string(caseID), "retainUntil": .string(until)])
    }

    func dispose(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let session = try custody.session()
        let records = try namedItems(arguments, session: session)
        let modeText = try arguments.string("mode")
        guard let mode = DisposalMode(rawValue: modeText) else {
            throw ServiceFailure(
                .badRequest,
                "dispose: mode must be \(DisposalMode.allCases.map(\.rawValue).joined(separator: " or ")), not \"\(modeText)\""
            )
        }
        let request = try session.requestDisposal(
            records, mode: mode, reason: try arguments.string("reason"),
            recipient: try arguments.optionalString("recipient"))
        guard let event = request.recorded else {
            throw ServiceFailure(.failed, "dispose: the request was not recorded")
        }
        return recorded(
            event, items: records, session: session,
            extra: ["request": .string(request.id), "mode": .string(mode.rawValue)])
    }

    func approve(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let session = try custody.session()
        let id = try arguments.string("request")
        if try arguments.bool("finish") == true {
            // An approved destruction whose removal did not finish: remove what is left; nothing
            // is recorded (the `disposed` entries are).
            let archives = try session.finishDestruction(request: id)
            return ServiceReply(result: .object(["request": .string(id), "archives": .array(Self.json(archives))]))
        }
        let approval = try session.approveDisposal(request: id)
        // Done and recorded: the reply names what it can, never fails for it.
        let records = approval.request.items.compactMap { try? session.resolveItem($0) }
        let archives = Self.json(approval.archives)
        var reply = recorded(
            approval.event, items: records, session: session,
            extra: [
                "request": .string(approval.request.id), "mode": .string(approval.request.mode.rawValue),
                "archives": .array(archives),
            ])
        let failed = approval.archives.compactMap { archive -> String? in
            if case .failed(let reason) = archive.outcome { return "archive \(archive.content.hex): \(reason)" }
            return nil
        }
        if reply.failure == nil, !failed.isEmpty {
            reply.failure = ServiceFailure(
                .failed,
                "disposed (recorded), but an archive could not be removed: \(failed.joined(separator: "; ")); `custos approve --finish \(id)` removes it"
            )
        }
        return reply
    }

    func disposalRequest(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        let session = try custody.session(readOnly: true)
        let id = try arguments.string("request")
        guard let request = try session.disposalRequest(id) else {
            throw ServiceFailure(
                .unknownItem, "request \(id): no disposal request has this id (the sequence number of its first entry)")
        }
        let records = request.items.compactMap { try? session.resolveItem($0) }
        var result: JSONObject = [
            "request": .string(request.id), "mode": .string(request.mode.rawValue),
            "items": .array(records.map(\.json)),
            "requester": .object([
                "account": .string(request.requester.account), "uid": .integer(Int64(request.requester.uid)),
            ]),
            "reason": .string(request.reason), "recipient": request.recipient.map { .string($0) } ?? .null,
            "status": .string(request.isPending ? "pending" : "approved"),
            "approvedBy": request.approval.map { .string($0.actor) } ?? .null,
        ]
        if let approval = request.approval { result["approval"] = .integer(Int64(approval.sequence)) }
        return ServiceReply(result: .object(result))
    }

    static func json(_ archives: [ArchiveDisposal]) -> [JSONValue] {
        archives.map { archive in
            var object: JSONObject = [
                "content": .string(archive.content.hex), "items": .array(archive.items.map { .string($0) }),
            ]
            switch archive.outcome {
            case .removed(let location):
                object["outcome"] = .string("removed")
                object["location"] = .string(location)
            case .kept(let sharedWith):
                object["outcome"] = .string("kept")
                object["sharedWith"] = .array(sharedWith.map { .string($0) })
            case .alreadyGone:
                object["outcome"] = .string("already-gone")
            case .failed(let reason):
                object["outcome"] = .string("failed")
                object["reason"] = .string(reason)
            }
            return .object(object)
        }
    }
}
