//! The SQLite store's schema and its migrations. Run on every start; each
//! migration in one transaction with the `user_version` bump. Append only.

use rusqlite::Connection;

use super::{StoreError, StoreResult};

/// `MIGRATIONS[i]` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// The schema version this code writes.
pub const SERVER_SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Times are seconds since the Unix epoch (UTC); ids of records are 16-byte blobs.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE admin_tokens (
    hash       BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE puskesmas (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE teams (
    code       TEXT PRIMARY KEY,
    puskesmas  TEXT NOT NULL REFERENCES puskesmas (code),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- A device's id is its CRDT actor number, so it is never reused.
CREATE TABLE devices (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    team                TEXT NOT NULL REFERENCES teams (code),
    puskesmas           TEXT NOT NULL REFERENCES puskesmas (code),
    credential_hash     BLOB NOT NULL UNIQUE,
    enrolled_at         INTEGER NOT NULL,
    revoked_at          INTEGER,
    wipe                INTEGER NOT NULL DEFAULT 0,
    resync_requested_at INTEGER,
    app_version         TEXT,
    schema_version      INTEGER,
    pending             INTEGER,
    pending_urgent      INTEGER,
    last_seen_at        INTEGER,
    last_sync_at        INTEGER,
    cursor_seq          INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE enrollments (
    code_hash  BLOB PRIMARY KEY,
    team       TEXT NOT NULL REFERENCES teams (code),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device     INTEGER REFERENCES devices (id)
);

-- One row per change group accepted: the sequence and its random token (see Cursor).
CREATE TABLE sequence (
    seq    INTEGER PRIMARY KEY,
    token  INTEGER NOT NULL,
    device INTEGER,
    at     INTEGER NOT NULL
);

-- Every record's merged state. `puskesmas` is the scope: a household's own, a member's
-- household's. `seq` is the newest sequence the record was written at.
CREATE TABLE records (
    id        BLOB PRIMARY KEY,
    kind      INTEGER NOT NULL,
    puskesmas TEXT NOT NULL,
    household BLOB,
    seq       INTEGER NOT NULL,
    state     BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX records_scope ON records (puskesmas, seq);
CREATE INDEX records_seq ON records (seq);
CREATE INDEX records_household ON records (household) WHERE household IS NOT NULL;
"#;

/// A record remembers the device whose own state it is (not sent back to it), and a change
/// group remembers the members that moved on to later sequences (sent with it).
const V2: &str = r#"
ALTER TABLE records ADD COLUMN echo INTEGER;
CREATE TABLE group_members (
    seq INTEGER NOT NULL,
    id  BLOB NOT NULL,
    PRIMARY KEY (seq, id)
) WITHOUT ROWID;
"#;

/// A page's count of what is left to pull reads the scope index alone: counting through the
/// records themselves read every remaining state once per page, so a bootstrap's pages cost
/// more the more was left.
const V3: &str = r#"
CREATE INDEX records_scope_echo ON records (puskesmas, seq, echo);
DROP INDEX records_scope;
"#;

/// The admin re-sync tool: named admin credentials and an audit log of what they did; each
/// device's revocation mode, resync completion, replacement and reports; the history of its
/// syncs as it reported them; published forms; pushes of stolen devices held for review.
/// Flags are integers 0/1 here and in PostgreSQL alike, so the admin queries are written once
/// (`store/admin.rs`).
const V4: &str = r#"
ALTER TABLE admin_tokens ADD COLUMN name TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE devices ADD COLUMN stolen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN wiped_at INTEGER;
ALTER TABLE devices ADD COLUMN resync_done_at INTEGER;
ALTER TABLE devices ADD COLUMN replaced_by INTEGER;
ALTER TABLE devices ADD COLUMN protocol INTEGER;
ALTER TABLE devices ADD COLUMN pending_referrals INTEGER;
ALTER TABLE enrollments ADD COLUMN replaces INTEGER;

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    device    INTEGER,
    puskesmas TEXT,
    detail    TEXT NOT NULL
);
CREATE INDEX audit_device ON audit (device, id);

CREATE TABLE sync_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    device     INTEGER NOT NULL REFERENCES devices (id),
    at         INTEGER NOT NULL,
    pushed     INTEGER NOT NULL,
    pulled     INTEGER NOT NULL,
    bytes_up   INTEGER NOT NULL,
    bytes_down INTEGER NOT NULL,
    finished   INTEGER NOT NULL,
    error      TEXT
);
CREATE INDEX sync_log_device ON sync_log (device, id);

CREATE TABLE forms (
    number       INTEGER PRIMARY KEY AUTOINCREMENT,
    form_id      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    definition   TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    published_by TEXT NOT NULL,
    UNIQUE (form_id, version)
);

CREATE TABLE quarantine (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device      INTEGER NOT NULL REFERENCES devices (id),
    received_at INTEGER NOT NULL,
    records     INTEGER NOT NULL,
    body        BLOB NOT NULL,
    accepted_at INTEGER
);
"#;

/// Version 5: households moving between puskesmas. The records that left a puskesmas's scope
/// when their household moved out, at the sequence of the move: the old puskesmas's devices
/// are told (and drop them), and may still push what they changed of them before they knew.
const V5: &str = r#"
CREATE TABLE departures (
    puskesmas TEXT NOT NULL,
    id        BLOB NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (puskesmas, id)
);
CREATE INDEX departures_seq ON departures (puskesmas, seq);
"#;

/// Brings the database to [`SERVER_SCHEMA_VERSION`]; refuses a newer one untouched.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SERVER_SCHEMA_VERSION {
        return Err(StoreError::Database(format!(
            "the database has schema version {found}, newer than this server's \
             {SERVER_SCHEMA_VERSION}: run a newer cageur-server"
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", from as u32 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
