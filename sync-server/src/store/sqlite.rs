//! The SQLite store: one file, no set-up; the default. One writer connection (SQLite admits
//! one writer at a time anyway) and a few readers, so pulls never wait for pushes (WAL).
//! Commits are `synchronous=FULL`: a push is acknowledged only once it is on disk.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cageur_model::RecordKind;
use cageur_model::forms::FormRegistry;
use cageur_protocol::DeviceNumber;
use cageur_protocol::sync::Cursor;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use uuid::Uuid;

use super::admin::{self, HelloExtras};
use super::departures;
use super::pull::{PullTx, ScopeRow, Timeline, build_page, echoes_left_out_for, page_budget};
use super::push::{PushTx, PushWrites, Stored, apply_push};
use super::sql::{SqlTx, SqliteSql};
use super::{
    DEVICE_COLUMNS, DeviceReport, DeviceRow, Enrolled, Enrollment, FoundEnrollment, PreparedPush,
    PullPage, PushOutcome, Secret, Store, StoreError, StoreResult, Unit, already_registered,
    expiry, hash_secret, not_registered, now_secs, sqlite_schema as schema, usable_enrollment,
};

const READERS: usize = 4;

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    epoch: Uuid,
}

fn connect(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and migrates it.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("creating {}: {e}", dir.display())))?;
        }
        let mut writer = connect(path)?;
        schema::migrate(&mut writer)?;
        writer.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('epoch', ?1)",
            [Uuid::now_v7().to_string()],
        )?;
        let epoch: String =
            writer.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })?;
        let epoch = Uuid::parse_str(&epoch).map_err(|e| StoreError::Damaged(e.to_string()))?;
        let readers = (0..READERS)
            .map(|_| connect(path).map(Mutex::new))
            .collect::<StoreResult<_>>()?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            epoch,
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let mut conn = self.readers[i].lock().unwrap_or_else(|p| p.into_inner());
        // One read transaction, so a page and its cursor come from one snapshot.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn epoch(&self) -> Uuid {
        self.epoch
    }

    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn newest_seq(&self) -> StoreResult<u64> {
        self.read(newest_seq)
    }

    fn read_sql(&self, f: &mut dyn FnMut(&mut dyn SqlTx) -> StoreResult<()>) -> StoreResult<()> {
        self.read(|tx| f(&mut SqliteSql(tx)))
    }

    fn write_sql(&self, f: &mut dyn FnMut(&mut dyn SqlTx) -> StoreResult<()>) -> StoreResult<()> {
        self.write(|tx| f(&mut SqliteSql(tx)))
    }

    fn size_bytes(&self) -> StoreResult<u64> {
        self.read(|tx| {
            let pages: i64 = tx.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            let size: i64 = tx.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            Ok((pages * size).unsigned_abs())
        })
    }

    fn add_puskesmas(&self, code: &str, name: &str) -> StoreResult<Unit> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO puskesmas (code, name, created_at) VALUES (?1, ?2, ?3)",
                params![code, name, now_secs()],
            )?;
            if n == 0 {
                return Err(already_registered("puskesmas", code));
            }
            Ok(Unit::puskesmas(code, name))
        })
    }

    fn add_team(&self, code: &str, puskesmas: &str, name: &str) -> StoreResult<Unit> {
        self.write(|tx| {
            let known: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM puskesmas WHERE code = ?1",
                    [puskesmas],
                    |r| r.get(0),
                )
                .optional()?;
            if known.is_none() {
                return Err(not_registered("puskesmas", puskesmas));
            }
            let n = tx.execute(
                "INSERT OR IGNORE INTO teams (code, puskesmas, name, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![code, puskesmas, name, now_secs()],
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
            let puskesmas: Option<String> = tx
                .query_row("SELECT puskesmas FROM teams WHERE code = ?1", [team], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(puskesmas) = puskesmas else {
                return Err(not_registered("team", team));
            };
            tx.execute(
                "INSERT INTO enrollments (code_hash, team, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![hash_secret(&code.0), team, now, expires_at],
            )?;
            Ok(Enrollment {
                code: code.0.clone(),
                team: team.into(),
                puskesmas,
                expires_at,
            })
        })
    }

    fn enroll(&self, code: &str, report: &DeviceReport) -> StoreResult<Enrolled> {
        let credential = Secret::device();
        let now = now_secs();
        self.write(|tx| {
            let found: Option<FoundEnrollment> = tx
                .query_row(
                    "SELECT e.team, t.puskesmas, e.expires_at, e.used_at
                     FROM enrollments e JOIN teams t ON t.code = e.team WHERE e.code_hash = ?1",
                    [hash_secret(code)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let (team, puskesmas) = usable_enrollment(found, now)?;
            tx.execute(
                "INSERT INTO devices (team, puskesmas, credential_hash, enrolled_at, app_version,
                                      schema_version, last_seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4)",
                params![
                    team,
                    puskesmas,
                    hash_secret(&credential.0),
                    now,
                    report.app_version,
                    report.schema
                ],
            )?;
            let device = u32::try_from(tx.last_insert_rowid())
                .map_err(|_| StoreError::Database("device numbers exhausted".into()))?;
            tx.execute(
                "UPDATE enrollments SET used_at = ?1, device = ?2 WHERE code_hash = ?3",
                params![now, device, hash_secret(code)],
            )?;
            admin::link_replacement(&mut SqliteSql(tx), hash_secret(code), device)?;
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
            Ok(tx
                .query_row(
                    &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE credential_hash = ?1"),
                    [hash_secret(credential)],
                    device_row,
                )
                .optional()?)
        })
    }

    fn devices(&self) -> StoreResult<Vec<DeviceRow>> {
        self.read(|tx| {
            let mut stmt =
                tx.prepare(&format!("SELECT {DEVICE_COLUMNS} FROM devices ORDER BY id"))?;
            let rows = stmt.query_map([], device_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
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
                admin::hello_extras(&mut SqliteSql(tx), device, extras, now_secs())?;
            }
            tx.execute(
                "UPDATE devices SET app_version = ?1, schema_version = ?2, pending = ?3,
                        pending_urgent = ?4, last_seen_at = ?5 WHERE id = ?6",
                params![
                    report.app_version,
                    report.schema,
                    report.pending as i64,
                    report.pending_urgent as i64,
                    now_secs(),
                    device
                ],
            )?;
            newest_seq(tx)
        })
    }

    fn push(&self, device: &DeviceRow, push: PreparedPush) -> StoreResult<PushOutcome> {
        let records = push.records();
        self.write(|tx| {
            // A caller that knows the device was stolen (a salvage, accepted held pushes)
            // merges on purpose; a device push is refused if it became stolen meanwhile.
            if !device.stolen {
                admin::refuse_if_stolen(&mut SqliteSql(tx), device.id)?;
            }
            let outcome = apply_push(&mut SqliteTx(tx), device, push)?;
            admin::pushed(&mut SqliteSql(tx), device.id, records)?;
            Ok(outcome)
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
                &mut SqliteTx(tx),
                &device.puskesmas,
                echoes_left_out_for(device),
                cursor,
                budget,
            )
        })?;
        if page.remaining == 0 {
            self.write(|tx| {
                tx.execute(
                    "UPDATE devices SET cursor_seq = ?1, last_sync_at = ?2, last_seen_at = ?2
                     WHERE id = ?3",
                    params![page.next.seq as i64, now_secs(), device.id],
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
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT id, state FROM records WHERE puskesmas = ?1 AND kind = ?2 ORDER BY id",
            )?;
            field_core::write_export(out, forms, |kind, emit| {
                let mut rows = stmt.query(params![puskesmas, kind.code()])?;
                while let Some(row) = rows.next()? {
                    let id: Vec<u8> = row.get(0)?;
                    let state: Vec<u8> = row.get(1)?;
                    let id = Uuid::from_slice(&id)
                        .map_err(|e| field_core::FieldError::Io(std::io::Error::other(e)))?;
                    emit(id, &state)?;
                }
                Ok(())
            })
            .map_err(|e| StoreError::Damaged(e.to_string()))
        })
    }
}

/// A transaction of the SQLite store, as the shared push and pull code sees it.
struct SqliteTx<'a, 'c>(&'a Transaction<'c>);

impl PushTx for SqliteTx<'_, '_> {
    fn newest_seq(&mut self) -> StoreResult<u64> {
        newest_seq(self.0)
    }

    // In-process SQLite pays no round trips: one cached statement per record is as fast as
    // any batching.
    fn load_many(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, Stored>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT kind, puskesmas, seq, state, echo FROM records WHERE id = ?1",
        )?;
        let mut found = HashMap::new();
        for id in ids {
            let mut rows = stmt.query([id.as_bytes()])?;
            if let Some(r) = rows.next()? {
                let state: Vec<u8> = r.get(3)?;
                let stored =
                    Stored::from_row(*id, r.get(0)?, r.get(1)?, r.get(2)?, &state, r.get(4)?)?;
                found.insert(*id, stored);
            }
        }
        Ok(found)
    }

    fn household_scopes(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, String>> {
        let mut stmt = self
            .0
            .prepare_cached("SELECT puskesmas FROM records WHERE id = ?1 AND kind = ?2")?;
        let mut found = HashMap::new();
        for id in ids {
            let scope: Option<String> = stmt
                .query_row(params![id.as_bytes(), RecordKind::Household.code()], |r| {
                    r.get(0)
                })
                .optional()?;
            if let Some(scope) = scope {
                found.insert(*id, scope);
            }
        }
        Ok(found)
    }

    fn departed(&mut self, puskesmas: &str, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>> {
        departures::departed(&mut SqliteSql(self.0), puskesmas, ids)
    }

    fn device_puskesmas(&mut self, device: u32) -> StoreResult<Option<String>> {
        departures::device_puskesmas(&mut SqliteSql(self.0), device)
    }

    fn write_push(&mut self, writes: &PushWrites) -> StoreResult<()> {
        let tx = self.0;
        let mut add_sequence = tx.prepare_cached(
            "INSERT INTO sequence (seq, token, device, at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (seq, token, device, at) in &writes.sequences {
            add_sequence.execute(params![*seq as i64, token, device, at])?;
        }
        let mut keep = tx.prepare_cached(
            "INSERT OR IGNORE INTO group_members (seq, id) SELECT ?1, ?2
             WHERE EXISTS (SELECT 1 FROM records WHERE seq = ?1 AND id <> ?2)
                OR EXISTS (SELECT 1 FROM group_members WHERE seq = ?1 AND id <> ?2)",
        )?;
        for (seq, id) in &writes.kept {
            keep.execute(params![*seq as i64, id.as_bytes()])?;
        }
        let mut put = tx.prepare_cached(
            "INSERT INTO records (id, kind, puskesmas, household, seq, state, echo)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind,
                 puskesmas = excluded.puskesmas, household = excluded.household,
                 seq = excluded.seq, state = excluded.state, echo = excluded.echo",
        )?;
        for (w, seq) in &writes.records {
            put.execute(params![
                w.id.as_bytes(),
                w.kind.code(),
                w.puskesmas,
                w.household.map(|h| h.as_bytes().to_vec()),
                *seq as i64,
                w.state.encode(),
                w.echo
            ])?;
        }
        for (household, puskesmas, from, seq) in &writes.moves {
            departures::household_moved(&mut SqliteSql(tx), *household, from, puskesmas, *seq)?;
        }
        for (puskesmas, id, seq) in &writes.departures {
            departures::record_departed(&mut SqliteSql(tx), puskesmas, *id, *seq)?;
        }
        Ok(())
    }
}

impl Timeline for SqliteTx<'_, '_> {
    fn token_of(&mut self, seq: u64) -> StoreResult<Option<u64>> {
        Ok(self
            .0
            .prepare_cached("SELECT token FROM sequence WHERE seq = ?1")?
            .query_row([seq as i64], |r| r.get::<_, i64>(0))
            .optional()?
            .map(|t| t as u64))
    }
}

impl PullTx for SqliteTx<'_, '_> {
    fn departures(
        &mut self,
        puskesmas: &str,
        after: u64,
        upto: Option<u64>,
    ) -> StoreResult<Vec<(u64, Uuid)>> {
        departures::after(&mut SqliteSql(self.0), puskesmas, after, upto)
    }

    fn scan(
        &mut self,
        puskesmas: &str,
        after: u64,
        take: &mut dyn FnMut(ScopeRow) -> StoreResult<bool>,
    ) -> StoreResult<()> {
        let mut stmt = self.0.prepare_cached(
            "SELECT seq, kind, id, state, echo FROM records
             WHERE puskesmas = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![puskesmas, after as i64])?;
        while let Some(row) = rows.next()? {
            if !take(scope_row(row)?)? {
                break;
            }
        }
        Ok(())
    }

    fn kept_members(
        &mut self,
        puskesmas: &str,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<ScopeRow>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT g.seq, r.kind, r.id, r.state, r.echo
             FROM group_members g JOIN records r ON r.id = g.id
             WHERE g.seq > ?1 AND g.seq <= ?2 AND r.puskesmas = ?3",
        )?;
        let rows = stmt.query_map(params![after as i64, upto as i64, puskesmas], scope_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count_after(&mut self, puskesmas: &str, after: u64, device: u32) -> StoreResult<u64> {
        // The bands after the cursor's, then the records of its band after it (V6).
        let n: i64 = self.0.query_row(
            "SELECT (SELECT coalesce(sum(records), 0) FROM scope_bands
                      WHERE puskesmas = ?1 AND band > (?2 >> 10) AND (echo = 0 OR echo <> ?3))
                  + (SELECT count(*) FROM records
                      WHERE puskesmas = ?1 AND seq > ?2 AND seq < (((?2 >> 10) + 1) << 10)
                        AND (echo IS NULL OR echo <> ?3))",
            params![puskesmas, after as i64, device],
            |r| r.get(0),
        )?;
        Ok(n.unsigned_abs())
    }
}

fn scope_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ScopeRow> {
    Ok(ScopeRow {
        seq: row.get::<_, i64>(0)? as u64,
        kind: row.get(1)?,
        id: row.get(2)?,
        state: row.get(3)?,
        echo: row.get(4)?,
    })
}

fn newest_seq(tx: &Transaction<'_>) -> StoreResult<u64> {
    let seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM sequence", [], |r| {
        r.get(0)
    })?;
    Ok(seq as u64)
}

fn device_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: r.get(0)?,
        puskesmas: r.get(1)?,
        team: r.get(2)?,
        enrolled_at: r.get(3)?,
        revoked_at: r.get(4)?,
        wipe: r.get(5)?,
        resync_requested_at: r.get(6)?,
        app_version: r.get(7)?,
        schema: r.get(8)?,
        pending: r.get::<_, Option<i64>>(9)?.map(i64::unsigned_abs),
        pending_urgent: r.get::<_, Option<i64>>(10)?.map(i64::unsigned_abs),
        last_seen_at: r.get(11)?,
        last_sync_at: r.get(12)?,
        cursor: r.get::<_, i64>(13)?.unsigned_abs(),
        stolen: r.get(14)?,
        wiped_at: r.get(15)?,
    })
}
