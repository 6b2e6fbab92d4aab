//! The sync client: enrolling a device, then pushing its changes and pulling its puskesmas's.
//!
//! The database is never held for the network: a push reads the outbox in a short read,
//! sends it with no transaction open, and drops acknowledged entries in a short write; a pull
//! merges each page, and stores the cursor, in one transaction per page, while the next page
//! is on its way. A cut connection therefore loses nothing and resumes where it stopped.

mod http;
mod outbox;
mod pull;

use std::path::Path;

use cageur_protocol::sync::{
    Command, Cursor, EnrollRequest, EnrollResponse, ErrorCode, HelloRequest, HelloResponse,
    PushRequest, PushResponse, RECORD_SCHEMA,
};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;

pub use http::{RetryPolicy, Traffic};

use crate::error::{FieldError, Result};
use crate::replica::{DeviceInfo, OpenOptions, Replica};
use crate::store::DatabaseKey;

/// This app's version, reported to the health office.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Sending this device's changes.
    Push,
    /// Receiving the puskesmas's changes.
    Pull,
}

/// Progress of a sync: `done` records out of `total` in `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The phase.
    pub phase: Phase,
    /// Records sent or received so far in the phase.
    pub done: u64,
    /// Records the phase has to move, as known now.
    pub total: u64,
}

/// Tuning of a sync.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Retries and timeouts of each request.
    pub retry: RetryPolicy,
    /// Largest pull page to ask for (bytes of states), `None` for the server's default. A
    /// smaller page commits sooner on a poor connection.
    pub page_bytes: Option<u32>,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Records pushed and acknowledged.
    pub pushed: u64,
    /// Records received.
    pub pulled: u64,
    /// Received records that changed something here.
    pub merged: u64,
    /// The server had lost history this device had seen (a restored backup): the device
    /// pulled from the start and pushed again every record it had written.
    pub timeline_reset: bool,
    /// Requests and bytes on the wire.
    pub traffic: Traffic,
    /// What the health office asked of the device (carried out by later versions).
    pub commands: Vec<Command>,
}

/// The server this device syncs with, and how far it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    /// The server's URL.
    pub server: String,
    /// When the last sync finished, by this device's clock.
    pub last_sync_at: Option<String>,
    /// The pull cursor's sequence.
    pub cursor: u64,
}

struct SyncState {
    server: String,
    credential: String,
    epoch: Option<Uuid>,
    cursor: Cursor,
}

impl Replica {
    /// Enrolls a new device with the code the health office gave it, and creates its replica
    /// in a new database file: the server assigns the device's number and scope.
    pub fn enroll(
        path: &Path,
        key: &DatabaseKey,
        server: &str,
        code: &str,
        options: OpenOptions,
        retry: RetryPolicy,
    ) -> Result<Replica> {
        let mut client = http::Client::new(server, None, retry);
        let answer: EnrollResponse = client.call(
            "/v1/enroll",
            &EnrollRequest {
                code: code.trim().to_owned(),
                app_version: APP_VERSION.into(),
                schema: RECORD_SCHEMA,
            },
        )?;
        let device = DeviceInfo {
            number: answer.device,
            puskesmas: Some(answer.puskesmas),
            team: Some(answer.team),
        };
        let replica = Replica::init(path, key, device, options)?;
        replica.conn.execute(
            "INSERT INTO sync_state (singleton, server, credential, epoch) VALUES (1, ?1, ?2, ?3)",
            params![server, answer.credential, answer.epoch.to_string()],
        )?;
        Ok(replica)
    }

    /// The server this device syncs with, if it is enrolled.
    pub fn sync_status(&self) -> Result<Option<SyncStatus>> {
        Ok(self
            .conn
            .query_row(
                "SELECT server, last_sync_at, cursor_seq FROM sync_state",
                [],
                |r| {
                    Ok(SyncStatus {
                        server: r.get(0)?,
                        last_sync_at: r.get(1)?,
                        cursor: r.get::<_, i64>(2)?.unsigned_abs(),
                    })
                },
            )
            .optional()?)
    }

    /// Pushes this device's changes, most urgent first, then pulls its puskesmas's, reporting
    /// progress to `progress`. Safe to interrupt at any point and run again.
    pub fn sync(
        &mut self,
        options: &SyncOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SyncReport> {
        let state = self.read_sync_state()?.ok_or(FieldError::NotEnrolled)?;
        let mut client = http::Client::new(
            &state.server,
            Some(state.credential.clone()),
            options.retry.clone(),
        );
        let mut report = SyncReport::default();
        let [urgent, _, _] = self.pending_by_priority()?;
        let hello: HelloResponse = client.call(
            "/v1/hello",
            &HelloRequest {
                app_version: APP_VERSION.into(),
                schema: RECORD_SCHEMA,
                pending: self.pending_changes()?,
                pending_urgent: urgent,
            },
        )?;
        report.commands = hello.commands.clone();
        if state.epoch.is_some_and(|e| e != hello.epoch) {
            self.reset_timeline(hello.epoch)?;
            report.timeline_reset = true;
        }
        let mut exchange = |this: &mut Self, report: &mut SyncReport| {
            this.push_all(&mut client, report, progress)?;
            this.pull_all(&mut client, options, report, progress)
        };
        match exchange(self, &mut report) {
            // Refused at the first push or pull: the server lost history this device saw.
            Err(FieldError::Server(e)) if e.code == ErrorCode::TimelineChanged => {
                self.reset_timeline(hello.epoch)?;
                report.timeline_reset = true;
                exchange(self, &mut report)?;
            }
            other => other?,
        }
        self.conn.execute(
            "UPDATE sync_state SET last_sync_at = ?1",
            [self.now().to_rfc3339()],
        )?;
        report.traffic = client.traffic;
        Ok(report)
    }

    fn read_sync_state(&self) -> Result<Option<SyncState>> {
        let row = self
            .conn
            .query_row(
                "SELECT server, credential, epoch, cursor_seq, cursor_token FROM sync_state",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()?;
        Ok(
            row.map(|(server, credential, epoch, seq, token)| SyncState {
                server,
                credential,
                epoch: epoch.and_then(|e| Uuid::parse_str(&e).ok()),
                cursor: Cursor {
                    seq: seq as u64,
                    token: token as u64,
                },
            }),
        )
    }

    /// The server is not the one whose history this device followed (another database, or
    /// one restored from a backup): pull everything again, and queue every record this device
    /// ever wrote, since the server may have lost it. Merging makes both harmless.
    fn reset_timeline(&mut self, epoch: Uuid) -> Result<()> {
        let (first, device) = (self.next_change_seq, self.device().number);
        let tx = self.conn.transaction()?;
        let queued = outbox::queue_own_records(&tx, device, first)?;
        tx.execute(
            "UPDATE sync_state SET cursor_seq = 0, cursor_token = 0, epoch = ?1",
            [epoch.to_string()],
        )?;
        tx.commit()?;
        self.next_change_seq = first + queued as i64;
        Ok(())
    }

    fn push_all(
        &mut self,
        client: &mut http::Client,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let total = self.pending_changes()?;
        let mut done = 0;
        progress(Progress {
            phase: Phase::Push,
            done,
            total,
        });
        // Pushing does not move the cursor: read it once.
        let cursor = self
            .read_sync_state()?
            .ok_or(FieldError::NotEnrolled)?
            .cursor;
        loop {
            let batch = outbox::next_batch(&self.conn)?;
            if batch.groups.is_empty() {
                return Ok(());
            }
            let answer: PushResponse = client.call(
                "/v1/push",
                &PushRequest {
                    schema: RECORD_SCHEMA,
                    cursor,
                    groups: batch.groups.clone(),
                },
            )?;
            let acked = outbox::acknowledge(&mut self.conn, &batch, &answer.accepted)?;
            if acked == 0 {
                // The server accepted nothing we sent: stop rather than loop.
                return Err(FieldError::Network(
                    "the server acknowledged none of the pushed changes".into(),
                ));
            }
            done += acked;
            report.pushed += acked;
            // Changes made while syncing can push `done` past the total counted at the start.
            progress(Progress {
                phase: Phase::Push,
                done,
                total: total.max(done),
            });
        }
    }
}
