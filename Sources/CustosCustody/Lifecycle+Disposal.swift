import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosVault

/// A request to dispose of items, as the ledger records it: its `disposal-requested` entries (one
/// per item, in one transaction) and their details document.
public struct DisposalRequest: Sendable {
    /// The account that asked, from the request's details document (the kernel's account and uid,
    /// never a name the caller gave).
    public struct Requester: Sendable, Equatable {
        public var account: String
        public var uid: UInt32
    }

    /// The request's id: the ledger sequence number of its first entry, as decimal text ("1234").
    public var id: String
    public var mode: DisposalMode
    /// The items, in the order of the entries.
    public var items: [String]
    public var entries: [CustodyEntry]
    public var reason: String
    /// To whom the originals are returned (`return`), when given.
    public var recipient: String?
    public var requester: Requester
    /// The first `disposed` entry of its approval; nil while it is pending.
    public var approval: CustodyEntry?
    /// The event just recorded, when this value comes from `requestDisposal` (for its
    /// `checkpointFailure`); nil when read back from the ledger.
    public var recorded: RecordedEvent?

    public var isPending: Bool { approval == nil }
}

/// What became of the archive of one content when its items were destroyed.
public struct ArchiveDisposal: Sendable {
    public enum Outcome: Sendable {
        /// The archive was removed from the store (the store's description of where it was).
        case removed(location: String)
        /// Kept: these items hold the same content (archives are content-addressed) and are not
        /// destroyed; the archive goes when the last of them is.
        case kept(sharedWith: [String])
        /// The store held no archive of that content any more (an earlier removal finished).
        case alreadyGone
        /// The removal failed: the disposal is recorded all the same; `verify` notes the archive
        /// still there and `finishDestruction(request:)` tries again.
        case failed(String)
    }

    /// The original's SHA-256 (the archive's content address).
    public var content: Hash
    /// The destroyed items of this request that hold it.
    public var items: [String]
    public var outcome: Outcome
}

/// What approving a disposal did.
public struct DisposalApproval: Sendable {
    /// The request, now approved (`approval` set).
    public var request: DisposalRequest
    /// The `disposed` event: one entry per item.
    public var event: RecordedEvent
    /// For `destroy`, what became of each content's archive; empty for `return`.
    public var archives: [ArchiveDisposal]
}

extension CustodySession {
    // MARK: - Requests

    /// Asks for `records` to be disposed of: one `disposal-requested` entry per item (facts:
    /// `mode`), the reason, the mode and the recipient in the details document. Its id is the
    /// sequence number of its first entry (`DisposalRequest.id`); a second account approves it
    /// with `approveDisposal(request:)`.
    ///
    /// All or nothing: refused (`forbiddenByLifecycle`, naming the item and the entry) when an item
    /// is on legal hold, when its case is retained until today or later (the node's clock, UTC:
    /// the retention date is the last day kept), when it is already disposed of, or when a request
    /// for it is pending; refused (`refused`) for a reason `CustodyText.check` refuses, a
    /// recipient with `destroy`, or an item given twice. Nothing is recorded then.
    public func requestDisposal(
        _ records: [ItemRecord], mode: DisposalMode, reason: String, recipient: String? = nil,
        now: String = SystemClock.now()
    ) throws -> DisposalRequest {
        try CustodyText.check(reason, what: "the reason", subject: "--reason")
        if let recipient {
            guard mode == .return else {
                throw CustodyError(.refused, "--recipient: only a return has a recipient; nothing recorded")
            }
            try CustodyText.check(recipient, what: "the recipient", subject: "--recipient", limit: 256)
        }
        try checkExaminer()
        try checkDistinct(records)
        var retentions = RetentionCache()
        for record in records {
            let state = try lifecycle(of: record, withPendingRequest: true, retentions: &retentions)
            try checkDisposable(state, now: now, approving: nil)
        }
        var details: JSONObject = ["reason": .string(reason), "mode": .string(mode.rawValue)]
        if let recipient { details["recipient"] = .string(recipient) }
        let event = try recordEvent(
            .disposalRequested, items: records.map(\.item), facts: ["mode": .string(mode.rawValue)], details: details,
            now: now)
        return DisposalRequest(
            id: String(event.entries[0].sequence), mode: mode, items: records.map(\.item), entries: event.entries,
            reason: reason, recipient: recipient,
            requester: DisposalRequest.Requester(account: custody.actor.account, uid: custody.actor.uid),
            approval: nil, recorded: event)
    }

    /// The disposal request of id `id` (the sequence number of its first entry), read back from
    /// the ledger and its details document (re-hashed); nil when no request has that id (another
    /// entry, or a later entry of a request). Throws when its entries or document were altered.
    public func disposalRequest(_ id: String) throws -> DisposalRequest? {
        guard let sequence = UInt64(id), String(sequence) == id, sequence < (try ledger.size()) else { return nil }
        let first = try CustodyEntry(parsing: ledger.entryBytes(sequence))
        guard first.type == .disposalRequested else { return nil }
        let document = try requiredDocument(of: first)
        let items = try Self.items(of: document, entry: first)
        guard items.first == first.item else { return nil }
        var entries = [first]
        for (index, item) in items.enumerated().dropFirst() {
            let entry = try CustodyEntry(parsing: ledger.entryBytes(sequence + UInt64(index)))
            guard entry.type == .disposalRequested, entry.item == item, entry.detailsDocument == first.detailsDocument
            else {
                throw CustodyError(
                    .altered, "request \(id): entry \(entry.sequence) is not its request about item \(item)")
            }
            entries.append(entry)
        }
        guard let mode = first.details["mode"]?.stringValue.flatMap(DisposalMode.init(rawValue:)),
            let reason = document["reason"]?.stringValue, let account = document["actor"]?["account"]?.stringValue,
            let uid = document["actor"]?["uid"]?.integerValue.flatMap(UInt32.init(exactly:))
        else {
            throw CustodyError(.altered, "request \(id): its entry or details document lacks the mode, reason or actor")
        }
        let approval = try ledger.entries(about: first.item).first {
            $0.type == .disposed && $0.details["request"]?.stringValue == id
        }
        return DisposalRequest(
            id: id, mode: mode, items: items, entries: entries, reason: reason,
            recipient: document["recipient"]?.stringValue,
            requester: DisposalRequest.Requester(account: account, uid: uid), approval: approval, recorded: nil)
    }

    /// The request a `disposal-requested` entry belongs to: its first entry's sequence number
    /// (the entries of one event are appended together, in the order of the document's items).
    func requestID(of entry: CustodyEntry) throws -> UInt64 {
        let items = try Self.items(of: requiredDocument(of: entry), entry: entry)
        guard let index = items.firstIndex(of: entry.item), UInt64(index) <= entry.sequence else {
            throw CustodyError(.altered, "entry \(entry.sequence): its details document does not name its item")
        }
        return entry.sequence - UInt64(index)
    }

    private static func items(of document: JSONObject, entry: CustodyEntry) throws -> [String] {
        guard case .array(let values)? = document["items"] else {
            throw CustodyError(.altered, "entry \(entry.sequence): its details document names no items")
        }
        return values.compactMap(\.stringValue)
    }

    // MARK: - Approval

    /// Approves disposal request `id` as this session's account and carries it out: one `disposed`
    /// entry per item (facts: `mode`, `request`; the details document names the request and the
    /// approver), then, for `destroy`, the removal of each original's archive from the object
    /// store, only once the entries are durable (the manifest, the details documents and every
    /// entry stay). An archive is shared by every item of the same content: it is removed only
    /// when no item of that content is left that is not destroyed; else it is kept and the result
    /// says so (`ArchiveDisposal.Outcome.kept`). A removal that fails, or that a crash interrupts,
    /// leaves the disposal recorded: `verify` notes the archive still there and
    /// `finishDestruction(request:)` removes it.
    ///
    /// Refused (nothing recorded): an unknown request (`unknownRequest`); one already approved
    /// (`duplicate`); an approver who is the requester, by uid or by account name (`fourEyes`);
    /// an item that is now on legal hold, whose case is retained until today or later, or that is
    /// already disposed of (`forbiddenByLifecycle`: re-checked at approval).
    ///
    /// Two approvals of one request at the same instant from two processes are not serialised
    /// here (the checks and the append are two transactions): the daemon, which receives the
    /// commands, runs them one at a time.
    public func approveDisposal(request id: String, now: String = SystemClock.now()) throws -> DisposalApproval {
        guard var request = try disposalRequest(id) else {
            throw CustodyError(
                .unknownRequest,
                "request \(id): no disposal request has this id (the sequence number of its first entry); nothing recorded"
            )
        }
        if let approval = request.approval {
            throw CustodyError(
                .duplicate,
                "request \(id): already approved by \(approval.actor) (entry \(approval.sequence)); nothing recorded")
        }
        let actor = custody.actor
        if actor.uid == request.requester.uid || actor.account == request.requester.account {
            throw CustodyError(
                .fourEyes,
                "request \(id): requested by \(request.requester.account) (uid \(request.requester.uid)), who may not approve it; another account must (four eyes); nothing recorded"
            )
        }
        try checkExaminer()
        var records = [ItemRecord]()
        var retentions = RetentionCache()
        for item in request.items {
            let record = try ItemResolution.item(item, in: ledger)
            let state = try lifecycle(of: record, withPendingRequest: true, retentions: &retentions)
            try checkDisposable(state, now: now, approving: id)
            records.append(record)
        }
        let event = try recordEvent(
            .disposed, items: request.items,
            facts: ["mode": .string(request.mode.rawValue), "request": .string(id)], details: ["request": .string(id)],
            now: now)
        request.approval = event.entries.first
        // The `disposed` entries are durable (the ledger's transaction is synchronous): only now
        // may the bytes go.
        let archives = request.mode == .destroy ? removeDestroyedArchives(of: records) : []
        return DisposalApproval(request: request, event: event, archives: archives)
    }

    /// Finishes the destruction of an approved `destroy` request: removes each of its items'
    /// archives that no item left undestroyed shares (what an interrupted or failed removal left).
    /// Records nothing. Refused for an unknown request, a pending one, or a `return`.
    public func finishDestruction(request id: String) throws -> [ArchiveDisposal] {
        guard let request = try disposalRequest(id) else {
            throw CustodyError(.unknownRequest, "request \(id): no disposal request has this id")
        }
        guard request.approval != nil, request.mode == .destroy else {
            throw CustodyError(.refused, "request \(id): not an approved destruction; nothing removed")
        }
        return removeDestroyedArchives(of: try request.items.map { try ItemResolution.item($0, in: ledger) })
    }

    /// The `disposed` entry that destroyed `record`, if one did (read from the entries' facts).
    public func destruction(of record: ItemRecord) throws -> CustodyEntry? {
        try ledger.entries(about: record.item).first {
            $0.type == .disposed && $0.details["mode"]?.stringValue == DisposalMode.destroy.rawValue
        }
    }

    /// Refuses to dispose of an item in `state` (`approving`: the request being approved, which is
    /// the pending one).
    private func checkDisposable(_ state: ItemLifecycle, now: String, approving: String?) throws {
        let item = state.record.item
        if let disposal = state.disposal {
            throw CustodyError(
                .forbiddenByLifecycle,
                "item \(item): already disposed of (\(disposal.mode.rawValue), entry \(disposal.entry.sequence), request \(disposal.request)); nothing recorded"
            )
        }
        if let hold = state.holds.first {
            throw CustodyError(
                .forbiddenByLifecycle,
                "item \(item): on legal hold since entry \(hold.entry.sequence)\(Self.quoted(hold.reason)); `custos release-hold` first; nothing recorded"
            )
        }
        if let pending = state.pendingRequest, pending.id != approving {
            throw CustodyError(
                .forbiddenByLifecycle,
                "item \(item): disposal request \(pending.id) (\(pending.mode.rawValue), by \(pending.requester.account)) is pending for it; nothing recorded"
            )
        }
        let today = String(now.prefix(10))
        if let retention = state.retention, today <= retention.until {
            throw CustodyError(
                .forbiddenByLifecycle,
                "item \(item): its case \(DisplayName.escape(Array(state.record.caseID.utf8))) is retained until \(retention.until) (entry \(retention.entry.sequence)); disposal is allowed from the day after (today is \(today) UTC by the node's clock); nothing recorded"
            )
        }
    }

    /// Removes the archives of destroyed `records`, each content once, when no item of that
    /// content is left that is not destroyed; then syncs the vault's file system. Never throws:
    /// the disposal is recorded already, and each outcome says what became of its archive.
    ///
    /// Not guarded against a seal of the very same content at the same instant: a sealer that
    /// found the archive still there shares it (Architecture.md, step 4) and could record its item
    /// just after the check here, its archive then removed (`verify`: `archive-missing`). The
    /// daemon, which runs both, must not approve a destruction while it seals that content.
    func removeDestroyedArchives(of records: [ItemRecord]) -> [ArchiveDisposal] {
        var order = [Hash]()
        var byContent = [Hash: [String]]()
        for record in records {
            if byContent[record.sha256] == nil { order.append(record.sha256) }
            byContent[record.sha256, default: []].append(record.item)
        }
        var outcomes = [ArchiveDisposal]()
        var removed = false
        for content in order {
            let items = byContent[content]!
            let outcome: ArchiveDisposal.Outcome
            do {
                let holders = try ledger.items(matching: content.hex).filter { $0.sha256 == content }
                let alive = try holders.filter { try destruction(of: $0) == nil }.map(\.item)
                if !alive.isEmpty {
                    outcome = .kept(sharedWith: alive)
                } else if let archive = try vault.objects.findArchive(content: content) {
                    let location = vault.objects.describe(archive)
                    try vault.objects.remove(archive)
                    removed = true
                    outcome = .removed(location: location)
                } else {
                    outcome = .alreadyGone
                }
            } catch {
                outcome = .failed("\(error)")
            }
            outcomes.append(ArchiveDisposal(content: content, items: items, outcome: outcome))
        }
        if removed {
            // A removal is not durable by itself (ObjectStore.remove): one sync for them all.
            do { try FileSystemSync(vault.root).sync() } catch {
                for index in outcomes.indices {
                    if case .removed(let location) = outcomes[index].outcome {
                        outcomes[index].outcome = .failed("\(location): removed, but the sync failed: \(error)")
                    }
                }
            }
        }
        return outcomes
    }
}
