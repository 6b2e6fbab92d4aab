//! Exchanging whole record states with other replicas (the server, or another device):
//! the primitive the sync client is built on.
//!
//! States are merged, never replayed as ops: merge is commutative, associative and idempotent,
//! so states may arrive in any order, any number of times.

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Replica, index};
use crate::error::{FieldError, Result};
use crate::store::tables::{self, uuid_from_blob};

/// A record's state as received from, or sent to, another replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRecord {
    /// The record's kind, which decides its table and its settle policy.
    pub kind: RecordKind,
    /// The record's id, the same on every replica.
    pub id: Uuid,
    /// The envelope bytes of the record's state.
    pub state: Vec<u8>,
}

/// What merging a batch of remote states did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MergeReport {
    /// States that brought something new.
    pub changed: usize,
    /// States this replica already contained.
    pub unchanged: usize,
}

/// Most states merged in one transaction.
pub const MAX_MERGE_BATCH: usize = 10_000;

impl Replica {
    /// Every record's state, in kind and id order.
    pub fn all_states(&self) -> Result<Vec<RemoteRecord>> {
        let mut out = Vec::new();
        for kind in RecordKind::ALL {
            let sql = format!("SELECT id, state FROM {} ORDER BY id", tables::table(*kind));
            let mut stmt = self.conn.prepare(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for row in rows {
                let (id, state) = row?;
                if let Some(id) = uuid_from_blob(&id) {
                    out.push(RemoteRecord {
                        kind: *kind,
                        id,
                        state,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Merges states received from another replica, in one transaction. Every state is
    /// decoded and checked first: one bad state refuses the whole batch, and nothing changes.
    /// Merged records do not enter the outbox (they came from elsewhere), but a record with
    /// local changes stays in it.
    pub fn merge_remote(&mut self, records: Vec<RemoteRecord>) -> Result<MergeReport> {
        if records.len() > MAX_MERGE_BATCH {
            return Err(cageur_model::ValidationError::new(
                "records",
                cageur_model::Rule::Range,
                format!("at most {MAX_MERGE_BATCH} records per batch"),
            )
            .into());
        }
        let decoded = decode_all(records)?;
        let tx = self.conn.transaction()?;
        let report = merge_decoded(&tx, decoded, &self.forms)?;
        tx.commit()?;
        Ok(report)
    }
}

/// Decodes remote records, refusing the batch at the first damaged state.
pub(crate) fn decode_all(
    records: Vec<RemoteRecord>,
) -> Result<Vec<(RecordKind, Uuid, RecordState)>> {
    records
        .into_iter()
        .map(|record| {
            let state = RecordState::decode(&record.state).map_err(|e| FieldError::Damaged {
                kind: record.kind,
                id: record.id,
                reason: e.to_string(),
            })?;
            Ok((record.kind, record.id, state))
        })
        .collect()
}

/// Merges decoded states inside the caller's transaction (so a pull page and its cursor
/// commit together).
pub(crate) fn merge_decoded(
    tx: &rusqlite::Transaction<'_>,
    decoded: Vec<(RecordKind, Uuid, RecordState)>,
    forms: &cageur_model::forms::FormRegistry,
) -> Result<MergeReport> {
    let mut report = MergeReport::default();
    for (kind, id, remote) in decoded {
        if let Some(existing) = tables::kind_of(tx, id)?
            && existing != kind
        {
            return Err(cageur_model::ValidationError::new(
                "kind",
                cageur_model::Rule::Consistency,
                format!("record {id} is a {existing} here, not a {kind}"),
            )
            .into());
        }
        let merged = match tables::load(tx, kind, id)? {
            Some(local) if local.contains(&remote) => {
                report.unchanged += 1;
                continue;
            }
            Some(mut local) => {
                local.merge(remote);
                local
            }
            None => remote,
        };
        index::save(tx, kind, id, &merged, forms)?;
        report.changed += 1;
    }
    Ok(report)
}
