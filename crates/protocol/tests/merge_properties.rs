//! Property tests of [`RecordState::merge`]: the state merge is commutative, associative and
//! idempotent, so replicas that have exchanged the same states converge whatever order the
//! states arrived in, down to the stored bytes; and a delta since what a replica holds merges
//! like the whole state.
//!
//! Each case runs a random program of writes, resolutions and syncs on 3 or 4 replicas (each
//! its own device) that start from a common state, then checks the algebra on the replicas'
//! final states, including every order of merging all of them.
//!
//! Regression: the record was first a `crdts::Map`, whose state merge applies reset-remove to
//! the values of a field the other state lacks, trimming their clocks; an older state arriving
//! later then brought an overwritten value back as a conflict, so merge was neither idempotent
//! nor associative. These properties found it;
//! `merging_states_already_contained_changes_nothing` and
//! `an_overwritten_value_stays_overwritten_whatever_order_states_arrive` are its minimal cases.

use cageur_model::{FieldKey, Role, Value};
use cageur_protocol::{Author, DecodedState, NoSettling, RecordClock, RecordState};
use proptest::prelude::*;

/// Replicas a program may address; a case uses the first 3 or 4.
const MAX_REPLICAS: usize = 4;

fn author(replica: usize) -> Author {
    let device = u32::try_from(replica).expect("few replicas") + 1;
    Author {
        device,
        worker: device * 10,
        role: Role::Nurse,
    }
}

#[derive(Debug, Clone)]
enum Step {
    Write {
        replica: usize,
        field: FieldKey,
        value: Value,
    },
    Resolve {
        replica: usize,
        field: FieldKey,
        value: Value,
    },
    /// `to.merge(from.clone())`.
    Sync { from: usize, to: usize },
}

#[derive(Debug, Clone)]
struct Program {
    replicas: usize,
    /// Fields written by replica 0 before every replica takes a copy; empty means the replicas
    /// start from the common empty record.
    base: Vec<(FieldKey, Value)>,
    steps: Vec<Step>,
}

fn field() -> impl Strategy<Value = FieldKey> {
    prop_oneof![
        1 => Just(FieldKey::DELETED),
        4 => (10u32..14).prop_map(FieldKey),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Null), non_null_value()]
}

fn non_null_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Bool(true)),
        Just(Value::Bool(false)),
        Just(Value::Int(0)),
        Just(Value::Int(7)),
        Just(Value::Text("Siti".to_owned())),
        Just(Value::Text("Sity".to_owned())),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let replica = 0..MAX_REPLICAS;
    prop_oneof![
        4 => (replica.clone(), field(), value())
            .prop_map(|(replica, field, value)| Step::Write { replica, field, value }),
        1 => (replica.clone(), field(), value())
            .prop_map(|(replica, field, value)| Step::Resolve { replica, field, value }),
        3 => (replica.clone(), replica).prop_map(|(from, to)| Step::Sync { from, to }),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    (
        3..=MAX_REPLICAS,
        prop::collection::vec((field(), value()), 0..4),
        prop::collection::vec(step(), 0..40),
    )
        .prop_map(|(replicas, base, steps)| Program {
            replicas,
            base,
            steps,
        })
}

/// Runs the program and returns every replica's final state.
fn run(program: &Program) -> Vec<RecordState> {
    let mut base = RecordState::new();
    base.write(author(0), program.base.iter().cloned());
    let n = program.replicas;
    let mut replicas = vec![base; n];
    for step in &program.steps {
        match step {
            Step::Write {
                replica,
                field,
                value,
            } => {
                let r = replica % n;
                replicas[r].write(author(r), [(*field, value.clone())]);
            }
            Step::Resolve {
                replica,
                field,
                value,
            } => {
                let r = replica % n;
                replicas[r].resolve(author(r), *field, value.clone());
            }
            Step::Sync { from, to } => {
                let from = replicas[from % n].clone();
                replicas[to % n].merge(from);
            }
        }
    }
    replicas
}

fn union(a: &RecordState, b: &RecordState) -> RecordState {
    let mut merged = a.clone();
    merged.merge(b.clone());
    merged
}

/// Every state merged into one, in the order given.
fn merge_all(states: &[RecordState], order: &[usize]) -> RecordState {
    let mut merged = states[order[0]].clone();
    for &i in &order[1..] {
        merged.merge(states[i].clone());
    }
    merged
}

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn extend(prefix: &mut Vec<usize>, n: usize, out: &mut Vec<Vec<usize>>) {
        if prefix.len() == n {
            out.push(prefix.clone());
            return;
        }
        for i in 0..n {
            if !prefix.contains(&i) {
                prefix.push(i);
                extend(prefix, n, out);
                prefix.pop();
            }
        }
    }
    let mut out = Vec::new();
    extend(&mut Vec::new(), n, &mut out);
    out
}

/// What a replica shows and stores, compared whole so that a failure names what differs.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    shown: cageur_model::FieldMap,
    conflicts: Vec<cageur_protocol::Conflict>,
    bytes: String,
}

fn observe(state: &RecordState) -> Observed {
    Observed {
        shown: state.shown(&NoSettling),
        conflicts: state.conflicts(&NoSettling),
        bytes: hex::encode(state.encode()),
    }
}

fn assert_round_trips(state: &RecordState) -> Result<(), TestCaseError> {
    let bytes = state.encode();
    let decoded = RecordState::decode(&bytes)
        .map_err(|e| TestCaseError::fail(format!("own encoding does not decode: {e}")))?;
    prop_assert_eq!(hex::encode(decoded.encode()), hex::encode(&bytes));
    prop_assert_eq!(decoded.shown(&NoSettling), state.shown(&NoSettling));
    prop_assert_eq!(decoded.conflicts(&NoSettling), state.conflicts(&NoSettling));
    // The short way a replica takes for a record it does not hold yet sees the same.
    let read = DecodedState::read(&bytes)
        .map_err(|e| TestCaseError::fail(format!("own encoding does not read: {e}")))?;
    prop_assert!(read.is_canonical());
    let summary = read.into_summary(&NoSettling);
    prop_assert_eq!(&summary, &state.summary(&NoSettling));
    prop_assert_eq!(&summary.shown, &state.shown(&NoSettling));
    prop_assert_eq!(summary.conflicts, state.conflicts(&NoSettling).len());
    prop_assert_eq!(summary.is_deleted(), state.is_deleted());
    Ok(())
}

/// The common state a targeted property starts from: a random program's replicas, all merged.
fn base_state(program: &Program) -> RecordState {
    let states = run(program);
    let order: Vec<usize> = (0..states.len()).collect();
    merge_all(&states, &order)
}

/// What a person sees of a record: its shown fields and its conflicts.
fn view(state: &RecordState) -> (cageur_model::FieldMap, Vec<cageur_protocol::Conflict>) {
    (state.shown(&NoSettling), state.conflicts(&NoSettling))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Integration tests have no lib.rs for proptest to put a regressions file beside; a
        // case that fails is kept below as a plain test instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Delta pushes: what a replica lacks of another's state, merged in, gives exactly what the
    /// whole state would, and the known clock survives its bytes.
    #[test]
    fn a_delta_since_what_a_replica_holds_merges_like_the_whole_state(program in program()) {
        let states = run(&program);
        for a in &states {
            let known = a.clock();
            prop_assert_eq!(&RecordClock::decode(&known.encode()).unwrap(), &known);
            for b in &states {
                let delta = b.delta_since(&known);
                prop_assert_eq!(observe(&union(a, &delta)), observe(&union(a, b)));
            }
        }
    }

    #[test]
    fn merge_is_commutative(program in program()) {
        let states = run(&program);
        for a in &states {
            for b in &states {
                prop_assert_eq!(observe(&union(a, b)), observe(&union(b, a)));
            }
        }
    }

    #[test]
    fn merge_is_associative(program in program()) {
        let states = run(&program);
        for a in &states {
            for b in &states {
                for c in &states {
                    let left = union(&union(a, b), c);
                    let right = union(a, &union(b, c));
                    prop_assert_eq!(observe(&left), observe(&right));
                }
            }
        }
    }

    #[test]
    fn merge_is_idempotent(program in program()) {
        let states = run(&program);
        for a in &states {
            prop_assert_eq!(observe(&union(a, a)), observe(a));
            for b in &states {
                let ab = union(a, b);
                prop_assert_eq!(observe(&union(&ab, b)), observe(&ab));
                prop_assert!(ab.contains(a) && ab.contains(b));
            }
        }
    }

    #[test]
    fn replicas_converge_in_every_merge_order(program in program()) {
        let states = run(&program);
        let orders = permutations(states.len());
        prop_assert_eq!(orders.len(), if states.len() == 3 { 6 } else { 24 });
        let first = observe(&merge_all(&states, &orders[0]));
        for order in &orders[1..] {
            prop_assert_eq!(&observe(&merge_all(&states, order)), &first, "order {:?}", order);
        }
    }

    #[test]
    fn encoding_round_trips(program in program()) {
        let states = run(&program);
        for state in &states {
            assert_round_trips(state)?;
        }
        let order: Vec<usize> = (0..states.len()).collect();
        assert_round_trips(&merge_all(&states, &order))?;
    }

    #[test]
    fn concurrent_writes_to_different_fields_both_survive(
        program in program(),
        (a, b) in (0..3usize, 1..3usize).prop_map(|(a, step)| (a, (a + step) % 3)),
        (fa, fb) in (10u32..14, 1..4u32).prop_map(|(f, step)| (FieldKey(f), FieldKey(10 + (f - 10 + step) % 4))),
        (va, vb) in (non_null_value(), non_null_value()),
    ) {
        let base = base_state(&program);
        let mut replicas = vec![base; 3];
        let wrote_a = replicas[a].write(author(a), [(fa, va.clone())]);
        let wrote_b = replicas[b].write(author(b), [(fb, vb.clone())]);
        let ab = union(&replicas[a], &replicas[b]);
        let ba = union(&replicas[b], &replicas[a]);
        prop_assert_eq!(observe(&ab), observe(&ba));
        let shown = ab.shown(&NoSettling);
        prop_assert_eq!(shown.get(&fa), Some(&va));
        prop_assert_eq!(shown.get(&fb), Some(&vb));
        let conflicted: Vec<FieldKey> = ab.conflicts(&NoSettling).iter().map(|c| c.field).collect();
        if wrote_a == 1 {
            prop_assert!(!conflicted.contains(&fa), "a fresh write leaves no conflict");
        }
        if wrote_b == 1 {
            prop_assert!(!conflicted.contains(&fb), "a fresh write leaves no conflict");
        }
    }

    #[test]
    fn concurrent_writes_to_one_field_conflict_until_resolved(
        program in program(),
        field in field(),
        (va, vb) in (non_null_value(), non_null_value()),
        resolver in 0..3usize,
        resolution in value(),
        sync_order in Just(permutations(3)).prop_shuffle(),
    ) {
        let base = base_state(&program);
        let before = base.shown(&NoSettling).get(&field).cloned();
        prop_assume!(va != vb && before.as_ref() != Some(&va) && before.as_ref() != Some(&vb));

        // Replicas 0 and 1 write the field concurrently; replica 2 only syncs.
        let mut replicas = vec![base; 3];
        prop_assert_eq!(replicas[0].write(author(0), [(field, va.clone())]), 1);
        prop_assert_eq!(replicas[1].write(author(1), [(field, vb.clone())]), 1);

        // Everyone receives everyone's state, each replica in its own order.
        let sent = replicas.clone();
        for (r, order) in sync_order.iter().take(3).enumerate() {
            for &from in order {
                replicas[r].merge(sent[from].clone());
            }
        }
        let shown_first = replicas[0].shown(&NoSettling)[&field].clone();
        prop_assert!(shown_first == va || shown_first == vb);
        for replica in &replicas {
            prop_assert_eq!(view(replica), view(&replicas[0]));
            let conflict = replica
                .conflicts(&NoSettling)
                .into_iter()
                .find(|c| c.field == field)
                .expect("the field is in conflict");
            let values: Vec<&Value> = conflict.values.iter().map(|c| &c.value).collect();
            prop_assert_eq!(values.len(), 2);
            prop_assert!(values.contains(&&va) && values.contains(&&vb));
            prop_assert_eq!(values[0], &shown_first, "the shown value is listed first");
        }

        // One replica resolves; the others merge its state.
        replicas[resolver].resolve(author(resolver), field, resolution.clone());
        let resolved = replicas[resolver].clone();
        for replica in &mut replicas {
            replica.merge(resolved.clone());
        }
        for replica in &replicas {
            prop_assert!(replica.conflicts(&NoSettling).iter().all(|c| c.field != field));
            prop_assert_eq!(replica.shown(&NoSettling).get(&field).cloned(), Some(resolution.clone()));
            prop_assert_eq!(view(replica), view(&resolved));
        }
    }

    #[test]
    fn a_tombstone_concurrent_with_an_edit_keeps_both(
        program in program(),
        deleter in 0..3usize,
        edited in (10u32..14).prop_map(FieldKey),
        edit in non_null_value(),
    ) {
        let base = base_state(&program);
        let editor = (deleter + 1) % 3;
        let mut replicas = vec![base; 3];
        replicas[deleter].write(author(deleter), [(FieldKey::DELETED, Value::Bool(true))]);
        replicas[editor].write(author(editor), [(edited, edit.clone())]);
        prop_assert!(replicas[deleter].is_deleted());

        let sent = replicas.clone();
        for replica in &mut replicas {
            for other in &sent {
                replica.merge(other.clone());
            }
        }
        for replica in &replicas {
            prop_assert!(replica.is_deleted());
            prop_assert_eq!(replica.shown(&NoSettling).get(&edited).cloned(), Some(edit.clone()));
            prop_assert_eq!(view(replica), view(&replicas[0]));
        }
    }
}

#[test]
fn permutations_are_every_order() {
    assert_eq!(permutations(3).len(), 6);
    let mut four = permutations(4);
    assert_eq!(four.len(), 24);
    four.sort();
    four.dedup();
    assert_eq!(four.len(), 24);
}

// Minimal reproductions of the merge bug the properties above find (see the module comment).

const NAME: FieldKey = FieldKey(10);
const VISITS: FieldKey = FieldKey(11);
const PHONE: FieldKey = FieldKey(12);
const ADDRESS: FieldKey = FieldKey(13);

/// Device 1 creates a record; device 3 records 3 visits; device 2 receives that and corrects
/// it to 4. Returns (created, recorded, corrected).
fn overwritten_visit_count() -> (RecordState, RecordState, RecordState) {
    let mut created = RecordState::new();
    created.write(author(0), [(NAME, Value::Text("Siti".to_owned()))]);
    let mut recorded = created.clone();
    recorded.write(author(2), [(VISITS, Value::Int(3))]);
    let mut corrected = recorded.clone();
    corrected.write(author(1), [(VISITS, Value::Int(4))]);
    assert!(corrected.conflicts(&NoSettling).is_empty());
    (created, recorded, corrected)
}

#[test]
fn merging_states_already_contained_changes_nothing() {
    let (created, recorded, corrected) = overwritten_visit_count();
    assert!(corrected.contains(&created) && corrected.contains(&recorded));

    // The two older states arrive again (a retried upload), oldest first.
    let mut replica = corrected.clone();
    replica.merge(created);
    let after_created = hex::encode(replica.encode());
    replica.merge(recorded);
    assert_eq!(
        replica.conflicts(&NoSettling),
        vec![],
        "the overwritten 3 came back"
    );
    assert_eq!(replica.shown(&NoSettling), corrected.shown(&NoSettling));
    assert_eq!(
        after_created,
        hex::encode(corrected.encode()),
        "merging a contained state changed the bytes"
    );
}

#[test]
fn an_overwritten_value_stays_overwritten_whatever_order_states_arrive() {
    let (created, recorded, corrected) = overwritten_visit_count();
    // Two states each bringing something new: device 4 adds a phone number to the created
    // record; device 3, not yet having seen the correction, adds an address.
    let mut phoned = created.clone();
    phoned.write(author(3), [(PHONE, Value::Text("0812".to_owned()))]);
    let mut addressed = recorded.clone();
    addressed.write(author(2), [(ADDRESS, Value::Text("Jl. Melati".to_owned()))]);

    let mut one = corrected.clone();
    assert!(!one.contains(&phoned));
    one.merge(phoned.clone());
    assert!(!one.contains(&addressed));
    one.merge(addressed.clone());

    let mut two = corrected.clone();
    two.merge(addressed);
    two.merge(phoned);

    assert_eq!(two.conflicts(&NoSettling), vec![]);
    assert_eq!(
        one.conflicts(&NoSettling),
        vec![],
        "the overwritten 3 came back"
    );
    assert_eq!(one.shown(&NoSettling)[&VISITS], Value::Int(4));
    assert_eq!(hex::encode(one.encode()), hex::encode(two.encode()));
}
