//! The baseline of the sync benchmark: the bytes Automerge 0.12's sync protocol sends for a
//! [`WeekWorkload`], used the way Automerge's docs recommend for this data.
//!
//! Model: one document per puskesmas; the root key `"records"` holds a map from record id
//! (uuid string) to the record's JSON written as nested Automerge maps and lists of scalar
//! values. Peer A builds the base document, peer B loads A's saved bytes, and the two sync
//! once with fresh sync states. Both then persist their sync state (`State::encode`, then
//! `State::decode`), as a tablet must across app restarts, and the week happens: A inserts
//! its new records and applies its edits, B applies its edits, one commit per user action.
//! The week's sync, and an idle sync after it, run from the persisted states. Either peer may
//! answer with its whole document rather than its changes (see `RECORDS_PER_COMMIT`);
//! the bytes counted are whatever the protocol chose to send.
//!
//! Commits carry no timestamp and no message: a real app would likely add a time to each
//! change, so the bytes measured here are, if anything, slightly in Automerge's favour.

use std::time::Instant;

use automerge::sync::{self, Message, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::Result;
use crate::week::{FieldEdit, WeekWorkload};

/// Base records per transaction: one, as a tablet commits each user action (the week's
/// actions are committed the same way), so the base has the history a real scope would have.
///
/// This decides what the week's sync sends. When a peer has to send more than a third of its
/// changes, Automerge 0.12 sends its whole saved document instead (`generate_sync_message`,
/// "sending more than a 1/3 of the document?"). With few, large base changes (say 1,000 records
/// each) a week of one-action changes is most of the history and the fallback fires: on 2,000
/// base records that sent 139 KB (two whole documents) against 207 KB of changes here.
const RECORDS_PER_COMMIT: usize = 1;

/// Distinct, fixed actor ids, so that runs are reproducible.
const ACTOR_A: [u8; 16] = [0xa0; 16];
const ACTOR_B: [u8; 16] = [0xb0; 16];

/// A sync that has not gone quiet after this many rounds is broken, not slow.
const MAX_ROUNDS: u32 = 10_000;

/// Root key of the map of records.
const RECORDS: &str = "records";

/// What Automerge's sync costs for one week of one puskesmas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutomergeWeek {
    /// Bytes of sync messages A -> B and B -> A for the week's sync, until both are in sync.
    pub bytes_a_to_b: u64,
    pub bytes_b_to_a: u64,
    /// Messages exchanged (each generate_sync_message that returned Some counts as one).
    pub messages: u32,
    /// The same, for a sync right after, with nothing to do (idle sync).
    pub idle_bytes: u64,
    /// Size of the saved base document (Automerge's compressed format), for context.
    pub base_doc_bytes: u64,
    /// Wall time of the week's sync (seconds), and of building the base document.
    pub sync_seconds: f64,
    pub build_seconds: f64,
}

/// Replays `workload` on two Automerge peers and measures the week's sync; fails if the peers
/// do not end with the same heads.
pub fn run(workload: &WeekWorkload) -> Result<AutomergeWeek> {
    let build = Instant::now();
    let mut a = AutoCommit::new().with_actor(ActorId::from(ACTOR_A));
    let records = a.put_object(ROOT, RECORDS, ObjType::Map)?;
    for chunk in workload.base.chunks(RECORDS_PER_COMMIT) {
        for (id, json) in chunk {
            write_record(&mut a, &records, *id, json)?;
        }
        a.commit();
    }
    let build_seconds = build.elapsed().as_secs_f64();
    let base = a.save();

    let mut b = AutoCommit::load(&base)?.with_actor(ActorId::from(ACTOR_B));
    let (mut state_a, mut state_b) = (sync::State::new(), sync::State::new());
    sync_until_quiet(&mut a, &mut state_a, &mut b, &mut state_b)?;
    let (mut state_a, mut state_b) = (persisted(&state_a)?, persisted(&state_b)?);

    for (id, json) in &workload.a_new {
        write_record(&mut a, &records, *id, json)?;
        a.commit();
    }
    for edit in &workload.a_edits {
        apply_edit(&mut a, edit)?;
        a.commit();
    }
    for edit in &workload.b_edits {
        apply_edit(&mut b, edit)?;
        b.commit();
    }

    let started = Instant::now();
    let week = sync_until_quiet(&mut a, &mut state_a, &mut b, &mut state_b)?;
    let sync_seconds = started.elapsed().as_secs_f64();
    if a.get_heads() != b.get_heads() {
        return Err("Automerge peers have different heads after the week's sync".into());
    }

    // The next sync is a new session: the device reloads its persisted state.
    let (mut state_a, mut state_b) = (persisted(&state_a)?, persisted(&state_b)?);
    let idle = sync_until_quiet(&mut a, &mut state_a, &mut b, &mut state_b)?;

    Ok(AutomergeWeek {
        bytes_a_to_b: week.a_to_b,
        bytes_b_to_a: week.b_to_a,
        messages: week.messages,
        idle_bytes: idle.a_to_b + idle.b_to_a,
        base_doc_bytes: base.len() as u64,
        sync_seconds,
        build_seconds,
    })
}

/// Bytes and messages of one sync session.
#[derive(Debug, Default)]
struct Traffic {
    a_to_b: u64,
    b_to_a: u64,
    messages: u32,
}

/// Runs the sync protocol, A speaking first, until neither peer has a message to send. Every
/// message goes through its wire form (encode, then decode), so the bytes counted are the
/// bytes a transport would carry.
fn sync_until_quiet(
    a: &mut AutoCommit,
    state_a: &mut sync::State,
    b: &mut AutoCommit,
    state_b: &mut sync::State,
) -> Result<Traffic> {
    let mut traffic = Traffic::default();
    for _ in 0..MAX_ROUNDS {
        let a_sent = send(a, state_a, b, state_b, &mut traffic.a_to_b)?;
        let b_sent = send(b, state_b, a, state_a, &mut traffic.b_to_a)?;
        traffic.messages += u32::from(a_sent) + u32::from(b_sent);
        if !a_sent && !b_sent {
            return Ok(traffic);
        }
    }
    Err(format!("Automerge sync not quiet after {MAX_ROUNDS} rounds").into())
}

/// One message from `from` to `to`, if `from` has one; adds its encoded size to `bytes`.
fn send(
    from: &mut AutoCommit,
    from_state: &mut sync::State,
    to: &mut AutoCommit,
    to_state: &mut sync::State,
    bytes: &mut u64,
) -> Result<bool> {
    let Some(message) = from.sync().generate_sync_message(from_state) else {
        return Ok(false);
    };
    let wire = message.encode();
    *bytes += wire.len() as u64;
    to.sync()
        .receive_sync_message(to_state, Message::decode(&wire)?)?;
    Ok(true)
}

/// A sync state as a device finds it after a restart: only what `State::encode` keeps.
fn persisted(state: &sync::State) -> Result<sync::State> {
    Ok(sync::State::decode(&state.encode())?)
}

/// Writes one record under `records`, keyed by its id.
fn write_record(
    doc: &mut AutoCommit,
    records: &ObjId,
    id: Uuid,
    json: &Map<String, Json>,
) -> Result<()> {
    let record = doc.put_object(records, id.to_string(), ObjType::Map)?;
    write_fields(doc, &record, json)
}

fn write_fields(doc: &mut AutoCommit, obj: &ObjId, fields: &Map<String, Json>) -> Result<()> {
    for (key, value) in fields {
        put_json(doc, obj, key, value)?;
    }
    Ok(())
}

/// Sets `obj[key]` to `value`: objects and arrays become Automerge maps and lists (so that
/// concurrent edits of different fields merge), everything else a scalar.
fn put_json(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &Json) -> Result<()> {
    match value {
        Json::Object(fields) => {
            let child = doc.put_object(obj, key, ObjType::Map)?;
            write_fields(doc, &child, fields)
        }
        Json::Array(items) => {
            let child = doc.put_object(obj, key, ObjType::List)?;
            write_items(doc, &child, items)
        }
        scalar => Ok(doc.put(obj, key, to_scalar(scalar))?),
    }
}

fn write_items(doc: &mut AutoCommit, list: &ObjId, items: &[Json]) -> Result<()> {
    for (index, item) in items.iter().enumerate() {
        match item {
            Json::Object(fields) => {
                let child = doc.insert_object(list, index, ObjType::Map)?;
                write_fields(doc, &child, fields)?;
            }
            Json::Array(inner) => {
                let child = doc.insert_object(list, index, ObjType::List)?;
                write_items(doc, &child, inner)?;
            }
            scalar => doc.insert(list, index, to_scalar(scalar))?,
        }
    }
    Ok(())
}

/// A JSON scalar as Automerge's: integers stay integers (`Int`, or `Uint` above `i64::MAX`).
fn to_scalar(value: &Json) -> ScalarValue {
    match value {
        Json::Null => ScalarValue::Null,
        Json::Bool(b) => ScalarValue::Boolean(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => ScalarValue::Int(i),
            (None, Some(u)) => ScalarValue::Uint(u),
            (None, None) => ScalarValue::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => ScalarValue::Str(s.as_str().into()),
        Json::Object(_) | Json::Array(_) => unreachable!("composite values are written as objects"),
    }
}

/// Sets one field of an existing record, creating the maps of `edit.path` that are missing
/// (as the app would when a nested field is first filled in).
fn apply_edit(doc: &mut AutoCommit, edit: &FieldEdit) -> Result<()> {
    let Some((last, parents)) = edit.path.split_last() else {
        return Err(format!("edit of record {} has an empty path", edit.record).into());
    };
    let records = child_map(doc, &ROOT, RECORDS)?.ok_or("document has no map of records")?;
    let mut obj = child_map(doc, &records, &edit.record.to_string())?
        .ok_or_else(|| format!("edit of unknown record {}", edit.record))?;
    for key in parents {
        obj = match child_map(doc, &obj, key)? {
            Some(child) => child,
            None => doc.put_object(&obj, key.as_str(), ObjType::Map)?,
        };
    }
    put_json(doc, &obj, last, &edit.value)
}

/// The map at `obj[key]`: `None` if the key is absent, an error if it holds anything else.
fn child_map(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>> {
    match doc.get(obj, key)? {
        None => Ok(None),
        Some((Value::Object(ObjType::Map), id)) => Ok(Some(id)),
        Some(_) => Err(format!("field {key:?} is not an object").into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A deterministic week: `base` records of about ten fields (one nested object, one
    /// list), `new` new records, `edits` edits by A of distinct base records, and
    /// `colliding` edits by B of the same fields as A's first edits, to other values.
    fn workload(base: usize, new: usize, edits: usize, colliding: usize) -> WeekWorkload {
        assert!(edits <= base && colliding <= edits, "workload shape");
        let record = |n: usize| {
            let id = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + n as u128);
            let Json::Object(fields) = json!({
                "name": format!("Warga {n}"),
                "nik": format!("32730{n:011}"),
                "born": format!("19{:02}-0{}-1{}", n % 100, 1 + n % 9, n % 10),
                "sex": if n.is_multiple_of(2) { "F" } else { "M" },
                "household": Uuid::from_u128(n as u128 / 4).to_string(),
                "weight_kg": 40.5 + (n % 30) as f64,
                "visits": n % 12,
                "pregnant": n.is_multiple_of(7),
                "note": null,
                "address": { "street": format!("Jl. Merdeka {n}"), "rt": n % 20, "rw": n % 9 },
                "tags": ["posyandu", format!("rt{}", n % 20)],
            }) else {
                unreachable!("a json object")
            };
            (id, fields)
        };
        let records: Vec<_> = (0..base + new).map(record).collect();
        let edit = |n: usize, value: String| FieldEdit {
            record: records[n].0,
            path: vec!["address".into(), "street".into()],
            value: Json::String(value),
        };
        WeekWorkload {
            base: records[..base].to_vec(),
            a_new: records[base..].to_vec(),
            a_edits: (0..edits).map(|n| edit(n, format!("Jl. A {n}"))).collect(),
            b_edits: (0..colliding)
                .map(|n| edit(n, format!("Jl. B {n}")))
                .collect(),
        }
    }

    #[test]
    fn automerge_week_converges_and_idle_sync_is_smaller() -> Result<()> {
        let week = run(&workload(20, 3, 4, 1))?;
        assert!(week.bytes_a_to_b > 0 && week.bytes_b_to_a > 0, "{week:?}");
        assert!(week.messages >= 2, "{week:?}");
        assert!(week.base_doc_bytes > 0, "{week:?}");
        assert!(
            week.idle_bytes < week.bytes_a_to_b + week.bytes_b_to_a,
            "{week:?}"
        );
        Ok(())
    }

    #[test]
    fn automerge_records_read_back_as_their_json() -> Result<()> {
        let w = workload(2, 0, 1, 0);
        let mut doc = AutoCommit::new();
        let records = doc.put_object(ROOT, RECORDS, ObjType::Map)?;
        for (id, json) in &w.base {
            write_record(&mut doc, &records, *id, json)?;
        }
        apply_edit(&mut doc, &w.a_edits[0])?;
        let mut first = Json::Object(w.base[0].1.clone());
        first["address"]["street"] = json!("Jl. A 0");
        let read = serde_json::to_value(automerge::AutoSerde::from(&doc))?;
        assert_eq!(read[RECORDS][w.base[0].0.to_string()], first);
        assert_eq!(
            read[RECORDS][w.base[1].0.to_string()],
            Json::Object(w.base[1].1.clone())
        );
        Ok(())
    }

    /// A rough data point: `cargo test -p cageur-bench --lib automerge -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check; slow in debug builds"]
    fn automerge_week_of_2000_records() -> Result<()> {
        let week = run(&workload(2000, 350, 500, 10))?;
        println!("{week:#?}");
        Ok(())
    }
}
