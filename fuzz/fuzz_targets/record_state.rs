//! Record-state envelopes (`DecodedState::read`, `RecordState::decode`, `RecordClock::decode`),
//! the bytes every pushed record, every pulled record and every stored row is read from.
//!
//! Checks, for every input that decodes:
//! - the fast path (`DecodedState`: summary without building CRDTs) agrees with the full one;
//! - `is_canonical` is true exactly when the bytes are what `encode` writes, since replicas
//!   store canonical bytes as they came and compare digests of them;
//! - `encode` gives bytes that decode to the same state, canonical, with the same digest;
//! - merge is idempotent, commutative and associative, for the state, two concurrent edits of
//!   it by devices that never wrote to it, and reference states that share no writer with it;
//!   both concurrent values survive as a conflict; `contains` agrees with merge; and a delta
//!   merges like the whole state (what sync relies on to converge);
//! - the state stays writable: a device can write to it and the result encodes and decodes.
//!
//! The same bytes are also read as a record clock, which must round-trip.

#![no_main]

use cageur_fuzz::{author, reference_states};
use cageur_model::{FieldKey, RecordKind, Value};
use cageur_protocol::{
    DecodedState, NoSettling, RecordClock, RecordState, SettlePolicy, policy, state_digest,
};
use libfuzzer_sys::fuzz_target;

fn merged(a: &RecordState, b: &RecordState) -> RecordState {
    let mut out = a.clone();
    out.merge(b.clone());
    out
}

fn check_clock(data: &[u8]) {
    let Ok(clock) = RecordClock::decode(data) else {
        return;
    };
    let bytes = clock.encode();
    assert_eq!(RecordClock::decode(&bytes).as_ref(), Ok(&clock));
    // Bytes that decode are canonical unless postcard took an overlong varint.
    assert!(bytes.len() <= data.len());
    for reference in reference_states() {
        // What a replica that claims to know `clock` is sent: part of a real state, which
        // must encode and decode whatever the claim.
        let delta = reference.delta_since(&clock);
        assert!(delta.encode().len() <= reference.encode().len());
        let _ = RecordState::decode(&delta.encode()).expect("a delta encodes decodably");
    }
}

fn check_state(data: &[u8]) {
    let Ok(read) = DecodedState::read(data) else {
        return;
    };
    let canonical = read.is_canonical();
    let policies: Vec<Box<dyn SettlePolicy>> = std::iter::once(Box::new(NoSettling) as Box<_>)
        .chain(
            RecordKind::ALL
                .iter()
                .map(|k| Box::new(policy(*k)) as Box<_>),
        )
        .collect();
    let summaries: Vec<_> = policies
        .iter()
        .map(|p| read.clone().into_summary(p.as_ref()))
        .collect();
    let state = read
        .into_state()
        .expect("a state that reads builds its registers");
    for (p, summary) in policies.iter().zip(&summaries) {
        assert_eq!(&state.summary(p.as_ref()), summary, "fast summary differs");
        assert_eq!(state.conflicts(p.as_ref()).len(), summary.conflicts);
        let _ = state.fields(p.as_ref());
    }
    let _ = (state.is_deleted(), state.writers());

    let bytes = state.encode();
    assert_eq!(
        canonical,
        bytes == data,
        "is_canonical disagrees with encode"
    );
    let again = DecodedState::read(&bytes).expect("encoded bytes read");
    assert!(again.is_canonical(), "encode wrote non-canonical bytes");
    let again = again.into_state().expect("encoded bytes build");
    assert_eq!(again.encode(), bytes, "encoding is not stable");
    assert_eq!(
        state_digest(data).expect("a state that reads has a digest"),
        state_digest(&bytes).expect("encoded bytes have a digest"),
        "one state, two digests"
    );

    check_merges(&state);
}

/// Two devices that never wrote to `state`, so that writes of theirs have dots of their own.
fn strangers(state: &RecordState) -> (u32, u32) {
    let writers = state.writers();
    let mut free = (1..).filter(|d| !writers.contains(d));
    (
        free.next().expect("unbounded"),
        free.next().expect("unbounded"),
    )
}

/// Whether `a` and `b` share no writer. A dot names one write, so two states that hold the
/// same dot with different values are not two replicas of one record; merging such a pair
/// need not commute, and the properties below only hold for states that could coexist.
fn disjoint(a: &RecordState, b: &RecordState) -> bool {
    let theirs = b.writers();
    a.writers().iter().all(|w| !theirs.contains(w))
}

fn check_merges(state: &RecordState) {
    let bytes = state.encode();
    assert_eq!(merged(state, state).encode(), bytes, "merge not idempotent");

    // Two devices edit field 10 concurrently, from this state.
    let (a, b) = strangers(state);
    let mut left = state.clone();
    left.resolve(author(a), FieldKey(10), Value::Text("a".into()));
    left.resolve(author(a), FieldKey(200), Value::Int(1));
    let mut right = state.clone();
    right.resolve(author(b), FieldKey(10), Value::Text("b".into()));
    for side in [&left, &right] {
        assert_eq!(
            merged(side, state).encode(),
            side.encode(),
            "an older state won"
        );
        assert_eq!(
            merged(state, side).encode(),
            side.encode(),
            "a newer state lost"
        );
        assert!(side.contains(state) && !state.contains(side));
    }
    let both = merged(&left, &right);
    assert_eq!(
        both.encode(),
        merged(&right, &left).encode(),
        "merge not commutative"
    );
    assert_eq!(
        merged(&both, state).encode(),
        both.encode(),
        "merge not idempotent"
    );
    assert_eq!(
        merged(&merged(state, &left), &right).encode(),
        merged(state, &merged(&left, &right)).encode(),
        "merge not associative"
    );
    let conflict = both
        .field(FieldKey(10), &NoSettling)
        .expect("written on both sides")
        .conflict;
    let values: Vec<_> = conflict.iter().map(|c| c.value.clone()).collect();
    assert_eq!(
        values.len(),
        2,
        "concurrent writes did not both survive: {values:?}"
    );
    assert!(values.contains(&Value::Text("a".into())));
    assert!(values.contains(&Value::Text("b".into())));
    // Sync sends the receiver what it lacks; that must merge like the whole state, also
    // after travelling as bytes.
    let delta = right.delta_since(&left.clock());
    assert_eq!(
        merged(&left, &delta).encode(),
        both.encode(),
        "delta merges differently"
    );
    let delta = RecordState::decode(&delta.encode()).expect("a delta encodes decodably");
    assert_eq!(merged(&left, &delta).encode(), both.encode());

    // And with the reference states, when they could be replicas of one record.
    for reference in reference_states() {
        if !disjoint(&reference, state) {
            continue;
        }
        let ab = merged(&reference, state);
        assert_eq!(
            ab.encode(),
            merged(state, &reference).encode(),
            "merge not commutative"
        );
        assert_eq!(
            merged(&ab, state).encode(),
            ab.encode(),
            "merge not idempotent"
        );
        assert!(ab.contains(state) && ab.contains(&reference));
        let delta = state.delta_since(&reference.clock());
        assert_eq!(
            merged(&reference, &delta).encode(),
            ab.encode(),
            "delta merges differently"
        );
    }

    // The state stays writable by a device it knows and by one it does not, and the written
    // value is shown with no conflict.
    for device in state.writers().into_iter().take(1).chain([a]) {
        let mut written = state.clone();
        written.resolve(author(device), FieldKey(10), Value::Text("ditulis".into()));
        let field = written
            .field(FieldKey(10), &NoSettling)
            .expect("just written");
        assert_eq!(field.shown.value, Value::Text("ditulis".into()));
        assert!(field.conflict.is_empty());
        let bytes = written.encode();
        let back = RecordState::decode(&bytes).expect("a written state decodes");
        assert_eq!(back.encode(), bytes);
        assert_eq!(
            merged(state, &written).encode(),
            bytes,
            "a later write did not win"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check_clock(data);
    check_state(data);
});
