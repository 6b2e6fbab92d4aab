//! What the admin re-sync tool reads and writes, written once for both stores over
//! [`SqlTx`]: named admin credentials, the audit log, devices as the health office sees
//! them, sync history, published forms, pushes held for review, and records by id and scope.
//!
//! Every function here is one step inside a caller's transaction; the functions at the end
//! ([`read`], [`write`]) run a closure in one transaction of a [`Store`].

use cageur_model::RecordKind;
use cageur_protocol::DeviceNumber;
use cageur_protocol::sync::{ErrorCode, MAX_ERROR_CHARS, PublishedForm, SyncSummary};
use serde::Serialize;
use uuid::Uuid;

use super::sql::{SqlRow, SqlTx, SqlValue};
use super::{Secret, Store, StoreError, StoreResult, hash_secret, now_secs};

/// Runs `f` in one read transaction of `store`.
pub fn read<T>(
    store: &dyn Store,
    f: impl FnOnce(&mut dyn SqlTx) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut f = Some(f);
    let mut out = None;
    store.read_sql(&mut |tx| {
        let f = f.take().expect("a store runs the closure once");
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Database("the store did not run the read".into()))
}

/// Runs `f` in one write transaction of `store`: all of it commits, or none.
pub fn write<T>(
    store: &dyn Store,
    f: impl FnOnce(&mut dyn SqlTx) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut f = Some(f);
    let mut out = None;
    store.write_sql(&mut |tx| {
        let f = f.take().expect("a store runs the closure once");
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Database("the store did not run the write".into()))
}

fn damaged(what: &str) -> StoreError {
    StoreError::Damaged(format!("a stored {what} does not read"))
}

fn int(row: &SqlRow, i: usize) -> StoreResult<i64> {
    row.get(i)
        .and_then(SqlValue::int)
        .ok_or_else(|| damaged("integer"))
}

fn opt_int(row: &SqlRow, i: usize) -> Option<i64> {
    row.get(i).and_then(SqlValue::int)
}

fn text(row: &SqlRow, i: usize) -> StoreResult<String> {
    row.get(i)
        .and_then(SqlValue::text)
        .map(str::to_owned)
        .ok_or_else(|| damaged("text"))
}

fn opt_text(row: &SqlRow, i: usize) -> Option<String> {
    row.get(i).and_then(SqlValue::text).map(str::to_owned)
}

fn count(n: i64) -> u64 {
    n.unsigned_abs()
}

fn device_number(n: i64) -> StoreResult<DeviceNumber> {
    u32::try_from(n).map_err(|_| damaged("device number"))
}

// Admin credentials.

/// Makes a new admin credential for `name` (who will hold it: the audit log names them), and
/// records that it was made. Only its hash is kept.
pub fn create_admin_token(store: &dyn Store, name: &str) -> StoreResult<Secret> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(StoreError::refused(
            ErrorCode::BadRequest,
            "the credential's name must be 1 to 100 printable characters",
        ));
    }
    let secret = Secret::admin();
    write(store, |tx| {
        let now = now_secs();
        add_admin_token(tx, hash_secret(&secret.0), name, now)?;
        audit(
            tx,
            "cageur-server",
            "admin_token",
            None,
            None,
            &format!("an admin credential for {name}"),
            now,
        )
    })?;
    Ok(secret)
}

/// The name of the admin credential `token`, if it is one.
pub fn admin_of(store: &dyn Store, token: &str) -> StoreResult<Option<String>> {
    read(store, |tx| admin_name(tx, hash_secret(token)))
}

/// Stores the hash of a new admin credential of `name` (who holds it, for the audit log).
pub fn add_admin_token(tx: &mut dyn SqlTx, hash: Vec<u8>, name: &str, now: i64) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO admin_tokens (hash, created_at, name) VALUES ($1, $2, $3)",
        &[hash.into(), now.into(), name.into()],
    )?;
    Ok(())
}

/// Who holds the admin credential with this hash, if it is one.
pub fn admin_name(tx: &mut dyn SqlTx, hash: Vec<u8>) -> StoreResult<Option<String>> {
    Ok(tx
        .query_opt(
            "SELECT name FROM admin_tokens WHERE hash = $1",
            &[hash.into()],
        )?
        .and_then(|row| opt_text(&row, 0)))
}

// The audit log.

/// One admin action, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: u64,
    pub at: i64,
    /// The name of the admin credential that acted, or `device N` for a device's report.
    pub actor: String,
    pub action: String,
    pub device: Option<DeviceNumber>,
    pub puskesmas: Option<String>,
    /// What was done, in words (never personal data).
    pub detail: String,
}

/// Appends an entry to the audit log, in the transaction of the action it records.
pub fn audit(
    tx: &mut dyn SqlTx,
    actor: &str,
    action: &str,
    device: Option<DeviceNumber>,
    puskesmas: Option<&str>,
    detail: &str,
    now: i64,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, device, puskesmas, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            now.into(),
            actor.into(),
            action.into(),
            device.into(),
            puskesmas.into(),
            detail.into(),
        ],
    )?;
    Ok(())
}

/// The newest `limit` audit entries, of one device if `device` is given, newest first.
pub fn audit_log(
    tx: &mut dyn SqlTx,
    device: Option<DeviceNumber>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let rows = match device {
        Some(d) => tx.query(
            "SELECT id, at, actor, action, device, puskesmas, detail FROM audit
             WHERE device = $1 ORDER BY id DESC LIMIT $2",
            &[d.into(), i64::from(limit).into()],
        )?,
        None => tx.query(
            "SELECT id, at, actor, action, device, puskesmas, detail FROM audit
             ORDER BY id DESC LIMIT $1",
            &[i64::from(limit).into()],
        )?,
    };
    rows.iter()
        .map(|r| {
            Ok(AuditEntry {
                id: count(int(r, 0)?),
                at: int(r, 1)?,
                actor: text(r, 2)?,
                action: text(r, 3)?,
                device: opt_int(r, 4).map(device_number).transpose()?,
                puskesmas: opt_text(r, 5),
                detail: text(r, 6)?,
            })
        })
        .collect()
}

// Devices.

/// Everything the server keeps of a device, for the admin tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceFacts {
    pub id: DeviceNumber,
    pub puskesmas: String,
    pub team: String,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    /// The device is to delete its local data on its next contact.
    pub wipe: bool,
    /// Revoked as stolen: its pushes are held for review, not merged.
    pub stolen: bool,
    pub wiped_at: Option<i64>,
    pub resync_requested_at: Option<i64>,
    pub resync_done_at: Option<i64>,
    /// The tablet enrolled to replace this one.
    pub replaced_by: Option<DeviceNumber>,
    pub app_version: Option<String>,
    /// The record schema the app speaks.
    pub schema: Option<u32>,
    /// The sync protocol its last hello spoke.
    pub protocol: Option<u32>,
    pub pending: Option<u64>,
    pub pending_urgent: Option<u64>,
    pub pending_referrals: Option<u64>,
    pub last_seen_at: Option<i64>,
    pub last_sync_at: Option<i64>,
    /// The sequence it last pulled up to.
    pub cursor: u64,
}

impl DeviceFacts {
    /// The device as the sync path knows it (to merge a push on its behalf).
    pub fn row(&self) -> super::DeviceRow {
        super::DeviceRow {
            id: self.id,
            puskesmas: self.puskesmas.clone(),
            team: self.team.clone(),
            enrolled_at: self.enrolled_at,
            revoked_at: self.revoked_at,
            wipe: self.wipe,
            resync_requested_at: self.resync_requested_at,
            app_version: self.app_version.clone(),
            schema: self.schema,
            pending: self.pending,
            pending_urgent: self.pending_urgent,
            last_seen_at: self.last_seen_at,
            last_sync_at: self.last_sync_at,
            cursor: self.cursor,
            stolen: self.stolen,
            wiped_at: self.wiped_at,
        }
    }
}

const FACTS: &str = "id, puskesmas, team, enrolled_at, revoked_at, wipe, stolen, wiped_at,
    resync_requested_at, resync_done_at, replaced_by, app_version, schema_version, protocol,
    pending, pending_urgent, pending_referrals, last_seen_at, last_sync_at, cursor_seq";

fn facts(r: &SqlRow) -> StoreResult<DeviceFacts> {
    let small = |i| opt_int(r, i).and_then(|n| u32::try_from(n).ok());
    Ok(DeviceFacts {
        id: device_number(int(r, 0)?)?,
        puskesmas: text(r, 1)?,
        team: text(r, 2)?,
        enrolled_at: int(r, 3)?,
        revoked_at: opt_int(r, 4),
        wipe: r[5].flag(),
        stolen: r[6].flag(),
        wiped_at: opt_int(r, 7),
        resync_requested_at: opt_int(r, 8),
        resync_done_at: opt_int(r, 9),
        replaced_by: small(10),
        app_version: opt_text(r, 11),
        schema: small(12),
        protocol: small(13),
        pending: opt_int(r, 14).map(count),
        pending_urgent: opt_int(r, 15).map(count),
        pending_referrals: opt_int(r, 16).map(count),
        last_seen_at: opt_int(r, 17),
        last_sync_at: opt_int(r, 18),
        cursor: count(int(r, 19)?),
    })
}

/// Every device, by number.
pub fn devices(tx: &mut dyn SqlTx) -> StoreResult<Vec<DeviceFacts>> {
    tx.query(&format!("SELECT {FACTS} FROM devices ORDER BY id"), &[])?
        .iter()
        .map(facts)
        .collect()
}

/// One device, or `not_found`.
pub fn device(tx: &mut dyn SqlTx, id: DeviceNumber) -> StoreResult<DeviceFacts> {
    tx.query_opt(
        &format!("SELECT {FACTS} FROM devices WHERE id = $1"),
        &[id.into()],
    )?
    .map(|r| facts(&r))
    .transpose()?
    .ok_or_else(|| StoreError::refused(ErrorCode::NotFound, format!("no device {id}")))
}

/// Records of the device's scope it has not pulled yet (its own echoes aside).
pub fn lag(tx: &mut dyn SqlTx, device: &DeviceFacts) -> StoreResult<u64> {
    Ok(count(tx.query_int(
        "SELECT count(*) FROM records WHERE puskesmas = $1 AND seq > $2
           AND (echo IS NULL OR echo <> $3)",
        &[
            device.puskesmas.as_str().into(),
            device.cursor.into(),
            device.id.into(),
        ],
    )?))
}

/// What a protocol-2 hello adds to the device's row, and the previous sync it reports.
#[derive(Debug, Clone, Default)]
pub struct HelloExtras {
    pub protocol: u16,
    /// `None` from an app of protocol 1, which does not count them.
    pub pending_referrals: Option<u64>,
    pub previous: Option<SyncSummary>,
}

/// Records a hello's extras: the protocol and pending referrals on the device's row, and the
/// previous sync (as the device saw it) in its history.
pub fn hello_extras(
    tx: &mut dyn SqlTx,
    device: DeviceNumber,
    extras: &HelloExtras,
    now: i64,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE devices SET protocol = $1, pending_referrals = $2 WHERE id = $3",
        &[
            i64::from(extras.protocol).into(),
            extras.pending_referrals.into(),
            device.into(),
        ],
    )?;
    if let Some(s) = &extras.previous {
        let error: Option<String> = s
            .error
            .as_deref()
            .map(|e| e.chars().take(MAX_ERROR_CHARS).collect());
        tx.execute(
            "INSERT INTO sync_log (device, at, pushed, pulled, bytes_up, bytes_down, finished, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                device.into(),
                now.into(),
                s.pushed.into(),
                s.pulled.into(),
                s.bytes_up.into(),
                s.bytes_down.into(),
                s.finished.into(),
                error.into(),
            ],
        )?;
    }
    Ok(())
}

/// The token the store drew for sequence `seq`, if it gave that sequence out.
pub fn token_of(tx: &mut dyn SqlTx, seq: u64) -> StoreResult<Option<u64>> {
    Ok(tx
        .query_opt("SELECT token FROM sequence WHERE seq = $1", &[seq.into()])?
        .and_then(|r| opt_int(&r, 0))
        .map(|t| t as u64))
}

/// Refuses a push, inside its transaction, if the device was revoked as stolen after its
/// request was authenticated: the route then holds the push instead of merging it.
pub fn refuse_if_stolen(tx: &mut dyn SqlTx, device: DeviceNumber) -> StoreResult<()> {
    if tx.query_int("SELECT stolen FROM devices WHERE id = $1", &[device.into()])? != 0 {
        return Err(StoreError::refused(
            ErrorCode::DeviceRevoked,
            "this device was revoked as stolen",
        ));
    }
    Ok(())
}

/// A push of `records` records was made durable: they no longer wait on the device, as far
/// as the server knows (its next hello reports the exact count again).
pub fn pushed(tx: &mut dyn SqlTx, device: DeviceNumber, records: u64) -> StoreResult<()> {
    tx.execute(
        "UPDATE devices SET pending = CASE WHEN pending > $1 THEN pending - $1 ELSE 0 END
         WHERE id = $2 AND pending IS NOT NULL",
        &[records.into(), device.into()],
    )?;
    Ok(())
}

/// A sync as the device reported it at its next hello (`at`: when that report arrived).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncLogEntry {
    pub at: i64,
    pub pushed: u64,
    pub pulled: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub finished: bool,
    pub error: Option<String>,
}

/// A device's newest `limit` reported syncs, newest first.
pub fn history(
    tx: &mut dyn SqlTx,
    device: DeviceNumber,
    limit: u32,
) -> StoreResult<Vec<SyncLogEntry>> {
    tx.query(
        "SELECT at, pushed, pulled, bytes_up, bytes_down, finished, error FROM sync_log
         WHERE device = $1 ORDER BY id DESC LIMIT $2",
        &[device.into(), i64::from(limit).into()],
    )?
    .iter()
    .map(|r| {
        Ok(SyncLogEntry {
            at: int(r, 0)?,
            pushed: count(int(r, 1)?),
            pulled: count(int(r, 2)?),
            bytes_up: count(int(r, 3)?),
            bytes_down: count(int(r, 4)?),
            finished: r[5].flag(),
            error: opt_text(r, 6),
        })
    })
    .collect()
}

/// Asks a device to rebuild its replica on its next sync. Refused for a revoked device.
pub fn request_resync(tx: &mut dyn SqlTx, id: DeviceNumber, now: i64) -> StoreResult<()> {
    let facts = device(tx, id)?;
    if facts.revoked_at.is_some() {
        return Err(StoreError::refused(
            ErrorCode::Conflict,
            format!("device {id} is revoked: it will not sync again"),
        ));
    }
    tx.execute(
        "UPDATE devices SET resync_requested_at = $1, resync_done_at = NULL WHERE id = $2",
        &[now.into(), id.into()],
    )?;
    Ok(())
}

/// The device rebuilt its replica: the request is done (`false` if there was none).
pub fn resync_done(tx: &mut dyn SqlTx, id: DeviceNumber, now: i64) -> StoreResult<bool> {
    Ok(tx.execute(
        "UPDATE devices SET resync_done_at = $1, resync_requested_at = NULL
         WHERE id = $2 AND resync_requested_at IS NOT NULL",
        &[now.into(), id.into()],
    )? > 0)
}

/// How a device is revoked. Unknown fields are refused: a misspelt `wipe` must not revoke
/// without the wipe that was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Tell it to delete its local data on its next contact (after pushing what it holds).
    #[serde(default)]
    pub wipe: bool,
    /// It was stolen: what it pushes from now on is held for review, never merged.
    #[serde(default)]
    pub stolen: bool,
}

/// Revokes a device (again: flags only add up, and the first revocation's time stays).
pub fn revoke(
    tx: &mut dyn SqlTx,
    id: DeviceNumber,
    how: Revocation,
    now: i64,
) -> StoreResult<DeviceFacts> {
    let n = tx.execute(
        "UPDATE devices SET revoked_at = coalesce(revoked_at, $1), wipe = (wipe OR $2),
                stolen = CASE WHEN $3 = 1 THEN 1 ELSE stolen END, resync_requested_at = NULL
         WHERE id = $4",
        &[
            now.into(),
            how.wipe.into(),
            i64::from(how.stolen).into(),
            id.into(),
        ],
    )?;
    if n == 0 {
        return Err(StoreError::refused(
            ErrorCode::NotFound,
            format!("no device {id}"),
        ));
    }
    device(tx, id)
}

/// The device deleted its local data.
pub fn wiped(tx: &mut dyn SqlTx, id: DeviceNumber, now: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE devices SET wiped_at = coalesce(wiped_at, $1) WHERE id = $2",
        &[now.into(), id.into()],
    )?;
    Ok(())
}

/// The puskesmas of a team, if the team is registered.
pub fn team_puskesmas(tx: &mut dyn SqlTx, team: &str) -> StoreResult<Option<String>> {
    Ok(tx
        .query_opt(
            "SELECT puskesmas FROM teams WHERE code = $1",
            &[team.into()],
        )?
        .and_then(|r| opt_text(&r, 0)))
}

/// Notes that the device enrolled with the enrollment code of this hash replaces another,
/// if the code was made by `device replace`.
pub fn link_replacement(
    tx: &mut dyn SqlTx,
    code_hash: Vec<u8>,
    new_device: DeviceNumber,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE devices SET replaced_by = $1
         WHERE id = (SELECT replaces FROM enrollments WHERE code_hash = $2)",
        &[new_device.into(), code_hash.into()],
    )?;
    Ok(())
}

/// Marks an enrollment code as the replacement of `old`.
pub fn mark_replacement(
    tx: &mut dyn SqlTx,
    code_hash: Vec<u8>,
    old: DeviceNumber,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE enrollments SET replaces = $1 WHERE code_hash = $2",
        &[old.into(), code_hash.into()],
    )?;
    Ok(())
}

// The service.

/// Change groups accepted per UTC day since `since` (seconds), oldest first: (day as
/// days since 1970-01-01, groups).
pub fn changes_per_day(tx: &mut dyn SqlTx, since: i64) -> StoreResult<Vec<(i64, u64)>> {
    tx.query(
        "SELECT at / 86400, count(*) FROM sequence WHERE at >= $1 GROUP BY at / 86400
         ORDER BY at / 86400",
        &[since.into()],
    )?
    .iter()
    .map(|r| Ok((int(r, 0)?, count(int(r, 1)?))))
    .collect()
}

/// Records the store holds.
pub fn record_count(tx: &mut dyn SqlTx) -> StoreResult<u64> {
    Ok(count(tx.query_int("SELECT count(*) FROM records", &[])?))
}

// Published forms.

/// Publishes a form version: its number, or the number it already had if the very same
/// definition was published before. Another definition under a published id and version is
/// refused: published versions never change.
pub fn publish_form(
    tx: &mut dyn SqlTx,
    (form_id, version): (&str, u32),
    definition: &str,
    actor: &str,
    now: i64,
) -> StoreResult<(u64, bool)> {
    if let Some(row) = tx.query_opt(
        "SELECT number, definition FROM forms WHERE form_id = $1 AND version = $2",
        &[form_id.into(), version.into()],
    )? {
        if text(&row, 1)? == definition {
            return Ok((count(int(&row, 0)?), false));
        }
        return Err(StoreError::refused(
            ErrorCode::Conflict,
            format!(
                "form {form_id} version {version} is published with another definition: \
                 publish a new version"
            ),
        ));
    }
    let number = tx.query_int(
        "INSERT INTO forms (form_id, version, definition, published_at, published_by)
         VALUES ($1, $2, $3, $4, $5) RETURNING number",
        &[
            form_id.into(),
            version.into(),
            definition.into(),
            now.into(),
            actor.into(),
        ],
    )?;
    Ok((count(number), true))
}

/// Forms published after `after`, oldest first, at most `limit`.
pub fn forms_after(
    tx: &mut dyn SqlTx,
    after: u64,
    limit: usize,
) -> StoreResult<Vec<PublishedForm>> {
    tx.query(
        "SELECT number, definition FROM forms WHERE number > $1 ORDER BY number LIMIT $2",
        &[after.into(), (limit as u64).into()],
    )?
    .iter()
    .map(|r| {
        Ok(PublishedForm {
            number: count(int(r, 0)?),
            definition: text(r, 1)?,
        })
    })
    .collect()
}

/// The forms the server knows: the built-in ones and every one published, as a device that
/// has received them all knows them (exports render screenings through them).
pub fn form_registry(store: &dyn Store) -> StoreResult<cageur_model::forms::FormRegistry> {
    let published = read(store, |tx| forms_after(tx, 0, usize::MAX / 2))?;
    let mut forms = cageur_model::forms::FormRegistry::with_builtins();
    for form in published {
        // Each was checked when it was published; one that no longer reads is skipped, as a
        // device skips it, rather than making every export fail.
        if let Ok(def) = cageur_model::json::parse(&form.definition) {
            let _ = forms.add(def);
        }
    }
    Ok(forms)
}

// Pushes held for review.

/// A push of a stolen device, held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldPush {
    pub id: u64,
    pub device: DeviceNumber,
    pub received_at: i64,
    pub records: u64,
    pub accepted_at: Option<i64>,
}

/// Holds a push of a stolen device: its raw body, not merged, never pulled by anyone.
pub fn hold_push(
    tx: &mut dyn SqlTx,
    device: DeviceNumber,
    records: u64,
    body: Vec<u8>,
    now: i64,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO quarantine (device, received_at, records, body) VALUES ($1, $2, $3, $4)",
        &[device.into(), now.into(), records.into(), body.into()],
    )?;
    Ok(())
}

/// The pushes held of a device, oldest first.
pub fn held_pushes(tx: &mut dyn SqlTx, device: DeviceNumber) -> StoreResult<Vec<HeldPush>> {
    tx.query(
        "SELECT id, device, received_at, records, accepted_at FROM quarantine
         WHERE device = $1 ORDER BY id",
        &[device.into()],
    )?
    .iter()
    .map(|r| {
        Ok(HeldPush {
            id: count(int(r, 0)?),
            device: device_number(int(r, 1)?)?,
            received_at: int(r, 2)?,
            records: count(int(r, 3)?),
            accepted_at: opt_int(r, 4),
        })
    })
    .collect()
}

/// The bodies of a device's held pushes not accepted yet: (id, body), oldest first.
pub fn held_bodies(tx: &mut dyn SqlTx, device: DeviceNumber) -> StoreResult<Vec<(u64, Vec<u8>)>> {
    tx.query(
        "SELECT id, body FROM quarantine WHERE device = $1 AND accepted_at IS NULL ORDER BY id",
        &[device.into()],
    )?
    .iter()
    .map(|r| {
        let body = r
            .get(1)
            .and_then(SqlValue::bytes)
            .ok_or_else(|| damaged("held push"))?;
        Ok((count(int(r, 0)?), body.to_vec()))
    })
    .collect()
}

/// Marks a held push as accepted (merged).
pub fn accept_held(tx: &mut dyn SqlTx, id: u64, now: i64) -> StoreResult<()> {
    tx.execute(
        "UPDATE quarantine SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL",
        &[now.into(), id.into()],
    )?;
    Ok(())
}

// Records.

/// A record as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub id: Uuid,
    pub kind: RecordKind,
    pub puskesmas: String,
    pub seq: u64,
    pub state: Vec<u8>,
}

fn stored_record(r: &SqlRow) -> StoreResult<StoredRecord> {
    let id = r
        .first()
        .and_then(SqlValue::bytes)
        .and_then(|b| Uuid::from_slice(b).ok())
        .ok_or_else(|| damaged("record id"))?;
    let kind = u8::try_from(int(r, 1)?)
        .ok()
        .and_then(RecordKind::from_code)
        .ok_or_else(|| damaged("record kind"))?;
    Ok(StoredRecord {
        id,
        kind,
        puskesmas: text(r, 2)?,
        seq: count(int(r, 3)?),
        state: r
            .get(4)
            .and_then(SqlValue::bytes)
            .ok_or_else(|| damaged("record state"))?
            .to_vec(),
    })
}

/// The records of a puskesmas after id `after` (from the first if `None`), in id order, at
/// most `limit`.
pub fn scope_page(
    tx: &mut dyn SqlTx,
    puskesmas: &str,
    after: Option<Uuid>,
    limit: u32,
) -> StoreResult<Vec<StoredRecord>> {
    let after = after.map_or_else(Vec::new, |id| id.as_bytes().to_vec());
    tx.query(
        "SELECT id, kind, puskesmas, seq, state FROM records
         WHERE puskesmas = $1 AND id > $2 ORDER BY id LIMIT $3",
        &[puskesmas.into(), after.into(), i64::from(limit).into()],
    )?
    .iter()
    .map(stored_record)
    .collect()
}

/// A record by id, whatever its scope.
pub fn record(tx: &mut dyn SqlTx, id: Uuid) -> StoreResult<Option<StoredRecord>> {
    tx.query_opt(
        "SELECT id, kind, puskesmas, seq, state FROM records WHERE id = $1",
        &[id.as_bytes().to_vec().into()],
    )?
    .map(|r| stored_record(&r))
    .transpose()
}
