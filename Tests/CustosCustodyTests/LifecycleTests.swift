import CustosCustody
import CustosFileSystem
import CustosFormats
import CustosLedger
import CustosSealing
import CustosTestSupport
import CustosVault
import Foundation
import Glibc
import Testing

/// A vault with items to hold, retain and dispose of, and a second account to approve.
private struct LifecycleVault {
    let node: SealedVault
    /// Another account, as the kernel would name it, for the four eyes.
    let other: Custody

    init() throws {
        node = try SealedVault()
        other = Custody(vault: node.vault, actor: CustodyActor(account: "other", uid: 4242), tool: "custos-tests")
    }

    var record: ItemRecord { node.record }
    var vault: Vault { node.vault }
    func session() throws -> CustodySession { try node.session() }
    func approver() throws -> CustodySession { try other.session() }

    /// Seals another file of `content` in `caseID` and returns its index record.
    func seal(_ name: String, _ content: [UInt8], caseID: String = "C-1") throws -> ItemRecord {
        let path = try node.directory.write(name, content)
        let receipt = try session().seal(SealRequest(path: RawPath(path), caseID: caseID))
        try session().checkpoint()
        return try #require(try session().ledger.items().first { $0.item == receipt.sealed.item })
    }

    var archiveExists: Bool { vault.archiveFile(content: record.sha256) != nil }
    func size() throws -> UInt64 { try session().ledger.size() }
}

/// Every entry's bytes: entries are mirrored, so none may hold a reason, a case or a name.
private func allEntryText(_ session: CustodySession) throws -> String {
    var text = ""
    for sequence in 0..<(try session.ledger.size()) {
        text += String(decoding: try session.ledger.entryBytes(sequence), as: UTF8.self) + "\n"
    }
    return text
}

@Suite("the evidence lifecycle: holds, retention, disposal", .timeLimit(.minutes(5)))
struct LifecycleTests {
    // MARK: Holds

    @Test func anItemOnHoldIsNotDisposedOfAndReleasingTheHoldAllowsIt() throws {
        let node = try LifecycleVault()
        let session = try node.session()
        let held = try session.hold([node.record], reason: "litigation 2026-17")
        #expect(held.entries.map(\.type) == [.held] && held.entries[0].item == node.record.item)
        #expect(try session.lifecycle(of: node.record).holds.map(\.reason) == ["litigation 2026-17"])
        let before = try node.size()
        let error = try #require(throws: CustodyError.self) {
            try session.requestDisposal([node.record], mode: .destroy, reason: "end of case")
        }
        #expect(error.code == .forbiddenByLifecycle && error.exitCode == 2)
        #expect(error.message.contains(node.record.item) && error.message.contains("legal hold"), "\(error)")
        #expect(
            error.message.contains("entry \(held.entries[0].sequence)") && error.message.contains("litigation 2026-17"))
        #expect(try node.size() == before)

        let released = try session.releaseHold([node.record], reason: "settled")
        #expect(released.entries[0].details["hold"]?.integerValue == Int64(held.entries[0].sequence))
        #expect(try session.lifecycle(of: node.record).isOnHold == false)
        let request = try session.requestDisposal([node.record], mode: .destroy, reason: "end of case")
        #expect(request.isPending && request.id == String(request.entries[0].sequence))
        _ = try node.approver().approveDisposal(request: request.id)
        #expect(try session.lifecycle(of: node.record).disposal?.mode == .destroy)
    }

    @Test func aHoldPlacedAfterTheRequestRefusesItsApproval() throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end of case")
        try node.session().hold([node.record], reason: "new subpoena")
        let before = try node.size()
        let error = try #require(throws: CustodyError.self) {
            try node.approver().approveDisposal(request: request.id)
        }
        #expect(error.code == .forbiddenByLifecycle && error.message.contains("legal hold"), "\(error)")
        #expect(try node.size() == before)
        #expect(node.archiveExists)
    }

    @Test func aSecondHoldAndAReleaseOfNoHoldAreRefused() throws {
        let node = try LifecycleVault()
        let session = try node.session()
        let unheld = try #require(throws: CustodyError.self) { try session.releaseHold([node.record], reason: "x") }
        #expect(unheld.code == .forbiddenByLifecycle && unheld.message.contains(node.record.item))
        try session.hold([node.record], reason: "first")
        let before = try node.size()
        let twice = try #require(throws: CustodyError.self) { try session.hold([node.record], reason: "second") }
        #expect(twice.code == .forbiddenByLifecycle && twice.message.contains("already on legal hold"), "\(twice)")
        for bad in ["", "two\nlines"] {
            let error = try #require(throws: CustodyError.self) { try session.releaseHold([node.record], reason: bad) }
            #expect(error.code == .refused)
        }
        #expect(try node.size() == before)
    }

    // MARK: Retention

    @Test func aRetentionDateInTheFutureRefusesDisposalAndOneInThePastAllowsIt() throws {
        let node = try LifecycleVault()
        let session = try node.session()
        let future = try session.setRetention(caseID: "C-1", until: "2999-12-31", reason: "statute")
        #expect(future.entries[0].item == "" && future.entries[0].type == .retentionSet)
        #expect(try session.lifecycle(of: node.record).retention?.until == "2999-12-31")
        let before = try node.size()
        let error = try #require(throws: CustodyError.self) {
            try session.requestDisposal([node.record], mode: .destroy, reason: "end of case")
        }
        #expect(error.code == .forbiddenByLifecycle && error.message.contains("retained until 2999-12-31"), "\(error)")
        #expect(
            error.message.contains(node.record.item) && error.message.contains("entry \(future.entries[0].sequence)"))
        #expect(try node.size() == before)

        try session.setRetention(caseID: "C-1", until: "2020-01-01", reason: nil)
        #expect(try session.lifecycle(of: node.record).retention?.until == "2020-01-01")
        let request = try session.requestDisposal([node.record], mode: .destroy, reason: "end of case")
        #expect(request.isPending)
    }

    /// The retention date is the last day kept, by the node's clock in UTC.
    @Test func disposalIsAllowedFromTheDayAfterTheRetentionDate() throws {
        let node = try LifecycleVault()
        let session = try node.session()
        try session.setRetention(caseID: "C-1", until: "2030-06-15", reason: nil)
        let error = try #require(throws: CustodyError.self) {
            try session.requestDisposal([node.record], mode: .return, reason: "r", now: "2030-06-15T23:59:59.999Z")
        }
        #expect(error.code == .forbiddenByLifecycle && error.message.contains("today is 2030-06-15"), "\(error)")
        let request = try session.requestDisposal(
            [node.record], mode: .return, reason: "r", now: "2030-06-16T00:00:00.000Z")
        // Re-checked at approval: a retention set in between refuses it.
        try session.setRetention(caseID: "C-1", until: "2031-01-01", reason: "appeal")
        let late = try #require(throws: CustodyError.self) {
            try node.approver().approveDisposal(request: request.id, now: "2030-06-17T00:00:00.000Z")
        }
        #expect(late.code == .forbiddenByLifecycle && late.message.contains("2031-01-01"), "\(late)")
        _ = try node.approver().approveDisposal(request: request.id, now: "2031-01-02T00:00:00.000Z")
    }

    @Test func anotherCasesRetentionDoesNotBindTheItemNorShowInItsHistory() throws {
        let node = try LifecycleVault()
        let second = try node.seal("second.bin", randomBytes(1000), caseID: "C-2")
        let session = try node.session()
        try session.setRetention(caseID: "C-2", until: "2999-01-01", reason: "other case")
        #expect(try session.lifecycle(of: node.record).retention == nil)
        #expect(try session.lifecycle(of: second).retention?.until == "2999-01-01")
        #expect(try !session.history(of: node.record).events.contains { $0.type == .retentionSet })
        let shown = try session.history(of: second).events.filter { $0.type == .retentionSet }
        #expect(shown.map(\.retainUntil) == ["2999-01-01"] && shown.map(\.reason) == ["other case"])
        _ = try session.requestDisposal([node.record], mode: .destroy, reason: "end of case")
    }

    @Test(arguments: [
        "2026-02-29", "2026-13-01", "2026-00-10", "2024-02-30", "2026-04-31", "2026-1-01", "20260101", "2026/01/01",
        "0000-01-01", "２０２６-01-01", "2026-01-01T00:00:00Z", "", "abcd-ef-gh",
    ])
    func aMalformedOrImpossibleDateIsRefused(date: String) throws {
        let node = try LifecycleVault()
        let before = try node.size()
        let error = try #require(throws: CustodyError.self) {
            try node.session().setRetention(caseID: "C-1", until: date, reason: nil)
        }
        #expect(error.code == .refused && error.message.contains("--retain-until"), "\(error)")
        #expect(try node.size() == before)
    }

    @Test func aLeapDayIsADateAndACaseWithoutItemsIsRefused() throws {
        let node = try LifecycleVault()
        try node.session().setRetention(caseID: "C-1", until: "2024-02-29", reason: nil)
        for caseID in ["no-such-case", ""] {
            let error = try #require(throws: CustodyError.self) {
                try node.session().setRetention(caseID: caseID, until: "2024-03-01", reason: nil)
            }
            #expect(error.code == .unknownItem || error.code == .refused)
        }
        #expect(try node.session().lifecycle(of: node.record).retention?.until == "2024-02-29")
    }

    // MARK: Four eyes

    /// The requester's own session; the same account name under another uid; the same uid under
    /// another account name (nil: the requester's uid).
    @Test(arguments: [("same", nil as UInt32?), ("same", 4242), ("different", nil)])
    func theRequesterMayNotApprove(account: String, uid: UInt32?) throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end of case")
        let me = node.node.custody.actor
        // The same account by name (any uid), or the same uid under another name.
        let approver = CustodyActor(account: account == "same" ? me.account : "alias", uid: uid ?? me.uid)
        let before = try node.size()
        let error = try #require(throws: CustodyError.self) {
            try Custody(vault: node.vault, actor: approver, tool: "t").session().approveDisposal(request: request.id)
        }
        #expect(error.code == .fourEyes && error.exitCode == 2, "\(error)")
        #expect(error.message.contains("request \(request.id)") && error.message.contains(me.account))
        #expect(try node.size() == before)
        #expect(node.archiveExists)
        #expect(try node.session().disposalRequest(request.id)?.isPending == true)
    }

    @Test func anotherAccountApprovesOnceAndASecondApprovalIsRefused() throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end of case C-1")
        let read = try #require(try node.session().disposalRequest(request.id))
        #expect(read.requester.uid == node.node.custody.actor.uid && read.reason == "end of case C-1")
        #expect(read.items == [node.record.item] && read.mode == .destroy && read.isPending)

        let approval = try node.approver().approveDisposal(request: request.id)
        let entry = approval.event.entries[0]
        #expect(entry.type == .disposed && entry.actor == "other" && entry.item == node.record.item)
        #expect(entry.details["mode"]?.stringValue == "destroy" && entry.details["request"]?.stringValue == request.id)
        #expect(try node.session().disposalRequest(request.id)?.approval?.sequence == entry.sequence)
        let state = try node.session().lifecycle(of: node.record)
        #expect(state.disposal?.entry.sequence == entry.sequence && state.disposal?.request == request.id)
        #expect(state.pendingRequest == nil)

        let before = try node.size()
        let third = Custody(vault: node.vault, actor: CustodyActor(account: "third", uid: 4343), tool: "t")
        for approver in [try node.approver(), try third.session()] {
            let error = try #require(throws: CustodyError.self) { try approver.approveDisposal(request: request.id) }
            #expect(error.code == .duplicate && error.message.contains("already approved"), "\(error)")
        }
        #expect(try node.size() == before)
        // Disposed: no new request, no hold.
        let again = try #require(throws: CustodyError.self) {
            try node.session().requestDisposal([node.record], mode: .return, reason: "again")
        }
        #expect(again.code == .forbiddenByLifecycle && again.message.contains("already disposed"))
        #expect(throws: CustodyError.self) { try node.session().hold([node.record], reason: "late") }
    }

    @Test func aSecondRequestForAnItemWithOnePendingIsRefused() throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end of case")
        #expect(try node.session().lifecycle(of: node.record).pendingRequest?.id == request.id)
        let error = try #require(throws: CustodyError.self) {
            try node.session().requestDisposal([node.record], mode: .return, reason: "again", recipient: "owner")
        }
        #expect(error.code == .forbiddenByLifecycle && error.message.contains("request \(request.id)"), "\(error)")
    }

    @Test(arguments: ["999999", "abc", "", "-1", "01", "0"])
    func anUnknownRequestIsRefused(id: String) throws {
        let node = try LifecycleVault()
        _ = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end of case")
        let before = try node.size()
        // "0" is the seal's entry: an entry, but not a request.
        let error = try #require(throws: CustodyError.self) { try node.approver().approveDisposal(request: id) }
        #expect(error.code == .unknownRequest && error.exitCode == 2, "\(error)")
        #expect(try node.session().disposalRequest(id) == nil)
        #expect(try node.size() == before)
    }

    /// A request's id is its first entry's; its later entries are not requests of their own.
    @Test func aRequestOfSeveralItemsIsOneRequest() throws {
        let node = try LifecycleVault()
        let second = try node.seal("second.bin", randomBytes(2000))
        let request = try node.session().requestDisposal(
            [node.record, second], mode: .return, reason: "to the owner", recipient: "Ms. Owner")
        #expect(request.entries.count == 2 && request.entries[1].sequence == request.entries[0].sequence + 1)
        #expect(try node.session().disposalRequest(String(request.entries[1].sequence)) == nil)
        let read = try #require(try node.session().disposalRequest(request.id))
        #expect(read.items == [node.record.item, second.item] && read.recipient == "Ms. Owner")
        #expect(try node.session().lifecycle(of: second).pendingRequest?.id == request.id)
        let approval = try node.approver().approveDisposal(request: request.id)
        #expect(approval.event.entries.map(\.item) == [node.record.item, second.item])
        #expect(approval.archives.isEmpty)
    }

    // MARK: Destroy and return

    @Test func destroyRemovesTheArchiveAndKeepsTheManifestEntriesAndDocuments() throws {
        let node = try LifecycleVault()
        let archive = try #require(node.vault.archiveFile(content: node.record.sha256))
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end of case")
        let approval = try node.approver().approveDisposal(request: request.id)
        guard case .removed(let location) = try #require(approval.archives.first).outcome else {
            Issue.record("the archive was not removed: \(approval.archives)")
            return
        }
        #expect(location == archive.description)
        #expect(!FileSystem.exists(archive) && !node.archiveExists)
        #expect(FileSystem.exists(node.vault.local.path(of: .manifest(node.record.manifest))))
        for document in [request.recorded!.document, approval.event.document] {
            #expect(FileSystem.exists(node.vault.local.path(of: .details(document))))
        }
        let types = try node.session().history(of: node.record).events.map(\.type)
        #expect(types.contains(.sealed) && types.contains(.disposalRequested) && types.contains(.disposed))

        let report = try node.node.verify()
        #expect(report.passed, "\(report.faults)")
        #expect(report.itemsDisposed == 1 && report.itemsDestroyed == 1 && report.itemsChecked == 1)
        #expect(report.archivesRehashed == 0 && report.notes.isEmpty)
        #expect(report.json["itemsDestroyed"]?.integerValue == 1)
    }

    @Test func anItemOfTheSameContentKeepsTheArchiveUntilItIsDestroyedToo() throws {
        let node = try LifecycleVault()
        let twin = try node.seal("twin.bin", node.node.content)
        #expect(twin.sha256 == node.record.sha256)
        let first = try node.session().requestDisposal([node.record], mode: .destroy, reason: "copy one")
        let kept = try node.approver().approveDisposal(request: first.id)
        guard case .kept(let sharedWith) = try #require(kept.archives.first).outcome else {
            Issue.record("the shared archive was not kept: \(kept.archives)")
            return
        }
        #expect(sharedWith == [twin.item])
        #expect(node.archiveExists)
        var report = try node.node.verify()
        #expect(report.passed, "\(report.faults)")
        #expect(report.itemsDestroyed == 1 && report.archivesRehashed == 1 && report.notes.isEmpty)
        // The twin's extraction still works.
        let outcomes = try node.session().extract([twin], to: RawPath(node.node.directory.file("out")), reason: "r")
        #expect(outcomes[0].succeeded)

        let second = try node.session().requestDisposal([twin], mode: .destroy, reason: "copy two")
        let removed = try node.approver().approveDisposal(request: second.id)
        guard case .removed = try #require(removed.archives.first).outcome else {
            Issue.record("the last holder's archive was not removed: \(removed.archives)")
            return
        }
        #expect(!node.archiveExists)
        report = try node.node.verify()
        #expect(report.passed, "\(report.faults)")
        #expect(report.itemsDestroyed == 2 && report.archivesRehashed == 0)
    }

    /// Sealed again after its destruction, the content has a new archive of its own, which the
    /// new item holds: no note, no fault, and the destroyed item is still refused extraction.
    @Test func theSameContentSealedAfterItsDestructionIsStoredAgain() throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end")
        _ = try node.approver().approveDisposal(request: request.id)
        #expect(!node.archiveExists)
        let again = try node.seal("again.bin", node.node.content)
        #expect(node.archiveExists)
        let report = try node.node.verify()
        #expect(report.passed && report.notes.isEmpty && report.itemsDestroyed == 1, "\(report.faults) \(report.notes)")
        #expect(try node.session().lifecycle(of: again).disposal == nil)
        #expect(throws: CustodyError.self) {
            try node.session().extract([node.record], to: RawPath(node.node.directory.file("out")), reason: "r")
        }
    }

    @Test func twoItemsOfOneContentDestroyedInOneRequestRemoveTheArchive() throws {
        let node = try LifecycleVault()
        let twin = try node.seal("twin.bin", node.node.content)
        let request = try node.session().requestDisposal([node.record, twin], mode: .destroy, reason: "both")
        let approval = try node.approver().approveDisposal(request: request.id)
        #expect(approval.archives.count == 1 && approval.archives[0].items == [node.record.item, twin.item])
        #expect(!node.archiveExists)
        #expect(try node.node.verify().passed)
    }

    @Test func returnKeepsTheArchiveAndVerifyReportsTheItemDisposed() throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal(
            [node.record], mode: .return, reason: "not needed", recipient: "the owner")
        let approval = try node.approver().approveDisposal(request: request.id)
        #expect(approval.archives.isEmpty && node.archiveExists)
        #expect(try node.session().lifecycle(of: node.record).disposal?.mode == .return)
        let report = try node.node.verify()
        #expect(
            report.passed && report.itemsDisposed == 1 && report.itemsDestroyed == 0 && report.archivesRehashed == 1)
        // A returned item's archive is still evidence the vault keeps: its loss is a fault.
        let archive = try #require(node.vault.archiveFile(content: node.record.sha256))
        #expect(unlink(archive.description) == 0)
        #expect(try node.node.verify().faults.map(\.code) == [.archiveMissing])
    }

    /// Only the item a `disposed` entry names is excused its archive.
    @Test func anotherItemsMissingArchiveIsStillAFault() throws {
        let node = try LifecycleVault()
        let other = try node.seal("other.bin", randomBytes(5000))
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end")
        _ = try node.approver().approveDisposal(request: request.id)
        let archive = try #require(node.vault.archiveFile(content: other.sha256))
        #expect(unlink(archive.description) == 0)
        let report = try node.node.verify()
        #expect(report.faults.map(\.code) == [.archiveMissing] && report.faults[0].subject == "item \(other.item)")
    }

    @Test func aRecipientIsOnlyForAReturnAndItemsAreGivenOnceEach() throws {
        let node = try LifecycleVault()
        let before = try node.size()
        for records in [[], [node.record, node.record]] {
            let error = try #require(throws: CustodyError.self) {
                try node.session().requestDisposal(records, mode: .destroy, reason: "r")
            }
            #expect(error.code == .refused, "\(error)")
            #expect(throws: CustodyError.self) { try node.session().hold(records, reason: "r") }
        }
        #expect(try node.size() == before)
        let error = try #require(throws: CustodyError.self) {
            try node.session().requestDisposal([node.record], mode: .destroy, reason: "r", recipient: "someone")
        }
        #expect(error.code == .refused)
    }

    /// A crash between the `disposed` entry and the removal leaves the archive: `verify` notes it
    /// (not a fault) and finishing the request removes it.
    @Test func anUnfinishedDestructionIsNotedAndCanBeFinished() throws {
        let node = try LifecycleVault()
        let archive = try #require(node.vault.archiveFile(content: node.record.sha256))
        let saved = try FileSystem.readFile(archive)
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end")
        _ = try node.approver().approveDisposal(request: request.id)
        #expect(!node.archiveExists)
        try node.node.directory.write("restored", saved)
        #expect(rename(node.node.directory.file("restored"), archive.description) == 0)

        let report = try node.node.verify()
        #expect(report.passed, "\(report.faults)")
        #expect(report.notes.count == 1 && report.notes[0].contains("request \(request.id)"), "\(report.notes)")
        #expect(report.notes[0].contains(archive.description) && report.archivesRehashed == 0)
        let finished = try node.session().finishDestruction(request: request.id)
        guard case .removed = try #require(finished.first).outcome else {
            Issue.record("not removed: \(finished)")
            return
        }
        #expect(!node.archiveExists)
        #expect(try node.node.verify().notes.isEmpty)
        #expect(
            try node.session().finishDestruction(request: request.id).first.map { "\($0.outcome)" } == "alreadyGone")
    }

    @Test func aDestroyedItemIsNotExtracted() throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end")
        let approval = try node.approver().approveDisposal(request: request.id)
        let before = try node.size()
        let folder = node.node.directory.file("out")
        let error = try #require(throws: CustodyError.self) {
            try node.session().extract([node.record], to: RawPath(folder), reason: "court")
        }
        #expect(error.code == .forbiddenByLifecycle, "\(error)")
        #expect(
            error.message.contains(node.record.item)
                && error.message.contains("entry \(approval.event.entries[0].sequence)"))
        #expect(try node.size() == before)
        #expect((try? FileSystem.listDirectory(RawPath(folder))) ?? [] == [])
    }

    // MARK: Privacy and history

    @Test func entriesHoldNoReasonCaseOrNameAndHistoryShowsTheReasons() throws {
        let node = try LifecycleVault()
        let session = try node.session()
        try session.hold([node.record], reason: "HOLD-REASON")
        try session.releaseHold([node.record], reason: "RELEASE-REASON")
        try session.setRetention(caseID: "C-1", until: "2020-02-02", reason: "RETENTION-REASON")
        let request = try session.requestDisposal(
            [node.record], mode: .return, reason: "DISPOSAL-REASON", recipient: "RECIPIENT-NAME")
        _ = try node.approver().approveDisposal(request: request.id)
        let text = try allEntryText(session)
        for secret in ["REASON", "RECIPIENT-NAME", "C-1", "2020-02-02"] {
            #expect(!text.contains(secret), "an entry holds \(secret)")
        }
        let events = try session.history(of: node.record).events
        let byType = Dictionary(events.map { ($0.type, $0) }, uniquingKeysWith: { _, last in last })
        #expect(byType[.held]?.reason == "HOLD-REASON" && byType[.holdReleased]?.reason == "RELEASE-REASON")
        #expect(byType[.retentionSet]?.reason == "RETENTION-REASON" && byType[.retentionSet]?.wholeVault == true)
        #expect(byType[.disposalRequested]?.reason == "DISPOSAL-REASON")
        #expect(byType[.disposalRequested]?.recipient == "RECIPIENT-NAME")
        #expect(byType[.disposed]?.request == request.id && byType[.disposed]?.mode == "return")
        #expect(try session.history(of: node.record).faults.isEmpty)
        #expect(try node.node.verify().passed)
    }

    /// The requester comes from the request's details document, re-hashed: an altered one is not
    /// trusted to say who asked.
    @Test func anAlteredRequestDocumentRefusesTheApproval() throws {
        let node = try LifecycleVault()
        let request = try node.session().requestDisposal([node.record], mode: .destroy, reason: "end")
        let path = node.vault.local.path(of: .details(request.recorded!.document)).description
        chmod(path, 0o600)
        var bytes = try FileSystem.readFile(RawPath(path))
        bytes[bytes.count / 2] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: CustodyError.self) {
            try node.approver().approveDisposal(request: request.id)
        }
        #expect(error.code == .altered, "\(error)")
        #expect(node.archiveExists)
    }
}

@Suite("verify and a destruction nobody approved", .timeLimit(.minutes(2)))
struct UnprovenDisposalTests {
    /// A `disposed` entry appended by hand (anyone who can write the vault: the service account)
    /// with its archive removed: verify does not take it for a destruction.
    @Test func aDisposedEntryWithoutAnotherAccountsRequestIsAFault() throws {
        let node = try SealedVault()
        let session = try node.session()
        // The requester approving their own request, as if four eyes were kept: forged by
        // appending the `disposed` entry directly.
        let request = try session.requestDisposal([node.record], mode: .destroy, reason: "closed")
        try session.recordEvent(
            .disposed, items: [node.record.item], facts: ["mode": .string("destroy"), "request": .string(request.id)])
        let archive = try #require(try node.vault.objects.findArchive(content: node.record.sha256))
        try node.vault.objects.remove(archive)
        let report = try node.verify()
        #expect(report.faults.contains { $0.code == .disposalUnproven && $0.message.contains("four eyes") })
        #expect(report.faults.contains { $0.code == .archiveMissing })
        #expect(report.itemsDestroyed == 0)
    }

    @Test func aDisposedEntryNamingNoRequestIsAFault() throws {
        let node = try SealedVault()
        let session = try node.session()
        try session.recordEvent(
            .disposed, items: [node.record.item], facts: ["mode": .string("destroy"), "request": .string("0")])
        let report = try node.verify()
        #expect(
            report.faults.contains {
                $0.code == .disposalUnproven && $0.message.contains("not an earlier disposal request")
            })
    }
}
