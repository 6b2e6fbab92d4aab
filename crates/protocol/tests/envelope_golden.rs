//! Golden bytes of the stored record-state format, and decoding of bad bytes.
//!
//! A FAILING GOLDEN TEST MEANS THE STORED FORMAT CHANGED: states already stored on devices and
//! on the server, and states in flight between them, would no longer read back as written.
//! Never just update the hex. Give the new layout a new format byte (after `FORMAT_V2`), keep
//! decoding the older ones and keep their tests: `FORMAT_V1`'s goldens below are states that
//! tablets of record schema 1 stored and still send, and must read forever. The
//! usual causes: a new `crdts` release (its serde layout is not promised stable), a change to
//! the mirror types in `envelope.rs`, or to `Cell` or `Value` (a new `Value` variant must go at
//! the end, or every later variant's tag moves).
//!
//! The bytes are postcard: lengths, unsigned integers and enum tags are varints, signed
//! integers are zigzag varints.

use cageur_model::{FieldKey, Role, Value};
use cageur_protocol::envelope::{FORMAT_V1, FORMAT_V2, MAX_STATE_BYTES};
use cageur_protocol::{Author, Cell, Conflict, EnvelopeError, NoSettling, RecordState};
use proptest::prelude::*;

fn author(device: u32) -> Author {
    Author {
        device,
        worker: device * 10,
        role: Role::Nurse,
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// Hex pieces, joined and with their spaces removed, as bytes.
fn golden(pieces: &[&str]) -> Vec<u8> {
    hex::decode(pieces.concat().replace(' ', "")).expect("golden hex is valid")
}

const NAME: FieldKey = FieldKey(10);
const VISITS: FieldKey = FieldKey(11);

/// Device 7 writes a name and a visit count; device 9, concurrently, writes another spelling of
/// the name; the states are merged.
fn siti_state() -> RecordState {
    let mut state = RecordState::new();
    state.write(author(7), [(NAME, text("Siti")), (VISITS, Value::Int(3))]);
    let mut other = RecordState::new();
    other.write(author(9), [(NAME, text("Sity"))]);
    state.merge(other);
    state
}

/// [`siti_state`] as stored.
const SITI_GOLDEN: &[&str] = &[
    "02",                  // format byte: FORMAT_V2
    "02 0701 0901",        // record clock: 2 devices; 7 at 1, 9 at 1
    "02",                  // 2 stamps, in order of first use:
    "01 0701 01 07 46 02", //   0: clock 7 at 1, lamport 1, device 7, worker 70, role nurse
    "01 0901 01 09 5a 02", //   1: clock 9 at 1, lamport 1, device 9, worker 90, role nurse
    "02",                  // 2 fields
    "0a 02",               // field 10: 2 concurrent values, sorted by clock then cell
    "00 04 04 53697469",   //   stamp 0, Text("Siti")
    "01 04 04 53697479",   //   stamp 1, Text("Sity")
    "0b 01",               // field 11: 1 value
    "00 02 06",            //   stamp 0, Int(3) (zigzag 6)
];

/// The same story as an app of record schema 1 stored it, in [`FORMAT_V1`]: each field
/// written got a dot of its own (device 7 reached 2), and each value carries its clock and
/// author.
const SITI_V1_GOLDEN: &[&str] = &[
    "01",                         // format byte: FORMAT_V1
    "02 0702 0901",               // record clock: 2 devices; 7 at 2, 9 at 1
    "02",                         // 2 fields
    "0a",                         // field 10
    "02",                         //   2 concurrent values, sorted by clock then cell
    "01 0701",                    //     value clock: 7 at 1
    "04 04 53697469 01 07 46 02", // Text("Siti"), lamport 1, device 7, worker 70, role nurse
    "01 0901",                    //     value clock: 9 at 1
    "04 04 53697479 01 09 5a 02", // Text("Sity"), lamport 1, device 9, worker 90, role nurse
    "0b",                         // field 11
    "01",                         //   1 value
    "01 0702",                    //     value clock: 7 at 2
    "02 06 01 07 46 02",          // Int(3) (zigzag 6), lamport 1, device 7, worker 70, role nurse
];

/// [`SITI_V1_GOLDEN`]'s state as this code encodes it: three stamps, since device 7's two
/// values had clocks of their own.
const SITI_V1_AS_V2_GOLDEN: &[&str] = &[
    "02",
    "02 0702 0901",
    "03 01 0701 01 07 46 02   01 0901 01 09 5a 02   01 0702 01 07 46 02",
    "02",
    "0a 02 00 04 04 53697469 01 04 04 53697479",
    "0b 01 02 02 06",
];

#[test]
fn a_conflicted_state_encodes_to_its_golden_bytes() {
    assert_eq!(
        hex::encode(siti_state().encode()),
        hex::encode(golden(SITI_GOLDEN))
    );
}

/// What both goldens of the Siti story show, whichever format they are in.
fn assert_shows_the_siti_story(state: &RecordState) {
    let shown = state.shown(&NoSettling);
    // Equal lamports: the greater device's value is shown.
    assert_eq!(shown[&NAME], text("Sity"));
    assert_eq!(shown[&VISITS], Value::Int(3));
    assert_eq!(shown.len(), 2);
    let cell = |value: Value, device: u32| Cell::new(value, 1, author(device));
    assert_eq!(
        state.conflicts(&NoSettling),
        vec![Conflict {
            field: NAME,
            values: vec![cell(text("Sity"), 9), cell(text("Siti"), 7)],
        }]
    );
    assert_eq!(state.writers(), vec![7, 9]);
    assert!(!state.is_deleted());
}

#[test]
fn the_golden_bytes_decode_to_the_shown_values_and_the_conflict() {
    let state = RecordState::decode(&golden(SITI_GOLDEN)).expect("golden bytes decode");
    assert_shows_the_siti_story(&state);
    assert_eq!(state.encode(), golden(SITI_GOLDEN));
}

#[test]
fn the_first_formats_golden_bytes_decode_and_encode_in_the_second() {
    let state = RecordState::decode(&golden(SITI_V1_GOLDEN)).expect("V1 golden bytes decode");
    assert_shows_the_siti_story(&state);
    assert_eq!(
        hex::encode(state.encode()),
        hex::encode(golden(SITI_V1_AS_V2_GOLDEN))
    );
    assert_eq!(state.encode_v1(), golden(SITI_V1_GOLDEN));
    assert!(
        !cageur_protocol::DecodedState::read(&golden(SITI_V1_GOLDEN))
            .unwrap()
            .is_canonical()
    );
}

/// A state in which device 7 wrote one value into field 10, in the first format: these bytes,
/// the value's bytes, then [`ONE_VALUE_SUFFIX`].
const ONE_VALUE_PREFIX: &str = "01 01 0701 01 0a 01 01 0701";
/// Lamport 1, device 7, worker 70, role nurse.
const ONE_VALUE_SUFFIX: &str = "01 07 46 02";
/// The same state in the second format: these bytes, then the value's.
const ONE_VALUE_V2_PREFIX: &str = "02 01 0701 01 01 0701 01 07 46 02 01 0a 01 00";

/// Every `Value` variant and its bytes: the first byte is the variant's tag.
fn variants() -> Vec<(Value, &'static str)> {
    vec![
        (Value::Null, "00"),
        (Value::Bool(true), "01 01"),
        (Value::Int(-2), "02 03"),
        (Value::Dec(365, 1), "03 da05 01"),
        (text("Siti"), "04 04 53697469"),
        (Value::Date(19_723), "05 96b402"),
        (Value::Time(1_700_000_000_000, 420), "06 80a0abfef962 c806"),
        (
            Value::Id(uuid::Uuid::from_u128(
                0x0192_3b4c_5d6e_7f80_9a0b_1c2d_3e4f_5a6b,
            )),
            "07 10 01923b4c5d6e7f809a0b1c2d3e4f5a6b",
        ),
        (
            Value::Point(-6_200_000, 106_816_666),
            "08 ffeaf405 b492ef65",
        ),
        (Value::Codes(vec![1, 3, 300]), "09 03 01 03 ac02"),
    ]
}

fn one_value_golden(value_hex: &str) -> Vec<u8> {
    golden(&[ONE_VALUE_PREFIX, value_hex, ONE_VALUE_SUFFIX])
}

fn one_value_v2_golden(value_hex: &str) -> Vec<u8> {
    golden(&[ONE_VALUE_V2_PREFIX, value_hex])
}

#[test]
fn every_value_variant_encodes_to_its_golden_bytes() {
    for (value, value_hex) in variants() {
        let mut state = RecordState::new();
        // `resolve` writes even a `Null` into a field never written.
        state.resolve(author(7), NAME, value.clone());
        assert_eq!(
            hex::encode(state.encode()),
            hex::encode(one_value_v2_golden(value_hex)),
            "{value:?}"
        );
        for bytes in [one_value_v2_golden(value_hex), one_value_golden(value_hex)] {
            let decoded = RecordState::decode(&bytes).expect("decodes");
            assert_eq!(decoded.shown(&NoSettling)[&NAME], value);
            assert_eq!(decoded.encode(), one_value_v2_golden(value_hex));
        }
    }
}

#[test]
fn empty_bytes_are_refused() {
    assert_eq!(
        RecordState::decode(EMPTY).unwrap_err(),
        EnvelopeError::Empty
    );
}

#[test]
fn an_unknown_format_byte_is_refused() {
    let mut bytes = golden(SITI_GOLDEN);
    for format in [0, 3, 0xFF] {
        bytes[0] = format;
        assert_eq!(
            RecordState::decode(&bytes).unwrap_err(),
            EnvelopeError::UnknownFormat(format)
        );
    }
    assert_eq!(
        RecordState::decode(&[3]).unwrap_err(),
        EnvelopeError::UnknownFormat(3)
    );
}

#[test]
fn every_truncation_of_the_golden_bytes_is_refused() {
    for bytes in [golden(SITI_GOLDEN), golden(SITI_V1_GOLDEN)] {
        for len in 0..bytes.len() {
            match RecordState::decode(&bytes[..len]) {
                Err(EnvelopeError::Empty) => assert_eq!(len, 0),
                Err(EnvelopeError::Malformed(_)) => assert!(len > 0),
                other => panic!("{len} of {} bytes: {other:?}", bytes.len()),
            }
        }
    }
}

#[test]
fn bytes_after_the_state_are_refused() {
    for garbage in [&[0u8][..], &[1], &[0, 0, 0], &[0xFF; 9]] {
        let mut bytes = golden(SITI_GOLDEN);
        bytes.extend_from_slice(garbage);
        assert!(
            matches!(RecordState::decode(&bytes), Err(EnvelopeError::Malformed(m)) if m.contains("after the state")),
            "{garbage:?}"
        );
    }
}

#[test]
fn a_state_over_the_size_limit_is_refused() {
    let too_large = vec![FORMAT_V1; MAX_STATE_BYTES + 1];
    assert_eq!(
        RecordState::decode(&too_large).unwrap_err(),
        EnvelopeError::TooLarge(MAX_STATE_BYTES + 1)
    );
    // The size is checked before the format byte is read.
    let mut unknown_and_large = too_large;
    unknown_and_large[0] = 3;
    assert!(matches!(
        RecordState::decode(&unknown_and_large),
        Err(EnvelopeError::TooLarge(_))
    ));
    // At the limit, the bytes are read (and these ones are damage).
    let at_limit = vec![FORMAT_V1; MAX_STATE_BYTES];
    assert!(matches!(
        RecordState::decode(&at_limit),
        Err(EnvelopeError::Malformed(_))
    ));
}

// Fixtures: bytes that must fail cleanly. Keep every input that ever crashed the decoder here.

const EMPTY: &[u8] = &[];

/// Bytes that are well-formed postcard but break an invariant our writes keep, or are not
/// postcard of a state at all; each must be refused as `Malformed`, for the reason given (empty
/// where postcard's own message is the reason: its wording is not ours to pin).
const MALFORMED: &[(&str, &str, &[&str])] = &[
    (
        "a field with no value",
        "no value",
        &["01 01 0701 01 0a 00"],
    ),
    (
        "a value another value of its field supersedes",
        "supersedes",
        &[
            "01 01 0702 01 0a 02 01 0701 01 01",
            ONE_VALUE_SUFFIX,
            "01 0702 01 00",
            ONE_VALUE_SUFFIX,
        ],
    ),
    (
        "a value's clock ahead of its record's",
        "ahead of its record's",
        &["01 01 0701 01 0a 01 01 0702 01 01", ONE_VALUE_SUFFIX],
    ),
    (
        "a value's clock naming a device the record's lacks",
        "ahead of its record's",
        &["01 01 0701 01 0a 01 01 0801 01 01", ONE_VALUE_SUFFIX],
    ),
    (
        "a value with an empty clock",
        "empty",
        &["01 01 0701 01 0a 01 00 01 01", ONE_VALUE_SUFFIX],
    ),
    (
        "a zero counter",
        "zero or implausibly large",
        &["01 01 0700 01 0a 01 01 0700 01 01", ONE_VALUE_SUFFIX],
    ),
    (
        "a counter at u64::MAX",
        "zero or implausibly large",
        MAX_COUNTER,
    ),
    (
        "choices out of order",
        "not sorted and unique",
        &[ONE_VALUE_PREFIX, "09 02 03 01", ONE_VALUE_SUFFIX],
    ),
    (
        "a repeated choice",
        "not sorted and unique",
        &[ONE_VALUE_PREFIX, "09 02 01 01", ONE_VALUE_SUFFIX],
    ),
    (
        "an unknown value tag",
        "",
        &[ONE_VALUE_PREFIX, "0a", ONE_VALUE_SUFFIX],
    ),
    (
        "a bool that is neither 0 nor 1",
        "",
        &[ONE_VALUE_PREFIX, "01 02", ONE_VALUE_SUFFIX],
    ),
    (
        "text that is not UTF-8",
        "",
        &[ONE_VALUE_PREFIX, "04 02 fffe", ONE_VALUE_SUFFIX],
    ),
    (
        "a date beyond i32",
        "",
        &[ONE_VALUE_PREFIX, "05 ffffffff7f", ONE_VALUE_SUFFIX],
    ),
    (
        "a varint longer than a u64",
        "",
        &["01 01 07 ffffffffffffffffffff01"],
    ),
    ("four billion fields and no data", "", &["01 00 ffffffff0f"]),
    (
        "four billion values and no data",
        "",
        &["01 01 0701 01 0a 01 0701 ffffffff0f"],
    ),
    // The second format's own rules.
    (
        "V2: a value naming a stamp that is not listed",
        "out of range",
        &["02 01 0701 01 01 0701 01 07 46 02 01 0a 01 01 01 01"],
    ),
    (
        "V2: a stamp no value uses",
        "not used",
        &[
            "02 01 0702 02 01 0701 01 07 46 02 01 0702 01 07 46 02",
            "01 0a 01 00 01 01",
        ],
    ),
    (
        "V2: a stamp used before the one listed ahead of it",
        "before its turn",
        &[
            "02 01 0702 02 01 0701 01 07 46 02 01 0702 02 07 46 02",
            "02 0a 01 01 01 01 0b 01 00 01 01",
        ],
    ),
    (
        "V2: the same stamp listed twice",
        "listed twice",
        &[
            "02 01 0701 02 01 0701 01 07 46 02 01 0701 01 07 46 02",
            "02 0a 01 00 01 01 0b 01 01 01 01",
        ],
    ),
    (
        "V2: fields out of order",
        "increasing order",
        &["02 01 0701 01 01 0701 01 07 46 02 02 0b 01 00 01 01 0a 01 00 01 01"],
    ),
    (
        "V2: a field repeated",
        "repeated",
        &["02 01 0701 01 01 0701 01 07 46 02 02 0a 01 00 01 01 0a 01 00 01 00"],
    ),
    (
        "V2: a field with no value",
        "no value",
        &["02 01 0701 01 01 0701 01 07 46 02 02 0a 01 00 01 01 0b 00"],
    ),
    (
        "V2: a stamp's clock ahead of its record's",
        "ahead of its record's",
        &["02 01 0701 01 01 0702 01 07 46 02 01 0a 01 00 01 01"],
    ),
];

#[test]
fn malformed_fixtures_are_refused() {
    for (what, because, pieces) in MALFORMED {
        let result = RecordState::decode(&golden(pieces));
        assert!(
            matches!(&result, Err(EnvelopeError::Malformed(m)) if m.contains(because)),
            "{what}: {result:?}"
        );
    }
}

/// A record whose clock holds device 7's counter at `u64::MAX`: once accepted, device 7 could
/// not write to it (the counter would overflow). Counters are now bounded on decode.
const MAX_COUNTER: &[&str] = &[
    "01 01 07 ffffffffffffffffff01",       // record clock: 7 at u64::MAX
    "01 0a 01 01 07 ffffffffffffffffff01", // field 10, one value, clock: 7 at u64::MAX
    "01 01 01 07 46 02",                   //   Bool(true), lamport 1, device 7, nurse
];

#[test]
fn a_decoded_state_is_refused_or_stays_writable() {
    let Ok(mut state) = RecordState::decode(&golden(MAX_COUNTER)) else {
        return; // Refusing such a state is a fine answer.
    };
    assert_eq!(state.write(author(7), [(VISITS, Value::Int(1))]), 1);
    assert_eq!(state.shown(&NoSettling).get(&VISITS), Some(&Value::Int(1)));
}

/// What any state that decoded must survive: it re-encodes canonically, decodes again, and
/// can be read, merged and written to.
fn exercise(state: &RecordState) -> Result<(), TestCaseError> {
    let bytes = state.encode();
    let again = RecordState::decode(&bytes)
        .map_err(|e| TestCaseError::fail(format!("re-encoded state does not decode: {e}")))?;
    prop_assert_eq!(hex::encode(again.encode()), hex::encode(&bytes));
    prop_assert_eq!(again.shown(&NoSettling), state.shown(&NoSettling));
    prop_assert_eq!(again.conflicts(&NoSettling), state.conflicts(&NoSettling));
    let _ = (state.is_deleted(), state.writers());

    let golden_state = siti_state();
    let mut merged = golden_state.clone();
    merged.merge(state.clone());
    let mut other_way = state.clone();
    other_way.merge(golden_state);
    let _ = (merged.encode(), other_way.encode());

    // Devices 1 and 7 (a device the golden bytes know) write a field; the value is shown.
    for device in [1, 7] {
        let mut written = state.clone();
        written.resolve(author(device), NAME, text("ditulis"));
        let field = written.field(NAME, &NoSettling).expect("just written");
        prop_assert_eq!(field.shown.value, text("ditulis"));
        prop_assert!(field.conflict.is_empty());
    }
    Ok(())
}

fn check_decode(bytes: &[u8]) -> Result<(), TestCaseError> {
    match RecordState::decode(bytes) {
        Ok(state) => exercise(&state),
        Err(EnvelopeError::Empty) => {
            prop_assert!(bytes.is_empty());
            Ok(())
        }
        Err(_) => Ok(()),
    }
}

/// Every golden state's bytes, to mutate.
fn goldens() -> Vec<Vec<u8>> {
    let mut all = vec![golden(SITI_GOLDEN), golden(SITI_V1_GOLDEN)];
    all.extend(variants().iter().map(|(_, hex)| one_value_golden(hex)));
    all.extend(variants().iter().map(|(_, hex)| one_value_v2_golden(hex)));
    all
}

/// Bytes biased towards the small values postcard uses for lengths, tags and counters.
fn state_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![3 => 0u8..12, 1 => any::<u8>()], 0..max)
}

/// Postcard's unsigned varint.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A vector clock's bytes: dots in any order, repeated actors and zero counters included,
/// since postcard accepts them.
fn clock_bytes(max_counter: u64) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((0..4u64, 0..=max_counter), 0..4).prop_map(|dots| {
        let mut out = varint(dots.len() as u64);
        for (actor, counter) in dots {
            out.extend(varint(actor));
            out.extend(varint(counter));
        }
        out
    })
}

/// A cell's bytes: a golden value, then small lamport, device, worker and role.
fn cell_bytes() -> impl Strategy<Value = Vec<u8>> {
    let values: Vec<Vec<u8>> = variants().iter().map(|(_, hex)| golden(&[hex])).collect();
    (
        prop::sample::select(values),
        0..3u64,
        0..4u64,
        0..3u64,
        0..4u64,
    )
        .prop_map(|(value, lamport, device, worker, role)| {
            let mut out = value;
            for n in [lamport, device, worker, role] {
                out.extend(varint(n));
            }
            out
        })
}

/// The bytes of a well-typed state that this code never wrote: random clocks, fields and
/// values, which may break any invariant `decode` checks or `crdts` assumes.
fn typed_state_bytes() -> impl Strategy<Value = Vec<u8>> {
    let record_clock = prop_oneof![
        // A clock that dominates every small clock below, so that `check` lets most through.
        Just(golden(&["04 0003 0103 0203 0303"])),
        clock_bytes(3),
    ];
    let value = (clock_bytes(3), cell_bytes());
    let entry = (
        10..13u64,
        clock_bytes(3),
        prop::collection::vec(value, 0..3),
    );
    let deferred = prop_oneof![
        8 => Just(vec![0u8]),
        1 => clock_bytes(3).prop_map(|clock| [&[1u8][..], &clock, &[1, 10]].concat()),
    ];
    (record_clock, prop::collection::vec(entry, 0..4), deferred).prop_map(
        |(clock, entries, deferred)| {
            let mut out = vec![FORMAT_V1];
            out.extend(clock);
            out.extend(varint(entries.len() as u64));
            for (key, clock, values) in entries {
                out.extend(varint(key));
                out.extend(clock);
                out.extend(varint(values.len() as u64));
                for (clock, cell) in values {
                    out.extend(clock);
                    out.extend(cell);
                }
            }
            out.extend(deferred);
            out
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_decode(&bytes)?;
    }

    #[test]
    fn decoding_arbitrary_payloads_never_panics(payload in state_bytes(256)) {
        let mut bytes = vec![FORMAT_V1];
        bytes.extend(payload);
        check_decode(&bytes)?;
    }

    #[test]
    fn decoding_arbitrary_v2_payloads_never_panics(payload in state_bytes(256)) {
        let mut bytes = vec![FORMAT_V2];
        bytes.extend(payload);
        check_decode(&bytes)?;
    }

    #[test]
    fn decoding_a_state_this_code_never_wrote_never_panics(bytes in typed_state_bytes()) {
        check_decode(&bytes)?;
    }

    #[test]
    fn decoding_a_mutated_golden_state_never_panics(
        original in prop::sample::select(goldens()),
        index in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..3u8,
    ) {
        let mut bytes = original;
        let at = index.index(bytes.len());
        match how {
            0 => bytes[at] = byte,
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, byte),
        }
        check_decode(&bytes)?;
    }
}
