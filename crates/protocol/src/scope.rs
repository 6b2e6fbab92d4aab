//! Which puskesmas a record belongs to, read from its state: the server derives every
//! device's scope itself and never trusts one sent by a client.
//!
//! A household names its puskesmas; every other record names its household and belongs to
//! that household's puskesmas. So when a household moves into another puskesmas's area, its
//! members, visits, referrals and follow-ups move with it.

use cageur_model::{FieldKey, RecordKind, Value, followup, household, person, referral, visit};
use uuid::Uuid;

use crate::DeviceNumber;
use crate::policy::policy;
use crate::record::RecordState;

/// What decides a record's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeLink {
    /// A household, in this puskesmas's area (`None` if the state does not say: a delta
    /// that does not carry the field, or a damaged record).
    Household(Option<String>),
    /// A record of this household.
    Member(Option<Uuid>),
}

/// The field that links a record of `kind` to its scope.
pub fn link_field(kind: RecordKind) -> FieldKey {
    FieldKey(match kind {
        RecordKind::Household => household::field::PUSKESMAS,
        RecordKind::Person => person::field::HOUSEHOLD,
        RecordKind::Visit => visit::field::HOUSEHOLD,
        RecordKind::Referral => referral::field::HOUSEHOLD,
        RecordKind::FollowUp => followup::field::HOUSEHOLD,
    })
}

/// The scope link of a record, by the value every replica shows.
pub fn scope_link(kind: RecordKind, state: &RecordState) -> ScopeLink {
    let shown = state
        .field(link_field(kind), &policy(kind))
        .map(|f| f.shown.value);
    match kind {
        RecordKind::Household => ScopeLink::Household(match shown {
            Some(Value::Text(code)) => Some(code),
            _ => None,
        }),
        _ => ScopeLink::Member(match shown {
            Some(Value::Id(id)) => Some(id),
            _ => None,
        }),
    }
}

/// The device that wrote the link a record shows: for a household, the one that registered
/// it or moved it last.
pub fn link_writer(kind: RecordKind, state: &RecordState) -> Option<DeviceNumber> {
    state
        .field(link_field(kind), &policy(kind))
        .map(|f| f.shown.device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Author;
    use cageur_model::Role;

    fn author(device: u32) -> Author {
        Author {
            device,
            worker: 1,
            role: Role::Nurse,
        }
    }

    #[test]
    fn a_household_names_its_puskesmas() {
        let mut state = RecordState::new();
        state.write(
            author(1),
            [(
                link_field(RecordKind::Household),
                Value::Text("P001".into()),
            )],
        );
        assert_eq!(
            scope_link(RecordKind::Household, &state),
            ScopeLink::Household(Some("P001".into()))
        );
        state.write(
            author(1),
            [(
                link_field(RecordKind::Household),
                Value::Text("P002".into()),
            )],
        );
        assert_eq!(
            scope_link(RecordKind::Household, &state),
            ScopeLink::Household(Some("P002".into()))
        );
    }

    #[test]
    fn a_member_names_its_household() {
        let household = Uuid::now_v7();
        for kind in [
            RecordKind::Person,
            RecordKind::Visit,
            RecordKind::Referral,
            RecordKind::FollowUp,
        ] {
            let mut state = RecordState::new();
            state.write(author(2), [(link_field(kind), Value::Id(household))]);
            assert_eq!(scope_link(kind, &state), ScopeLink::Member(Some(household)));
        }
    }

    #[test]
    fn the_link_writer_is_the_device_that_moved_a_household_last() {
        let mut state = RecordState::new();
        let puskesmas = FieldKey(household::field::PUSKESMAS);
        state.write(author(3), [(puskesmas, Value::Text("P1".into()))]);
        assert_eq!(link_writer(RecordKind::Household, &state), Some(3));
        state.write(author(8), [(puskesmas, Value::Text("P2".into()))]);
        assert_eq!(link_writer(RecordKind::Household, &state), Some(8));
        assert_eq!(link_writer(RecordKind::Person, &state), None);
    }

    #[test]
    fn a_state_without_the_field_has_no_scope() {
        let state = RecordState::new();
        assert_eq!(
            scope_link(RecordKind::Visit, &state),
            ScopeLink::Member(None)
        );
    }
}
