//! One step of the simulation: a health worker's action on a tablet, a sync, or a fault of
//! the server or of a tablet, drawn from the seeded stream.

use std::collections::BTreeSet;

use cageur_model::RecordKind;
use field_core::seed::{SeedOptions, seed};
use field_core::{FieldError, NewVisit, Replica, Resolution};
use rand::Rng;
use serde_json::json;
use uuid::Uuid;

use crate::invariants::ConcurrentPair;
use crate::transport::Fault;
use crate::{Failure, PUSKESMAS, Sim};

/// Names given in edits: few, so that tablets often write the same field at once.
const NAMES: [&str; 4] = [
    "Ahmad Suryadi",
    "Budi Santoso",
    "Cahya Lestari",
    "Dewi Anggraini",
];

pub(crate) fn step(sim: &mut Sim) -> Result<(), Failure> {
    let t = sim.rng.random_range(0..sim.tablets.len());
    let roll: u32 = sim.rng.random_range(0..100);
    if crate::tracing_on() {
        eprintln!(
            "step {} tablet {}: {}",
            sim.step,
            sim.tablets[t].number,
            action_name(roll)
        );
    }
    let acted = match roll {
        0..=13 => add_household(sim, t),
        14..=25 => edit_household(sim, t),
        26..=31 => edit_person(sim, t),
        32..=41 => record_visit(sim, t),
        42..=45 => advance_referral(sim, t),
        46..=48 => remove_record(sim, t),
        49..=52 => resolve_conflict(sim, t),
        53..=56 => concurrent_pair(sim),
        57..=58 if sim.config.moves => move_household(sim, t),
        57..=58 => Ok(()),
        59..=90 => {
            if sim.tablets[t].offline_until <= sim.step {
                sim.sync(t)?;
            }
            Ok(())
        }
        91..=92 => {
            let mut net = sim.net();
            net.count(Fault::ServerRestart);
            net.server.restart().map_err(|e| e.to_string())
        }
        93..=94 => sim.net().server.back_up().map_err(|e| e.to_string()),
        95 => {
            let mut net = sim.net();
            match net.server.restore_backup() {
                Ok(true) => {
                    net.count(Fault::ServerRestoredFromBackup);
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
        96..=97 => {
            let stretch = sim.rng.random_range(5..30);
            sim.tablets[t].offline_until = sim.step + stretch;
            sim.net().count(Fault::DeviceOffline);
            Ok(())
        }
        _ => {
            // The tablet's app is killed between two actions, and started again.
            let tablet = &mut sim.tablets[t];
            tablet.replica = None;
            tablet.open().map_err(|e| e.to_string())
        }
    };
    acted.map_err(|e| sim.fail(e))
}

/// What a roll of [`step`] does, for the trace.
fn action_name(roll: u32) -> &'static str {
    match roll {
        0..=13 => "add a household",
        14..=25 => "edit a household",
        26..=31 => "edit a person",
        32..=41 => "record a visit",
        42..=45 => "advance a referral",
        46..=48 => "remove a record",
        49..=52 => "resolve a conflict",
        53..=56 => "edit one field on two tablets",
        57..=58 => "move a household",
        59..=90 => "sync",
        91..=92 => "restart the server",
        93..=94 => "back the server up",
        95 => "restore the server's backup",
        96..=97 => "go offline",
        _ => "crash the app",
    }
}

/// Errors a health worker's action may meet in the simulation (a record removed or merged
/// meanwhile, a referral already further on); anything else is a failure.
fn tolerated(result: Result<(), FieldError>) -> Result<(), String> {
    match result {
        Ok(()) | Err(FieldError::Invalid(_) | FieldError::NotFound { .. }) => Ok(()),
        Err(e) => Err(format!("an action failed unexpectedly: {e}")),
    }
}

/// The live records of `kind` on a replica, by id.
fn live(replica: &Replica, kind: RecordKind) -> Result<Vec<Uuid>, FieldError> {
    let mut out = Vec::new();
    for r in replica.all_states()? {
        if r.kind == kind && !replica.get(r.id)?.deleted {
            out.push(r.id);
        }
    }
    Ok(out)
}

fn pick<T: Copy>(sim: &mut Sim, items: &[T]) -> Option<T> {
    (!items.is_empty()).then(|| items[sim.rng.random_range(0..items.len())])
}

fn ids(replica: &Replica) -> Result<BTreeSet<Uuid>, FieldError> {
    Ok(replica.all_states()?.into_iter().map(|r| r.id).collect())
}

fn add_household(sim: &mut Sim, t: usize) -> Result<(), String> {
    let seed_value: u64 = sim.rng.random();
    let tablet = &mut sim.tablets[t];
    let options = SeedOptions {
        households: 1,
        seed: seed_value,
        puskesmas: tablet.puskesmas.into(),
        team: format!(
            "TIM{}",
            PUSKESMAS
                .iter()
                .position(|p| *p == tablet.puskesmas)
                .unwrap_or(0)
        ),
        today: field_core::Clock::now(&tablet.clock).date_naive(),
    };
    let replica = tablet.replica();
    let before = ids(replica).map_err(|e| e.to_string())?;
    seed(replica, &options, &mut |_| {}).map_err(|e| format!("seeding: {e}"))?;
    let after = ids(replica).map_err(|e| e.to_string())?;
    sim.created.extend(after.difference(&before));
    Ok(())
}

/// Writes `head_name` of household `h` on tablet `t`, noting whether the tablet had seen
/// both values of a deliberate concurrent pair on it (then the write settles the pair).
fn write_head_name(sim: &mut Sim, t: usize, h: Uuid, name: &str) -> Result<(), String> {
    let informed = informed_of(sim, t, h)?;
    let replica = sim.tablets[t].replica();
    let written = replica.update_json(h, &json!({ "head_name": name }));
    if written.is_ok() {
        for pair in sim.concurrent.iter_mut().filter(|p| p.record == h) {
            if informed.contains(&(pair.one.clone(), pair.two.clone())) {
                pair.settled = true;
            }
        }
    }
    tolerated(written.map(|_| ()))
}

/// The deliberate pairs on `h` whose both values tablet `t` holds as candidates now.
fn informed_of(sim: &mut Sim, t: usize, h: Uuid) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> = sim
        .concurrent
        .iter()
        .filter(|p| p.record == h && !p.settled)
        .map(|p| (p.one.clone(), p.two.clone()))
        .collect();
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let view = match sim.tablets[t].replica().get(h) {
        Ok(view) => view,
        Err(_) => return Ok(Vec::new()),
    };
    let candidates: Vec<String> = view
        .conflicts
        .iter()
        .filter(|c| c.field == "head_name")
        .flat_map(|c| {
            c.candidates
                .iter()
                .filter_map(|v| v.value.as_str().map(str::to_owned))
        })
        .collect();
    Ok(pairs
        .into_iter()
        .filter(|(a, b)| candidates.contains(a) && candidates.contains(b))
        .collect())
}

fn edit_household(sim: &mut Sim, t: usize) -> Result<(), String> {
    let households =
        live(sim.tablets[t].replica(), RecordKind::Household).map_err(|e| e.to_string())?;
    let Some(h) = pick(sim, &households) else {
        return Ok(());
    };
    if sim.rng.random_bool(0.5) {
        let name = NAMES[sim.rng.random_range(0..NAMES.len())];
        write_head_name(sim, t, h, name)
    } else {
        let street = format!("Jl. Melati No. {}", sim.rng.random_range(1..20));
        let patch = json!({"address": {"street": street}});
        tolerated(sim.tablets[t].replica().update_json(h, &patch).map(|_| ()))
    }
}

fn edit_person(sim: &mut Sim, t: usize) -> Result<(), String> {
    let people = live(sim.tablets[t].replica(), RecordKind::Person).map_err(|e| e.to_string())?;
    let Some(p) = pick(sim, &people) else {
        return Ok(());
    };
    let name = NAMES[sim.rng.random_range(0..NAMES.len())];
    tolerated(
        sim.tablets[t]
            .replica()
            .update_json(p, &json!({ "name": name }))
            .map(|_| ()),
    )
}

fn record_visit(sim: &mut Sim, t: usize) -> Result<(), String> {
    let households =
        live(sim.tablets[t].replica(), RecordKind::Household).map_err(|e| e.to_string())?;
    let Some(h) = pick(sim, &households) else {
        return Ok(());
    };
    let members: Vec<Uuid> = sim.tablets[t]
        .replica()
        .members(h)
        .map_err(|e| e.to_string())?
        .iter()
        .map(|m| m.id)
        .collect();
    let refer = sim.rng.random_bool(0.5);
    let at = field_core::Clock::now(&sim.tablets[t].clock).to_rfc3339();
    let mut visit = json!({"visit": {"household": h, "visited_at": at, "team": "TIM0",
                                     "outcome": "visited", "screenings": []}});
    if let (true, Some(p)) = (refer, pick(sim, &members)) {
        visit["referrals"] = json!([{
            "person": p, "reason": "Rujukan simulasi", "category": "hypertension",
            "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"},
            "urgency": "urgent"
        }]);
    }
    let new: NewVisit = match cageur_model::json::from_value(visit) {
        Ok(new) => new,
        Err(e) => return Err(format!("the simulation's visit does not parse: {e}")),
    };
    let replica = sim.tablets[t].replica();
    match replica.record_visit(new) {
        Ok(recorded) => {
            sim.created.insert(recorded.visit.0);
            sim.created.extend(recorded.referrals.iter().map(|r| r.0));
            Ok(())
        }
        Err(e) => tolerated(Err(e)),
    }
}

fn advance_referral(sim: &mut Sim, t: usize) -> Result<(), String> {
    let referrals =
        live(sim.tablets[t].replica(), RecordKind::Referral).map_err(|e| e.to_string())?;
    let Some(r) = pick(sim, &referrals) else {
        return Ok(());
    };
    let replica = sim.tablets[t].replica();
    let status = replica.get(r).map_err(|e| e.to_string())?.record["status"].clone();
    let next = match status.as_str() {
        Some("created") => "sent",
        Some("sent") => "arrived",
        Some("arrived") => "completed",
        _ => return Ok(()),
    };
    tolerated(
        replica
            .update_json(r, &json!({ "status": next }))
            .map(|_| ()),
    )
}

fn remove_record(sim: &mut Sim, t: usize) -> Result<(), String> {
    let kind = if sim.rng.random_bool(0.5) {
        RecordKind::Visit
    } else {
        RecordKind::Person
    };
    let records = live(sim.tablets[t].replica(), kind).map_err(|e| e.to_string())?;
    let Some(id) = pick(sim, &records) else {
        return Ok(());
    };
    tolerated(sim.tablets[t].replica().remove(id).map(|_| ()))
}

fn resolve_conflict(sim: &mut Sim, t: usize) -> Result<(), String> {
    let conflicts = sim.tablets[t]
        .replica()
        .conflicts()
        .map_err(|e| e.to_string())?;
    if conflicts.is_empty() {
        return Ok(());
    }
    let c = conflicts[sim.rng.random_range(0..conflicts.len())].clone();
    let choice = sim.rng.random_range(0..c.candidates.len());
    let informed = if c.field == "head_name" {
        informed_of(sim, t, c.id)?
    } else {
        Vec::new()
    };
    let resolved = sim.tablets[t]
        .replica()
        .resolve(c.id, &c.field, Resolution::Pick(choice));
    if resolved.is_ok() {
        for pair in sim.concurrent.iter_mut().filter(|p| p.record == c.id) {
            if informed.contains(&(pair.one.clone(), pair.two.clone())) {
                pair.settled = true;
            }
        }
    }
    tolerated(resolved)
}

/// Two tablets of one puskesmas, both out of touch with each other, write different values
/// into the same field of the same household: a conflict by construction.
fn concurrent_pair(sim: &mut Sim) -> Result<(), String> {
    let scope = PUSKESMAS[sim.rng.random_range(0..PUSKESMAS.len())];
    let of_scope: Vec<usize> = (0..sim.tablets.len())
        .filter(|&i| sim.tablets[i].puskesmas == scope)
        .collect();
    if of_scope.len() < 2 {
        return Ok(());
    }
    let a = of_scope[sim.rng.random_range(0..of_scope.len())];
    let b = loop {
        let b = of_scope[sim.rng.random_range(0..of_scope.len())];
        if b != a {
            break b;
        }
    };
    let mine: BTreeSet<Uuid> = live(sim.tablets[a].replica(), RecordKind::Household)
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let shared: Vec<Uuid> = live(sim.tablets[b].replica(), RecordKind::Household)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|h| mine.contains(h))
        .collect();
    let Some(h) = pick(sim, &shared) else {
        return Ok(());
    };
    let (one, two) = (
        format!("Kepala {} A", sim.step),
        format!("Kepala {} B", sim.step),
    );
    let wrote_one = sim.tablets[a]
        .replica()
        .update_json(h, &json!({"head_name": one}));
    let wrote_two = sim.tablets[b]
        .replica()
        .update_json(h, &json!({"head_name": two}));
    if wrote_one.is_ok() && wrote_two.is_ok() {
        sim.concurrent.push(ConcurrentPair {
            record: h,
            one,
            two,
            settled: false,
        });
    }
    tolerated(wrote_one.map(|_| ()))?;
    tolerated(wrote_two.map(|_| ()))
}

fn move_household(sim: &mut Sim, t: usize) -> Result<(), String> {
    let households =
        live(sim.tablets[t].replica(), RecordKind::Household).map_err(|e| e.to_string())?;
    let Some(h) = pick(sim, &households) else {
        return Ok(());
    };
    let other = PUSKESMAS
        .iter()
        .find(|p| **p != sim.tablets[t].puskesmas)
        .expect("two puskesmas");
    tolerated(
        sim.tablets[t]
            .replica()
            .update_json(h, &json!({ "puskesmas": other }))
            .map(|_| ()),
    )
}
