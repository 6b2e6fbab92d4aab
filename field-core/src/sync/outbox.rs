//! Reading the outbox into push requests, and acknowledging what the server made durable.

use std::collections::BTreeMap;

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use cageur_protocol::sync::{ChangeGroup, MAX_GROUP_RECORDS, MAX_PUSH_RECORDS, WireRecord};
use rusqlite::{Connection, Transaction, params};
use uuid::Uuid;

use crate::error::Result;
use crate::store::outbox::Priority;
use crate::store::tables::{self, uuid_from_blob};

/// One push request's worth of the outbox.
#[derive(Debug, Clone, Default)]
pub(crate) struct Batch {
    pub groups: Vec<ChangeGroup>,
    /// What was sent of each record: its group and its last change, to acknowledge exactly
    /// that (a change made while the push was on the wire stays pending).
    pub sent: Vec<(Uuid, i64, i64)>,
}

/// The next batch: whole change groups, most urgent first, then oldest first.
pub(crate) fn next_batch(conn: &Connection) -> Result<Batch> {
    struct Row {
        id: Uuid,
        kind: RecordKind,
        last_seq: i64,
    }
    let mut groups: BTreeMap<i64, (i64, Vec<Row>)> = BTreeMap::new();
    let mut stmt =
        conn.prepare_cached("SELECT record_id, kind, change_seq, priority, last_seq FROM outbox")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, u8>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, Option<i64>>(4)?,
        ))
    })?;
    for row in rows {
        let (id, kind, change_seq, priority, last_seq) = row?;
        let (Some(id), Some(kind)) = (uuid_from_blob(&id), RecordKind::from_code(kind)) else {
            continue;
        };
        let entry = groups.entry(change_seq).or_insert((priority, Vec::new()));
        entry.0 = entry.0.min(priority);
        entry.1.push(Row {
            id,
            kind,
            last_seq: last_seq.unwrap_or(change_seq),
        });
    }
    let mut order: Vec<(i64, i64)> = groups.iter().map(|(seq, (p, _))| (*p, *seq)).collect();
    order.sort_unstable();
    let mut batch = Batch::default();
    let mut count = 0;
    for (_, change_seq) in order {
        let (_, mut rows) = groups.remove(&change_seq).expect("grouped above");
        rows.sort_by_key(|r| (r.kind, r.id));
        // A group larger than the protocol allows (only a bulk re-queue makes one) travels
        // in parts.
        for part in rows.chunks(MAX_GROUP_RECORDS) {
            if count + part.len() > MAX_PUSH_RECORDS {
                return Ok(batch);
            }
            let mut records = Vec::with_capacity(part.len());
            for row in part {
                let Some(state) = tables::load_bytes(conn, row.kind, row.id)? else {
                    continue;
                };
                records.push(WireRecord {
                    kind: row.kind.code(),
                    id: row.id,
                    state,
                });
                batch.sent.push((row.id, change_seq, row.last_seq));
            }
            count += records.len();
            if !records.is_empty() {
                batch.groups.push(ChangeGroup {
                    change_seq,
                    records,
                });
            }
        }
    }
    Ok(batch)
}

/// Drops the outbox entries of the accepted groups that did not change since they were read;
/// returns how many records of the batch the server acknowledged.
pub(crate) fn acknowledge(conn: &mut Connection, batch: &Batch, accepted: &[i64]) -> Result<u64> {
    let tx = conn.transaction()?;
    let mut acked = 0;
    let mut highest = 0;
    for (id, change_seq, last_seq) in &batch.sent {
        if !accepted.contains(change_seq) {
            continue;
        }
        acked += 1;
        highest = highest.max(*last_seq);
        tx.prepare_cached("DELETE FROM outbox WHERE record_id = ?1 AND last_seq = ?2")?
            .execute(params![id.as_bytes(), last_seq])?;
    }
    // Change numbers are never reused, even after the outbox empties.
    tx.execute(
        "UPDATE device SET change_seq_floor = max(change_seq_floor, ?1)",
        [highest + 1],
    )?;
    tx.commit()?;
    Ok(acked)
}

/// Queues every record `device` has written, each as its own change from `first_seq` on;
/// returns how many were queued. Records already waiting keep their entry.
pub(crate) fn queue_own_records(tx: &Transaction<'_>, device: u32, first_seq: i64) -> Result<u64> {
    let mut seq = first_seq;
    let mut queued = 0;
    for kind in RecordKind::ALL {
        let sql = format!("SELECT id, state FROM {}", tables::table(*kind));
        let mut stmt = tx.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let (id, bytes): (Vec<u8>, Vec<u8>) = (row.get(0)?, row.get(1)?);
            let Ok(state) = RecordState::decode(&bytes) else {
                continue;
            };
            if !state.writers().contains(&device) {
                continue;
            }
            let n = tx
                .prepare_cached(
                    "INSERT INTO outbox (record_id, kind, change_seq, priority, last_seq)
                     VALUES (?1, ?2, ?3, ?4, ?3) ON CONFLICT (record_id) DO NOTHING",
                )?
                .execute(params![id, kind.code(), seq, Priority::Routine as i64])?;
            if n > 0 {
                seq += 1;
                queued += 1;
            }
        }
    }
    Ok(queued)
}
