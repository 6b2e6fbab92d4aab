//! Applying a push, the same for every store: each store gives the few reads and writes it
//! needs ([`PushTx`]) inside its own write transaction.

use std::collections::HashMap;

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use cageur_protocol::scope::{ScopeLink, scope_link};
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

/// Everything a push writes, decided before any of it is written, so that a store can write
/// it in a few statements (a push waits on one lock; every round trip inside it is paid by
/// every device in the queue).
#[derive(Default)]
pub(crate) struct PushWrites {
    /// New sequences: number, token, pushing device, time.
    pub sequences: Vec<(u64, i64, u32, i64)>,
    /// Records leaving a sequence whose group must keep them as members, if the group had
    /// other members before this push ([`super::push::PushTx::write_push`]).
    pub kept: Vec<(u64, Uuid)>,
    /// Merged records, each with its new sequence.
    pub records: Vec<(MergedWrite, u64)>,
    /// Households that moved puskesmas: id, new puskesmas, sequence their members move to.
    pub moves: Vec<(Uuid, String, u64)>,
}

/// What applying a push needs of a store's write transaction. The transaction holds the
/// store's one write lock, so the sequence numbers it gives out commit in order.
pub(crate) trait PushTx: Timeline {
    fn newest_seq(&mut self) -> StoreResult<u64>;
    /// The stored records among `ids`.
    fn load_many(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, Stored>>;
    /// The puskesmas of each household among `ids` that the store holds.
    fn household_scopes(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, String>>;
    /// Writes a push: its sequences, then the group members it keeps (checked against the
    /// store as it was before the push), then its records, then household moves (members
    /// re-scoped and re-sequenced with their groups).
    fn write_push(&mut self, writes: &PushWrites) -> StoreResult<()>;
}

/// Merges every group of a push; a refusal anywhere returns before anything is written.
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
    let ids: Vec<Uuid> = push
        .groups
        .iter()
        .flat_map(|g| g.records.iter().map(|r| r.id))
        .collect();
    let mut stored = tx.load_many(&ids)?;
    let households: Vec<Uuid> = push
        .groups
        .iter()
        .flat_map(|g| g.records.iter())
        .flat_map(|r| {
            let from_stored = stored.get(&r.id).map(|s| scope_link(s.kind, &s.state));
            [Some(r.link.clone()), from_stored]
        })
        .filter_map(|link| match link {
            Some(ScopeLink::Member(Some(household))) => Some(household),
            _ => None,
        })
        .collect();
    // Households this push writes join these as it goes.
    let mut scopes = tx.household_scopes(&households)?;

    let mut seq = tx.newest_seq()?;
    let mut outcome = PushOutcome::default();
    let mut writes = PushWrites::default();
    let now = now_secs();
    for (g, group) in push.groups.into_iter().enumerate() {
        let mut changed = Vec::new();
        for (r, record) in group.records.into_iter().enumerate() {
            let at = format!("groups[{g}].records[{r}]");
            let existing = stored.remove(&record.id);
            let had = existing
                .as_ref()
                .is_none_or(|s| s.seq <= pulled_to || s.echo == Some(device.id));
            if let Some(write) = merge_one(&scopes, device, record, existing, had, &at)? {
                if write.kind == RecordKind::Household {
                    scopes.insert(write.id, write.puskesmas.clone());
                }
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
        writes.sequences.push((seq, token, device.id, now));
        for write in changed {
            if let Some(old) = write.old_seq {
                writes.kept.push((old, write.id));
            }
            if let Some(moved_from) = &write.moved_from {
                // A household moved to another puskesmas: its members follow it, and reach
                // the new puskesmas's devices at this sequence.
                tracing::info!(from = %moved_from, to = %write.puskesmas, "household moved");
                writes.moves.push((write.id, write.puskesmas.clone(), seq));
            }
            writes.records.push((write, seq));
        }
    }
    outcome.token = match writes.sequences.last() {
        Some((_, token, _, _)) => *token as u64,
        None if seq > 0 => tx.token_of(seq)?.unwrap_or(0),
        None => 0,
    };
    tx.write_push(&writes)?;
    outcome.seq = seq;
    Ok(outcome)
}
