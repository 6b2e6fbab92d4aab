//! The SQLite store: one file, no set-up; the default. One writer connection (SQLite admits
//! one writer at a time anyway) and a few readers, so pulls never wait for pushes (WAL).
//! Commits are `synchronous=FULL`: a push is acknowledged only once it is on disk.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cageur_model::RecordKind;
use cageur_model::forms::FormRegistry;
use cageur_protocol::RecordState;
use cageur_protocol::sync::{Cursor, ErrorCode, PULL_PAGE_MAX_RECORDS, PULL_PAGE_TARGET_BYTES};
use rand::Rng;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use uuid::Uuid;

use super::{
    DeviceReport, DeviceRow, Enrolled, Enrollment, IncomingGroup, PullPage, PulledRecord,
    PushOutcome, Secret, StoreError, StoreResult, Unit, hash_secret, now_secs, schema,
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

    /// The database's identity, drawn when it was created.
    pub fn epoch(&self) -> Uuid {
        self.epoch
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

    /// The newest sequence number given out.
    pub fn newest_seq(&self) -> StoreResult<u64> {
        self.read(newest_seq)
    }

    /// A new admin credential; only its hash is kept.
    pub fn create_admin_token(&self) -> StoreResult<Secret> {
        let secret = Secret::admin();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO admin_tokens (hash, created_at) VALUES (?1, ?2)",
                params![hash_secret(&secret.0), now_secs()],
            )?;
            Ok(())
        })?;
        Ok(secret)
    }

    /// Whether `token` is an admin credential.
    pub fn is_admin(&self, token: &str) -> StoreResult<bool> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    "SELECT 1 FROM admin_tokens WHERE hash = ?1",
                    [hash_secret(token)],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }

    /// Registers a puskesmas.
    pub fn add_puskesmas(&self, code: &str, name: &str) -> StoreResult<Unit> {
        self.write(|tx| {
            let n = tx.execute(
                "INSERT OR IGNORE INTO puskesmas (code, name, created_at) VALUES (?1, ?2, ?3)",
                params![code, name, now_secs()],
            )?;
            if n == 0 {
                return Err(StoreError::refused(
                    ErrorCode::Conflict,
                    format!("puskesmas {code} is already registered"),
                ));
            }
            Ok(Unit {
                code: code.into(),
                name: name.into(),
                puskesmas: None,
            })
        })
    }

    /// Registers a team of a puskesmas.
    pub fn add_team(&self, code: &str, puskesmas: &str, name: &str) -> StoreResult<Unit> {
        self.write(|tx| {
            let known: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM puskesmas WHERE code = ?1",
                    [puskesmas],
                    |r| r.get(0),
                )
                .optional()?;
            if known.is_none() {
                return Err(StoreError::refused(
                    ErrorCode::NotFound,
                    format!("no puskesmas {puskesmas}: add it first"),
                ));
            }
            let n = tx.execute(
                "INSERT OR IGNORE INTO teams (code, puskesmas, name, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![code, puskesmas, name, now_secs()],
            )?;
            if n == 0 {
                return Err(StoreError::refused(
                    ErrorCode::Conflict,
                    format!("team {code} is already registered"),
                ));
            }
            Ok(Unit {
                code: code.into(),
                name: name.into(),
                puskesmas: Some(puskesmas.into()),
            })
        })
    }

    /// Creates a one-time enrollment code for a tablet of `team`, valid for `ttl`.
    pub fn create_enrollment(&self, team: &str, ttl: Duration) -> StoreResult<Enrollment> {
        let code = Secret::enrollment_code();
        let now = now_secs();
        let expires_at = now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        self.write(|tx| {
            let puskesmas: Option<String> = tx
                .query_row("SELECT puskesmas FROM teams WHERE code = ?1", [team], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(puskesmas) = puskesmas else {
                return Err(StoreError::refused(
                    ErrorCode::NotFound,
                    format!("no team {team}: add it first"),
                ));
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

    /// Exchanges an enrollment code for a new device and its credential. The code works once.
    pub fn enroll(&self, code: &str, report: &DeviceReport) -> StoreResult<Enrolled> {
        let credential = Secret::device();
        let now = now_secs();
        self.write(|tx| {
            let found: Option<(String, String, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT e.team, t.puskesmas, e.expires_at, e.used_at
                     FROM enrollments e JOIN teams t ON t.code = e.team WHERE e.code_hash = ?1",
                    [hash_secret(code)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let invalid = |why: &str| {
                StoreError::refused(
                    ErrorCode::EnrollmentCodeInvalid,
                    format!("the enrollment code {why}: ask the health office for a new one"),
                )
            };
            let Some((team, puskesmas, expires_at, used_at)) = found else {
                return Err(invalid("is not known"));
            };
            if used_at.is_some() {
                return Err(invalid("was already used"));
            }
            if expires_at <= now {
                return Err(invalid("has expired"));
            }
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
            Ok(Enrolled {
                device,
                credential: credential.0.clone(),
                puskesmas,
                team,
            })
        })
    }

    /// The device whose credential this is, revoked or not.
    pub fn device_by_credential(&self, credential: &str) -> StoreResult<Option<DeviceRow>> {
        self.read(|tx| {
            Ok(tx
                .query_row(
                    &format!("{DEVICE_SELECT} WHERE credential_hash = ?1"),
                    [hash_secret(credential)],
                    device_row,
                )
                .optional()?)
        })
    }

    /// Every device, by id.
    pub fn devices(&self) -> StoreResult<Vec<DeviceRow>> {
        self.read(|tx| {
            let mut stmt = tx.prepare(&format!("{DEVICE_SELECT} ORDER BY id"))?;
            let rows = stmt.query_map([], device_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// Revokes a device: every later request of it is refused.
    pub fn revoke(&self, device: u32, wipe: bool) -> StoreResult<DeviceRow> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?1), wipe = wipe OR ?2
                 WHERE id = ?3",
                params![now_secs(), wipe, device],
            )?;
            if n == 0 {
                return Err(StoreError::refused(
                    ErrorCode::NotFound,
                    format!("no device {device}"),
                ));
            }
            Ok(tx.query_row(
                &format!("{DEVICE_SELECT} WHERE id = ?1"),
                [device],
                device_row,
            )?)
        })
    }

    /// Records what a device reported at the start of a sync; returns the newest sequence.
    pub fn hello(&self, device: u32, report: &DeviceReport) -> StoreResult<u64> {
        self.write(|tx| {
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

    /// Merges a device's push, whole or not at all, and commits it durably.
    pub fn push(&self, device: &DeviceRow, groups: Vec<IncomingGroup>) -> StoreResult<PushOutcome> {
        self.write(|tx| {
            let mut seq = newest_seq(tx)?;
            let mut outcome = PushOutcome::default();
            let now = now_secs();
            for (g, group) in groups.into_iter().enumerate() {
                let mut changed = Vec::new();
                for (r, record) in group.records.into_iter().enumerate() {
                    let at = format!("groups[{g}].records[{r}]");
                    let existing = load(tx, record.id)?;
                    let write = super::records::merge_one(tx, device, record, existing, &at)?;
                    if let Some(write) = write {
                        changed.push(write);
                    }
                }
                outcome.accepted.push(group.change_seq);
                if changed.is_empty() {
                    outcome.unchanged += 1;
                    continue;
                }
                seq += 1;
                let token: i64 = rand::rng().random_range(1..i64::MAX);
                tx.execute(
                    "INSERT INTO sequence (seq, token, device, at) VALUES (?1, ?2, ?3, ?4)",
                    params![seq as i64, token, device.id, now],
                )?;
                for w in changed {
                    if let Some(old) = w.old_seq {
                        // The rest of the record's old group moves with it (see module docs).
                        tx.prepare_cached("UPDATE records SET seq = ?1 WHERE seq = ?2")?
                            .execute(params![seq as i64, old as i64])?;
                    }
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO records (id, kind, puskesmas, household, seq, state)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        w.id.as_bytes(),
                        w.kind.code(),
                        w.puskesmas,
                        w.household.map(|h| h.as_bytes().to_vec()),
                        seq as i64,
                        w.state.encode()
                    ])?;
                    if let Some(moved_from) = &w.moved_from {
                        // A household moved to another puskesmas: its members follow it, and
                        // reach the new puskesmas's devices at this sequence.
                        tracing::info!(from = %moved_from, to = %w.puskesmas, "household moved");
                        tx.prepare_cached(
                            "UPDATE records SET seq = ?1 WHERE seq IN
                                 (SELECT seq FROM records WHERE household = ?2)",
                        )?
                        .execute(params![seq as i64, w.id.as_bytes()])?;
                        tx.prepare_cached(
                            "UPDATE records SET puskesmas = ?1 WHERE household = ?2",
                        )?
                        .execute(params![w.puskesmas, w.id.as_bytes()])?;
                    }
                }
            }
            outcome.seq = seq;
            Ok(outcome)
        })
    }

    /// The next page of a device's scope after `cursor`.
    pub fn pull(
        &self,
        device: &DeviceRow,
        cursor: Cursor,
        max_bytes: Option<u32>,
    ) -> StoreResult<PullPage> {
        let budget = max_bytes
            .map(|b| (b as usize).clamp(1, PULL_PAGE_TARGET_BYTES))
            .unwrap_or(PULL_PAGE_TARGET_BYTES);
        let page = self.read(|tx| {
            if cursor.seq > 0 && token_of(tx, cursor.seq)? != Some(cursor.token) {
                return Err(StoreError::refused(
                    ErrorCode::TimelineChanged,
                    "this server does not have the history your cursor points into (it was \
                     restored from a backup, or is another server): pull from the start and \
                     push every record again",
                ));
            }
            let mut stmt = tx.prepare_cached(
                "SELECT id, kind, state, seq FROM records
                 WHERE puskesmas = ?1 AND seq > ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![device.puskesmas, cursor.seq as i64])?;
            let (mut records, mut bytes, mut last_seq) = (Vec::new(), 0usize, None);
            while let Some(row) = rows.next()? {
                let seq = row.get::<_, i64>(3)? as u64;
                let full = bytes >= budget || records.len() >= PULL_PAGE_MAX_RECORDS;
                if full && last_seq != Some(seq) {
                    break;
                }
                let id: Vec<u8> = row.get(0)?;
                let kind: u8 = row.get(1)?;
                let state: Vec<u8> = row.get(2)?;
                bytes += state.len();
                records.push(PulledRecord {
                    kind: RecordKind::from_code(kind)
                        .ok_or_else(|| StoreError::Damaged(format!("record kind {kind}")))?,
                    id: Uuid::from_slice(&id).map_err(|e| StoreError::Damaged(e.to_string()))?,
                    state,
                });
                last_seq = Some(seq);
            }
            drop(rows);
            let next = match last_seq {
                Some(seq) => Cursor {
                    seq,
                    token: token_of(tx, seq)?.unwrap_or_default(),
                },
                None => cursor,
            };
            let remaining: i64 = tx.query_row(
                "SELECT count(*) FROM records WHERE puskesmas = ?1 AND seq > ?2",
                params![device.puskesmas, next.seq as i64],
                |r| r.get(0),
            )?;
            Ok(PullPage {
                records,
                next,
                remaining: remaining.unsigned_abs(),
            })
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

    /// Writes a puskesmas's records as the canonical export, the same bytes a device that
    /// holds exactly this scope prints with `cageur-field export`.
    pub fn export(&self, puskesmas: &str, out: &mut dyn Write) -> StoreResult<()> {
        let forms = FormRegistry::with_builtins();
        self.read(|tx| {
            let mut stmt = tx.prepare(
                "SELECT id, state FROM records WHERE puskesmas = ?1 AND kind = ?2 ORDER BY id",
            )?;
            field_core::write_export(out, &forms, |kind, emit| {
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

/// A stored record as a push finds it.
pub(crate) struct Stored {
    pub kind: RecordKind,
    pub puskesmas: String,
    pub seq: u64,
    pub state: RecordState,
}

fn load(tx: &Transaction<'_>, id: Uuid) -> StoreResult<Option<Stored>> {
    let row: Option<(u8, String, i64, Vec<u8>)> = tx
        .prepare_cached("SELECT kind, puskesmas, seq, state FROM records WHERE id = ?1")?
        .query_row([id.as_bytes()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    row.map(|(kind, puskesmas, seq, state)| {
        Ok(Stored {
            kind: RecordKind::from_code(kind)
                .ok_or_else(|| StoreError::Damaged(format!("record kind {kind}")))?,
            puskesmas,
            seq: seq as u64,
            state: RecordState::decode(&state)
                .map_err(|e| StoreError::Damaged(format!("record {id}: {e}")))?,
        })
    })
    .transpose()
}

/// The puskesmas of a household the store holds.
pub(crate) fn household_scope(tx: &Transaction<'_>, id: Uuid) -> StoreResult<Option<String>> {
    Ok(tx
        .prepare_cached("SELECT puskesmas FROM records WHERE id = ?1 AND kind = ?2")?
        .query_row(params![id.as_bytes(), RecordKind::Household.code()], |r| {
            r.get(0)
        })
        .optional()?)
}

fn newest_seq(tx: &Transaction<'_>) -> StoreResult<u64> {
    let seq: i64 = tx.query_row("SELECT coalesce(max(seq), 0) FROM sequence", [], |r| {
        r.get(0)
    })?;
    Ok(seq as u64)
}

fn token_of(tx: &Transaction<'_>, seq: u64) -> StoreResult<Option<u64>> {
    Ok(tx
        .prepare_cached("SELECT token FROM sequence WHERE seq = ?1")?
        .query_row([seq as i64], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|t| t as u64))
}

const DEVICE_SELECT: &str = "SELECT id, puskesmas, team, enrolled_at, revoked_at, wipe,
    resync_requested_at, app_version, schema_version, pending, pending_urgent, last_seen_at,
    last_sync_at, cursor_seq FROM devices";

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
    })
}
