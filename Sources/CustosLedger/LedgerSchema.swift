/// The ledger's SQLite schema. Entries, tree hashes and checkpoints are append-only: triggers
/// refuse updates and deletes, so an accident cannot rewrite history (a deliberate edit of the
/// file is what `custos verify` is for).
enum LedgerSchema {
    static let version = "1"

    static let create = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE entries (seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, body BLOB NOT NULL);
        CREATE TABLE tree (id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
        CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, signed_at TEXT NOT NULL);
        CREATE TABLE latest_checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, note TEXT NOT NULL);
        CREATE TABLE items (
            item TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, case_id TEXT NOT NULL, exhibit TEXT NOT NULL,
            name BLOB NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, archive TEXT NOT NULL,
            manifest TEXT NOT NULL, sealed_at TEXT NOT NULL);
        CREATE INDEX items_by_sha256 ON items (sha256);
        CREATE INDEX items_by_case ON items (case_id, seq);
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER tree_no_update BEFORE UPDATE ON tree BEGIN SELECT RAISE(ABORT, 'the tree is append-only'); END;
        CREATE TRIGGER tree_no_delete BEFORE DELETE ON tree BEGIN SELECT RAISE(ABORT, 'the tree is append-only'); END;
        CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END;
        CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END;
        CREATE TRIGGER latest_no_delete BEFORE DELETE ON latest_checkpoint BEGIN SELECT RAISE(ABORT, 'the latest checkpoint is kept'); END;
        """
}
