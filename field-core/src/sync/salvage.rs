//! What the health office's admin tool reads from a tablet's database file directly: the
//! changes it never pushed (to salvage a broken or retired tablet), and a digest of every
//! record (to verify a tablet against the server). The admin tool works on a copy of the
//! file, never on the original.

use std::collections::HashSet;

use cageur_model::RecordKind;
use cageur_protocol::state_digest;
use cageur_protocol::sync::{Cursor, PushRequest, RECORD_SCHEMA};
use uuid::Uuid;

use super::outbox;
use crate::error::{FieldError, Result};
use crate::replica::Replica;
use crate::store::tables::{self, uuid_from_blob};

/// What a salvage sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SalvageReport {
    /// Change groups sent.
    pub groups: u64,
    /// Records sent.
    pub records: u64,
}

/// One record's digest on this replica ([`cageur_protocol::state_digest`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RecordDigest {
    /// The record's kind.
    pub kind: RecordKind,
    /// The record.
    pub id: Uuid,
    /// The digest of its state.
    pub digest: String,
}

impl Replica {
    /// Sends every change this replica never had acknowledged, whole (not as deltas: the
    /// server may hold less than this tablet last knew), most urgent first, one push request
    /// at a time through `send`, which returns once the server made it durable. Each sent
    /// batch is acknowledged in this file (the admin tool's copy), and a salvage run again on
    /// a fresh copy sends everything again, which the server merges to no change.
    pub fn salvage(
        &mut self,
        send: &mut dyn FnMut(&PushRequest) -> Result<()>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<SalvageReport> {
        self.conn.execute("UPDATE outbox SET base = NULL", [])?;
        let total = self.pending_changes()?;
        let mut report = SalvageReport::default();
        loop {
            let batch = outbox::next_batch(&self.conn)?;
            if batch.groups.is_empty() {
                return Ok(report);
            }
            let request = PushRequest {
                schema: RECORD_SCHEMA,
                cursor: Cursor::default(),
                groups: batch.groups.clone(),
            };
            send(&request)?;
            let accepted: Vec<i64> = batch.groups.iter().map(|g| g.change_seq).collect();
            let acked = outbox::acknowledge(&mut self.conn, &batch, &accepted, None)?;
            if acked == 0 {
                return Err(FieldError::Network(
                    "the salvaged changes were sent but none could be marked as sent".into(),
                ));
            }
            report.groups += batch.groups.len() as u64;
            report.records += acked;
            progress(report.records, total.max(report.records));
        }
    }

    /// Every record's digest, by kind then id.
    pub fn record_digests(&self) -> Result<Vec<RecordDigest>> {
        let mut out = Vec::new();
        for kind in RecordKind::ALL.iter().copied() {
            tables::each_of_kind(&self.conn, kind, |id, state| {
                let digest = state_digest(&state).map_err(|e| FieldError::Damaged {
                    kind,
                    id,
                    reason: e.to_string(),
                })?;
                out.push(RecordDigest { kind, id, digest });
                Ok(())
            })?;
        }
        Ok(out)
    }

    /// The records waiting in the outbox (changed here, not acknowledged by the server).
    pub fn pending_ids(&self) -> Result<HashSet<Uuid>> {
        let mut stmt = self.conn.prepare("SELECT record_id FROM outbox")?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = HashSet::new();
        for row in rows {
            if let Some(id) = uuid_from_blob(&row?) {
                out.insert(id);
            }
        }
        Ok(out)
    }

    /// A record's stored state bytes, whatever its kind.
    pub fn state_bytes(&self, id: Uuid) -> Result<Option<(RecordKind, Vec<u8>)>> {
        let Some(kind) = tables::kind_of(&self.conn, id)? else {
            return Ok(None);
        };
        Ok(tables::load_bytes(&self.conn, kind, id)?.map(|b| (kind, b)))
    }
}
