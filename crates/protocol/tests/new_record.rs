//! [`RecordState::encode_new`], the fast path that writes a new record's envelope straight
//! from its fields, gives exactly the bytes of the CRDT path (`RecordState::new()`, `write`,
//! `encode`), for every kind of value, any author and any mix of `Null`s.

use cageur_model::{FieldKey, FieldMap, Role, Value};
use cageur_protocol::{Author, DecodedState, NoSettling, RecordState};
use proptest::prelude::*;
use uuid::Uuid;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::Int),
        1 => (any::<i64>(), 0u8..6).prop_map(|(m, s)| Value::Dec(m, s)),
        1 => "[a-zA-Z '.]{0,40}".prop_map(Value::Text),
        1 => any::<i32>().prop_map(Value::Date),
        1 => (any::<i64>(), any::<i16>()).prop_map(|(t, o)| Value::Time(t, o)),
        1 => any::<u128>().prop_map(|n| Value::Id(Uuid::from_u128(n))),
        1 => (any::<i32>(), any::<i32>()).prop_map(|(a, b)| Value::Point(a, b)),
        1 => prop::collection::btree_set(any::<u16>(), 0..5)
            .prop_map(|codes| Value::Codes(codes.into_iter().collect())),
    ]
}

fn fields() -> impl Strategy<Value = FieldMap> {
    prop::collection::btree_map((1u32..300).prop_map(FieldKey), value(), 0..120)
}

fn author() -> impl Strategy<Value = Author> {
    (any::<u32>(), any::<u32>(), 0usize..3).prop_map(|(device, worker, role)| Author {
        device,
        worker,
        role: [Role::Doctor, Role::Nurse, Role::Midwife][role],
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_new_record_encodes_as_the_crdt_path_would(author in author(), fields in fields()) {
        let mut state = RecordState::new();
        let written = state.write(author, fields.clone());
        let fast = RecordState::encode_new(author, &fields);
        if written == 0 {
            prop_assert_eq!(fast, None);
        } else {
            let bytes = fast.expect("a record with a value is written");
            prop_assert_eq!(&bytes, &state.encode());
            // And it reads back as a canonical state showing exactly the non-null fields.
            let read = DecodedState::read(&bytes).expect("the fast path's bytes read back");
            prop_assert!(read.is_canonical());
            let summary = read.into_summary(&NoSettling);
            let expected: FieldMap = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
            prop_assert_eq!(summary.shown, expected);
            prop_assert_eq!(summary.conflicts, 0);
        }
    }
}
