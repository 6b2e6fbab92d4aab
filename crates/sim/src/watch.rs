//! Following one record through a run while debugging a seed: with `SIM_WATCH=<record id>`,
//! every step prints where the record is, on each tablet and on the server.

use std::sync::OnceLock;

use uuid::Uuid;

use crate::{PUSKESMAS, Sim};

/// The record `SIM_WATCH` names, if any.
fn watched() -> Option<Uuid> {
    static WATCHED: OnceLock<Option<Uuid>> = OnceLock::new();
    *WATCHED.get_or_init(|| {
        std::env::var("SIM_WATCH")
            .ok()
            .and_then(|id| Uuid::parse_str(id.trim()).ok())
    })
}

/// Prints where the watched record is after `what` happened.
pub(crate) fn report(sim: &Sim, what: &str) {
    let Some(id) = watched() else {
        return;
    };
    let needle = id.to_string();
    let mut places = Vec::new();
    for tablet in &sim.tablets {
        let Some(replica) = tablet.replica.as_ref() else {
            continue;
        };
        let held = replica
            .all_states()
            .map(|states| states.iter().any(|r| r.id == id))
            .unwrap_or(false);
        if held {
            places.push(format!("tablet {} ({})", tablet.number, tablet.puskesmas));
        }
    }
    let net = sim.net();
    let forms = cageur_model::forms::FormRegistry::with_builtins();
    for p in PUSKESMAS {
        let mut out = Vec::new();
        if net.server.store().export(p, &forms, &mut out).is_ok()
            && String::from_utf8_lossy(&out).contains(&needle)
        {
            places.push(format!("server ({p})"));
        }
    }
    eprintln!("  watch {id} after {what}: {places:?}");
}
