//! The server's store: everything the server knows lives here, so server processes are
//! stateless. SQLite (one file, no set-up) is the default; PostgreSQL serves production and
//! several server replicas.
//!
//! The store orders what it accepts by a sequence: each change group a device pushes (one
//! user action) gets the next sequence number, and every record of the group is stored at
//! it. A record keeps only its newest sequence; when a record moves on (a later edit), its old
//! group keeps it as a member (`group_members`), and a pull page, which ends only between
//! sequences, carries a group's kept members' current states with it: a group arrives whole
//! or not at all, and an edit re-sends only what it changed.
//!
//! A record also remembers the device whose own state it is (`echo`): the device that pushed
//! it while holding everything the store had of it. That device is not sent it back.

pub mod admin;
pub mod departures;
mod pg;
mod pull;
mod push;
mod records;
pub mod sql;
mod sqlite;
mod sqlite_schema;
mod tokens;

use std::fmt::Debug;
use std::io::Write;
use std::time::Duration;

use cageur_model::RecordKind;
use cageur_model::forms::FormRegistry;
use cageur_protocol::DeviceNumber;
use cageur_protocol::sync::{Command, Cursor, ErrorBody, ErrorCode};
use serde::Serialize;
use uuid::Uuid;

pub use pg::PgStore;
pub use records::{IncomingGroup, IncomingRecord, PreparedPush, PushOrigin, prepare_push};
pub use sqlite::SqliteStore;
pub use tokens::{Secret, hash_secret};

/// Everything the server keeps, behind one interface so that the SQLite and PostgreSQL stores
/// are interchangeable and pass one test suite (`sync-server/tests/store_suite.rs`).
///
/// Calls block; the server runs them on tokio's blocking pool. Each call is one transaction:
/// it happens whole or not at all.
pub trait Store: Debug + Send + Sync {
    /// The database's identity, drawn when it was created. A restored backup keeps it, which
    /// is why cursors also carry a per-sequence token.
    fn epoch(&self) -> Uuid;
    /// Which store this is: `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;
    /// The newest sequence number given out.
    fn newest_seq(&self) -> StoreResult<u64>;
    /// Runs `f` in one read transaction, for the statements written once for both stores
    /// (`store::admin`; use [`admin::read`]).
    fn read_sql(
        &self,
        f: &mut dyn FnMut(&mut dyn sql::SqlTx) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// Runs `f` in one write transaction, committed only if it succeeds (use
    /// [`admin::write`]).
    fn write_sql(
        &self,
        f: &mut dyn FnMut(&mut dyn sql::SqlTx) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// Bytes the store's database takes.
    fn size_bytes(&self) -> StoreResult<u64>;
    /// Registers a puskesmas.
    fn add_puskesmas(&self, code: &str, name: &str) -> StoreResult<Unit>;
    /// Registers a team of a puskesmas.
    fn add_team(&self, code: &str, puskesmas: &str, name: &str) -> StoreResult<Unit>;
    /// Creates a one-time enrollment code for a tablet of `team`, valid for `ttl`.
    fn create_enrollment(&self, team: &str, ttl: Duration) -> StoreResult<Enrollment>;
    /// Exchanges an enrollment code for a new device and its credential. The code works once.
    fn enroll(&self, code: &str, report: &DeviceReport) -> StoreResult<Enrolled>;
    /// The device whose credential this is, revoked or not.
    fn device_by_credential(&self, credential: &str) -> StoreResult<Option<DeviceRow>>;
    /// Every device, by id.
    fn devices(&self) -> StoreResult<Vec<DeviceRow>>;
    /// Records what a device reported at the start of a sync (with a protocol-2 hello's
    /// extras, and the previous sync it reports); returns the newest sequence.
    fn hello(
        &self,
        device: DeviceNumber,
        report: &DeviceReport,
        extras: Option<&admin::HelloExtras>,
    ) -> StoreResult<u64>;
    /// Merges a device's push, whole or not at all, and commits it durably before returning.
    fn push(&self, device: &DeviceRow, push: PreparedPush) -> StoreResult<PushOutcome>;
    /// The next page of a device's scope after `cursor`; when it is the last, the device's
    /// cursor and last sync are recorded.
    fn pull(
        &self,
        device: &DeviceRow,
        cursor: Cursor,
        max_bytes: Option<u32>,
    ) -> StoreResult<PullPage>;
    /// Writes a puskesmas's records as the canonical export, the same bytes a device that
    /// holds exactly this scope (and knows the same `forms`) prints with `cageur-field export`.
    fn export(&self, puskesmas: &str, forms: &FormRegistry, out: &mut dyn Write)
    -> StoreResult<()>;
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The request cannot be carried out; the answer to give the client. Nothing changed.
    #[error("{0}")]
    Refused(ErrorBody),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
    /// A stored row could not be read.
    #[error("stored data is damaged: {0}")]
    Damaged(String),
}

impl StoreError {
    pub(crate) fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        StoreError::Refused(ErrorBody::new(code, message))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// The columns of a [`DeviceRow`], in its order, for both stores.
pub(crate) const DEVICE_COLUMNS: &str = "id, puskesmas, team, enrolled_at, revoked_at, wipe,
    resync_requested_at, app_version, schema_version, pending, pending_urgent, last_seen_at,
    last_sync_at, cursor_seq, stolen, wiped_at";

/// A unit (puskesmas, team) registered twice.
pub(crate) fn already_registered(what: &str, code: &str) -> StoreError {
    StoreError::refused(
        ErrorCode::Conflict,
        format!("{what} {code} is already registered"),
    )
}

/// A unit that must exist first.
pub(crate) fn not_registered(what: &str, code: &str) -> StoreError {
    StoreError::refused(
        ErrorCode::NotFound,
        format!("no {what} {code}: add it first"),
    )
}

/// An enrollment code as the store found it: team, puskesmas, expiry, when used.
pub(crate) type FoundEnrollment = (String, String, i64, Option<i64>);

/// Whether a found enrollment code may enroll a device now; its team and puskesmas if so.
pub(crate) fn usable_enrollment(
    found: Option<FoundEnrollment>,
    now: i64,
) -> StoreResult<(String, String)> {
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
    Ok((team, puskesmas))
}

/// An expiry `ttl` from `now`, in the store's seconds.
pub(crate) fn expiry(now: i64, ttl: Duration) -> i64 {
    now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2)
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// A device as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceRow {
    pub id: DeviceNumber,
    pub puskesmas: String,
    pub team: String,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    pub wipe: bool,
    pub resync_requested_at: Option<i64>,
    pub app_version: Option<String>,
    pub schema: Option<u32>,
    pub pending: Option<u64>,
    pub pending_urgent: Option<u64>,
    pub last_seen_at: Option<i64>,
    pub last_sync_at: Option<i64>,
    /// The sequence the device last pulled up to.
    pub cursor: u64,
    /// Revoked as stolen: its pushes are held for review.
    pub stolen: bool,
    /// When it reported its local data deleted.
    pub wiped_at: Option<i64>,
}

impl DeviceRow {
    /// A revoked device told to wipe that has not done so yet: it may still say hello and
    /// push what it holds (then wipe), and nothing else.
    pub fn wipe_pending(&self) -> bool {
        self.revoked_at.is_some() && self.wipe && self.wiped_at.is_none()
    }

    /// What the device must do on its next contact.
    pub fn commands(&self) -> Vec<Command> {
        let mut out = Vec::new();
        if self.resync_requested_at.is_some() {
            out.push(Command::Resync);
        }
        if self.wipe {
            out.push(Command::Wipe);
        }
        out
    }
}

/// What a device reports in its hello.
#[derive(Debug, Clone)]
pub struct DeviceReport {
    pub app_version: String,
    pub schema: u32,
    pub pending: u64,
    pub pending_urgent: u64,
}

/// A new enrollment: the code to give the tablet, and until when it works.
#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    pub code: String,
    pub team: String,
    pub puskesmas: String,
    pub expires_at: i64,
}

/// A device enrolled with a code.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub device: DeviceNumber,
    pub credential: String,
    pub puskesmas: String,
    pub team: String,
}

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct PushOutcome {
    pub accepted: Vec<i64>,
    pub unchanged: u32,
    pub seq: u64,
    /// The token of `seq`: with it, a device can later tell a server that lost this push
    /// (restored from an older backup) from one that has it.
    pub token: u64,
}

/// One record of a pull page.
#[derive(Debug, Clone)]
pub struct PulledRecord {
    pub kind: RecordKind,
    pub id: Uuid,
    pub state: Vec<u8>,
}

/// A pull page.
#[derive(Debug, Clone)]
pub struct PullPage {
    pub records: Vec<PulledRecord>,
    /// Records that left the device's scope (their household moved), to drop.
    pub departed: Vec<Uuid>,
    pub next: Cursor,
    pub remaining: u64,
}

/// A puskesmas or a team, as registered.
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    pub code: String,
    pub name: String,
    /// The puskesmas of a team.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub puskesmas: Option<String>,
}

impl Unit {
    pub(crate) fn puskesmas(code: &str, name: &str) -> Self {
        Unit {
            code: code.into(),
            name: name.into(),
            puskesmas: None,
        }
    }

    pub(crate) fn team(code: &str, name: &str, puskesmas: &str) -> Self {
        Unit {
            code: code.into(),
            name: name.into(),
            puskesmas: Some(puskesmas.into()),
        }
    }
}

/// Seconds since the Unix epoch, as the store keeps times.
pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
