//! The PostgreSQL store's schema and its migrations, the same tables as the SQLite store's.
//! Run on every start under an advisory lock, so that server replicas starting together
//! migrate once; each migration in one transaction with its version row. Append only.

use postgres::Client;

use crate::store::{StoreError, StoreResult};

/// `MIGRATIONS[i]` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The schema version this code writes.
pub const PG_SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Advisory lock key held while migrating (an arbitrary constant: "cageur" + 1).
const MIGRATION_LOCK: i64 = 0x6361_6765_7572_0001;

/// Times are seconds since the Unix epoch (UTC); ids of records are 16-byte `bytea`.
const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE admin_tokens (
    hash       BYTEA PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE puskesmas (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE teams (
    code       TEXT PRIMARY KEY,
    puskesmas  TEXT NOT NULL REFERENCES puskesmas (code),
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A device's id is its CRDT actor number, so it is never reused (an identity never is).
CREATE TABLE devices (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team                TEXT NOT NULL REFERENCES teams (code),
    puskesmas           TEXT NOT NULL REFERENCES puskesmas (code),
    credential_hash     BYTEA NOT NULL UNIQUE,
    enrolled_at         BIGINT NOT NULL,
    revoked_at          BIGINT,
    wipe                BOOLEAN NOT NULL DEFAULT FALSE,
    resync_requested_at BIGINT,
    app_version         TEXT,
    schema_version      BIGINT,
    pending             BIGINT,
    pending_urgent      BIGINT,
    last_seen_at        BIGINT,
    last_sync_at        BIGINT,
    cursor_seq          BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE enrollments (
    code_hash  BYTEA PRIMARY KEY,
    team       TEXT NOT NULL REFERENCES teams (code),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    device     BIGINT REFERENCES devices (id)
);

-- One row per change group accepted: the sequence and its random token (see Cursor).
CREATE TABLE sequence (
    seq    BIGINT PRIMARY KEY,
    token  BIGINT NOT NULL,
    device BIGINT,
    at     BIGINT NOT NULL
);

-- Every record's merged state. `puskesmas` is the scope: a household's own, a member's
-- household's. `seq` is the newest sequence the record was written at.
CREATE TABLE records (
    id        BYTEA PRIMARY KEY,
    kind      SMALLINT NOT NULL,
    puskesmas TEXT NOT NULL,
    household BYTEA,
    seq       BIGINT NOT NULL,
    state     BYTEA NOT NULL
);
CREATE INDEX records_scope ON records (puskesmas, seq);
CREATE INDEX records_seq ON records (seq);
CREATE INDEX records_household ON records (household) WHERE household IS NOT NULL;
"#;

/// A record remembers the device whose own state it is (not sent back to it), and a change
/// group remembers the members that moved on to later sequences (sent with it).
const V2: &str = r#"
ALTER TABLE records ADD COLUMN echo BIGINT;
CREATE TABLE group_members (
    seq BIGINT NOT NULL,
    id  BYTEA NOT NULL,
    PRIMARY KEY (seq, id)
);
"#;

/// A page's count of what is left to pull reads the scope index alone: counting through the
/// records themselves read every remaining state once per page, so a bootstrap's pages cost
/// more the more was left.
const V3: &str = r#"
CREATE INDEX records_scope_echo ON records (puskesmas, seq, echo);
DROP INDEX records_scope;
"#;

/// The admin re-sync tool, as in the SQLite store's V4 (flags as 0/1 integers there and here).
const V4: &str = r#"
ALTER TABLE admin_tokens ADD COLUMN name TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE devices ADD COLUMN stolen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN wiped_at BIGINT;
ALTER TABLE devices ADD COLUMN resync_done_at BIGINT;
ALTER TABLE devices ADD COLUMN replaced_by BIGINT;
ALTER TABLE devices ADD COLUMN protocol BIGINT;
ALTER TABLE devices ADD COLUMN pending_referrals BIGINT;
ALTER TABLE enrollments ADD COLUMN replaces BIGINT;

CREATE TABLE audit (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    device    BIGINT,
    puskesmas TEXT,
    detail    TEXT NOT NULL
);
CREATE INDEX audit_device ON audit (device, id);

CREATE TABLE sync_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device     BIGINT NOT NULL REFERENCES devices (id),
    at         BIGINT NOT NULL,
    pushed     BIGINT NOT NULL,
    pulled     BIGINT NOT NULL,
    bytes_up   BIGINT NOT NULL,
    bytes_down BIGINT NOT NULL,
    finished   BIGINT NOT NULL,
    error      TEXT
);
CREATE INDEX sync_log_device ON sync_log (device, id);

CREATE TABLE forms (
    number       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id      TEXT NOT NULL,
    version      BIGINT NOT NULL,
    definition   TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT NOT NULL,
    UNIQUE (form_id, version)
);

CREATE TABLE quarantine (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device      BIGINT NOT NULL REFERENCES devices (id),
    received_at BIGINT NOT NULL,
    records     BIGINT NOT NULL,
    body        BYTEA NOT NULL,
    accepted_at BIGINT
);
"#;

/// Version 5: households moving between puskesmas. The records that left a puskesmas's scope
/// when their household moved out, at the sequence of the move: the old puskesmas's devices
/// are told (and drop them), and may still push what they changed of them before they knew.
const V5: &str = r#"
CREATE TABLE departures (
    puskesmas TEXT NOT NULL,
    id        BYTEA NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (puskesmas, id)
);
CREATE INDEX departures_seq ON departures (puskesmas, seq);
"#;

/// Version 6: each puskesmas's records by band of 1,024 sequences and by echo, kept by a
/// trigger on `records`, as in the SQLite store's V6 (which says why).
const V6: &str = r#"
CREATE TABLE scope_bands (
    puskesmas TEXT NOT NULL,
    band      BIGINT NOT NULL,
    echo      BIGINT NOT NULL,
    records   BIGINT NOT NULL,
    PRIMARY KEY (puskesmas, band, echo)
);

INSERT INTO scope_bands (puskesmas, band, echo, records)
SELECT puskesmas, seq >> 10, coalesce(echo, 0), count(*) FROM records GROUP BY 1, 2, 3;

CREATE FUNCTION records_follow_bands() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE scope_bands SET records = records - 1
        WHERE puskesmas = OLD.puskesmas AND band = OLD.seq >> 10
          AND echo = coalesce(OLD.echo, 0);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO scope_bands (puskesmas, band, echo, records)
        VALUES (NEW.puskesmas, NEW.seq >> 10, coalesce(NEW.echo, 0), 1)
        ON CONFLICT (puskesmas, band, echo)
        DO UPDATE SET records = scope_bands.records + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER records_bands
AFTER INSERT OR DELETE OR UPDATE OF puskesmas, seq, echo ON records
FOR EACH ROW EXECUTE FUNCTION records_follow_bands();
"#;

/// Brings the database to [`PG_SCHEMA_VERSION`]; refuses a newer one untouched.
pub(crate) fn migrate(client: &mut Client) -> StoreResult<()> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = migrate_locked(client);
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
    result
}

fn migrate_locked(client: &mut Client) -> StoreResult<()> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS cageur_schema (version INTEGER PRIMARY KEY,
                                                   applied_at BIGINT NOT NULL)",
    )?;
    let found: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM cageur_schema", &[])?
        .get(0);
    if found > PG_SCHEMA_VERSION {
        return Err(StoreError::Database(format!(
            "the database has schema version {found}, newer than this server's \
             {PG_SCHEMA_VERSION}: run a newer cageur-server"
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let mut tx = client.transaction()?;
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO cageur_schema (version, applied_at) VALUES ($1, $2)",
            &[&(from as i32 + 1), &crate::store::now_secs()],
        )?;
        tx.commit()?;
    }
    Ok(())
}
