/// The ledger's SQLite schema. The item index finds sealed content by `content_key`, the first
/// eight bytes of its SHA-256 as an integer: a small index is cheap to grow in random order.
/// Each entry row holds the entry's exact bytes, their SHA-256 (the
/// next entry's `prev`) and `tree`: the Merkle hashes stored when the entry was appended (its
/// leaf hash, then the hash of every subtree it completed), so one row write appends to both
/// the chain and the tree. Entries and checkpoints are append-only: triggers
/// refuse updates and deletes, so an accident cannot rewrite history (a deliberate edit of the
/// file is what `custos verify` is for).
enum LedgerSchema {
    static let version = "3"

    static let create = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE entries (
            seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, body BLOB NOT NULL, tree BLOB NOT NULL,
            item TEXT, case_id TEXT, exhibit TEXT, name BLOB, sha256 BLOB, content_key INTEGER, size INTEGER,
            archive BLOB, manifest BLOB, sealed_at TEXT);
        CREATE INDEX entries_by_item ON entries (item) WHERE item IS NOT NULL;
        CREATE INDEX entries_by_content ON entries (content_key) WHERE content_key IS NOT NULL;
        CREATE VIEW items AS
            SELECT seq, item, case_id, exhibit, name, sha256, content_key, size, archive, manifest, sealed_at
            FROM entries WHERE item IS NOT NULL;
        CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, signed_at TEXT NOT NULL);
        CREATE TABLE latest_checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, note TEXT NOT NULL);
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END;
        CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END;
        CREATE TRIGGER latest_no_delete BEFORE DELETE ON latest_checkpoint BEGIN SELECT RAISE(ABORT, 'the latest checkpoint is kept'); END;
        """
}
