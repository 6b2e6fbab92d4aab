//! What must hold once the faults heal and every tablet has synced twice:
//!
//! 1. every replica of a puskesmas is the server's scope of it, byte for byte (so no tablet
//!    holds another puskesmas's record, and every change a tablet holds reached the server);
//! 2. every record any tablet ever created is on the server (nothing recorded is lost, even
//!    what a crash, a lost answer or a restored backup came between);
//! 3. no record is held twice: one scope on the server, one kind on a tablet;
//! 4. no concurrent same-field edit is silently dropped: for every pair of edits the
//!    simulation made concurrent on purpose, the server shows a conflict on the field, or a
//!    tablet that held both values settled it, or a later write superseded them (the field
//!    shows neither); one of the two shown alone, with no conflict and no settling, would be
//!    the other lost.
//!
//! Panics are caught by the simulation itself (a tablet's or the server's).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use cageur_model::forms::FormRegistry;
use uuid::Uuid;

use crate::{Failure, PUSKESMAS, Sim};

/// A same-field concurrent edit the simulation made on purpose.
#[derive(Debug, Clone)]
pub struct ConcurrentPair {
    pub record: Uuid,
    pub one: String,
    pub two: String,
    /// A tablet that held both values wrote the field since (a resolution or an edit).
    pub settled: bool,
}

/// What the checks found.
#[derive(Debug, Clone)]
pub struct Checked {
    pub records: usize,
    pub checks: u64,
    pub trace: String,
}

fn ids_of(export: &str) -> Vec<Uuid> {
    export
        .lines()
        .filter_map(|line| {
            let at = line.find("\"id\":\"")? + 6;
            line.get(at..at + 36)?.parse().ok()
        })
        .collect()
}

pub(crate) fn check(sim: &mut Sim) -> Result<Checked, Failure> {
    let mut checks = 0u64;
    let forms = FormRegistry::with_builtins();
    let mut exports = BTreeMap::new();
    let mut everywhere = BTreeMap::new();
    {
        let net = sim.net();
        for p in PUSKESMAS {
            let mut out = Vec::new();
            net.server
                .store()
                .export(p, &forms, &mut out)
                .map_err(|e| sim.fail(format!("the server's export of {p}: {e}")))?;
            let text = String::from_utf8(out).map_err(|e| sim.fail(e.to_string()))?;
            for id in ids_of(&text) {
                if let Some(earlier) = everywhere.insert(id, p) {
                    return Err(sim.fail(format!("record {id} is in both {earlier} and {p}")));
                }
            }
            exports.insert(p, text);
        }
    }
    checks += 1;

    for t in 0..sim.tablets.len() {
        let (number, scope) = (sim.tablets[t].number, sim.tablets[t].puskesmas);
        let replica = sim.tablets[t].replica.as_ref().expect("the tablet is open");
        let export = replica
            .export()
            .map_err(|e| sim.fail(format!("tablet {number}'s export: {e}")))?;
        if export != exports[scope] {
            let (mine, theirs): (BTreeSet<Uuid>, BTreeSet<Uuid>) = (
                ids_of(&export).into_iter().collect(),
                ids_of(&exports[scope]).into_iter().collect(),
            );
            let extra: Vec<String> = mine
                .difference(&theirs)
                .take(3)
                .map(|id| match everywhere.get(id) {
                    Some(p) => format!("{id} (on the server in {p})"),
                    None => format!("{id} (not on the server)"),
                })
                .collect();
            let missing: Vec<_> = theirs.difference(&mine).take(3).collect();
            let pending = replica.pending_changes().unwrap_or(u64::MAX);
            if std::env::var_os("SIM_DIFF").is_some() {
                for (a, b) in export.lines().zip(exports[scope].lines()) {
                    if a != b {
                        eprintln!("tablet: {a}\nserver: {b}");
                        break;
                    }
                }
            }
            return Err(sim.fail(format!(
                "tablet {number} of {scope} differs from the server's scope (tablet only: \
                 {extra:?}; server only: {missing:?}; {} vs {} records; {pending} pending)",
                mine.len(),
                theirs.len()
            )));
        }
        checks += 1;
        let states = replica
            .all_states()
            .map_err(|e| sim.fail(format!("tablet {number}'s states: {e}")))?;
        let unique: BTreeSet<Uuid> = states.iter().map(|r| r.id).collect();
        if unique.len() != states.len() {
            return Err(sim.fail(format!("tablet {number} holds a record under two kinds")));
        }
        checks += 1;
    }

    let lost: Vec<&Uuid> = sim
        .created
        .iter()
        .filter(|id| !everywhere.contains_key(id))
        .take(5)
        .collect();
    if !lost.is_empty() {
        return Err(sim.fail(format!(
            "{} records created on tablets are not on the server, e.g. {lost:?}",
            sim.created
                .iter()
                .filter(|id| !everywhere.contains_key(id))
                .count()
        )));
    }
    checks += sim.created.len() as u64;

    for pair in &sim.concurrent {
        let scope = everywhere.get(&pair.record).copied();
        let line = scope.and_then(|p| {
            exports[p]
                .lines()
                .find(|l| l.contains(&format!("\"id\":\"{}\"", pair.record)))
        });
        let Some(line) = line else {
            return Err(sim.fail(format!(
                "household {} of a concurrent pair is gone",
                pair.record
            )));
        };
        let record: serde_json::Value = serde_json::from_str(line.trim_end_matches(','))
            .map_err(|e| sim.fail(e.to_string()))?;
        let conflict = record["conflicts"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["field"] == "head_name"));
        let shown = record["record"]["head_name"].as_str().unwrap_or_default();
        let alone = shown == pair.one || shown == pair.two;
        if alone && !conflict && !pair.settled {
            return Err(sim.fail(format!(
                "of the concurrent edits {:?} and {:?} of household {}, {shown:?} is shown \
                 alone: no conflict, and no tablet that saw both settled it",
                pair.one, pair.two, pair.record
            )));
        }
        checks += 1;
    }

    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for export in exports.values() {
        export.hash(&mut hasher);
    }
    Ok(Checked {
        records: everywhere.len(),
        checks,
        trace: format!("{:016x}", hasher.finish()),
    })
}
