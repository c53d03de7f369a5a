import CustosSQLite
import CustosTestSupport
import Testing

/// A cached statement is never shared by two users at once: a query run again inside the loop
/// over its own rows gets a statement of its own, and the outer loop goes on undisturbed.
@Suite("SQLite statements", .timeLimit(.minutes(2)))
struct SQLiteStatementTests {
    @Test func theSameQueryNestedInItsOwnLoopDoesNotResetIt() throws {
        let directory = TemporaryDirectory("sqlite")
        let db = try SQLiteConnection(path: directory.file("t.sqlite"), mode: .create)
        try db.execute("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2), (3);")
        let query = "SELECT n FROM t ORDER BY n"
        var outer = [Int64]()
        var inner = [[Int64]]()
        try db.forEachRow(query) { row in
            outer.append(row.int64(0))
            var seen = [Int64]()
            try db.forEachRow(query) { seen.append($0.int64(0)) }
            inner.append(seen)
            // Bounded: a reset outer statement would start again from the first row for ever.
            if outer.count > 10 { throw CancellationError() }
        }
        #expect(outer == [1, 2, 3])
        #expect(inner == [[1, 2, 3], [1, 2, 3], [1, 2, 3]])
        // Each use after the loops starts afresh, with its own bindings.
        #expect(try db.firstRow("SELECT n FROM t WHERE n > ? ORDER BY n", [.integer(1)]) { $0.int64(0) } == 2)
        #expect(try db.firstRow("SELECT n FROM t WHERE n > ? ORDER BY n", [.integer(2)]) { $0.int64(0) } == 3)
    }
}
