//! Applying a push, the same for every store: each store gives the few reads and writes it
//! needs ([`PushTx`]) inside its own write transaction.

use std::collections::{HashMap, HashSet};

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use cageur_protocol::scope::{ScopeLink, link_writer, scope_link};
use rand::Rng;
use uuid::Uuid;

use super::pull::{Timeline, timeline_changed};
use super::records::{MergedWrite, ScopeRules, merge_one};
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
    /// Households that moved puskesmas: id, new puskesmas, old puskesmas, sequence their
    /// members move to.
    pub moves: Vec<(Uuid, String, String, u64)>,
    /// Records a device wrote into a household that moved away from its puskesmas: they
    /// depart from its puskesmas too (puskesmas, id, sequence), so it drops them.
    pub departures: Vec<(String, Uuid, u64)>,
}

/// What applying a push needs of a store's write transaction. The transaction holds the
/// store's one write lock, so the sequence numbers it gives out commit in order.
pub(crate) trait PushTx: Timeline {
    fn newest_seq(&mut self) -> StoreResult<u64>;
    /// The stored records among `ids`.
    fn load_many(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, Stored>>;
    /// The puskesmas of each household among `ids` that the store holds.
    fn household_scopes(&mut self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, String>>;
    /// Which of `ids` departed from `puskesmas` (their household moved out of it).
    fn departed(&mut self, puskesmas: &str, ids: &[Uuid]) -> StoreResult<HashSet<Uuid>>;
    /// The puskesmas of a device, if the store knows the device.
    fn device_puskesmas(&mut self, device: u32) -> StoreResult<Option<String>>;
    /// Writes a push: its sequences, then the group members it keeps (checked against the
    /// store as it was before the push), then its records, then household moves (members
    /// re-scoped and re-sequenced with their groups).
    fn write_push(&mut self, writes: &PushWrites) -> StoreResult<()>;
}

/// Moves a push carries that the store may not know of: a device may receive a move and
/// then meet a server restored from a backup older than it (found by the simulation, seeds
/// 469 and 1046 with moves). A move is a puskesmas's own to make, so who wrote it decides:
/// - a stored household of another puskesmas that a device of that puskesmas moved into this
///   device's is the device's to write (returned first: moved in);
/// - a stored household that a device of this device's puskesmas moved out of it departed
///   from it, as if the store had noted the departure (added to `departed`).
fn carried_moves(
    tx: &mut dyn PushTx,
    device: &DeviceRow,
    push: &PreparedPush,
    stored: &HashMap<Uuid, Stored>,
    departed: &mut HashSet<Uuid>,
) -> StoreResult<HashSet<Uuid>> {
    let mut moved_in = HashSet::new();
    let households = push
        .groups
        .iter()
        .flat_map(|g| &g.records)
        .filter(|r| r.kind == RecordKind::Household);
    for record in households {
        let Some(old) = stored.get(&record.id) else {
            continue;
        };
        if old.puskesmas == device.puskesmas || departed.contains(&record.id) {
            continue;
        }
        let mut merged = old.state.clone();
        merged.merge(record.state.clone());
        let Some(writer) = link_writer(RecordKind::Household, &merged) else {
            continue;
        };
        let ScopeLink::Household(Some(now_in)) = scope_link(RecordKind::Household, &merged) else {
            continue;
        };
        let writer_in = tx.device_puskesmas(writer)?;
        if now_in == device.puskesmas && writer_in.as_deref() == Some(old.puskesmas.as_str()) {
            moved_in.insert(record.id);
        } else if now_in != device.puskesmas && writer_in.as_deref() == Some(&device.puskesmas) {
            departed.insert(record.id);
        }
    }
    Ok(moved_in)
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
    // What left this device's scope may still be written by it (see `departures`).
    let mut ids_and_households = ids.clone();
    ids_and_households.extend(&households);
    let mut departed = tx.departed(&device.puskesmas, &ids_and_households)?;
    let moved_in = carried_moves(tx, device, &push, &stored, &mut departed)?;
    for household in &moved_in {
        scopes.insert(*household, device.puskesmas.clone());
    }

    let mut seq = tx.newest_seq()?;
    let mut outcome = PushOutcome::default();
    let mut writes = PushWrites::default();
    let now = now_secs();
    let origin = push.origin;
    for (g, group) in push.groups.into_iter().enumerate() {
        let mut changed = Vec::new();
        for (r, record) in group.records.into_iter().enumerate() {
            let at = format!("groups[{g}].records[{r}]");
            let existing = stored.remove(&record.id);
            let had = existing
                .as_ref()
                .is_none_or(|s| s.seq <= pulled_to || s.echo == Some(device.id));
            let rules = ScopeRules {
                households: &scopes,
                departed: &departed,
                moved_in: &moved_in,
                origin,
            };
            if let Some(write) = merge_one(&rules, device, record, existing, had, &at)? {
                if write.kind == RecordKind::Household {
                    scopes.insert(write.id, write.puskesmas.clone());
                    // Moved away by this push: what the device wrote under it, later in
                    // the same push, follows it.
                    if write.puskesmas != device.puskesmas {
                        departed.insert(write.id);
                    }
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
                writes
                    .moves
                    .push((write.id, write.puskesmas.clone(), moved_from.clone(), seq));
            }
            if write.puskesmas != device.puskesmas {
                writes
                    .departures
                    .push((device.puskesmas.clone(), write.id, seq));
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
