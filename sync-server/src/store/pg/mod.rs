//! The PostgreSQL store: production, and several stateless server replicas on one database.
//!
//! The same tables and the same push and pull code as the SQLite store. What differs is how
//! sequences stay in commit order with several writers: every push takes one transaction-level
//! advisory lock before it reads the newest sequence, so pushes commit one after another (as
//! with SQLite's single writer), and a puller's snapshot always holds a prefix of the
//! sequence — a cursor can never pass a sequence that commits later. A push is a few
//! milliseconds of work, so one lock serves hundreds of devices; pulls, the bulk of the
//! traffic, take no lock and read from a repeatable-read snapshot.

mod schema;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use cageur_model::RecordKind;
use cageur_model::forms::FormRegistry;
use cageur_protocol::DeviceNumber;
use cageur_protocol::sync::Cursor;
use postgres::{IsolationLevel, NoTls, Row, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use uuid::Uuid;

use super::admin::{self, HelloExtras};
use super::departures;
use super::pull::{PullTx, ScopeRow, Timeline, build_page, echoes_left_out_for, page_budget};
use super::push::{PushTx, PushWrites, Stored, apply_push};
use super::sql::{PgSql, SqlTx};
use super::{
    DEVICE_COLUMNS, DeviceReport, DeviceRow, Enrolled, Enrollment, FoundEnrollment, PreparedPush,
    PullPage, PushOutcome, Secret, Store, StoreError, StoreResult, Unit, already_registered,
    expiry, hash_secret, not_registered, now_secs, usable_enrollment,
};

/// Connections per server process: enough for the blocking pool's store calls at 5 p.m.
const POOL_SIZE: u32 = 16;

/// Advisory lock key that orders pushes across server processes ("cageur" + 2).
const PUSH_LOCK: i64 = 0x6361_6765_7572_0002;

/// Rows fetched per round trip when streaming a scope (pull pages, exports).
const FETCH_ROWS: i32 = 512;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// The PostgreSQL store.
#[derive(Debug)]
pub struct PgStore {
    pool: Pool,
    epoch: Uuid,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Database(format!("no database connection: {e}"))
    }
}

impl PgStore {
    /// Connects to the database `url` names (`postgres://USER@HOST:PORT/DATABASE`) and
    /// migrates it. Blocks: call it outside the async runtime.
    pub fn open(url: &str) -> StoreResult<Self> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("the PostgreSQL URL is not valid: {e}")))?;
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(PostgresConnectionManager::new(config, NoTls))?;
        let mut client = pool.get()?;
        schema::migrate(&mut client)?;
        client.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', $1) ON CONFLICT (key) DO NOTHING",
            &[&Uuid::now_v7().to_string()],
        )?;
        let epoch: String = client
            .query_one("SELECT value FROM meta WHERE key = 'epoch'", &[])?
            .get(0);
        let epoch = Uuid::parse_str(&epoch).map_err(|e| StoreError::Damaged(e.to_string()))?;
        drop(client);
        Ok(Self { pool, epoch })
    }

    /// One read-only transaction on one snapshot, so a page and its cursor agree.
    fn read<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut client = self.pool.get()?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// One read-write transaction; committed only if `f` succeeds.
    fn write<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut client = self.pool.get()?;
        let mut tx = client.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl Store for PgStore {
    fn epoch(&self) -> Uuid {
        self.epoch
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn newest_seq(&self) -> StoreResult<u64> {
        self.read(|tx| PgTx(tx).newest_seq())
    }

    fn read_sql(&self, f: &mut dyn FnMut(&mut dyn SqlTx) -> StoreResult<()>) -> StoreResult<()> {
        self.read(|tx| f(&mut PgSql(tx)))
    }

    fn write_sql(&self, f: &mut dyn FnMut(&mut dyn SqlTx) -> StoreResult<()>) -> StoreResult<()> {
        self.write(|tx| f(&mut PgSql(tx)))
    }

    fn size_bytes(&self) -> StoreResult<u64> {
        self.read(|tx| {
            let bytes: i64 = tx
                .query_one("SELECT pg_database_size(current_database())", &[])?
                .get(0);
            Ok(bytes.unsigned_abs())
        })
    }

    fn add_puskesmas(&self, code: &str, name: &str) -> StoreResult<Unit> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT INTO puskesmas (code, name, created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (code) DO NOTHING",
                &[&code, &name, &now_secs()],
            )?;
            if n == 0 {
                return Err(already_registered("puskesmas", code));
            }
            Ok(Unit::puskesmas(code, name))
        })
    }

    fn add_team(&self, code: &str, puskesmas: &str, name: &str) -> StoreResult<Unit> {
        self.write(|tx| {
            if tx
                .query_opt("SELECT 1 FROM puskesmas WHERE code = $1", &[&puskesmas])?
                .is_none()
            {
                return Err(not_registered("puskesmas", puskesmas));
            }
            let n = tx.execute(
                "INSERT INTO teams (code, puskesmas, name, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (code) DO NOTHING",
                &[&code, &puskesmas, &name, &now_secs()],
            )?;
            if n == 0 {
                return Err(already_registered("team", code));
            }
            Ok(Unit::team(code, name, puskesmas))
        })
    }

    fn create_enrollment(&self, team: &str, ttl: Duration) -> StoreResult<Enrollment> {
        let code = Secret::enrollment_code();
        let now = now_secs();
        let expires_at = expiry(now, ttl);
        self.write(|tx| {
            let Some(row) =
                tx.query_opt("SELECT puskesmas FROM teams WHERE code = $1", &[&team])?
            else {
                return Err(not_registered("team", team));
            };
            tx.execute(
                "INSERT INTO enrollments (code_hash, team, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[&hash_secret(&code.0), &team, &now, &expires_at],
            )?;
            Ok(Enrollment {
                code: code.0.clone(),
                team: team.into(),
                puskesmas: row.get(0),
                expires_at,
            })
        })
    }

    fn enroll(&self, code: &str, report: &DeviceReport) -> StoreResult<Enrolled> {
        let credential = Secret::device();
        let now = now_secs();
        let code_hash = hash_secret(code);
        self.write(|tx| {
            // FOR UPDATE: two tablets racing with one code on two servers; one wins.
            let found: Option<FoundEnrollment> = tx
                .query_opt(
                    "SELECT e.team, t.puskesmas, e.expires_at, e.used_at
                     FROM enrollments e JOIN teams t ON t.code = e.team
                     WHERE e.code_hash = $1 FOR UPDATE OF e",
                    &[&code_hash],
                )?
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)));
            let (team, puskesmas) = usable_enrollment(found, now)?;
            let id: i64 = tx
                .query_one(
                    "INSERT INTO devices (team, puskesmas, credential_hash, enrolled_at,
                                          app_version, schema_version, last_seen_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $4) RETURNING id",
                    &[
                        &team,
                        &puskesmas,
                        &hash_secret(&credential.0),
                        &now,
                        &report.app_version,
                        &i64::from(report.schema),
                    ],
                )?
                .get(0);
            let device = u32::try_from(id)
                .map_err(|_| StoreError::Database("device numbers exhausted".into()))?;
            tx.execute(
                "UPDATE enrollments SET used_at = $1, device = $2 WHERE code_hash = $3",
                &[&now, &id, &code_hash],
            )?;
            admin::link_replacement(&mut PgSql(tx), code_hash.clone(), device)?;
            Ok(Enrolled {
                device,
                credential: credential.0.clone(),
                puskesmas,
                team,
            })
        })
    }

    fn device_by_credential(&self, credential: &str) -> StoreResult<Option<DeviceRow>> {
        self.read(|tx| {
            tx.query_opt(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE credential_hash = $1"),
                &[&hash_secret(credential)],
            )?
            .map(|r| device_row(&r))
            .transpose()
        })
    }

    fn devices(&self) -> StoreResult<Vec<DeviceRow>> {
        self.read(|tx| {
            tx.query(
                &format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY id"),
                &[],
            )?
            .iter()
            .map(device_row)
            .collect()
        })
    }

    fn hello(
        &self,
        device: DeviceNumber,
        report: &DeviceReport,
        extras: Option<&HelloExtras>,
    ) -> StoreResult<u64> {
        self.write(|tx| {
            if let Some(extras) = extras {
                admin::hello_extras(&mut PgSql(tx), device, extras, now_secs())?;
            }
            tx.execute(
                "UPDATE devices SET app_version = $1, schema_version = $2, pending = $3,
                        pending_urgent = $4, last_seen_at = $5 WHERE id = $6",
                &[
                    &report.app_version,
                    &i64::from(report.schema),
                    &(report.pending as i64),
                    &(report.pending_urgent as i64),
                    &now_secs(),
                    &i64::from(device),
                ],
            )?;
            PgTx(tx).newest_seq()
        })
    }

    fn push(&self, device: &DeviceRow, push: PreparedPush) -> StoreResult<PushOutcome> {
        let records = push.records();
        self.write(|tx| {
            // Outside the lock: other pushes need not wait for it. The device's row stays
            // locked to the end, so a revocation as stolen waits for this push or comes first.
            admin::pushed(&mut PgSql(tx), device.id, records)?;
            // A caller that knows the device was stolen (a salvage, accepted held pushes)
            // merges on purpose; a device push is refused if it became stolen meanwhile.
            if !device.stolen {
                admin::refuse_if_stolen(&mut PgSql(tx), device.id)?;
            }
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PUSH_LOCK])?;
            apply_push(&mut PgTx(tx), device, push)
        })
    }

    fn pull(
        &self,
        device: &DeviceRow,
        cursor: Cursor,
        max_bytes: Option<u32>,
    ) -> StoreResult<PullPage> {
        let budget = page_budget(max_bytes);
        let page = self.read(|tx| {
            build_page(
                &mut PgTx(tx),
                &device.puskesmas,
                echoes_left_out_for(device),
                cursor,
                budget,
            )
        })?;
        if page.remaining == 0 {
            self.write(|tx| {
                tx.execute(
                    "UPDATE devices SET cursor_seq = $1, last_sync_at = $2, last_seen_at = $2
                     WHERE id = $3",
                    &[&(page.next.seq as i64), &now_secs(), &i64::from(device.id)],
                )?;
                Ok(())
            })?;
        }
        Ok(page)
    }

    fn export(
        &self,
        puskesmas: &str,
        forms: &FormRegistry,
        out: &mut dyn Write,
    ) -> StoreResult<()> {
        let io = |e: &dyn std::fmt::Display| {
            field_core::FieldError::Io(std::io::Error::other(e.to_string()))
        };
        self.read(|tx| {
            field_core::write_export(out, forms, |kind, emit| {
                let portal = tx
                    .bind(
                        "SELECT id, state FROM records WHERE puskesmas = $1 AND kind = $2
                         ORDER BY id",
                        &[&puskesmas, &(kind.code() as i16)],
                    )
                    .map_err(|e| io(&e))?;
                loop {
                    let rows = tx.query_portal(&portal, FETCH_ROWS).map_err(|e| io(&e))?;
                    if rows.is_empty() {
                        return Ok(());
                    }
                    for row in rows {
                        let id = Uuid::from_slice(row.get(0)).map_err(|e| io(&e))?;
                        emit(id, row.get(1))?;
                    }
                }
            })
            .map_err(|e| StoreError::Damaged(e.to_string()))
        })
    }
}

/// A transaction of the PostgreSQL store, as the shared push and pull code sees it.
struct PgTx<'a, 'c>(&'a mut Transaction<'c>);

impl PushTx for PgTx<'_, '_> {
    fn newest_seq(&mut self) -> StoreResult<u64> {
        let seq: i64 = self
            .0
            .query_one("SELECT coalesce(max(seq), 0) FROM sequence", &[])?
            .get(0);
        Ok(seq as u64)
    }

    fn load_many(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, Stored>> {
        let rows = self.0.query(
            "SELECT id, kind, puskesmas, seq, state, echo FROM records WHERE id = ANY($1)",
            &[&id_array(ids)],
        )?;
        let mut found = HashMap::new();
        for r in rows {
            let id = Uuid::from_slice(r.get(0)).map_err(|e| StoreError::Damaged(e.to_string()))?;
            let kind: i16 = r.get(1);
            let stored = Stored::from_row(
                id,
                kind.into(),
                r.get(2),
                r.get(3),
                r.get(4),
                echo_of(r.get(5))?,
            )?;
            found.insert(id, stored);
        }
        Ok(found)
    }

    fn household_scopes(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, String>> {
        let rows = self.0.query(
            "SELECT id, puskesmas FROM records WHERE id = ANY($1) AND kind = $2",
            &[&id_array(ids), &(RecordKind::Household.code() as i16)],
        )?;
        rows.iter()
            .map(|r| {
                let id =
                    Uuid::from_slice(r.get(0)).map_err(|e| StoreError::Damaged(e.to_string()))?;
                Ok((id, r.get(1)))
            })
            .collect()
    }

    fn departed(&mut self, puskesmas: &str, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
        departures::departed(&mut PgSql(self.0), puskesmas, ids)
    }

    fn device_puskesmas(&mut self, device: u32) -> StoreResult<Option<String>> {
        departures::device_puskesmas(&mut PgSql(self.0), device)
    }

    // One statement per kind of write, whatever the size of the push: each round trip is
    // paid while the push lock is held.
    fn write_push(&mut self, writes: &PushWrites) -> StoreResult<()> {
        if writes.sequences.is_empty() {
            return Ok(());
        }
        let tx = &mut *self.0;
        let sequences = &writes.sequences;
        let seqs: Vec<i64> = sequences.iter().map(|s| s.0 as i64).collect();
        let tokens: Vec<i64> = sequences.iter().map(|s| s.1).collect();
        let devices: Vec<i64> = sequences.iter().map(|s| i64::from(s.2)).collect();
        let ats: Vec<i64> = sequences.iter().map(|s| s.3).collect();
        tx.execute(
            "INSERT INTO sequence (seq, token, device, at)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])",
            &[&seqs, &tokens, &devices, &ats],
        )?;
        if !writes.kept.is_empty() {
            let kept_seqs: Vec<i64> = writes.kept.iter().map(|(s, _)| *s as i64).collect();
            let kept_ids: Vec<Vec<u8>> = writes
                .kept
                .iter()
                .map(|(_, id)| id.as_bytes().to_vec())
                .collect();
            tx.execute(
                "INSERT INTO group_members (seq, id)
                 SELECT k.seq, k.id FROM unnest($1::bigint[], $2::bytea[]) AS k (seq, id)
                 WHERE EXISTS (SELECT 1 FROM records r WHERE r.seq = k.seq AND r.id <> k.id)
                    OR EXISTS (SELECT 1 FROM group_members g WHERE g.seq = k.seq AND g.id <> k.id)
                 ON CONFLICT DO NOTHING",
                &[&kept_seqs, &kept_ids],
            )?;
        }
        let records = &writes.records;
        let ids: Vec<Vec<u8>> = records
            .iter()
            .map(|(w, _)| w.id.as_bytes().to_vec())
            .collect();
        let kinds: Vec<i16> = records.iter().map(|(w, _)| w.kind.code() as i16).collect();
        let scopes: Vec<&str> = records.iter().map(|(w, _)| w.puskesmas.as_str()).collect();
        let households: Vec<Option<Vec<u8>>> = records
            .iter()
            .map(|(w, _)| w.household.map(|h| h.as_bytes().to_vec()))
            .collect();
        let record_seqs: Vec<i64> = records.iter().map(|(_, seq)| *seq as i64).collect();
        let states: Vec<Vec<u8>> = records.iter().map(|(w, _)| w.state.encode()).collect();
        let echoes: Vec<Option<i64>> = records.iter().map(|(w, _)| w.echo.map(i64::from)).collect();
        tx.execute(
            "INSERT INTO records (id, kind, puskesmas, household, seq, state, echo)
             SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::text[], $4::bytea[],
                                  $5::bigint[], $6::bytea[], $7::bigint[])
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,
                 puskesmas = excluded.puskesmas, household = excluded.household,
                 seq = excluded.seq, state = excluded.state, echo = excluded.echo",
            &[
                &ids,
                &kinds,
                &scopes,
                &households,
                &record_seqs,
                &states,
                &echoes,
            ],
        )?;
        for (id, puskesmas, from, seq) in &writes.moves {
            departures::household_moved(&mut PgSql(tx), *id, from, puskesmas, *seq)?;
        }
        for (puskesmas, id, seq) in &writes.departures {
            departures::record_departed(&mut PgSql(tx), puskesmas, *id, *seq)?;
        }
        Ok(())
    }
}

/// Ids as a `bytea[]` parameter.
fn id_array(ids: &[Uuid]) -> Vec<Vec<u8>> {
    ids.iter().map(|id| id.as_bytes().to_vec()).collect()
}

impl Timeline for PgTx<'_, '_> {
    fn token_of(&mut self, seq: u64) -> StoreResult<Option<u64>> {
        Ok(self
            .0
            .query_opt(
                "SELECT token FROM sequence WHERE seq = $1",
                &[&(seq as i64)],
            )?
            .map(|r| r.get::<_, i64>(0) as u64))
    }
}

impl PullTx for PgTx<'_, '_> {
    fn departures(
        &mut self,
        puskesmas: &str,
        after: u64,
        upto: Option<u64>,
    ) -> StoreResult<Vec<(u64, Uuid)>> {
        departures::after(&mut PgSql(self.0), puskesmas, after, upto)
    }

    fn scan(
        &mut self,
        puskesmas: &str,
        after: u64,
        take: &mut dyn FnMut(ScopeRow) -> StoreResult<bool>,
    ) -> StoreResult<()> {
        // A portal fetched in slices: a page stops early, so the scope is never read whole.
        let portal = self.0.bind(
            "SELECT seq, kind, id, state, echo FROM records
             WHERE puskesmas = $1 AND seq > $2 ORDER BY seq",
            &[&puskesmas, &(after as i64)],
        )?;
        loop {
            let rows = self.0.query_portal(&portal, FETCH_ROWS)?;
            if rows.is_empty() {
                return Ok(());
            }
            for row in rows {
                if !take(scope_row(&row)?)? {
                    return Ok(());
                }
            }
        }
    }

    fn kept_members(
        &mut self,
        puskesmas: &str,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<ScopeRow>> {
        self.0
            .query(
                "SELECT g.seq, r.kind, r.id, r.state, r.echo
                 FROM group_members g JOIN records r ON r.id = g.id
                 WHERE g.seq > $1 AND g.seq <= $2 AND r.puskesmas = $3",
                &[&(after as i64), &(upto as i64), &puskesmas],
            )?
            .iter()
            .map(scope_row)
            .collect()
    }

    fn count_after(&mut self, puskesmas: &str, after: u64, device: u32) -> StoreResult<u64> {
        let n: i64 = self
            .0
            .query_one(
                // The bands after the cursor's, then the records of its band after it (V6).
                "SELECT (SELECT coalesce(sum(records), 0) FROM scope_bands
                          WHERE puskesmas = $1 AND band > ($2::bigint >> 10)
                            AND (echo = 0 OR echo <> $3::bigint))::bigint
                      + (SELECT count(*) FROM records
                          WHERE puskesmas = $1 AND seq > $2::bigint
                            AND seq < ((($2::bigint >> 10) + 1) << 10)
                            AND (echo IS NULL OR echo <> $3::bigint))",
                &[&puskesmas, &(after as i64), &i64::from(device)],
            )?
            .get(0);
        Ok(n.unsigned_abs())
    }
}

fn scope_row(row: &Row) -> StoreResult<ScopeRow> {
    Ok(ScopeRow {
        seq: row.get::<_, i64>(0) as u64,
        kind: u8::try_from(row.get::<_, i16>(1))
            .map_err(|e| StoreError::Damaged(format!("record kind: {e}")))?,
        id: row.get(2),
        state: row.get(3),
        echo: echo_of(row.get(4))?,
    })
}

fn echo_of(device: Option<i64>) -> StoreResult<Option<u32>> {
    device
        .map(|d| u32::try_from(d).map_err(|_| StoreError::Damaged(format!("device {d}"))))
        .transpose()
}

fn device_row(r: &Row) -> StoreResult<DeviceRow> {
    let id: i64 = r.get(0);
    let schema: Option<i64> = r.get(8);
    Ok(DeviceRow {
        id: u32::try_from(id).map_err(|_| StoreError::Damaged(format!("device id {id}")))?,
        puskesmas: r.get(1),
        team: r.get(2),
        enrolled_at: r.get(3),
        revoked_at: r.get(4),
        wipe: r.get(5),
        resync_requested_at: r.get(6),
        app_version: r.get(7),
        schema: schema.and_then(|s| u32::try_from(s).ok()),
        pending: r.get::<_, Option<i64>>(9).map(i64::unsigned_abs),
        pending_urgent: r.get::<_, Option<i64>>(10).map(i64::unsigned_abs),
        last_seen_at: r.get(11),
        last_sync_at: r.get(12),
        cursor: r.get::<_, i64>(13).unsigned_abs(),
        stolen: r.get::<_, i64>(14) != 0,
        wiped_at: r.get(15),
    })
}
