//! Reading a push before any of it is stored: every record decoded and checked, so that one
//! bad record refuses the whole push and nothing is written.

use std::collections::HashMap;

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

/// Merges one pushed record into what the store holds, checking the device's scope: a device
/// writes only records of its puskesmas (a household it holds may move out of it). Returns
/// `None` when the store already contained the pushed state. `device_had_stored`: the device
/// is known to hold the stored state, so the merge is exactly the device's own state.
pub(crate) fn merge_one(
    household_scopes: &HashMap<Uuid, String>,
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
        if stored.puskesmas != device.puskesmas {
            return Err(out_of_scope());
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
            if state.encode() == before {
                return Ok(None);
            }
            (Some(stored.seq), Some(stored.puskesmas), state)
        }
        None => (None, None, record.state),
    };
    let (puskesmas, household) = match scope_link(record.kind, &merged) {
        ScopeLink::Household(Some(code)) => {
            // A new household must be the device's own; one it holds may move elsewhere.
            if old_scope.is_none() && code != device.puskesmas {
                return Err(out_of_scope());
            }
            (code, None)
        }
        ScopeLink::Household(None) => (device.puskesmas.clone(), None),
        ScopeLink::Member(Some(household)) => {
            match household_scopes.get(&household).cloned() {
                Some(code) if code != device.puskesmas => return Err(out_of_scope()),
                Some(code) => (code, Some(household)),
                // The household has not reached the server yet (an urgent referral travels
                // first); the pushing device vouches for it, and its arrival settles it.
                None => (device.puskesmas.clone(), Some(household)),
            }
        }
        ScopeLink::Member(None) => (device.puskesmas.clone(), None),
    };
    let moved_from = match (&old_scope, record.kind) {
        (Some(old), RecordKind::Household) if *old != puskesmas => Some(old.clone()),
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
