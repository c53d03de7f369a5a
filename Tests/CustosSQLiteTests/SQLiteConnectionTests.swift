import CSQLite
import CustosSQLite
import CustosTestSupport
import Foundation
import Glibc
import Testing

/// A database with one table, in a fresh folder.
struct DatabaseFixture {
    let directory = TemporaryDirectory("sqlite")
    var path: String { directory.file("t.sqlite") }

    init() throws {
        let db = try SQLiteConnection(path: path, mode: .create)
        try db.execute("CREATE TABLE t (n INTEGER NOT NULL)")
    }

    func rows(_ db: SQLiteConnection) throws -> [Int64] {
        var found = [Int64]()
        try db.forEachRow("SELECT n FROM t ORDER BY n") { found.append($0.int64(0)) }
        return found
    }
}

struct Refused: Error {}

/// What another thread did, handed back under a lock.
final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<Void, any Error>?
    private var threadID: pid_t = 0
    let done = DispatchSemaphore(value: 0)

    var result: Result<Void, any Error>? { lock.withLock { value } }
    var thread: pid_t { lock.withLock { threadID } }
    func started(_ id: pid_t) { lock.withLock { threadID = id } }
    func finish(_ result: Result<Void, any Error>) {
        lock.withLock { value = result }
        done.signal()
    }
}

/// The kernel's id of the calling thread, from /proc/thread-self (a link to `<pid>/task/<tid>`).
func currentThreadID() -> pid_t {
    var buffer = [CChar](repeating: 0, count: 64)
    let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard count > 0 else { return 0 }
    let text = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return pid_t(text.split(separator: "/").last ?? "") ?? 0
}

/// Whether the thread `tid` of this process is asleep in `nanosleep`/`clock_nanosleep` (where
/// SQLite's busy handler waits between tries).
func isSleeping(thread tid: pid_t) -> Bool {
    #if arch(x86_64)
        let sleeps: Set<Substring> = ["35", "230"]
    #elseif arch(arm64)
        let sleeps: Set<Substring> = ["101", "115"]
    #else
        let sleeps: Set<Substring> = []
    #endif
    guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/syscall", encoding: .utf8) else {
        return false
    }
    return text.split(separator: " ").first.map { sleeps.contains($0) } ?? false
}

@Suite("SQLite connections and transactions", .timeLimit(.minutes(2)))
struct SQLiteConnectionTests {
    @Test func aThrownErrorRollsTheWriteTransactionBack() throws {
        let fixture = try DatabaseFixture()
        let db = try SQLiteConnection(path: fixture.path, mode: .readWrite)
        try db.writeTransaction { try db.run("INSERT INTO t VALUES (?)", [.integer(1)]) }
        #expect(throws: Refused.self) {
            try db.writeTransaction {
                try db.run("INSERT INTO t VALUES (?)", [.integer(2)])
                try db.run("INSERT INTO t VALUES (?)", [.integer(3)])
                throw Refused()
            }
        }
        #expect(try fixture.rows(db) == [1])
        // Neither this connection nor another sees the rolled-back rows, and the next transaction
        // starts cleanly (no transaction was left open).
        #expect(try fixture.rows(SQLiteConnection(path: fixture.path, mode: .readOnly)) == [1])
        try db.writeTransaction { try db.run("INSERT INTO t VALUES (?)", [.integer(4)]) }
        #expect(try fixture.rows(SQLiteConnection(path: fixture.path, mode: .readOnly)) == [1, 4])
    }

    /// A read transaction ends whatever its body does, and one inside another is refused by
    /// SQLite (the outer one goes on, and ends).
    @Test func aReadTransactionEndsAndDoesNotNest() throws {
        let fixture = try DatabaseFixture()
        let db = try SQLiteConnection(path: fixture.path, mode: .readWrite)
        try db.writeTransaction { try db.run("INSERT INTO t VALUES (?)", [.integer(1)]) }
        #expect(throws: Refused.self) { try db.readTransaction { throw Refused() } }
        let nested = #expect(throws: SQLiteError.self) {
            try db.readTransaction {
                #expect(try fixture.rows(db) == [1])
                return try db.readTransaction { try fixture.rows(db) }
            }
        }
        #expect(nested?.message.contains("within a transaction") == true, "\(String(describing: nested))")
        // No transaction was left open: a write begins and commits, and another connection sees it.
        try db.writeTransaction { try db.run("INSERT INTO t VALUES (?)", [.integer(2)]) }
        #expect(try fixture.rows(SQLiteConnection(path: fixture.path, mode: .readOnly)) == [1, 2])
        #expect(try db.readTransaction { try fixture.rows(db) } == [1, 2])
    }

    @Test func aFailingStatementRollsTheWriteTransactionBack() throws {
        let fixture = try DatabaseFixture()
        let db = try SQLiteConnection(path: fixture.path, mode: .readWrite)
        let error = #expect(throws: SQLiteError.self) {
            try db.writeTransaction {
                try db.run("INSERT INTO t VALUES (?)", [.integer(1)])
                try db.run("INSERT INTO t VALUES (?)", [.null])  // NOT NULL
            }
        }
        #expect(error?.primaryCode == SQLITE_CONSTRAINT, "\(String(describing: error))")
        #expect(error?.path == fixture.path)
        #expect(try fixture.rows(db) == [])
    }

    /// The ledger is never reached through a link, and a missing one is never created by a
    /// connection that is not asked to create it.
    @Test func aSymbolicLinkToADatabaseIsRefused() throws {
        let fixture = try DatabaseFixture()
        let link = fixture.directory.file("link.sqlite")
        #expect(symlink(fixture.path, link) == 0)
        for mode in [SQLiteConnection.OpenMode.readWrite, .readOnly, .create] {
            let error = #expect(throws: SQLiteError.self) { try SQLiteConnection(path: link, mode: mode) }
            #expect(error?.primaryCode == SQLITE_CANTOPEN, "\(String(describing: error))")
        }
        // A dangling link: not followed to create its target either.
        let dangling = fixture.directory.file("dangling.sqlite")
        #expect(symlink(fixture.directory.file("new.sqlite"), dangling) == 0)
        #expect(throws: SQLiteError.self) { try SQLiteConnection(path: dangling, mode: .create) }
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.file("new.sqlite")))
    }

    @Test func aMissingDatabaseIsNotCreatedUnlessAsked() throws {
        let directory = TemporaryDirectory("sqlite")
        let path = directory.file("missing.sqlite")
        let error = #expect(throws: SQLiteError.self) { try SQLiteConnection(path: path, mode: .readWrite) }
        #expect(error?.primaryCode == SQLITE_CANTOPEN, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// While one connection holds the write lock, another's `BEGIN IMMEDIATE` fails with
    /// SQLITE_BUSY once its busy timeout is spent, and succeeds once the lock is free.
    @Test func aWriterBeyondItsBusyTimeoutFailsBusy() throws {
        let fixture = try DatabaseFixture()
        let holder = try SQLiteConnection(path: fixture.path, mode: .readWrite)
        let other = try SQLiteConnection(path: fixture.path, mode: .readWrite, busyTimeoutMilliseconds: 50)
        try holder.writeTransaction {
            try holder.run("INSERT INTO t VALUES (1)")
            let error = #expect(throws: SQLiteError.self) {
                try other.writeTransaction { try other.run("INSERT INTO t VALUES (2)") }
            }
            #expect(error?.primaryCode == SQLITE_BUSY, "\(String(describing: error))")
        }
        try other.writeTransaction { try other.run("INSERT INTO t VALUES (2)") }
        #expect(try fixture.rows(holder) == [1, 2])
    }

    /// A second writer (a second `custos ingest`) queues on the busy timeout rather than fail:
    /// it is seen waiting in SQLite's busy handler while the first holds the lock, and its
    /// transaction goes through once the first commits.
    @Test func aWriterWaitsForTheLockWithinItsBusyTimeout() throws {
        let fixture = try DatabaseFixture()
        let holder = try SQLiteConnection(path: fixture.path, mode: .readWrite)
        let outcome = Outcome()
        let path = fixture.path
        try holder.writeTransaction {
            try holder.run("INSERT INTO t VALUES (1)")
            Thread.detachNewThread {
                outcome.started(currentThreadID())
                outcome.finish(
                    Result(catching: {
                        let waiting = try SQLiteConnection(
                            path: path, mode: .readWrite, busyTimeoutMilliseconds: 60_000)
                        try waiting.writeTransaction { try waiting.run("INSERT INTO t VALUES (2)") }
                    }))
            }
            #expect(
                waitUntil(timeout: 30) {
                    outcome.result != nil || (outcome.thread != 0 && isSleeping(thread: outcome.thread))
                })
            #expect(outcome.result == nil, "the second writer did not wait: \(String(describing: outcome.result))")
        }
        #expect(outcome.done.wait(timeout: .now() + 30) == .success)
        if case .failure(let error) = outcome.result { Issue.record(error) }
        #expect(try fixture.rows(holder) == [1, 2])
    }
}
