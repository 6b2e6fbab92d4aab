//! The server's store: everything the server knows lives here, so server processes are
//! stateless. SQLite (one file, no set-up) is the default; PostgreSQL serves production and
//! several server replicas.
//!
//! The store orders what it accepts by a sequence: each change group a device pushes (one
//! user action) gets the next sequence number, and every record of the group is stored at
//! it. A record keeps only its newest sequence; when a record moves on, the rest of its old
//! group moves with it, so the members of a group always share one sequence and a pull page,
//! which ends only between sequences, delivers a group whole or not at all.

mod records;
mod schema;
mod sqlite;
mod tokens;

use cageur_model::RecordKind;
use cageur_protocol::DeviceNumber;
use cageur_protocol::sync::{Command, Cursor, ErrorBody, ErrorCode};
use serde::Serialize;
use uuid::Uuid;

pub use records::{IncomingGroup, IncomingRecord, prepare_push};
pub use sqlite::SqliteStore;
pub use tokens::{Secret, hash_secret};

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
}

impl DeviceRow {
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

/// Seconds since the Unix epoch, as the store keeps times.
pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
