//! The SQLite store's schema and its migrations. Run on every start; each
//! migration in one transaction with the `user_version` bump. Append only.

use rusqlite::Connection;

use super::{StoreError, StoreResult};

/// `MIGRATIONS[i]` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

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

/// Version 6: how many records each puskesmas has in each band of 1,024 sequences, by the
/// device whose own state they are (0: none), kept by triggers on `records`. A pull page's
/// count of what is left sums the bands after its cursor and counts the records of one band
/// only, where it counted every record left: a bootstrap's pages cost more the more was left,
/// half a second of a 165,000-record bootstrap (docs/benchmarks.md). A band is 1,024
/// sequences, that is change groups: the records of one are few enough to count, and the
/// puskesmas share the sequence, so a puskesmas has far fewer bands than groups. Bands whose
/// records all moved on stay, at zero. `records` is written by upsert, never by `INSERT OR
/// REPLACE`, whose deletions fire no trigger.
const V6: &str = r#"
CREATE TABLE scope_bands (
    puskesmas TEXT NOT NULL,
    band      INTEGER NOT NULL,
    echo      INTEGER NOT NULL,
    records   INTEGER NOT NULL,
    PRIMARY KEY (puskesmas, band, echo)
) WITHOUT ROWID;

INSERT INTO scope_bands (puskesmas, band, echo, records)
SELECT puskesmas, seq >> 10, coalesce(echo, 0), count(*) FROM records GROUP BY 1, 2, 3;

CREATE TRIGGER records_band_insert AFTER INSERT ON records BEGIN
    INSERT INTO scope_bands (puskesmas, band, echo, records)
    VALUES (NEW.puskesmas, NEW.seq >> 10, coalesce(NEW.echo, 0), 1)
    ON CONFLICT (puskesmas, band, echo) DO UPDATE SET records = records + 1;
END;

CREATE TRIGGER records_band_delete AFTER DELETE ON records BEGIN
    UPDATE scope_bands SET records = records - 1
    WHERE puskesmas = OLD.puskesmas AND band = OLD.seq >> 10 AND echo = coalesce(OLD.echo, 0);
END;

CREATE TRIGGER records_band_update AFTER UPDATE OF puskesmas, seq, echo ON records BEGIN
    UPDATE scope_bands SET records = records - 1
    WHERE puskesmas = OLD.puskesmas AND band = OLD.seq >> 10 AND echo = coalesce(OLD.echo, 0);
    INSERT INTO scope_bands (puskesmas, band, echo, records)
    VALUES (NEW.puskesmas, NEW.seq >> 10, coalesce(NEW.echo, 0), 1)
    ON CONFLICT (puskesmas, band, echo) DO UPDATE SET records = records + 1;
END;
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

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, params};

    use super::{MIGRATIONS, migrate};

    /// Rows of four columns, in order.
    fn rows(conn: &Connection, sql: &str) -> Vec<(String, i64, i64, i64)> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    /// `scope_bands` as it must be: the records counted by scope, band and echo.
    fn counted(conn: &Connection) -> Vec<(String, i64, i64, i64)> {
        rows(
            conn,
            "SELECT puskesmas, seq >> 10, coalesce(echo, 0), count(*) FROM records
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
    }

    fn bands(conn: &Connection) -> Vec<(String, i64, i64, i64)> {
        rows(
            conn,
            "SELECT puskesmas, band, echo, records FROM scope_bands WHERE records <> 0
             ORDER BY 1, 2, 3",
        )
    }

    fn put(conn: &Connection, n: u32, puskesmas: &str, seq: i64, echo: Option<i64>) {
        conn.execute(
            "INSERT INTO records (id, kind, puskesmas, household, seq, state, echo)
             VALUES (?1, 1, ?2, NULL, ?3, x'02', ?4)
             ON CONFLICT (id) DO UPDATE SET puskesmas = excluded.puskesmas,
                 seq = excluded.seq, echo = excluded.echo",
            params![n.to_be_bytes().to_vec(), puskesmas, seq, echo],
        )
        .unwrap();
    }

    /// Version 6 counts the records already stored, and its triggers follow every insert,
    /// move to a later sequence or another scope, change of echo, and deletion.
    #[test]
    fn scope_bands_count_the_stored_records_and_follow_every_write() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..5] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        for n in 0..300u32 {
            let scope = if n % 3 == 0 { "P2" } else { "P1" };
            let echo = [None, Some(1), Some(2)][n as usize % 3];
            put(&conn, n, scope, i64::from(n) * 97, echo);
        }
        migrate(&mut conn).unwrap();
        assert_eq!(bands(&conn), counted(&conn));
        assert!(bands(&conn).len() > 6, "the records span several bands");

        for n in (0..300u32).step_by(7) {
            put(&conn, n, "P1", 40_000 + i64::from(n), Some(3));
        }
        conn.execute(
            "UPDATE records SET puskesmas = 'P3', seq = seq + 1024 WHERE seq < 5000",
            [],
        )
        .unwrap();
        conn.execute("DELETE FROM records WHERE seq BETWEEN 20000 AND 25000", [])
            .unwrap();
        assert_eq!(bands(&conn), counted(&conn));
    }
}
