//! The simulation as CI runs it: three hundred seeds, each a server and 3-6 tablets through
//! sixty steps of health workers' actions (households moving between puskesmas among them)
//! and faults of every kind, then every invariant checked; and a seed replays the same run.
//! `cargo run -p cageur-sim --release -- soak` runs as many more as asked.

use std::collections::BTreeMap;

use cageur_sim::transport::Fault;
use cageur_sim::{SimConfig, run};

/// Runs `seeds`, failing with every failing seed (each says how to replay it), and returns
/// the faults injected by kind.
fn run_seeds(seeds: impl IntoIterator<Item = u64>) -> BTreeMap<Fault, u64> {
    let mut faults = BTreeMap::new();
    let mut failures = Vec::new();
    for seed in seeds {
        match run(seed, &SimConfig::quick(seed)) {
            Ok(report) => {
                for (fault, n) in report.faults {
                    *faults.entry(fault).or_insert(0) += n;
                }
            }
            Err(failure) => failures.push(failure.to_string()),
        }
    }
    assert!(
        failures.is_empty(),
        "{} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    faults
}

fn every_kind_struck(faults: &BTreeMap<Fault, u64>) {
    for kind in [
        Fault::RequestLost,
        Fault::ResponseLost,
        Fault::Duplicated,
        Fault::DeliveredLate,
        Fault::DeviceCrash,
        Fault::ServerRestart,
        Fault::ServerRestoredFromBackup,
        Fault::DeviceOffline,
        Fault::ClockWrong,
    ] {
        assert!(
            faults.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind:?} in {faults:?}"
        );
    }
}

// Two halves, so that the two cores of a CI machine share them.
#[test]
fn seeds_0_to_149_keep_every_invariant() {
    every_kind_struck(&run_seeds(0..150));
}

#[test]
fn seeds_150_to_299_keep_every_invariant() {
    every_kind_struck(&run_seeds(150..300));
}

/// Each seed that once found a bug (docs/reliability.md tells which and how it was fixed),
/// named here so that it stays run even where it falls outside the ranges above.
const SEEDS_THAT_FOUND_BUGS: [u64; 7] = [1, 3, 28, 120, 237, 469, 1046];

#[test]
fn the_seeds_that_found_bugs_keep_every_invariant() {
    run_seeds(SEEDS_THAT_FOUND_BUGS);
}

#[test]
fn a_seed_replays_the_same_run_and_another_seed_does_not() {
    let first = run(7, &SimConfig::quick(7)).unwrap();
    let again = run(7, &SimConfig::quick(7)).unwrap();
    assert_eq!(first.trace, again.trace, "the replicas' final contents");
    assert_eq!(first.faults, again.faults);
    assert_eq!(
        (first.syncs, first.requests, first.records, first.checks),
        (again.syncs, again.requests, again.records, again.checks)
    );
    let other = run(8, &SimConfig::quick(8)).unwrap();
    assert_ne!(first.trace, other.trace);
}
