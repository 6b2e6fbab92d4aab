//! The sync client: enrolling a device, then pushing its changes and pulling its puskesmas's.
//!
//! The database is never held for the network: a push reads the outbox in a short read,
//! sends it with no transaction open, and drops acknowledged entries in a short write; a pull
//! merges each page, and stores the cursor, in one transaction per page, while the next page
//! is on its way. A cut connection therefore loses nothing and resumes where it stopped.

mod commands;
mod departed;
mod http;
mod outbox;
mod pull;
mod salvage;

use std::path::Path;

use cageur_protocol::sync::{
    Command, Cursor, EnrollRequest, EnrollResponse, ErrorCode, HelloRequestV2, HelloResponseV2,
    MAX_ERROR_CHARS, PushRequest, PushResponseV2, RECORD_SCHEMA, SyncSummary,
};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use uuid::Uuid;

pub use commands::ResyncOutcome;
pub use departed::KEEP_DEPARTED_DAYS;
pub use http::{HttpTransport, RetryPolicy, Traffic, Transport};
pub use salvage::{RecordDigest, SalvageReport};

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
    /// What the health office asked of the device in this sync.
    pub commands: Vec<Command>,
    /// Screening forms newly published by the health office, now held here.
    pub forms_received: u64,
    /// The replica was rebuilt from the server, as the health office asked.
    pub resync: Option<ResyncOutcome>,
    /// The tablet deleted its records, as its revocation asked: the app deletes the file and
    /// destroys its key.
    pub wiped: bool,
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
    /// The identity of the server database this device follows.
    pub epoch: Option<String>,
}

struct SyncState {
    server: String,
    credential: String,
    epoch: Option<Uuid>,
    cursor: Cursor,
    forms_seen: u64,
    /// How the last sync went, to tell the server.
    last_report: Option<SyncSummary>,
    wiped: bool,
    /// Where the server's history stood when it last made a push of this device durable.
    acknowledged: Cursor,
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
        let transport = Box::new(HttpTransport::new(server, retry.timeout));
        Self::enroll_via(transport, path, key, server, code, options, retry)
    }

    /// [`Replica::enroll`] through `transport` (the simulator's); `server` is what the replica
    /// keeps as its server's address.
    pub fn enroll_via(
        transport: Box<dyn Transport>,
        path: &Path,
        key: &DatabaseKey,
        server: &str,
        code: &str,
        options: OpenOptions,
        retry: RetryPolicy,
    ) -> Result<Replica> {
        let mut client = http::Client::new(transport, None, retry);
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
                "SELECT server, last_sync_at, cursor_seq, epoch FROM sync_state",
                [],
                |r| {
                    Ok(SyncStatus {
                        server: r.get(0)?,
                        last_sync_at: r.get(1)?,
                        cursor: r.get::<_, i64>(2)?.unsigned_abs(),
                        epoch: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Pushes this device's changes, most urgent first, then pulls its puskesmas's, reporting
    /// progress to `progress`; carries out what the health office asked (resync, wipe).
    /// Safe to interrupt at any point and run again. How it went is kept, and told to the
    /// server at the next sync.
    pub fn sync(
        &mut self,
        options: &SyncOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SyncReport> {
        let state = self.read_sync_state()?.ok_or(FieldError::NotEnrolled)?;
        let transport = Box::new(HttpTransport::new(&state.server, options.retry.timeout));
        self.sync_via(transport, options, progress)
    }

    /// [`Replica::sync`] through `transport` (the simulator's) instead of HTTP.
    pub fn sync_via(
        &mut self,
        transport: Box<dyn Transport>,
        options: &SyncOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<SyncReport> {
        let state = self.read_sync_state()?.ok_or(FieldError::NotEnrolled)?;
        if state.wiped && state.credential.is_empty() {
            return Err(FieldError::Wiped);
        }
        let mut client = http::Client::new(
            transport,
            Some(state.credential.clone()),
            options.retry.clone(),
        );
        let mut report = SyncReport::default();
        let outcome = if state.wiped {
            // Wiped, but the server was not told yet.
            report.wiped = true;
            self.report_wiped(&mut client, 0)
        } else {
            self.exchange(&mut client, options, &state, &mut report, progress)
        };
        report.traffic = client.traffic;
        if !report.wiped {
            let summary = SyncSummary {
                pushed: report.pushed,
                pulled: report.pulled,
                bytes_up: report.traffic.bytes_up,
                bytes_down: report.traffic.bytes_down,
                finished: outcome.is_ok(),
                error: outcome
                    .as_ref()
                    .err()
                    .map(|e| e.to_string().chars().take(MAX_ERROR_CHARS).collect()),
            };
            let json = serde_json::to_string(&summary).expect("summaries serialize");
            let saved = self
                .conn
                .execute("UPDATE sync_state SET last_report = ?1", [json]);
            // The sync's own error matters more than failing to note it.
            if outcome.is_ok() {
                saved?;
            }
        }
        outcome.map(|()| report)
    }

    fn exchange(
        &mut self,
        client: &mut http::Client,
        options: &SyncOptions,
        state: &SyncState,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<()> {
        let [urgent, _, _] = self.pending_by_priority()?;
        let hello: HelloResponseV2 = client.call(
            "/v1/hello",
            &HelloRequestV2 {
                app_version: APP_VERSION.into(),
                schema: RECORD_SCHEMA,
                pending: self.pending_changes()?,
                pending_urgent: urgent,
                pending_referrals: outbox::pending_referrals(&self.conn)?,
                forms_seen: state.forms_seen,
                previous: state.last_report.clone(),
                acknowledged: state.acknowledged,
            },
        )?;
        report.commands = hello.commands.clone();
        if hello.timeline_changed || state.epoch.is_some_and(|e| e != hello.epoch) {
            self.reset_timeline(hello.epoch)?;
            report.timeline_reset = true;
        }
        report.forms_received = self.receive_forms(&hello.forms)?;
        let (wipe, resync) = (
            hello.commands.contains(&Command::Wipe),
            hello.commands.contains(&Command::Resync),
        );
        let mut exchange = |this: &mut Self, report: &mut SyncReport| {
            this.push_all(client, report, progress)?;
            this.offer_departed(client)?;
            let now = this.now().timestamp();
            departed::settle(&mut this.conn, now)?;
            if wipe {
                // Everything this tablet held is on the server now: delete it here.
                this.wipe(client, report.pushed)?;
                report.wiped = true;
                return Ok(());
            }
            if resync {
                report.resync = Some(this.resync(client, options, report, progress)?);
            }
            this.pull_all(client, options, report, progress)
        };
        match exchange(self, report) {
            // Refused at the first push or pull: the server lost history this device saw.
            Err(FieldError::Server(e)) if e.code == ErrorCode::TimelineChanged => {
                self.reset_timeline(hello.epoch)?;
                report.timeline_reset = true;
                exchange(self, report)?;
            }
            other => other?,
        }
        if !report.wiped {
            self.conn.execute(
                "UPDATE sync_state SET last_sync_at = ?1",
                [self.now().to_rfc3339()],
            )?;
        }
        Ok(())
    }

    fn read_sync_state(&self) -> Result<Option<SyncState>> {
        let row = self
            .conn
            .query_row(
                "SELECT server, credential, epoch, cursor_seq, cursor_token, forms_seen,
                        last_report, wiped, ack_seq, ack_token
                 FROM sync_state",
                [],
                |r| {
                    Ok(SyncState {
                        server: r.get(0)?,
                        credential: r.get(1)?,
                        epoch: r
                            .get::<_, Option<String>>(2)?
                            .and_then(|e| Uuid::parse_str(&e).ok()),
                        cursor: Cursor {
                            seq: r.get::<_, i64>(3)? as u64,
                            token: r.get::<_, i64>(4)? as u64,
                        },
                        forms_seen: r.get::<_, i64>(5)?.unsigned_abs(),
                        // A report this version cannot read is simply not told.
                        last_report: r
                            .get::<_, Option<String>>(6)?
                            .and_then(|j| serde_json::from_str(&j).ok()),
                        wiped: r.get(7)?,
                        acknowledged: Cursor {
                            seq: r.get::<_, i64>(8)? as u64,
                            token: r.get::<_, i64>(9)? as u64,
                        },
                    })
                },
            )
            .optional()?;
        Ok(row)
    }

    /// The server is not the one whose history this device followed (another database, or
    /// one restored from a backup): pull everything again, and queue every record this device
    /// holds, whole, since the server may have lost any of them. Merging makes both harmless.
    fn reset_timeline(&mut self, epoch: Uuid) -> Result<()> {
        let first = self.next_change_seq;
        let tx = self.conn.transaction()?;
        departed::offer_all(&tx)?;
        let queued = outbox::queue_every_record(&tx, first)?;
        // A resync's staged pull belongs to the old history too, and so do the numbers of
        // the forms published there (forms already held are received again, harmlessly).
        tx.execute(
            "UPDATE sync_state SET cursor_seq = 0, cursor_token = 0, epoch = ?1,
                    stage_seq = NULL, stage_token = NULL, forms_seen = 0, ack_seq = 0,
                    ack_token = 0",
            [epoch.to_string()],
        )?;
        tx.execute("DELETE FROM resync_stage", [])?;
        tx.commit()?;
        self.next_change_seq = first + queued as i64;
        Ok(())
    }

    /// Offers the server the copies of departed records, after a timeline reset (see
    /// [`departed`]). The server takes what it lacks and passes over what it cannot take.
    fn offer_departed(&mut self, client: &mut http::Client) -> Result<()> {
        let cursor = self
            .read_sync_state()?
            .ok_or(FieldError::NotEnrolled)?
            .cursor;
        loop {
            let (groups, ids) = departed::next_offer(&self.conn)?;
            if groups.is_empty() {
                return Ok(());
            }
            let answer: PushResponseV2 = client.call(
                "/v1/offer",
                &PushRequest {
                    schema: RECORD_SCHEMA,
                    cursor,
                    groups,
                },
            )?;
            // What the server took is in its history now: a restore that loses it again is
            // noticed at the next hello, as for a push.
            outbox::note_acknowledged(&self.conn, answer.acknowledged)?;
            departed::offered(&mut self.conn, &ids)?;
        }
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
            let answer: PushResponseV2 = client.call(
                "/v1/push",
                &PushRequest {
                    schema: RECORD_SCHEMA,
                    cursor,
                    groups: batch.groups.clone(),
                },
            )?;
            let acked = outbox::acknowledge(
                &mut self.conn,
                &batch,
                &answer.accepted,
                Some(answer.acknowledged),
            )?;
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
