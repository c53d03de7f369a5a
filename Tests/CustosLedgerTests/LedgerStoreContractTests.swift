import CustosFormats
import CustosLedger
import CustosOpenSSL
import CustosSQLite
import CustosTestSupport
import Testing

@testable import CustosLedgerSQLite

/// A driver of `LedgerStore` under test: each makes an empty store in a folder of its own. A new
/// driver (PostgreSQL, say) is added here and must pass every contract test below unchanged.
struct LedgerStoreDriver: CustomTestStringConvertible, Sendable {
    let name: String
    let make: @Sendable (TemporaryDirectory) throws -> any LedgerStore

    var testDescription: String { name }

    static let all = [
        LedgerStoreDriver(name: "SQLite") { try SQLiteLedgerStore.create(path: $0.file("ledger.sqlite")) }
    ]
}

/// What every `LedgerStore` owes the log (its doc comment's contract), with rows the store cannot
/// interpret: the store keeps bytes and answers queries, and is checked without the log's logic.
@Suite("the ledger store's contract", .timeLimit(.minutes(2)))
struct LedgerStoreContractTests {
    /// Bytes no text encoding would keep: NUL, invalid UTF-8, a lone continuation byte.
    static let awkward: [UInt8] = [0x00, 0xff, 0xfe, 0x80, 0x0a, 0x22, 0x5c]

    /// The index rows a test entry carries.
    enum Index {
        case item(ItemIndexRow)
        case stamp(StampIndexRow, token: [UInt8])
        case event(item: String)
        /// A `received` entry: an item row and an event row.
        case received(ItemIndexRow)
    }

    static func row(_ sequence: UInt64, _ index: Index?, body: [UInt8]? = nil) -> EntryRow {
        var row = EntryRow(
            sequence: sequence, body: body ?? Array("entry \(sequence) ".utf8) + awkward,
            tree: (0..<32).map { UInt8(truncatingIfNeeded: Int(sequence) &+ $0) })
        switch index {
        case .item(let item): row.item = item
        case .stamp(let stamp, let token): row.stamp = (stamp, token)
        case .event(let item): row.eventItem = item
        case .received(let item):
            row.item = item
            row.eventItem = item.item
        case nil: break
        }
        return row
    }

    static func append(_ rows: [EntryRow], to store: any LedgerStore) throws {
        try store.writeTransaction {
            try store.withAppender { appender in for row in rows { try appender.append(row) } }
        }
    }

    @Test(arguments: LedgerStoreDriver.all)
    func rowsComeBackWithTheirExactBytes(driver: LedgerStoreDriver) throws {
        let directory = TemporaryDirectory("store")
        let store = try driver.make(directory)
        #expect(try store.lastEntry() == nil)
        let name = Array("證物".utf8) + Self.awkward
        let rows = [
            Self.row(0, .item(ItemIndexRow(item: "item-a", caseID: "2026-偵-9", exhibit: "A1", name: name))),
            Self.row(
                1, .stamp(StampIndexRow(subject: "item-a", source: "node", tokenDigest: Self.awkward), token: name)),
            Self.row(2, .event(item: "item-a")),
            Self.row(3, nil),
        ]
        try Self.append(rows, to: store)
        #expect(try store.lastEntry()?.sequence == 3)
        #expect(try store.lastEntry()?.body == rows[3].body)
        for row in rows {
            #expect(try store.entryBody(row.sequence) == row.body)
            #expect(try store.storedHash(row.sequence, position: 0) == Hash(bytes: row.tree))
            #expect(try store.storedHash(row.sequence, position: 1) == nil)
        }
        #expect(try store.entryBody(4) == nil)
        #expect(try store.storedHash(4, position: 0) == nil)
        var seen = [EntryRow]()
        try store.forEachEntry { seen.append(EntryRow(sequence: $0, body: $1, tree: $2)) }
        #expect(seen.map(\.sequence) == [0, 1, 2, 3])
        #expect(seen.map(\.body) == rows.map(\.body) && seen.map(\.tree) == rows.map(\.tree))

        let item = try #require(try store.items(.all).first)
        #expect(item.sequence == 0 && item.body == rows[0].body)
        #expect(item.row == ItemIndexRow(item: "item-a", caseID: "2026-偵-9", exhibit: "A1", name: name))
        #expect(try store.stampToken(at: 1) == name)
        #expect(try store.stampToken(at: 2) == nil)
        #expect(
            try store.stampIndex() == [1: StampIndexRow(subject: "item-a", source: "node", tokenDigest: Self.awkward)])
        #expect(try store.itemIndex() == [0: "item-a"])
        if store.hasEventsIndex { #expect(try store.eventIndex() == [2: "item-a"]) }
    }

    @Test(arguments: LedgerStoreDriver.all)
    func aWriteTransactionThatFailsLeavesNothing(driver: LedgerStoreDriver) throws {
        struct Interrupted: Error {}
        let store = try driver.make(TemporaryDirectory("store"))
        try Self.append([Self.row(0, nil)], to: store)
        #expect(throws: Interrupted.self) {
            try store.writeTransaction {
                try store.withAppender { try $0.append(Self.row(1, .event(item: "x"))) }
                try store.journal([
                    PendingRelease(
                        item: "x", path: [0x2f], device: 1, inode: 2, size: 3, modifiedNanoseconds: 4, destination: [],
                        sidecar: .none)
                ])
                try store.insertCheckpoint(size: 2, note: "note", signedAt: "t")
                throw Interrupted()
            }
        }
        #expect(try store.lastEntry()?.sequence == 0)
        #expect(try store.pendingReleases().isEmpty)
        #expect(try store.checkpoint(size: 2) == nil)
        if store.hasEventsIndex { #expect(try store.eventIndex().isEmpty) }
    }

    @Test(arguments: LedgerStoreDriver.all)
    func entriesAndCheckpointsAreNeverReplaced(driver: LedgerStoreDriver) throws {
        let store = try driver.make(TemporaryDirectory("store"))
        try Self.append([Self.row(0, nil)], to: store)
        #expect(throws: LedgerError.self) { try Self.append([Self.row(0, nil, body: [1, 2, 3])], to: store) }
        #expect(try store.entryBody(0) == Self.row(0, nil).body)
        try store.writeTransaction { try store.insertCheckpoint(size: 1, note: "first", signedAt: "t1") }
        #expect(throws: LedgerError.self) {
            try store.writeTransaction { try store.insertCheckpoint(size: 1, note: "second", signedAt: "t2") }
        }
        #expect(try store.checkpoint(size: 1) == "first")
        let stamp = CheckpointStamp(size: 1, root: "root", source: "node", anchors: nil, token: [1])
        try store.writeTransaction { try store.insertCheckpointStamp(stamp) }
        #expect(throws: LedgerError.self) {
            try store.writeTransaction {
                try store.insertCheckpointStamp(
                    CheckpointStamp(size: 1, root: "root", source: "node", anchors: nil, token: [2]))
            }
        }
        #expect(try store.checkpointStamps(size: 1) == [stamp])
        #expect(try store.checkpointStamps(size: 2).isEmpty)
    }

    /// The latest checkpoint changes only by compare-and-swap on the one it replaces.
    @Test(arguments: LedgerStoreDriver.all)
    func theLatestCheckpointIsReplacedOnlyWhileItIsStillTheOneRead(driver: LedgerStoreDriver) throws {
        let store = try driver.make(TemporaryDirectory("store"))
        #expect(try store.latestCheckpoint() == nil)
        #expect(try store.replaceLatestCheckpoint(size: 0, note: "empty", ifStill: nil))
        #expect(!(try store.replaceLatestCheckpoint(size: 0, note: "another empty", ifStill: nil)))
        #expect(!(try store.replaceLatestCheckpoint(size: 5, note: "five", ifStill: "not the latest")))
        #expect(try store.latestCheckpoint()?.note == "empty")
        #expect(try store.replaceLatestCheckpoint(size: 5, note: "five", ifStill: "empty"))
        #expect(try store.latestCheckpoint()?.size == 5 && store.latestCheckpoint()?.note == "five")
    }

    @Test(arguments: LedgerStoreDriver.all)
    func itemsAreSelectedByCaseSequencePrefixAndContent(driver: LedgerStoreDriver) throws {
        let store = try driver.make(TemporaryDirectory("store"))
        func item(_ id: String, _ caseID: String) -> Index {
            .item(ItemIndexRow(item: id, caseID: caseID, exhibit: "", name: []))
        }
        try Self.append(
            [
                Self.row(0, item("0190aa-1", "A"), body: Array("{\"sha256\":\"abc1\"}".utf8)),
                Self.row(1, .event(item: "0190aa-1")),
                Self.row(2, item("0190bb-2", "B"), body: Array("{\"sha256\":\"abc2\"}".utf8)),
                Self.row(3, item("0190ab-3", "A"), body: Array("{\"sha256\":\"ffff\"}".utf8)),
            ], to: store)
        func ids(_ filter: ItemFilter) throws -> [String] { try store.items(filter).map(\.row.item) }
        #expect(try ids(.all) == ["0190aa-1", "0190bb-2", "0190ab-3"])
        #expect(try ids(.inCase("A")) == ["0190aa-1", "0190ab-3"])
        #expect(try ids(.from(2)) == ["0190bb-2", "0190ab-3"])
        #expect(try ids(.idPrefix("0190a")) == ["0190aa-1", "0190ab-3"])
        // A pattern character in a prefix matches only itself.
        #expect(try ids(.idPrefix("*")).isEmpty)
        #expect(try ids(.idPrefix("0190?")).isEmpty)
        // A driver may return more than the bytes select (the ledger filters): never fewer.
        let containing = try ids(.bodyContaining(Array("\"sha256\":\"abc".utf8)))
        #expect(Set(["0190aa-1", "0190bb-2"]).isSubset(of: Set(containing)))
        #expect(!containing.contains("0190ab-3") || containing.count == 3)
    }

    @Test(arguments: LedgerStoreDriver.all)
    func anItemsEntriesAreFoundThroughItsIndexes(driver: LedgerStoreDriver) throws {
        let store = try driver.make(TemporaryDirectory("store"))
        try #require(store.hasEventsIndex, "a store made new keeps the events index")
        try Self.append(
            [
                Self.row(0, .item(ItemIndexRow(item: "a", caseID: "", exhibit: "", name: []))),
                Self.row(1, .stamp(StampIndexRow(subject: "a", source: "node", tokenDigest: [1]), token: [9])),
                Self.row(2, .event(item: "")),
                Self.row(3, .item(ItemIndexRow(item: "b", caseID: "", exhibit: "", name: []))),
                Self.row(4, .event(item: "a")),
                Self.row(5, .event(item: "")),
                Self.row(6, .stamp(StampIndexRow(subject: "a", source: "tsa.example", tokenDigest: [2]), token: [8])),
                Self.row(7, .received(ItemIndexRow(item: "c", caseID: "", exhibit: "", name: []))),
            ], to: store)
        // A received item is in both the item index and the events index.
        #expect(try store.itemIndex()[7] == "c" && store.eventIndex()[7] == "c")
        #expect(try store.entryBodies(about: "c", wholeVaultAfter: nil) == [Self.row(7, nil).body])
        let bodies = { (rows: [UInt64]) in rows.map { Self.row($0, nil).body } }
        #expect(try store.entryBodies(about: "a", wholeVaultAfter: nil) == bodies([0, 1, 4, 6]))
        #expect(try store.entryBodies(about: "a", wholeVaultAfter: 2) == bodies([0, 1, 4, 5, 6]))
        #expect(try store.entryBodies(about: "b", wholeVaultAfter: nil) == bodies([3]))
        #expect(try store.entryBodies(stamping: "a") == bodies([1, 6]))
        let sources = try store.stampSources().map { "\($0.subject) \($0.source)" }.sorted()
        #expect(sources == ["a node", "a tsa.example"])
        #expect(try store.entryBodies(containing: Array("entry 5 ".utf8)) == bodies([5]))
    }

    @Test(arguments: LedgerStoreDriver.all)
    func theReleaseJournalKeepsOneRowAnItem(driver: LedgerStoreDriver) throws {
        let store = try driver.make(TemporaryDirectory("store"))
        func release(
            _ item: String, inode: UInt64, sidecar: PendingRelease.SidecarAsRead = .none
        ) -> PendingRelease {
            PendingRelease(
                item: item, path: Array("inbox/".utf8) + Self.awkward, device: .max, inode: inode, size: -1,
                modifiedNanoseconds: .min, destination: Self.awkward, sidecar: sidecar)
        }
        let sidecar = PendingRelease.SidecarAsRead.file(device: .max, inode: 7, changedNanoseconds: .min)
        try store.writeTransaction {
            try store.journal([
                release("b", inode: 1), release("a", inode: 2, sidecar: sidecar),
                release("c", inode: 4, sidecar: .unknown),
            ])
        }
        try store.writeTransaction { try store.journal([release("b", inode: 3)]) }
        #expect(
            try store.pendingReleases() == [
                release("a", inode: 2, sidecar: sidecar), release("b", inode: 3),
                release("c", inode: 4, sidecar: .unknown),
            ])
        try store.writeTransaction { try store.removeReleases(["a", "c", "unknown"]) }
        #expect(try store.pendingReleases() == [release("b", inode: 3)])
    }

    @Test(arguments: LedgerStoreDriver.all)
    func metadataIsKeptByKey(driver: LedgerStoreDriver) throws {
        let store = try driver.make(TemporaryDirectory("store"))
        #expect(try store.metadata("origin") == nil)
        try store.writeTransaction { try store.setMetadata("origin", "bureau.example.tw/custos") }
        #expect(try store.metadata("origin") == "bureau.example.tw/custos")
    }
}

@Suite("the SQLite ledger store", .timeLimit(.minutes(2)))
struct SQLiteLedgerStoreTests {
    /// A file that is no ledger, and a missing one, are errors naming the file and the reason.
    @Test func aFileThatIsNoLedgerIsNamedInTheError() throws {
        let directory = TemporaryDirectory("store")
        let junk = try directory.write("ledger.sqlite", Array(repeating: 0x41, count: 8192))
        let error = try #require(throws: LedgerError.self) { try SQLiteLedgerStore.open(path: junk) }
        #expect(error.code == .corrupt && error.message.contains(junk))
        let missing = directory.file("none.sqlite")
        let absent = try #require(throws: LedgerError.self) { try SQLiteLedgerStore.open(path: missing) }
        #expect(absent.code == .missing && absent.message.contains(missing))
        let existing = try #require(throws: LedgerError.self) { try SQLiteLedgerStore.create(path: junk) }
        #expect(existing.message.contains(junk))
    }

    /// A new ledger of `origin` in `directory`, rewritten by `sql` into what an older version
    /// left (its tables and schema number): the path of its file.
    static func olderLedger(in directory: TemporaryDirectory, origin: String, _ sql: String) throws -> String {
        let path = directory.file("ledger.sqlite")
        let signer = try Ed25519NoteSigner(name: origin, key: Ed25519PrivateKey())
        try Ledger.create(path: path, origin: signer.name, signer: signer, now: "2026-12-01T00:00:00Z")
        try SQLiteConnection(path: path, mode: .readWrite).execute(sql)
        return path
    }

    /// Another node's ledger of an older schema, opened for writing, is refused before it is
    /// upgraded: nothing is written to a ledger that is not this node's.
    @Test func anotherOriginsOlderLedgerIsRefusedBeforeItIsUpgraded() throws {
        let directory = TemporaryDirectory("store")
        let path = try Self.olderLedger(
            in: directory, origin: "other.example.tw/custos",
            "DROP TABLE events; UPDATE meta SET value = '9' WHERE key = 'schema';")
        let error = try #require(throws: LedgerError.self) { try Ledger(path: path, origin: "this.example.tw/custos") }
        #expect(error.code == .wrongLedger)
        let db = try SQLiteConnection(path: path, mode: .readOnly)
        #expect(try db.firstRow("SELECT value FROM meta WHERE key = 'schema'") { $0.text(0) } == "9")
    }

    /// A store that holds a ledger is never initialised again.
    @Test func aLedgerIsInitialisedOnce() throws {
        let directory = TemporaryDirectory("store")
        let signer = try Ed25519NoteSigner(name: "this.example.tw/custos", key: Ed25519PrivateKey())
        let store = try SQLiteLedgerStore.create(path: directory.file("ledger.sqlite"))
        try Ledger.initialize(store, origin: signer.name, signer: signer, now: "t")
        let error = try #require(throws: LedgerError.self) {
            try Ledger.initialize(store, origin: "another.example.tw/custos", signer: signer, now: "t")
        }
        #expect(error.message.contains("already holds the ledger of this.example.tw/custos"))
        #expect(try store.metadata("origin") == signer.name)
    }

    /// A full disk and a failed write reach the ledger's callers as what they are: the daemon
    /// pauses on the first and stops on the second (invariant 8), and never takes one for the other.
    @Test func aFullDiskAndAFailedWriteAreToldApart() throws {
        let directory = TemporaryDirectory("store")
        let store = try SQLiteLedgerStore.create(path: directory.file("ledger.sqlite"))
        let pages = try #require(try store.db.firstRow("PRAGMA page_count") { $0.int64(0) })
        // The database may not grow: the next pages it needs are refused as SQLite refuses them
        // on a full disk (SQLITE_FULL).
        try store.db.execute("PRAGMA max_page_count = \(pages)")
        let big = [UInt8](repeating: 0x41, count: 1 << 20)
        let full = try #require(throws: LedgerError.self) {
            try LedgerStoreContractTests.append([LedgerStoreContractTests.row(0, nil, body: big)], to: store)
        }
        #expect(full.isDiskFull && !full.isStorageFailure, "\(full)")
        #expect(full.message.contains(store.location))

        let readOnly = try SQLiteLedgerStore.open(path: store.location, readOnly: true)
        let refused = try #require(throws: LedgerError.self) {
            try LedgerStoreContractTests.append([LedgerStoreContractTests.row(0, nil)], to: readOnly)
        }
        #expect(refused.isStorageFailure && !refused.isDiskFull, "\(refused)")
    }

    /// A schema-10 ledger's release journal has no sidecar columns: read as it is (every sidecar
    /// not known), and given them when opened for writing, its rows still not known.
    @Test func aSchema10ReleaseJournalIsReadAndUpgraded() throws {
        let directory = TemporaryDirectory("store")
        let path = try Self.olderLedger(
            in: directory, origin: "this.example.tw/custos",
            """
            DROP TABLE releases;
            CREATE TABLE releases (
                item TEXT PRIMARY KEY, path BLOB NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL,
                size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, destination BLOB NOT NULL) WITHOUT ROWID;
            INSERT INTO releases VALUES ('old', x'2f', 1, 2, 3, 4, x'');
            UPDATE meta SET value = '10' WHERE key = 'schema';
            """)
        #expect(try SQLiteLedgerStore.open(path: path, readOnly: true).pendingReleases().map(\.sidecar) == [.unknown])
        let store = try SQLiteLedgerStore.open(path: path)
        #expect(store.hasEventsIndex)
        #expect(try store.pendingReleases().map(\.sidecar) == [.unknown])
        let read = PendingRelease.SidecarAsRead.file(device: 9, inode: 8, changedNanoseconds: 7)
        try store.writeTransaction {
            try store.journal([
                PendingRelease(
                    item: "new", path: [0x2f], device: 1, inode: 2, size: 3, modifiedNanoseconds: 4, destination: [],
                    sidecar: read)
            ])
        }
        #expect(try store.pendingReleases().map(\.sidecar) == [read, .unknown])
        #expect(try store.metadata("schema") == "11")
    }
}
