//! The outbox: records changed on this device that the server has not acknowledged yet.
//!
//! An entry names a record, not a copy of its state: sync sends the record's current state
//! (state-based merge), which already contains every change made to it. Entries are written
//! in the transaction of the change itself, so the outbox is exactly as durable as the data.

use cageur_model::RecordKind;
use cageur_protocol::RecordClock;
use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::error::Result;

/// Sending order: what matters most clinically goes first, so that a connection that drops
/// after a few seconds has already delivered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Referrals and visits with a danger sign.
    Urgent = 0,
    /// Visits with a flagged finding, follow-ups.
    Clinical = 1,
    /// Everything else.
    Routine = 2,
}

/// The first change number free for a new user action: above every pending one and above the
/// acknowledged floor. Read once when the replica opens; the replica counts on from there.
pub(crate) fn first_free_change_seq(conn: &Connection) -> Result<i64> {
    Ok(conn
        .query_row(
            "SELECT max(coalesce((SELECT max(last_seq) FROM outbox), 0) + 1,
                    (SELECT change_seq_floor FROM device))",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )?
        .unwrap_or(1))
}

/// Marks a record as changed by action `seq`. A record already waiting stays in the group of
/// its first unacknowledged action (so that action's records travel together), notes `seq`
/// as its last change, and keeps the most urgent priority it ever had.
///
/// `before` is the record's clock before the change, `None` for a new record. A record that
/// is not waiting is one the server holds as this device does (every change of it here was
/// acknowledged, everything else came from the server), so `before` is what the server
/// holds, and a push sends only what changed since (`RecordState::delta_since`). A waiting
/// record keeps the clock of when it started waiting. (A state merged from another device
/// directly, not through the server, breaks the premise only until that device pushes it.)
pub(crate) fn record(
    conn: &Connection,
    id: Uuid,
    kind: RecordKind,
    seq: i64,
    priority: Priority,
    before: Option<RecordClock>,
) -> Result<()> {
    let base = before.map(|clock| clock.encode());
    conn.prepare_cached(
        "INSERT INTO outbox (record_id, kind, change_seq, priority, last_seq, base)
         VALUES (?1, ?2, ?3, ?4, ?3, ?5)
         ON CONFLICT (record_id) DO UPDATE SET
             last_seq = excluded.last_seq,
             priority = min(priority, excluded.priority)",
    )?
    .execute(params![
        id.as_bytes(),
        kind.code(),
        seq,
        priority as i64,
        base
    ])?;
    Ok(())
}

/// How many records wait to be sent.
pub(crate) fn pending(conn: &Connection) -> Result<u64> {
    let count: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
    Ok(count.unsigned_abs())
}

/// Pending records by priority (urgent, clinical, routine).
pub(crate) fn pending_by_priority(conn: &Connection) -> Result<[u64; 3]> {
    let mut out = [0u64; 3];
    let mut stmt =
        conn.prepare_cached("SELECT priority, count(*) FROM outbox GROUP BY priority")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (priority, count) = row?;
        if let Some(slot) = usize::try_from(priority).ok().and_then(|p| out.get_mut(p)) {
            *slot = count.unsigned_abs();
        }
    }
    Ok(out)
}
