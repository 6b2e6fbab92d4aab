//! What the health office asks of a tablet, carried out in a sync: rebuild the replica from
//! the server (resync), delete the local records (wipe), and take newly published forms.
//!
//! Both commands run only after every change this tablet holds was pushed and acknowledged,
//! so neither can lose a visit the server does not have. A resync stages the server's whole
//! scope beside the replica (resumable, page by page, like any pull) and swaps it in with one
//! short transaction, merging instead of replacing any record that changed meanwhile; records
//! the server does not have are set aside in the file, not deleted.

use cageur_model::RecordKind;
use cageur_model::forms::FormDefinition;
use cageur_protocol::RecordState;
use cageur_protocol::sync::{
    Ack, Cursor, PublishedForm, PullRequest, PullResponseV2, ResyncedRequest, WipedRequest,
};
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::http::Client;
use super::{Phase, Progress, SyncOptions, SyncReport};
use crate::error::{FieldError, Result};
use crate::replica::{Lookups, RemoteRecord, Replica, decode_all, index, merge_decoded};
use crate::store::tables::{self, uuid_from_blob};

/// How a resync ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ResyncOutcome {
    /// Records of the server's scope, now the replica's.
    pub records: u64,
    /// Records replaced by the server's state (they differed).
    pub replaced: u64,
    /// Records merged rather than replaced: they changed here during the resync.
    pub merged: u64,
    /// Records this tablet held that the server's scope does not, set aside.
    pub set_aside: u64,
}

/// Whether the state `bytes` holds every write of `other` (a state that does not read holds
/// nothing worth keeping of it: the stored one is kept aside, not this).
fn holds_all_of(bytes: &[u8], other: &[u8]) -> bool {
    match (RecordState::decode(bytes), RecordState::decode(other)) {
        (Ok(state), Ok(other)) => state.contains(&other),
        (_, Err(_)) => true,
        (Err(_), Ok(_)) => false,
    }
}

impl Replica {
    /// Adds the forms the health office published since the newest this tablet holds. A
    /// definition this version cannot read is skipped (a newer app will), and counted past.
    pub(super) fn receive_forms(&mut self, forms: &[PublishedForm]) -> Result<u64> {
        let mut added = 0;
        for form in forms {
            if let Ok(def) = cageur_model::json::parse::<FormDefinition>(&form.definition)
                && self.add_form(def).is_ok()
            {
                added += 1;
            }
            self.conn.execute(
                "UPDATE sync_state SET forms_seen = max(forms_seen, ?1)",
                [form.number as i64],
            )?;
        }
        Ok(added)
    }

    /// Rebuilds the replica from the server's scope: a staged pull, then the swap, then the
    /// server is told. Pushes must have been made first (the caller does).
    pub(super) fn resync(
        &mut self,
        client: &mut Client,
        options: &SyncOptions,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<ResyncOutcome> {
        let staged = self.stage_scope(client, options, report, progress)?;
        let outcome = self.swap_in_stage(staged)?;
        let _: Ack = client.call(
            "/v1/resynced",
            &ResyncedRequest {
                records: outcome.records,
                set_aside: outcome.set_aside,
            },
        )?;
        Ok(outcome)
    }

    /// Pulls the whole scope into `resync_stage`, each page with the stage's cursor in one
    /// transaction, from where an interrupted resync stopped. Returns the cursor reached.
    fn stage_scope(
        &mut self,
        client: &mut Client,
        options: &SyncOptions,
        report: &mut SyncReport,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Cursor> {
        let stage: Option<(i64, i64)> =
            self.conn
                .query_row("SELECT stage_seq, stage_token FROM sync_state", [], |r| {
                    Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?))
                })?;
        let mut cursor = stage.map_or_else(Cursor::default, |(seq, token)| Cursor {
            seq: seq as u64,
            token: token as u64,
        });
        if stage.is_none() {
            self.conn.execute_batch(
                "DELETE FROM resync_stage; UPDATE sync_state SET stage_seq = 0, stage_token = 0",
            )?;
        }
        let mut done = self
            .conn
            .query_row("SELECT count(*) FROM resync_stage", [], |r| {
                r.get::<_, i64>(0)
            })?
            .unsigned_abs();
        loop {
            let page: PullResponseV2 = client.call(
                "/v1/pull",
                &PullRequest {
                    cursor,
                    max_bytes: options.page_bytes,
                },
            )?;
            let tx = self.conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO resync_stage (id, kind, state) VALUES (?1, ?2, ?3)",
                )?;
                for r in &page.records {
                    if RecordKind::from_code(r.kind).is_none() {
                        return Err(FieldError::Network(format!(
                            "the server sent record kind {}",
                            r.kind
                        )));
                    }
                    insert.execute(params![r.id.as_bytes(), r.kind, r.state])?;
                }
            }
            tx.execute(
                "UPDATE sync_state SET stage_seq = ?1, stage_token = ?2",
                params![page.next.seq as i64, page.next.token as i64],
            )?;
            tx.commit()?;
            let received = page.records.len() as u64;
            done += received;
            report.pulled += received;
            progress(Progress {
                phase: Phase::Pull,
                done,
                total: done + page.remaining,
            });
            // Only a page with nothing after it completes the stage: swapping in a stage
            // short of the scope would set aside what it had not reached yet.
            if page.remaining == 0 {
                return Ok(page.next);
            }
            if page.next == cursor {
                return Err(FieldError::Network(
                    "the server's pull did not move on: the resync goes on at the next sync".into(),
                ));
            }
            cursor = page.next;
        }
    }

    /// Makes the staged scope the replica, in one transaction: a record waiting in the
    /// outbox (changed here during the resync) is merged with the server's state; any other
    /// takes the server's state; a record the server's scope lacks is set aside, unless it
    /// waits in the outbox. The pull cursor becomes the stage's.
    fn swap_in_stage(&mut self, cursor: Cursor) -> Result<ResyncOutcome> {
        let forms = self.forms.clone();
        let tx = self.conn.transaction()?;
        let mut outcome = ResyncOutcome::default();
        const STRAY: &str = "FROM records WHERE id NOT IN (SELECT id FROM resync_stage)
                               AND id NOT IN (SELECT record_id FROM outbox)";
        tx.execute(
            &format!(
                "INSERT OR REPLACE INTO set_aside (id, kind, state, why)
                 SELECT id, kind, state, 'not in the server''s scope at a resync' {STRAY}"
            ),
            [],
        )?;
        outcome.set_aside += tx.execute(&format!("DELETE {STRAY}"), [])? as u64;
        let mut waiting = Vec::new();
        {
            let mut staged = tx.prepare("SELECT id, kind, state FROM resync_stage ORDER BY id")?;
            let mut rows = staged.query([])?;
            let mut in_outbox = tx.prepare("SELECT 1 FROM outbox WHERE record_id = ?1")?;
            while let Some(row) = rows.next()? {
                let (id, kind, state): (Vec<u8>, u8, Vec<u8>) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                let (Some(id), Some(kind)) = (uuid_from_blob(&id), RecordKind::from_code(kind))
                else {
                    continue;
                };
                outcome.records += 1;
                if in_outbox.exists([id.as_bytes()])? {
                    waiting.push(RemoteRecord { kind, id, state });
                    continue;
                }
                let local = tables::load_bytes(&tx, kind, id)?;
                if local.as_deref() == Some(state.as_slice()) {
                    continue;
                }
                // A state here holding writes the server lacks (and that wait in no outbox:
                // damage, or a server that lost them) is set aside before it is replaced.
                if let Some(local) = local
                    && !holds_all_of(&state, &local)
                {
                    tx.execute(
                        "INSERT OR REPLACE INTO set_aside (id, kind, state, why)
                         VALUES (?1, ?2, ?3, 'held writes the server lacks at a resync')",
                        params![id.as_bytes(), kind.code(), local],
                    )?;
                    outcome.set_aside += 1;
                }
                index::store_as_is(&tx, kind, id, &state, &forms)?;
                outcome.replaced += 1;
            }
        }
        outcome.merged = waiting.len() as u64;
        let waiting = decode_all(waiting, &forms)?;
        merge_decoded(&tx, waiting, &forms, &mut Lookups::All)?;
        tx.execute_batch("DELETE FROM resync_stage")?;
        tx.execute(
            "UPDATE sync_state SET cursor_seq = ?1, cursor_token = ?2, stage_seq = NULL,
                    stage_token = NULL",
            params![cursor.seq as i64, cursor.token as i64],
        )?;
        tx.commit()?;
        Ok(outcome)
    }

    /// Deletes every record this tablet holds, as its revocation asked, once everything was
    /// pushed; then tells the server, and forgets the credential. A tablet interrupted after
    /// the deletion tells the server at its next sync. Records a resync set aside go too:
    /// they are copies the server's scope no longer holds (a household moved away) or
    /// damage, never a change the server did not acknowledge (those wait in the outbox).
    pub(super) fn wipe(&mut self, client: &mut Client, pushed: u64) -> Result<()> {
        if crate::store::outbox::pending(&self.conn)? > 0 {
            return Err(FieldError::Network(
                "changes are still waiting to be pushed: the tablet wipes once they are".into(),
            ));
        }
        let tx = self.conn.transaction()?;
        tx.execute_batch(
            "DELETE FROM records; DELETE FROM outbox; DELETE FROM resync_stage; DELETE FROM set_aside;
             DELETE FROM departed; DELETE FROM current_worker; DELETE FROM workers;
             UPDATE sync_state SET wiped = 1;",
        )?;
        tx.commit()?;
        // The freed pages are encrypted, and the app destroys the key; VACUUM also leaves
        // none of them in the file.
        self.conn.execute_batch("VACUUM")?;
        self.worker = None;
        self.report_wiped(client, pushed)
    }

    /// Tells the server the tablet wiped, then forgets the credential.
    pub(super) fn report_wiped(&mut self, client: &mut Client, pushed: u64) -> Result<()> {
        let _: Ack = client.call("/v1/wiped", &WipedRequest { pushed })?;
        self.conn
            .execute("UPDATE sync_state SET credential = ''", [])?;
        Ok(())
    }

    /// Records this tablet set aside (a resync found them here and not on the server).
    pub fn set_aside(&self) -> Result<Vec<(RecordKind, Uuid)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, id FROM set_aside ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, u8>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, id) = row?;
            if let (Some(kind), Some(id)) = (RecordKind::from_code(kind), uuid_from_blob(&id)) {
                out.push((kind, id));
            }
        }
        Ok(out)
    }

    /// Whether this tablet wiped its records as the health office told it.
    pub fn is_wiped(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT wiped FROM sync_state", [], |r| r.get::<_, bool>(0))
            .optional()?
            .unwrap_or(false))
    }
}
