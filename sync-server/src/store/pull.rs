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
}

/// What building a page needs of a store's read snapshot.
pub(crate) trait PullTx {
    /// The token of a sequence, if the store gave it out.
    fn token_of(&mut self, seq: u64) -> StoreResult<Option<u64>>;
    /// Feeds `take` the scope's records after `after`, in sequence order, until it returns
    /// `false`.
    fn scan(
        &mut self,
        puskesmas: &str,
        after: u64,
        take: &mut dyn FnMut(ScopeRow) -> StoreResult<bool>,
    ) -> StoreResult<()>;
    /// How many of the scope's records are after `after`.
    fn count_after(&mut self, puskesmas: &str, after: u64) -> StoreResult<u64>;
}

/// The page budget a device asked for, within the server's limit.
pub(crate) fn page_budget(max_bytes: Option<u32>) -> usize {
    max_bytes
        .map(|b| (b as usize).clamp(1, PULL_PAGE_TARGET_BYTES))
        .unwrap_or(PULL_PAGE_TARGET_BYTES)
}

/// The page after `cursor`: full pages end only between sequences, so a change group is
/// never split across pages.
pub(crate) fn build_page(
    tx: &mut dyn PullTx,
    puskesmas: &str,
    cursor: Cursor,
    budget: usize,
) -> StoreResult<PullPage> {
    if cursor.seq > 0 && tx.token_of(cursor.seq)? != Some(cursor.token) {
        return Err(StoreError::refused(
            ErrorCode::TimelineChanged,
            "this server does not have the history your cursor points into (it was restored \
             from a backup, or is another server): pull from the start and push every record \
             again",
        ));
    }
    let (mut records, mut bytes, mut last_seq) = (Vec::new(), 0usize, None);
    tx.scan(puskesmas, cursor.seq, &mut |row| {
        let full = bytes >= budget || records.len() >= PULL_PAGE_MAX_RECORDS;
        if full && last_seq != Some(row.seq) {
            return Ok(false);
        }
        bytes += row.state.len();
        records.push(PulledRecord {
            kind: RecordKind::from_code(row.kind)
                .ok_or_else(|| StoreError::Damaged(format!("record kind {}", row.kind)))?,
            id: Uuid::from_slice(&row.id).map_err(|e| StoreError::Damaged(e.to_string()))?,
            state: row.state,
        });
        last_seq = Some(row.seq);
        Ok(true)
    })?;
    let next = match last_seq {
        Some(seq) => Cursor {
            seq,
            token: tx.token_of(seq)?.unwrap_or_default(),
        },
        None => cursor,
    };
    let remaining = tx.count_after(puskesmas, next.seq)?;
    Ok(PullPage {
        records,
        next,
        remaining,
    })
}
