//! The device database's schema and its migrations: the one place that brings a database to
//! the current version.
//!
//! An upgrade runs every migration it needs and the `user_version` bump in one transaction, so
//! a crash leaves the database at the old version or the new one, never between. A database
//! newer than this code is refused untouched (it may hold unsynced visits an older app would
//! damage).

use rusqlite::{Connection, Transaction};

use crate::error::{FieldError, Result};

/// Migrations in order: `MIGRATIONS[i]` takes a database from version `i` to `i + 1`.
/// Append only; never edit one that has shipped.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// The versions whose migration adds query columns that only the records' states can fill:
/// an upgrade past one derives every record's columns again, once, after the last migration
/// (the deriving code writes the current schema) and in the upgrade's transaction.
const REDERIVE_AT: &[u32] = &[4];

/// The schema version this code writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Version 1. Each kind of record has its own table: the CRDT state as a compact blob (the
/// envelope of `cageur_protocol`), beside the typed query columns that search and the
/// worklist use. Query columns are derived from the state on every write and never read back
/// into it. `live` is 0 for a record that is removed or merged into another.
const V1: &str = r#"
CREATE TABLE device (
    singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_number   INTEGER NOT NULL,
    puskesmas       TEXT,
    team            TEXT,
    -- Every change number below this one was used and acknowledged. Written only when the
    -- outbox is acknowledged, so a user action does not write this page.
    change_seq_floor INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE workers (
    worker  INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    role    INTEGER NOT NULL
);

-- Who is working on the device now: every change is stamped with them.
CREATE TABLE current_worker (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    worker    INTEGER NOT NULL REFERENCES workers (worker)
);

-- Screening forms published by the health office after this app was built.
CREATE TABLE forms (
    form_id    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (form_id, version)
) WITHOUT ROWID;

CREATE TABLE households (
    id          BLOB PRIMARY KEY,
    state       BLOB NOT NULL,
    live        INTEGER NOT NULL,
    merged_into BLOB,
    conflicts   INTEGER NOT NULL,
    kk          INTEGER,
    puskesmas   TEXT,
    kelurahan   TEXT,
    rw          INTEGER,
    rt          INTEGER
) WITHOUT ROWID;
CREATE INDEX households_kk ON households (kk) WHERE live;
CREATE INDEX households_area ON households (kelurahan, rw, rt) WHERE live;

CREATE TABLE persons (
    id          BLOB PRIMARY KEY,
    state       BLOB NOT NULL,
    live        INTEGER NOT NULL,
    merged_into BLOB,
    conflicts   INTEGER NOT NULL,
    household   BLOB,
    nik         INTEGER,
    name_key    TEXT
) WITHOUT ROWID;
CREATE INDEX persons_household ON persons (household);
CREATE INDEX persons_nik ON persons (nik) WHERE live AND nik IS NOT NULL;
CREATE INDEX persons_name ON persons (name_key) WHERE live;

CREATE TABLE visits (
    id          BLOB PRIMARY KEY,
    state       BLOB NOT NULL,
    live        INTEGER NOT NULL,
    merged_into BLOB,
    conflicts   INTEGER NOT NULL,
    household   BLOB,
    visited_on  INTEGER,
    seen        INTEGER NOT NULL,
    flagged     INTEGER NOT NULL,
    urgent      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX visits_household ON visits (household, visited_on) WHERE live;

CREATE TABLE referrals (
    id          BLOB PRIMARY KEY,
    state       BLOB NOT NULL,
    live        INTEGER NOT NULL,
    merged_into BLOB,
    conflicts   INTEGER NOT NULL,
    person      BLOB,
    household   BLOB,
    status      INTEGER,
    urgent      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX referrals_open ON referrals (household) WHERE live AND status IN (1, 2, 3);

CREATE TABLE followups (
    id          BLOB PRIMARY KEY,
    state       BLOB NOT NULL,
    live        INTEGER NOT NULL,
    merged_into BLOB,
    conflicts   INTEGER NOT NULL,
    person      BLOB,
    household   BLOB,
    due         INTEGER,
    done        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX followups_due ON followups (due) WHERE live AND NOT done;

-- Records with a same-field conflict waiting for a person (usually none).
CREATE INDEX households_conflicts ON households (id) WHERE conflicts > 0;
CREATE INDEX persons_conflicts ON persons (id) WHERE conflicts > 0;
CREATE INDEX visits_conflicts ON visits (id) WHERE conflicts > 0;
CREATE INDEX referrals_conflicts ON referrals (id) WHERE conflicts > 0;
CREATE INDEX followups_conflicts ON followups (id) WHERE conflicts > 0;

-- Records changed here and not yet acknowledged by the server. Written in the same
-- transaction as the change itself, so it survives a crash at any point. Records changed by
-- one user action share a change_seq: they travel together. No index on the sending order:
-- the pending set is small (a week offline is about a thousand rows) and is sorted when sent,
-- while an index would cost every action one more encrypted page.
CREATE TABLE outbox (
    record_id  BLOB PRIMARY KEY,
    kind       INTEGER NOT NULL,
    change_seq INTEGER NOT NULL,
    priority   INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Version 2: sync. The outbox keeps the first unacknowledged action of a record as its group
/// (so the records of one action travel together) and the last one (so an acknowledgement
/// never drops a change made after the push was read); `sync_state` holds the server, this
/// device's credential (the file is encrypted) and the pull cursor.
const V2: &str = r#"
ALTER TABLE outbox ADD COLUMN last_seq INTEGER;
UPDATE outbox SET last_seq = change_seq;

CREATE TABLE sync_state (
    singleton    INTEGER PRIMARY KEY CHECK (singleton = 1),
    server       TEXT NOT NULL,
    credential   TEXT NOT NULL,
    epoch        TEXT,
    cursor_seq   INTEGER NOT NULL DEFAULT 0,
    cursor_token INTEGER NOT NULL DEFAULT 0,
    -- By the device's clock, for people only: never used to order anything.
    last_sync_at TEXT
);
"#;

/// Version 3: delta pushes. An outbox entry keeps the clock of the record as the server was
/// known to hold it when the entry was made (`NULL`: the server may not have it; send it whole).
const V3: &str = r#"
ALTER TABLE outbox ADD COLUMN base BLOB;
"#;

/// Version 4: checking a visit's input reads the columns of the people it screens rather
/// than their states (decoding five people's states was a fifth of recording a visit): a
/// person's sex and birth date (days since 1970-01-01), and, for every kind, whether the
/// record is removed (`live` is also 0 for a record merged into another, which still
/// exists). The open-referrals index goes: every new referral wrote one more encrypted page
/// for it, while the worklist that reads it already reads every household and visit, and
/// the referrals are a few percent of the visits (docs/benchmarks.md).
const V4: &str = r#"
ALTER TABLE persons ADD COLUMN sex INTEGER;
ALTER TABLE persons ADD COLUMN born INTEGER;
ALTER TABLE households ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE persons ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visits ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE referrals ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE followups ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;
DROP INDEX referrals_open;
"#;

/// Version 5: what the health office asks of a tablet. `forms_seen`: the newest published
/// form it holds; `last_report`: how its last sync went (JSON), told to the server at the next
/// hello; a resync's staged pull (`resync_stage`, with its own cursor), swapped in whole when
/// complete; `set_aside`: what a resync found here and not on the server (a record, or writes
/// of one), kept for inspection rather than deleted; `wiped`: the tablet deleted its records
/// as told.
const V5: &str = r#"
ALTER TABLE sync_state ADD COLUMN forms_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN last_report TEXT;
ALTER TABLE sync_state ADD COLUMN stage_seq INTEGER;
ALTER TABLE sync_state ADD COLUMN stage_token INTEGER;
ALTER TABLE sync_state ADD COLUMN wiped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN ack_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_state ADD COLUMN ack_token INTEGER NOT NULL DEFAULT 0;

CREATE TABLE resync_stage (
    id    BLOB PRIMARY KEY,
    kind  INTEGER NOT NULL,
    state BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE set_aside (
    id    BLOB PRIMARY KEY,
    kind  INTEGER NOT NULL,
    state BLOB NOT NULL,
    why   TEXT NOT NULL
) WITHOUT ROWID;
"#;

/// Version 6: records that left this tablet's puskesmas (their household moved away), told by
/// the server. One still waiting in the outbox stays in its table (`state` NULL) until its
/// changes are pushed; then its last state is kept here, out of every view, so that a server
/// restored from a backup older than the move gets it back (`offer`: to be offered, after a
/// timeline reset); copies older than [`crate::sync::KEEP_DEPARTED_DAYS`] are dropped.
const V6: &str = r#"
CREATE TABLE departed (
    id          BLOB PRIMARY KEY,
    kind        INTEGER NOT NULL,
    state       BLOB,
    departed_at INTEGER NOT NULL,
    offer       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"#;

/// Version 7: one table for every kind of record. In the five `WITHOUT ROWID` tables a
/// record's whole state sat in its primary key's b-tree, and a leaf that grew at its right
/// edge split by redistributing three siblings: a visit with its referral wrote 5-8 encrypted
/// pages, and a bootstrap spent half its time in those splits (docs/benchmarks.md). Here the
/// states sit in a rowid table that grows by appending (a full leaf is left as it is and a new
/// one begun), the visit and its referral share a leaf, and the id is a small unique index.
/// The five tables' names remain, as views, for every query that reads one kind; writes go
/// to `records`. The query columns are the five tables' own, each `NULL` for the kinds that do
/// not have it.
const V7: &str = r#"
CREATE TABLE records (
    rid         INTEGER PRIMARY KEY,
    id          BLOB NOT NULL,
    kind        INTEGER NOT NULL,
    live        INTEGER NOT NULL,
    merged_into BLOB,
    conflicts   INTEGER NOT NULL,
    removed     INTEGER NOT NULL,
    household   BLOB,
    person      BLOB,
    kk          INTEGER,
    puskesmas   TEXT,
    kelurahan   TEXT,
    rw          INTEGER,
    rt          INTEGER,
    nik         INTEGER,
    name_key    TEXT,
    sex         INTEGER,
    born        INTEGER,
    visited_on  INTEGER,
    seen        INTEGER,
    flagged     INTEGER,
    urgent      INTEGER,
    status      INTEGER,
    due         INTEGER,
    done        INTEGER,
    state       BLOB NOT NULL
);

INSERT INTO records (id, kind, live, merged_into, conflicts, removed, kk, puskesmas, kelurahan,
                     rw, rt, state)
SELECT id, 1, live, merged_into, conflicts, removed, kk, puskesmas, kelurahan, rw, rt, state
FROM households ORDER BY id;
INSERT INTO records (id, kind, live, merged_into, conflicts, removed, household, nik, name_key,
                     sex, born, state)
SELECT id, 2, live, merged_into, conflicts, removed, household, nik, name_key, sex, born, state
FROM persons ORDER BY id;
INSERT INTO records (id, kind, live, merged_into, conflicts, removed, household, visited_on,
                     seen, flagged, urgent, state)
SELECT id, 3, live, merged_into, conflicts, removed, household, visited_on, seen, flagged,
       urgent, state
FROM visits ORDER BY id;
INSERT INTO records (id, kind, live, merged_into, conflicts, removed, person, household, status,
                     urgent, state)
SELECT id, 4, live, merged_into, conflicts, removed, person, household, status, urgent, state
FROM referrals ORDER BY id;
INSERT INTO records (id, kind, live, merged_into, conflicts, removed, person, household, due,
                     done, state)
SELECT id, 5, live, merged_into, conflicts, removed, person, household, due, done, state
FROM followups ORDER BY id;

DROP TABLE households;
DROP TABLE persons;
DROP TABLE visits;
DROP TABLE referrals;
DROP TABLE followups;

CREATE VIEW households AS
SELECT id, state, live, merged_into, conflicts, removed, kk, puskesmas, kelurahan, rw, rt
FROM records WHERE kind = 1;
CREATE VIEW persons AS
SELECT id, state, live, merged_into, conflicts, removed, household, nik, name_key, sex, born
FROM records WHERE kind = 2;
CREATE VIEW visits AS
SELECT id, state, live, merged_into, conflicts, removed, household, visited_on, seen, flagged,
       urgent
FROM records WHERE kind = 3;
CREATE VIEW referrals AS
SELECT id, state, live, merged_into, conflicts, removed, person, household, status, urgent
FROM records WHERE kind = 4;
CREATE VIEW followups AS
SELECT id, state, live, merged_into, conflicts, removed, person, household, due, done
FROM records WHERE kind = 5;

-- Ids are unique across kinds. Reading every record of a kind in id order goes through this
-- index (`INDEXED BY`), never through a sort of the states.
CREATE UNIQUE INDEX records_id ON records (id);
-- The five tables' indexes, each over its kind's rows only. The one the worklist scans carries
-- the id, as the rows of a WITHOUT ROWID table's index did.
CREATE INDEX households_kk ON records (kk) WHERE kind = 1 AND live;
CREATE INDEX households_area ON records (kelurahan, rw, rt, id) WHERE kind = 1 AND live;
CREATE INDEX persons_nik ON records (nik) WHERE kind = 2 AND live AND nik IS NOT NULL;
CREATE INDEX persons_name ON records (name_key) WHERE kind = 2 AND live;
CREATE INDEX followups_due ON records (due) WHERE kind = 5 AND live AND NOT done;
-- What a household holds, of every kind: its members, its visits (by day), its referrals (the
-- worklist's open ones, which the referrals table was small enough to scan for) and its
-- follow-ups. One index rather than one per kind, so that a visit and its referral, recorded
-- together, write one page of it.
CREATE INDEX records_household ON records (household, kind, visited_on) WHERE live;
-- Records with a same-field conflict waiting for a person, and records merged into another
-- (both usually none).
CREATE INDEX records_conflicts ON records (kind, id) WHERE conflicts > 0;
CREATE INDEX records_merged ON records (merged_into) WHERE merged_into IS NOT NULL;
"#;

/// Derives every record's query columns again from its state, inside a migration's
/// transaction (see [`REDERIVE_AT`]).
pub(crate) type Rederive<'a> = &'a dyn Fn(&Transaction<'_>) -> Result<()>;

/// Brings the database to [`SCHEMA_VERSION`], in one transaction.
pub(crate) fn migrate(conn: &mut Connection, rederive: Rederive<'_>) -> Result<u32> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(FieldError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(found);
    }
    let tx = conn.transaction()?;
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        apply(&tx, from as u32, sql)?;
    }
    // A new database has no records to derive anything of.
    if found > 0 && REDERIVE_AT.iter().any(|&version| version > found) {
        rederive(&tx)?;
    }
    tx.commit()?;
    Ok(found)
}

fn apply(tx: &Transaction<'_>, from: u32, sql: &str) -> Result<()> {
    tx.execute_batch(sql)?;
    tx.pragma_update(None, "user_version", from + 1)?;
    Ok(())
}

/// Migrates to exactly `version`: lets tests build a database as an earlier release made it.
#[cfg(test)]
pub(crate) fn migrate_to(conn: &mut Connection, version: u32) -> Result<()> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (from, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(version as usize)
        .skip(found as usize)
    {
        let tx = conn.transaction()?;
        apply(&tx, from as u32, sql)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything SQLite knows of a schema, in a stable order.
    fn schema_of(conn: &Connection) -> Vec<(String, String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn no_records(_: &Transaction<'_>) -> Result<()> {
        Ok(())
    }

    #[test]
    fn upgrading_from_every_earlier_version_gives_the_fresh_schema() {
        let mut fresh = Connection::open_in_memory().unwrap();
        migrate(&mut fresh, &no_records).unwrap();
        for version in 0..SCHEMA_VERSION {
            let mut old = Connection::open_in_memory().unwrap();
            migrate_to(&mut old, version).unwrap();
            let found = migrate(&mut old, &no_records).unwrap();
            assert_eq!(found, version);
            assert_eq!(
                schema_of(&old),
                schema_of(&fresh),
                "upgrade from v{version}"
            );
            let now: u32 = old
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(now, SCHEMA_VERSION);
        }
    }

    #[test]
    fn a_newer_database_is_refused_untouched() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn, &no_records).unwrap_err();
        assert!(matches!(err, FieldError::SchemaTooNew { .. }));
        assert!(schema_of(&conn).is_empty());
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn, &no_records).unwrap();
        let before = schema_of(&conn);
        assert_eq!(migrate(&mut conn, &no_records).unwrap(), SCHEMA_VERSION);
        assert_eq!(schema_of(&conn), before);
    }
}
