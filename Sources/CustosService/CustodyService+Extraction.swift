import CustosCustody
import CustosFormats
import CustosLedger

extension ServiceOperation {
    /// Taking originals out: `plan: true` names them (nothing recorded); otherwise one item's
    /// bytes are streamed (`CustodyService.extract(_:as:open:)`, the daemon's socket only).
    public static let extract = ServiceOperation(name: "extract", action: .extract, records: true)
}

extension CustodyService {
    /// `extract` with `plan: true` (`items`, `reason`, `examiner?`): the items resolved, the
    /// reason checked, each original named (`CustodySession.planExtraction`), nothing written
    /// or recorded: `{"items": [ExtractionHeader]}`. The client checks the names in its folder
    /// before it asks for any byte.
    func extractionPlan(_ arguments: Arguments, custody: Custody) throws -> ServiceReply {
        guard try arguments.bool("plan") == true else {
            throw ServiceFailure(
                .badRequest,
                "extract: the original's bytes are streamed by the daemon's socket (give plan: true for the names)")
        }
        let session = try custody.session(readOnly: true)
        let plans = try session.planExtraction(
            try resolve(try arguments.strings("items"), session: session),
            reason: try arguments.string("reason"))
        return ServiceReply(
            result: .object([
                "items": .array(
                    try plans.map { plan in
                        guard let header = ExtractionHeader(plan) else {
                            throw ServiceFailure(
                                .faultFound,
                                "item \(plan.record.item): its sealed entry lacks digests; run custos verify")
                        }
                        return header.json
                    })
            ]))
    }

    private func resolve(_ texts: [String], session: CustodySession) throws -> [ItemRecord] {
        guard !texts.isEmpty else { throw ServiceFailure(.badRequest, "extract: items is missing") }
        var records = [ItemRecord]()
        for text in texts {
            let record = try session.resolveItem(text)
            if !records.contains(where: { $0.item == record.item }) { records.append(record) }
        }
        return records
    }

    /// `extract` of one original, its bytes streamed (`item`, `reason`, `folder` as the client
    /// named it, `examiner?`): the role check and the plan are `perform`'s (`plan: true`; a
    /// refusal is recorded there); then `open` is given the plan and returns the sink the bytes
    /// go to (the daemon: its socket's stream), and the shared workflow
    /// (`CustodySession.takeOut`) reads, re-hashes and records the `extracted` event for the
    /// caller. The reply is the call's: before `open`, the reason nothing was sent; after, the
    /// outcome (the stream's trailer).
    public func extract<Sink: ExtractionSink>(
        _ call: ServiceCall, as caller: Caller, open: (ExtractionPlan) throws -> Sink
    ) -> ServiceReply {
        let arguments = Arguments(call.arguments, operation: .extract)
        let item: String
        let reason: String
        let folder: [UInt8]
        do {
            item = try arguments.string("item")
            reason = try arguments.string("reason")
            guard let named = call.arguments["folder"]?.byteStringValue, !named.isEmpty else {
                throw ServiceFailure(.badRequest, "extract: folder (the folder the client writes into) is missing")
            }
            folder = named
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
        var planning = call.arguments
        planning["plan"] = .bool(true)
        planning["items"] = .array([.string(item)])
        let planned = perform(ServiceCall(.extract, planning), as: caller)
        if planned.failure != nil { return planned }

        let granting = grantingGroups(.extract, caller: caller) ?? []
        do {
            let custody = Custody(
                vault: vault,
                actor: caller.actor(examiner: try arguments.optionalString("examiner"), grantingGroups: granting),
                tool: tool, logger: logger)
            let session = try custody.session()
            guard let plan = try session.planExtraction([try session.resolveItem(item)], reason: reason).first else {
                throw ServiceFailure(.failed, "extract: nothing planned")
            }
            let sink = try open(plan)
            let outcome = try session.takeOut(plan, reason: reason, folder: folder, into: sink)
            return reply(outcome, session: session)
        } catch {
            return ServiceReply(failure: Self.failure(for: error))
        }
    }

    /// The reply of one extraction: the item, the name, the result and the entry; `fault-found`
    /// (exit 1) when it failed, `uncovered` (exit 2) when no signed checkpoint covers it yet.
    func reply(_ outcome: ExtractionOutcome, session: CustodySession) -> ServiceReply {
        var result: JSONObject = [
            "item": outcome.record.json, "name": .byteString(outcome.name),
            "entries": .array([.integer(Int64(outcome.entry.sequence))]), "event": .string("extracted"),
        ]
        if let note = outcome.nameNote { result["nameNote"] = .string(note) }
        var failure: ServiceFailure?
        switch outcome.result {
        case .ok(let sha256):
            result["result"] = .string("ok")
            result["sha256"] = .string(sha256.hex)
            if let first = session.uncoveredSince {
                failure = ServiceFailure.uncovered(since: first)
            }
        case .failed(let code, let message):
            result["result"] = .string("failed")
            result["fault"] = .string(code)
            result["message"] = .string(message)
            failure = ServiceFailure(
                .faultFound,
                "item \(outcome.record.item): not extracted [\(code)]: \(message); recorded as a failed extraction (entry \(outcome.entry.sequence)); run custos verify"
            )
        }
        return ServiceReply(result: .object(result), failure: failure)
    }
}
