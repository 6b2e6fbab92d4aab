//! Reading a push before any of it is stored: every record decoded and checked, so that one
//! bad record refuses the whole push and nothing is written.

use std::collections::{HashMap, HashSet};

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use cageur_protocol::scope::{ScopeLink, scope_link};
use cageur_protocol::sync::{
    Cursor, ErrorBody, ErrorCode, MAX_GROUP_RECORDS, MAX_PUSH_RECORDS, PushRequest,
};
use uuid::Uuid;

use super::push::Stored;
use super::{DeviceRow, StoreError, StoreResult};

/// A pushed record, decoded.
#[derive(Debug, Clone)]
pub struct IncomingRecord {
    pub kind: RecordKind,
    pub id: Uuid,
    pub state: RecordState,
    /// Where the pushed state says the record belongs (it may be a delta that does not say).
    pub link: ScopeLink,
}

/// A pushed change group, decoded.
#[derive(Debug, Clone)]
pub struct IncomingGroup {
    pub change_seq: i64,
    pub records: Vec<IncomingRecord>,
}

/// A push, decoded and checked, ready for a store.
#[derive(Debug, Clone)]
pub struct PreparedPush {
    /// How far the pushing device has pulled (verified by the store against its tokens).
    pub cursor: Cursor,
    pub groups: Vec<IncomingGroup>,
    /// Whose records these are, which decides what becomes of one the device may not write.
    pub origin: PushOrigin,
}

/// Where a push's records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOrigin {
    /// The device's own changes: a record it may not write refuses the whole push.
    Changes,
    /// Records read out of a damaged tablet file (`cageur-admin salvage`), every one whole,
    /// pushed on the device's behalf: one it may not write (another puskesmas's by now) is
    /// passed over instead of refusing the rest. One whose household was lost with the
    /// damaged pages is the device's, as in a push of its changes: passing it over would lose
    /// an intact record.
    Rescued,
    /// Copies of departed records a device offers after a timeline reset (`POST /v1/offer`):
    /// passed over like rescued ones, and a copy whose household is neither stored nor
    /// offered with it is not taken, since where it belongs is unknown.
    Copies,
}

impl PreparedPush {
    /// Records in the push.
    pub fn records(&self) -> u64 {
        self.groups.iter().map(|g| g.records.len() as u64).sum()
    }
}

/// Decodes and checks a push: sizes, kinds, states, no record twice.
pub fn prepare_push(request: PushRequest) -> Result<PreparedPush, ErrorBody> {
    let total: usize = request.groups.iter().map(|g| g.records.len()).sum();
    if total > MAX_PUSH_RECORDS {
        return Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!("{total} records in one push; at most {MAX_PUSH_RECORDS} are accepted"),
        )
        .at("groups"));
    }
    let mut seen = std::collections::HashSet::new();
    let mut groups = Vec::with_capacity(request.groups.len());
    for (g, group) in request.groups.into_iter().enumerate() {
        if group.records.len() > MAX_GROUP_RECORDS {
            return Err(ErrorBody::new(
                ErrorCode::TooLarge,
                format!("at most {MAX_GROUP_RECORDS} records per change group"),
            )
            .at(format!("groups[{g}].records")));
        }
        if group.records.is_empty() {
            return Err(
                ErrorBody::new(ErrorCode::InvalidRecord, "a change group has no records")
                    .at(format!("groups[{g}].records")),
            );
        }
        let mut records = Vec::with_capacity(group.records.len());
        for (r, wire) in group.records.into_iter().enumerate() {
            let at = |field: &str| format!("groups[{g}].records[{r}].{field}");
            let kind = RecordKind::from_code(wire.kind).ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::InvalidRecord,
                    format!("unknown record kind {}", wire.kind),
                )
                .at(at("kind"))
            })?;
            if !seen.insert(wire.id) {
                return Err(ErrorBody::new(
                    ErrorCode::InvalidRecord,
                    "the same record appears twice in one push",
                )
                .at(at("id")));
            }
            let state = RecordState::decode(&wire.state).map_err(|e| {
                ErrorBody::new(ErrorCode::InvalidRecord, e.to_string()).at(at("state"))
            })?;
            let link = scope_link(kind, &state);
            records.push(IncomingRecord {
                kind,
                id: wire.id,
                state,
                link,
            });
        }
        groups.push(IncomingGroup {
            change_seq: group.change_seq,
            records,
        });
    }
    Ok(PreparedPush {
        cursor: request.cursor,
        groups,
        origin: PushOrigin::Changes,
    })
}

/// A record to write after merging: its merged state and where it now belongs.
pub(crate) struct MergedWrite {
    pub kind: RecordKind,
    pub id: Uuid,
    pub state: RecordState,
    pub puskesmas: String,
    pub household: Option<Uuid>,
    /// The sequence the record was at before (its old group moves with it).
    pub old_seq: Option<u64>,
    /// For a household that changed puskesmas: the one it left.
    pub moved_from: Option<String>,
    /// The device whose own state the merged state is (it held everything the store had),
    /// so that pulling it back would bring that device nothing.
    pub echo: Option<u32>,
}

/// What decides whether a device may write a record, as a push goes.
pub(crate) struct ScopeRules<'a> {
    /// The puskesmas of each household the push names, stored or written by it so far.
    pub households: &'a HashMap<Uuid, String>,
    /// Records and households that departed from the device's puskesmas: it may still write
    /// the changes it made before it knew.
    pub departed: &'a HashSet<Uuid>,
    /// Households moved into the device's puskesmas by a device of theirs, carried by this
    /// push (see `push::carried_moves`): they, and their records, are the device's to write.
    pub moved_in: &'a HashSet<Uuid>,
    /// Whose records these are ([`PreparedPush::origin`]).
    pub origin: PushOrigin,
}

impl ScopeRules<'_> {
    /// Whether a record the device may not write is passed over rather than refusing all.
    fn passes_over(&self) -> bool {
        self.origin != PushOrigin::Changes
    }

    /// Whether a device may write a stored record of another puskesmas than its own.
    fn may_write_foreign(&self, id: Uuid, stored: &Stored) -> bool {
        let household = match scope_link(stored.kind, &stored.state) {
            ScopeLink::Member(Some(household)) => Some(household),
            _ => None,
        };
        self.departed.contains(&id)
            || self.moved_in.contains(&id)
            || household.is_some_and(|h| self.moved_in.contains(&h) || self.departed.contains(&h))
    }
}

/// Merges one pushed record into what the store holds, checking the device's scope: a device
/// writes only records of its puskesmas (a household it holds may move out of it). Returns
/// `None` when the store already contained the pushed state, or passes over an offered copy.
/// `device_had_stored`: the device is known to hold the stored state, so the merge is exactly
/// the device's own state.
pub(crate) fn merge_one(
    rules: &ScopeRules<'_>,
    device: &DeviceRow,
    record: IncomingRecord,
    existing: Option<Stored>,
    device_had_stored: bool,
    at: &str,
) -> StoreResult<Option<MergedWrite>> {
    let out_of_scope = || {
        StoreError::Refused(
            ErrorBody::new(
                ErrorCode::OutOfScope,
                format!(
                    "this {} belongs to another puskesmas than the device's",
                    record.kind
                ),
            )
            .at(at.to_owned()),
        )
    };
    if let Some(stored) = &existing {
        if stored.kind != record.kind {
            return Err(StoreError::Refused(
                ErrorBody::new(
                    ErrorCode::InvalidRecord,
                    format!(
                        "record is a {} on the server, not a {}",
                        stored.kind, record.kind
                    ),
                )
                .at(format!("{at}.kind")),
            ));
        }
        if stored.puskesmas != device.puskesmas && !rules.may_write_foreign(record.id, stored) {
            return if rules.passes_over() {
                Ok(None)
            } else {
                Err(out_of_scope())
            };
        }
    }
    let (old_seq, old_scope, merged) = match existing {
        Some(stored) => {
            // Whether the push adds anything is decided by merging, not by comparing record
            // clocks: a state stored from a delta that reached a server lacking the record
            // (an old request delivered after a restore) carries the whole clock with only
            // some fields, and a clock comparison would then refuse forever the fields that
            // complete it (found by the simulation, seed 120).
            let before = stored.state.encode();
            let mut state = stored.state;
            state.merge(record.state);
            // A record that left the device's puskesmas is written again even unchanged: its
            // new sequence carries the departure to the device, which may be the only note of
            // it left (the store restored from a backup older than the move: seed 1046).
            if state.encode() == before && stored.puskesmas == device.puskesmas {
                return Ok(None);
            }
            (Some(stored.seq), Some(stored.puskesmas), state)
        }
        None => (None, None, record.state),
    };
    let (puskesmas, household) = match scope_link(record.kind, &merged) {
        // A household may move elsewhere, even one the server meets for the first time
        // already moved (registered and moved offline, or re-pushed whole after a server
        // restore): it is taken as registered at the device's puskesmas, then moved.
        ScopeLink::Household(Some(code)) => (code, None),
        ScopeLink::Household(None) => (device.puskesmas.clone(), None),
        ScopeLink::Member(Some(household)) => {
            match rules.households.get(&household).cloned() {
                // A record of a household that moved away from the device's puskesmas,
                // changed before the device knew (or a copy of one the device held, offered
                // back to a restored store): it follows its household.
                Some(code)
                    if code != device.puskesmas
                        && (rules.departed.contains(&household) || rules.passes_over()) =>
                {
                    (code, Some(household))
                }
                Some(code) if code != device.puskesmas => return Err(out_of_scope()),
                Some(code) => (code, Some(household)),
                // A copy whose household is neither stored nor offered with it: its scope
                // is unknown, so it is not taken.
                None if rules.origin == PushOrigin::Copies => return Ok(None),
                // The household has not reached the server yet (an urgent referral travels
                // first); the pushing device vouches for it, and its arrival settles it.
                None => (device.puskesmas.clone(), Some(household)),
            }
        }
        ScopeLink::Member(None) => (device.puskesmas.clone(), None),
    };
    let moved_from = match record.kind {
        RecordKind::Household => Some(old_scope.unwrap_or_else(|| device.puskesmas.clone()))
            .filter(|old| *old != puskesmas),
        _ => None,
    };
    Ok(Some(MergedWrite {
        kind: record.kind,
        id: record.id,
        state: merged,
        puskesmas,
        household,
        old_seq,
        moved_from,
        echo: device_had_stored.then_some(device.id),
    }))
}
