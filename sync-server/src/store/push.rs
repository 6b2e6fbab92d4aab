//! Applying a push, the same for every store: each store gives the few reads and writes it
//! needs ([`PushTx`]) inside its own write transaction.

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use rand::Rng;
use uuid::Uuid;

use super::pull::{Timeline, timeline_changed};
use super::records::{MergedWrite, merge_one};
use super::{DeviceRow, PreparedPush, PushOutcome, StoreError, StoreResult, now_secs};

/// A stored record as a push finds it.
pub(crate) struct Stored {
    pub kind: RecordKind,
    pub puskesmas: String,
    pub seq: u64,
    pub state: RecordState,
    /// The device whose own state this is, if one is known to hold exactly it.
    pub echo: Option<u32>,
}

impl Stored {
    /// A stored row as both stores read it.
    pub(crate) fn from_row(
        id: Uuid,
        kind: i64,
        puskesmas: String,
        seq: i64,
        state: &[u8],
        echo: Option<u32>,
    ) -> StoreResult<Self> {
        let damaged = |what: String| StoreError::Damaged(format!("record {id}: {what}"));
        Ok(Stored {
            kind: u8::try_from(kind)
                .ok()
                .and_then(RecordKind::from_code)
                .ok_or_else(|| damaged(format!("kind {kind}")))?,
            puskesmas,
            seq: seq.unsigned_abs(),
            state: RecordState::decode(state).map_err(|e| damaged(e.to_string()))?,
            echo,
        })
    }
}

/// What applying a push needs of a store's write transaction. The transaction holds the
/// store's one write lock, so the sequence numbers it gives out commit in order.
pub(crate) trait PushTx: Timeline {
    fn newest_seq(&mut self) -> StoreResult<u64>;
    fn load(&mut self, id: Uuid) -> StoreResult<Option<Stored>>;
    /// The puskesmas of a household the store holds.
    fn household_scope(&mut self, id: Uuid) -> StoreResult<Option<String>>;
    fn add_sequence(&mut self, seq: u64, token: i64, device: u32, at: i64) -> StoreResult<()>;
    /// Keeps record `id`, which leaves sequence `seq`, a member of that sequence's change
    /// group if the group has other members: a pull of `seq` then brings `id`'s current state
    /// with them, so a group still arrives whole.
    fn keep_in_group(&mut self, seq: u64, id: Uuid) -> StoreResult<()>;
    fn put_record(&mut self, write: &MergedWrite, seq: u64) -> StoreResult<()>;
    /// Moves a household's members into `puskesmas`, at `seq` (with their groups).
    fn move_household(&mut self, household: Uuid, puskesmas: &str, seq: u64) -> StoreResult<()>;
}

/// Merges every group of a push; a refusal anywhere returns before the caller commits.
pub(crate) fn apply_push(
    tx: &mut dyn PushTx,
    device: &DeviceRow,
    push: PreparedPush,
) -> StoreResult<PushOutcome> {
    // The device holds every state up to its cursor. A cursor of another timeline (a restored
    // backup) is refused before anything is written: the device's pushes may be deltas of
    // states the store no longer holds, so it must first re-queue them whole.
    let pulled_to = push.cursor.seq;
    if pulled_to > 0 && tx.token_of(pulled_to)? != Some(push.cursor.token) {
        return Err(timeline_changed());
    }
    let groups = push.groups;
    let mut seq = tx.newest_seq()?;
    let mut outcome = PushOutcome::default();
    let now = now_secs();
    for (g, group) in groups.into_iter().enumerate() {
        let mut changed = Vec::new();
        for (r, record) in group.records.into_iter().enumerate() {
            let at = format!("groups[{g}].records[{r}]");
            let existing = tx.load(record.id)?;
            let had = existing
                .as_ref()
                .is_none_or(|s| s.seq <= pulled_to || s.echo == Some(device.id));
            let mut scope_of = |id| tx.household_scope(id);
            if let Some(write) = merge_one(&mut scope_of, device, record, existing, had, &at)? {
                changed.push(write);
            }
        }
        outcome.accepted.push(group.change_seq);
        if changed.is_empty() {
            outcome.unchanged += 1;
            continue;
        }
        seq += 1;
        let token: i64 = rand::rng().random_range(1..i64::MAX);
        tx.add_sequence(seq, token, device.id, now)?;
        for write in changed {
            if let Some(old) = write.old_seq {
                tx.keep_in_group(old, write.id)?;
            }
            tx.put_record(&write, seq)?;
            if let Some(moved_from) = &write.moved_from {
                // A household moved to another puskesmas: its members follow it, and reach
                // the new puskesmas's devices at this sequence.
                tracing::info!(from = %moved_from, to = %write.puskesmas, "household moved");
                tx.move_household(write.id, &write.puskesmas, seq)?;
            }
        }
    }
    outcome.seq = seq;
    Ok(outcome)
}
