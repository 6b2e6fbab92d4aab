//! Writes the seed corpus into `seeds/<target>/`: a few real inputs per target, so that the
//! fuzzer starts from bytes the app writes rather than from nothing.
//!
//! `cargo run --example write_seeds` (from fuzz/, no sanitizer, stable). The seeds are
//! committed; run it again after a format change and commit the difference.

use std::fs;
use std::path::Path;

use cageur_fuzz::{author, reference_states, selector_of};
use cageur_model::forms::{FieldKind, builtin_forms};
use cageur_model::{FieldKey, Value};
use cageur_protocol::sync::{
    Ack, ChangeGroup, Command, Cursor, EnrollRequest, EnrollResponse, HelloRequest, HelloRequestV2,
    HelloResponse, HelloResponseV2, PublishedForm, PullRequest, PullResponse, PullResponseV2,
    PushRequest, PushResponse, PushResponseV2, ResyncedRequest, SyncSummary, WipedRequest,
    WireRecord, encode_body,
};
use cageur_protocol::{RecordClock, RecordState};
use serde::Serialize;
use uuid::Uuid;

/// The golden bytes of crates/protocol/tests/envelope_golden.rs (conflicted "Siti" record in
/// both formats, and one value of each `Value` variant in both formats).
const GOLDEN_HEX: &[(&str, &str)] = &[
    (
        "siti-v2",
        "02 02 0701 0901 02 01 0701 01 07 46 02 01 0901 01 09 5a 02 02 0a 02 00 04 04 53697469 \
         01 04 04 53697479 0b 01 00 02 06",
    ),
    (
        "siti-v1",
        "01 02 0702 0901 02 0a 02 01 0701 04 04 53697469 01 07 46 02 01 0901 04 04 53697479 \
         01 09 5a 02 0b 01 01 0702 02 06 01 07 46 02",
    ),
    ("null-v1", "01 01 0701 01 0a 01 01 0701 00 01 07 46 02"),
    (
        "codes-v1",
        "01 01 0701 01 0a 01 01 0701 09 03 01 03 ac02 01 07 46 02",
    ),
    (
        "time-v2",
        "02 01 0701 01 01 0701 01 07 46 02 01 0a 01 00 06 80a0abfef962 c806",
    ),
    (
        "id-v2",
        "02 01 0701 01 01 0701 01 07 46 02 01 0a 01 00 07 10 01923b4c5d6e7f809a0b1c2d3e4f5a6b",
    ),
    (
        "point-v2",
        "02 01 0701 01 01 0701 01 07 46 02 01 0a 01 00 08 ffeaf405 b492ef65",
    ),
    (
        "dec-v2",
        "02 01 0701 01 01 0701 01 07 46 02 01 0a 01 00 03 da05 01",
    ),
];

fn unhex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

/// Record states as the app writes them: the references, a three-writer record with every
/// value variant, a deleted one, and the first format of each.
fn states() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = GOLDEN_HEX
        .iter()
        .map(|(name, hex)| (format!("golden-{name}"), unhex(hex)))
        .collect();
    let mut rich = reference_states().pop().unwrap();
    let mut third = rich.clone();
    third.write(
        author(3),
        [
            (FieldKey(12), Value::Codes(vec![0, 2, 5])),
            (FieldKey(13), Value::Dec(365, 1)),
            (FieldKey(14), Value::Date(19_723)),
            (FieldKey(15), Value::Bool(false)),
        ],
    );
    rich.write(author(7), [(FieldKey(12), Value::Codes(vec![1]))]);
    rich.merge(third);
    let mut deleted = rich.clone();
    deleted.write(author(9), [(FieldKey::DELETED, Value::Bool(true))]);
    for (name, state) in [("rich", rich), ("deleted", deleted)] {
        out.push((format!("{name}-v2"), state.encode()));
        out.push((format!("{name}-v1"), state.encode_v1()));
    }
    out
}

fn message<T: Serialize>(name: &str, message: &T, bodies: bool) {
    let selector = selector_of(name).expect("a listed message type");
    let mut raw = vec![selector];
    raw.extend(postcard::to_allocvec(message).unwrap());
    write("protocol_messages", name, &raw);
    write("protocol_body", &format!("{name}.postcard"), &raw);
    if bodies {
        let mut body = vec![selector];
        body.extend(encode_body(message));
        write("protocol_body", &format!("{name}.zst"), &body);
    }
}

fn messages() {
    let epoch = Uuid::from_u128(0x0192_3b4c_5d6e_7f80_9a0b_1c2d_3e4f_5a6b);
    let cursor = Cursor { seq: 42, token: 7 };
    let record = |n: u128, state: Vec<u8>| WireRecord {
        kind: 3,
        id: Uuid::from_u128(n),
        state,
    };
    let records: Vec<WireRecord> = states()
        .into_iter()
        .take(3)
        .enumerate()
        .map(|(n, (_, state))| record(n as u128 + 1, state))
        .collect();
    message(
        "EnrollRequest",
        &EnrollRequest {
            code: "ABCD-1234".into(),
            app_version: "1.4.0".into(),
            schema: 2,
        },
        false,
    );
    message(
        "EnrollResponse",
        &EnrollResponse {
            device: 7,
            credential: "c2VjcmV0".into(),
            puskesmas: "3273010".into(),
            team: "tim-1".into(),
            epoch,
        },
        false,
    );
    message(
        "HelloRequest",
        &HelloRequest {
            app_version: "1.0.0".into(),
            schema: 1,
            pending: 12,
            pending_urgent: 2,
        },
        false,
    );
    message(
        "HelloResponse",
        &HelloResponse {
            epoch,
            seq: 900,
            commands: vec![Command::Resync, Command::Wipe],
        },
        false,
    );
    let vital = builtin_forms().into_iter().next().unwrap();
    message(
        "HelloRequestV2",
        &HelloRequestV2 {
            app_version: "1.4.0".into(),
            schema: 2,
            pending: 3,
            pending_urgent: 1,
            pending_referrals: 1,
            forms_seen: 4,
            previous: Some(SyncSummary {
                pushed: 5,
                pulled: 6,
                bytes_up: 700,
                bytes_down: 800,
                finished: false,
                error: Some("connection reset".into()),
            }),
            acknowledged: cursor,
        },
        true,
    );
    message(
        "HelloResponseV2",
        &HelloResponseV2 {
            epoch,
            seq: 901,
            commands: vec![Command::Resync],
            forms: vec![PublishedForm {
                number: 5,
                definition: serde_json::to_string(&vital).unwrap(),
            }],
            timeline_changed: true,
        },
        true,
    );
    message(
        "ResyncedRequest",
        &ResyncedRequest {
            records: 1000,
            set_aside: 2,
        },
        false,
    );
    message("WipedRequest", &WipedRequest { pushed: 9 }, false);
    message("Ack", &Ack {}, false);
    message(
        "PushRequest",
        &PushRequest {
            schema: 2,
            cursor,
            groups: vec![
                ChangeGroup {
                    change_seq: 1,
                    records: records[..2].to_vec(),
                },
                ChangeGroup {
                    change_seq: -3,
                    records: records[2..].to_vec(),
                },
            ],
        },
        true,
    );
    message(
        "PushResponse",
        &PushResponse {
            epoch,
            accepted: vec![1, 2, 3],
            unchanged: 1,
            seq: 950,
        },
        false,
    );
    message(
        "PushResponseV2",
        &PushResponseV2 {
            epoch,
            accepted: vec![1, -3],
            unchanged: 0,
            acknowledged: cursor,
        },
        false,
    );
    message(
        "PullRequest",
        &PullRequest {
            cursor,
            max_bytes: Some(65_536),
        },
        true,
    );
    message(
        "PullResponse",
        &PullResponse {
            epoch,
            records: records.clone(),
            next: cursor,
            remaining: 17,
        },
        false,
    );
    message(
        "PullResponseV2",
        &PullResponseV2 {
            epoch,
            records,
            departed: vec![Uuid::from_u128(99)],
            next: cursor,
            remaining: 0,
        },
        true,
    );
}

/// A value every field of `kind` accepts, as a health worker would enter it.
fn sample(kind: &FieldKind) -> serde_json::Value {
    match kind {
        FieldKind::Integer { min, .. } => serde_json::json!(min),
        FieldKind::Decimal { scale, max, .. } => Value::dec_to_json(*max, *scale),
        FieldKind::Boolean => serde_json::json!(true),
        FieldKind::Choice { choices } => serde_json::json!(choices[0]),
        FieldKind::MultiChoice { choices } => serde_json::json!(choices),
        FieldKind::Text { .. } => serde_json::json!(" batuk "),
        FieldKind::Date => serde_json::json!("2024-02-29"),
    }
}

fn forms() {
    for def in builtin_forms() {
        let mut bytes = serde_json::to_vec(&def).unwrap();
        write("form_definition", &format!("{}.json", def.id), &bytes);
        let values: serde_json::Map<String, serde_json::Value> = def
            .fields
            .iter()
            .map(|f| (f.name.clone(), sample(&f.kind)))
            .collect();
        assert!(def.validate_values(&values).is_ok(), "{}", def.id);
        bytes.push(0);
        bytes.extend(serde_json::to_vec(&values).unwrap());
        write("form_definition", &format!("{}.values", def.id), &bytes);
    }
}

fn main() {
    for (name, bytes) in states() {
        RecordState::decode(&bytes).expect("seed states decode");
        write("record_state", &name, &bytes);
    }
    let clock = reference_states().pop().unwrap().clock();
    assert!(RecordClock::decode(&clock.encode()).is_ok());
    write("record_state", "clock", &clock.encode());
    messages();
    // A compression bomb: a small valid frame that decompresses past the decoded-size cap.
    let zeros = vec![0u8; cageur_protocol::sync::MAX_DECODED_BODY_BYTES + 10];
    let mut bomb = vec![selector_of("PullRequest").unwrap()];
    bomb.extend(zstd::bulk::compress(&zeros, 3).unwrap());
    assert!(
        bomb.len() < 4096,
        "the bomb fits libFuzzer's default input size"
    );
    write("protocol_body", "bomb.zst", &bomb);
    forms();
}
