import CustosFormats

/// The SQLite driver's schema. Each entry row holds the entry's exact bytes (`body`, what is
/// hashed into the log) and `tree`: the Merkle hashes stored when the entry was appended (its
/// leaf hash, then the hash of every subtree it completed), so one row write appends to both
/// the chain and the tree. A sealing entry's row also holds this node's index of the item: its
/// id (UUIDv7, so its index grows at its end), and the case, exhibit and name that `list` shows
/// (the log leaves them in the manifest). None of these columns is part of the log: `verify`
/// checks them against the bytes. Content needs no index here: the vault finds an archive by
/// the SHA-256 of the evidence it holds. Entries and checkpoints
/// are append-only: triggers refuse updates and deletes, so an accident cannot rewrite history
/// (a deliberate edit of the file is what `custos verify` is for).
///
/// `stamps` is the index of `timestamped` entries by subject (an item id; `checkpoint:<size>` for
/// the checkpoint-subject entries the format still reads, which Custos no longer writes),
/// source (`node`, or an external authority's configured name) and token digest, with the token
/// itself (`der`, the DER `TimeStampResp`, whose SHA-256 is the entry's `token`). It is written in
/// the entry's transaction; `verify` re-hashes each token and checks the index against the entries.
///
/// `checkpoint_stamps` holds the RFC 3161 tokens over checkpoints, outside the log: keyed by the
/// checkpoint's size and root (base64, as in its note) and the token's source, with the external
/// authority's anchors (the SHA-256 of the PEM file kept in the vault) and the token (`der`). A
/// token over a checkpoint stamps the SHA-256 of the checkpoint's signed text, so it needs no entry
/// of its own: an entry after the checkpoint would be left uncovered by it. The node's token is
/// written in the transaction that records the checkpoint; `verify` re-hashes each checkpoint's
/// note body and checks its tokens against it.
///
/// `events` is the index of the other custody events (verified, extracted, exported, annotated,
/// transferred, received, …) by the item they are about (`""` for the whole vault), so an item's
/// timeline is found without reading the log. It is written in the entry's transaction, only for
/// entries that are neither `sealed` (indexed by `entries.item`) nor `timestamped` (indexed by
/// `stamps`), so sealing costs nothing more; triggers keep it append-only, and `verify` checks it
/// against the entries both ways. Schema 10 added it: a schema-9 ledger is upgraded in place when
/// opened for writing (`upgradeFrom9`), and read as it is otherwise (an item's events are then
/// found by a scan).
///
/// `releases` is not part of the log: it is the daemon's journal of originals whose seal is
/// committed but which may still sit in the inbox. A row is written in the transaction that
/// records the seal and removed once the original has left the inbox durably, so a crash between
/// the two is finished at the next start. Its `sidecar_*` columns (schema 11) keep the original's
/// own sidecar as read at sealing (`sidecar_state` 0: none was read; 1: the file with that device,
/// inode and ctime; NULL: a row of an older version, not known), so that after a crash the
/// sidecar leaves with its original only while it is still that file.
enum LedgerSchema {
    static let version = "11"
    /// The schemas before: read as they are, upgraded when opened for writing. Schema 10 added
    /// the events index, schema 11 the sidecar columns of the release journal.
    static let olderVersions = ["9", "10"]

    static let create = """
        PRAGMA page_size = 16384;
        PRAGMA journal_mode = WAL;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE entries (
            seq INTEGER PRIMARY KEY, body BLOB NOT NULL, tree BLOB NOT NULL,
            item TEXT, case_id TEXT, exhibit TEXT, name BLOB);
        CREATE INDEX entries_by_item ON entries (item) WHERE item IS NOT NULL;
        CREATE VIEW items AS SELECT seq, body, item, case_id, exhibit, name FROM entries WHERE item IS NOT NULL;
        CREATE TABLE releases (
            item TEXT PRIMARY KEY, path BLOB NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL,
            size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, destination BLOB NOT NULL,
            sidecar_state INTEGER, sidecar_device INTEGER, sidecar_inode INTEGER, sidecar_ctime_ns INTEGER)
            WITHOUT ROWID;
        CREATE TABLE stamps (seq INTEGER PRIMARY KEY, subject TEXT NOT NULL, source TEXT NOT NULL, token BLOB NOT NULL, der BLOB NOT NULL);
        CREATE INDEX stamps_by_subject ON stamps (subject);
        \(events)
        CREATE TABLE checkpoint_stamps (
            size INTEGER NOT NULL, root TEXT NOT NULL, source TEXT NOT NULL, anchors TEXT, der BLOB NOT NULL,
            PRIMARY KEY (size, root, source)) WITHOUT ROWID;
        CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL, signed_at TEXT NOT NULL);
        CREATE TABLE latest_checkpoint (
            id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, note TEXT NOT NULL);
        CREATE TRIGGER stamps_no_update BEFORE UPDATE ON stamps BEGIN SELECT RAISE(ABORT, 'the stamps index is append-only'); END;
        CREATE TRIGGER stamps_no_delete BEFORE DELETE ON stamps BEGIN SELECT RAISE(ABORT, 'the stamps index is append-only'); END;
        CREATE TRIGGER checkpoint_stamps_no_update BEFORE UPDATE ON checkpoint_stamps BEGIN SELECT RAISE(ABORT, 'checkpoint stamps are kept'); END;
        CREATE TRIGGER checkpoint_stamps_no_delete BEFORE DELETE ON checkpoint_stamps BEGIN SELECT RAISE(ABORT, 'checkpoint stamps are kept'); END;
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END;
        CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END;
        CREATE TRIGGER latest_no_delete BEFORE DELETE ON latest_checkpoint BEGIN SELECT RAISE(ABORT, 'the latest checkpoint is kept'); END;
        """

    /// The release journal's sidecar columns (in `create`, and added by the upgrade to schema 11).
    static let releaseSidecarColumns = """
        ALTER TABLE releases ADD COLUMN sidecar_state INTEGER;
        ALTER TABLE releases ADD COLUMN sidecar_device INTEGER;
        ALTER TABLE releases ADD COLUMN sidecar_inode INTEGER;
        ALTER TABLE releases ADD COLUMN sidecar_ctime_ns INTEGER;
        """

    /// The events index and its triggers (in `create`, and added by the upgrade from schema 9).
    static let events = """
        CREATE TABLE events (seq INTEGER PRIMARY KEY, item TEXT NOT NULL);
        CREATE INDEX events_by_item ON events (item);
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'the events index is append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'the events index is append-only'); END;
        """
}
