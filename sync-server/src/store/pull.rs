//! Building a pull page, the same for every store: each store streams its scope in sequence
//! order through [`PullTx`], inside one read snapshot.

use cageur_model::RecordKind;
use cageur_protocol::sync::{Cursor, ErrorCode, PULL_PAGE_MAX_RECORDS, PULL_PAGE_TARGET_BYTES};
use uuid::Uuid;

use super::{PullPage, PulledRecord, StoreError, StoreResult};

/// One stored record in sequence order.
pub(crate) struct ScopeRow {
    pub seq: u64,
    pub kind: u8,
    pub id: Vec<u8>,
    pub state: Vec<u8>,
    /// The device whose own state this is (it is not sent back to it).
    pub echo: Option<u32>,
}

/// The sequence's tokens, by which a cursor is checked.
pub(crate) trait Timeline {
    /// The token of a sequence, if the store gave it out.
    fn token_of(&mut self, seq: u64) -> StoreResult<Option<u64>>;
}

/// What building a page needs of a store's read snapshot.
pub(crate) trait PullTx: Timeline {
    /// Feeds `take` the scope's records after `after`, in sequence order, until it returns
    /// `false`.
    fn scan(
        &mut self,
        puskesmas: &str,
        after: u64,
        take: &mut dyn FnMut(ScopeRow) -> StoreResult<bool>,
    ) -> StoreResult<()>;
    /// The current states of records kept as members of the change groups of sequences
    /// `after < seq <= upto` after they moved on (see [`super::push::PushTx::keep_in_group`]).
    fn kept_members(
        &mut self,
        puskesmas: &str,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<ScopeRow>>;
    /// How many of the scope's records after `after` are not `device`'s own state.
    fn count_after(&mut self, puskesmas: &str, after: u64, device: u32) -> StoreResult<u64>;
    /// Departures from the scope after `after`, up to `upto` if given: (sequence, id).
    fn departures(
        &mut self,
        puskesmas: &str,
        after: u64,
        upto: Option<u64>,
    ) -> StoreResult<Vec<(u64, Uuid)>>;
}

/// Rows scanned for one page at most, sent or not: bounds a page's time when a device's own
/// changes (which are skipped) fill a long stretch of the sequence.
const PAGE_MAX_SCANNED: usize = 50_000;

/// The refusal of a cursor this store did not give out.
pub(crate) fn timeline_changed() -> StoreError {
    StoreError::refused(
        ErrorCode::TimelineChanged,
        "this server does not have the history your cursor points into (it was restored from \
         a backup, or is another server): pull from the start and push every record again",
    )
}

/// The page budget a device asked for, within the server's limit.
pub(crate) fn page_budget(max_bytes: Option<u32>) -> usize {
    max_bytes
        .map(|b| (b as usize).clamp(1, PULL_PAGE_TARGET_BYTES))
        .unwrap_or(PULL_PAGE_TARGET_BYTES)
}

/// The page after `cursor` for `device`: full pages end only between sequences, and the
/// members a group kept after they moved on come with it, so a change group is never split
/// across pages. States that are `device`'s own are skipped (the cursor still passes them).
pub(crate) fn build_page(
    tx: &mut dyn PullTx,
    puskesmas: &str,
    device: u32,
    cursor: Cursor,
    budget: usize,
) -> StoreResult<PullPage> {
    if cursor.seq > 0 && tx.token_of(cursor.seq)? != Some(cursor.token) {
        return Err(timeline_changed());
    }
    let (mut records, mut bytes, mut scanned, mut last_seq) = (Vec::new(), 0usize, 0usize, None);
    let mut stopped = false;
    tx.scan(puskesmas, cursor.seq, &mut |row| {
        let full = bytes >= budget
            || records.len() >= PULL_PAGE_MAX_RECORDS
            || scanned >= PAGE_MAX_SCANNED;
        if full && last_seq != Some(row.seq) {
            stopped = true;
            return Ok(false);
        }
        scanned += 1;
        last_seq = Some(row.seq);
        if row.echo != Some(device) {
            bytes += row.state.len();
            records.push(pulled(row)?);
        }
        Ok(true)
    })?;
    if let Some(upto) = last_seq {
        for row in tx.kept_members(puskesmas, cursor.seq, upto)? {
            let id = Uuid::from_slice(&row.id).map_err(|e| StoreError::Damaged(e.to_string()))?;
            if row.echo != Some(device) && !records.iter().any(|r: &PulledRecord| r.id == id) {
                records.push(pulled(row)?);
            }
        }
    }
    // Departures come in sequence order with the records: up to the page's last sequence,
    // or all of them on the last page, whose cursor then passes the last departure (a
    // household's move is written in its new scope, so the old scope's own records may end
    // before it).
    let departures = tx.departures(puskesmas, cursor.seq, stopped.then_some(last_seq).flatten())?;
    let end = last_seq
        .into_iter()
        .chain(departures.iter().map(|(seq, _)| *seq))
        .max();
    let departed: Vec<Uuid> = departures.into_iter().map(|(_, id)| id).collect();
    let next = match end {
        Some(seq) => Cursor {
            seq,
            token: tx.token_of(seq)?.unwrap_or_default(),
        },
        None => cursor,
    };
    let remaining = tx.count_after(puskesmas, next.seq, device)?;
    Ok(PullPage {
        records,
        departed,
        next,
        remaining,
    })
}

fn pulled(row: ScopeRow) -> StoreResult<PulledRecord> {
    Ok(PulledRecord {
        kind: RecordKind::from_code(row.kind)
            .ok_or_else(|| StoreError::Damaged(format!("record kind {}", row.kind)))?,
        id: Uuid::from_slice(&row.id).map_err(|e| StoreError::Damaged(e.to_string()))?,
        state: row.state,
    })
}

/// The device whose own records (echoes) a pull leaves out: none while the device rebuilds
/// its replica, since a resync needs every record of the scope, its own included. (Device
/// numbers start at 1, so 0 is nobody's.)
pub(crate) fn echoes_left_out_for(device: &super::DeviceRow) -> u32 {
    if device.resync_requested_at.is_some() {
        0
    } else {
        device.id
    }
}
