//! Exchanging whole record states with other replicas (the server, or another device):
//! the primitive the sync client is built on.
//!
//! States are merged, never replayed as ops: merge is commutative, associative and idempotent,
//! so states may arrive in any order, any number of times.

use cageur_model::RecordKind;
use std::collections::HashSet;

use cageur_model::forms::FormRegistry;
use cageur_protocol::{DecodedState, EnvelopeError, RecordState, policy};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Replica;
use super::index::{self, Derived};
use crate::error::{FieldError, Result};
use crate::store::tables;

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
        for &kind in RecordKind::ALL {
            tables::each_of_kind(&self.conn, kind, |id, state| {
                out.push(RemoteRecord { kind, id, state });
                Ok(())
            })?;
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
        let decoded = decode_all(records, &self.forms)?;
        let tx = self.conn.transaction()?;
        let report = merge_decoded(&tx, decoded, &self.forms, &mut Lookups::All)?;
        tx.commit()?;
        Ok(report)
    }
}

/// A remote record read and checked, ready to merge.
pub(crate) struct Received {
    kind: RecordKind,
    id: Uuid,
    /// The envelope bytes as they came.
    bytes: Vec<u8>,
    read: Read,
}

/// What reading a remote state prepared. Reading happens off the thread that writes (a pull
/// reads the next page while it merges this one), so it does as much as it can without
/// knowing whether the record is here already.
enum Read {
    /// Canonical bytes, and the columns derived from them, for the (usual) case that the
    /// record is new here; a record that is not is decoded again to merge.
    Canonical(Derived),
    /// Bytes in another order (not written by this code): built into a state to merge, and
    /// stored re-encoded.
    Other(DecodedState),
}

fn damaged(kind: RecordKind, id: Uuid, e: EnvelopeError) -> FieldError {
    FieldError::Damaged {
        kind,
        id,
        reason: e.to_string(),
    }
}

/// Reads and checks remote records, refusing the batch at the first damaged state.
pub(crate) fn decode_all(
    records: Vec<RemoteRecord>,
    forms: &FormRegistry,
) -> Result<Vec<Received>> {
    records
        .into_iter()
        .map(|record| {
            let state = DecodedState::read(&record.state)
                .map_err(|e| damaged(record.kind, record.id, e))?;
            let read = if state.is_canonical() {
                let summary = state.into_summary(&policy(record.kind));
                Read::Canonical(index::derive(record.kind, &summary, forms))
            } else {
                Read::Other(state)
            };
            Ok(Received {
                kind: record.kind,
                id: record.id,
                bytes: record.state,
                read,
            })
        })
        .collect()
}

/// Which received records a merge looks up before writing.
pub(crate) enum Lookups {
    /// Every one: the replica may hold any of them.
    All,
    /// Only those this pull already wrote (kept here): the replica held no records when the
    /// pull began (a bootstrap), so any other is new here and is inserted straight away. If
    /// one is here after all (another connection wrote it), the insert writes nothing and the
    /// record is merged as usual.
    Written(HashSet<Uuid>),
}

impl Lookups {
    /// [`Lookups::Written`] if the replica holds no records, else [`Lookups::All`].
    pub(crate) fn for_replica(conn: &rusqlite::Connection) -> Result<Lookups> {
        Ok(if tables::is_empty(conn)? {
            Lookups::Written(HashSet::new())
        } else {
            Lookups::All
        })
    }
}

/// Merges received states inside the caller's transaction (so a pull page and its cursor
/// commit together).
pub(crate) fn merge_decoded(
    tx: &rusqlite::Transaction<'_>,
    received: Vec<Received>,
    forms: &FormRegistry,
    lookups: &mut Lookups,
) -> Result<MergeReport> {
    let mut report = MergeReport::default();
    let mut writes = tables::Writes::new(tx);
    for Received {
        kind,
        id,
        bytes,
        read,
    } in received
    {
        // Under `Lookups::Written`, a record this pull has not written yet is new here;
        // otherwise it is new if no table holds its id.
        let unseen = match lookups {
            Lookups::Written(written) => written.insert(id),
            Lookups::All => false,
        };
        let new_here = unseen || {
            match tables::kind_of(tx, id)? {
                Some(existing) if existing != kind => {
                    return Err(cageur_model::ValidationError::new(
                        "kind",
                        cageur_model::Rule::Consistency,
                        format!("record {id} is a {existing} here, not a {kind}"),
                    )
                    .into());
                }
                existing => existing.is_none(),
            }
        };
        // A record new here needs no merge: its bytes are stored as they came, with the
        // columns derived while reading them. If the insert finds it here after all (another
        // connection wrote it), it is merged like any other.
        if new_here
            && let Read::Canonical(derived) = &read
            && index::insert_new(&mut writes, kind, id, &bytes, derived)?
        {
            report.changed += 1;
            continue;
        }
        let remote = match read {
            Read::Canonical(_) => RecordState::decode(&bytes),
            Read::Other(state) => state.into_state(),
        }
        .map_err(|e| damaged(kind, id, e))?;
        let merged = match tables::load(tx, kind, id)? {
            Some(mut local) => {
                // Decided by merging, not by comparing clocks: a state that carries the
                // whole clock and only some fields (a delta stored as a record somewhere)
                // would otherwise never take the fields that complete it.
                let before = local.encode();
                local.merge(remote);
                if local.encode() == before {
                    report.unchanged += 1;
                    continue;
                }
                local
            }
            None => remote,
        };
        index::save(tx, kind, id, &merged, forms)?;
        report.changed += 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tempfile::TempDir;

    use super::*;

    fn replica(dir: &TempDir, name: &str, number: u32) -> Replica {
        crate::test_support::replica(&dir.path().join(name), number)
    }

    fn add_household(replica: &mut Replica) -> Uuid {
        replica
            .add_household(&crate::test_support::household())
            .unwrap()
            .0
    }

    fn head_name(replica: &Replica, id: Uuid) -> String {
        let view = replica.get(id).unwrap();
        view.record["head_name"].as_str().unwrap().to_owned()
    }

    /// Merges `records` as a bootstrap does, claiming the replica held nothing when it began.
    fn merge_as_bootstrap(replica: &mut Replica, records: Vec<RemoteRecord>) -> MergeReport {
        let received = decode_all(records, &replica.forms).unwrap();
        let tx = replica.conn.transaction().unwrap();
        let mut lookups = Lookups::Written(HashSet::new());
        let report = merge_decoded(&tx, received, &replica.forms, &mut lookups).unwrap();
        tx.commit().unwrap();
        report
    }

    #[test]
    fn a_new_record_is_stored_as_it_came_with_its_columns() {
        let dir = TempDir::new().unwrap();
        let mut a = replica(&dir, "a.db", 4);
        let id = add_household(&mut a);
        let sent = a.all_states().unwrap();

        let mut b = replica(&dir, "b.db", 5);
        assert!(matches!(
            Lookups::for_replica(&b.conn).unwrap(),
            Lookups::Written(_)
        ));
        let report = merge_as_bootstrap(&mut b, sent.clone());
        assert_eq!(report.changed, 1);
        assert_eq!(b.all_states().unwrap(), sent, "the very bytes that came");
        assert_eq!(head_name(&b, id), "Ahmad Suryadi");
        let kk: Option<i64> = b
            .conn
            .query_row("SELECT kk FROM households WHERE live", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kk, Some(3_671_051_203_150_007));
        assert!(matches!(
            Lookups::for_replica(&b.conn).unwrap(),
            Lookups::All
        ));
    }

    #[test]
    fn a_record_here_after_all_is_merged_and_keeps_its_local_edit() {
        let dir = TempDir::new().unwrap();
        let mut a = replica(&dir, "a.db", 4);
        let id = add_household(&mut a);
        let older = a.all_states().unwrap();
        a.update_json(id, &json!({"head_name": "Ahmad Suryadi Putra"}))
            .unwrap();

        // Told the replica held nothing (another connection wrote the record meanwhile), the
        // insert finds the record and the older state merges into it instead of replacing it.
        let report = merge_as_bootstrap(&mut a, older);
        assert_eq!((report.changed, report.unchanged), (0, 1));
        assert_eq!(head_name(&a, id), "Ahmad Suryadi Putra");
    }

    #[test]
    fn a_record_met_twice_in_one_pull_is_merged_the_second_time() {
        let dir = TempDir::new().unwrap();
        let mut a = replica(&dir, "a.db", 4);
        let id = add_household(&mut a);
        let first = a.all_states().unwrap();
        a.update_json(id, &json!({"head_name": "Ahmad Suryadi Putra"}))
            .unwrap();
        let second = a.all_states().unwrap();

        let mut b = replica(&dir, "b.db", 5);
        let report = merge_as_bootstrap(&mut b, [first, second.clone()].concat());
        assert_eq!(report.changed, 2);
        assert_eq!(head_name(&b, id), "Ahmad Suryadi Putra");
        assert_eq!(b.all_states().unwrap(), second);
    }
}
