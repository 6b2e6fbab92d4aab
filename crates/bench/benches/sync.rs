//! Sync against same-run baselines: `cargo bench -p cageur-bench --bench sync`, or one part
//! with `-- bootstrap`, `-- week` or `-- load`.
//!
//! - `bootstrap`: (b) a new tablet's bootstrap of a seeded puskesmas behind a real server
//!   (SQLite store, loopback HTTP) against inserting the same rows into SQLite (interleaved
//!   rounds) and against the zstd-compressed export; its peak memory alone in a process.
//! - `week`: (a) a week offline for a team on the same seeded puskesmas against Automerge 0.12's
//!   sync protocol on the same changes.
//! - `load`: (c) 40, 100 and 200 tablets syncing a day's work at once through a proxy that cuts
//!   10% of connections mid-transfer, the SQLite store and the PostgreSQL store side by side
//!   (PostgreSQL at 127.0.0.1:5432, or `CAGEUR_TEST_PG`; a database made and dropped per run).
//!
//! Environment: `BENCH_HOUSEHOLDS` (default 12,500: one puskesmas), `BENCH_BOOTSTRAP_ROUNDS`
//! (3), `BENCH_WEEK_VISITS` (350),
//! `BENCH_WEEK_EDITS` (500), `BENCH_WEEK_COLLISIONS` (10, i.e. 2% of the edits);
//! `BENCH_LOAD_HOUSEHOLDS` (40 per puskesmas), `BENCH_LOAD_VISITS` (10) and `BENCH_LOAD_EDITS`
//! (15) per tablet, `BENCH_LOAD_DEVICES` (`40,100,200`). Targets are printed, never asserted; the JSON report goes to
//! `target/bench-sync.json`.

use std::time::Instant;

use cageur_bench::bootstrap::{self, BootstrapConfig};
use cageur_bench::load::{self, LoadConfig, LoadRun};
use cageur_bench::server::BenchServer;
use cageur_bench::sync_week::{self, WeekConfig};
use cageur_bench::{Result, report};
use cageur_e2e::pg::TestDatabase;
use serde_json::{Map, Value};

const PARTS: [&str; 3] = ["bootstrap", "week", "load"];

/// Tablets in each rush of the `load` part.
const LOAD_DEVICES: [usize; 3] = [40, 100, 200];

fn main() -> Result<()> {
    let wanted = report::wanted_parts(&PARTS)?;
    let started = Instant::now();
    let mut parts = Map::new();
    if wanted.iter().any(|p| p == "bootstrap") {
        let config = BootstrapConfig {
            households: report::env_number("BENCH_HOUSEHOLDS", 12_500)?,
            rounds: report::env_number("BENCH_BOOTSTRAP_ROUNDS", 3)?,
        };
        let server = BenchServer::sqlite()?;
        let tablet = std::path::Path::new(env!("CARGO_BIN_EXE_bench-tablet"));
        let run = bootstrap::run(&server, config, tablet)?;
        run.print();
        parts.insert("bootstrap".into(), run.to_json());
        println!();
    }
    if wanted.iter().any(|p| p == "week") {
        let config = WeekConfig {
            households: report::env_number("BENCH_HOUSEHOLDS", 12_500)?,
            visits: report::env_number("BENCH_WEEK_VISITS", 350)?,
            edits: report::env_number("BENCH_WEEK_EDITS", 500)?,
            collisions: report::env_number("BENCH_WEEK_COLLISIONS", 10)?,
        };
        let server = BenchServer::sqlite()?;
        let week = sync_week::run(&server, config)?;
        week.print();
        parts.insert("week".into(), week.to_json());
        println!();
    }
    if wanted.iter().any(|p| p == "load") {
        let runs = load_part()?;
        parts.insert(
            "load".into(),
            Value::Array(runs.iter().map(LoadRun::to_json).collect()),
        );
        println!();
    }
    let total = started.elapsed().as_secs_f64();
    println!("whole run: {total:.1} s");
    let path = report::write("sync", total, parts)?;
    println!("JSON report: {}", path.display());
    Ok(())
}

/// (c): each rush size on each store, a fresh server and database per run.
fn load_part() -> Result<Vec<LoadRun>> {
    let households = report::env_number("BENCH_LOAD_HOUSEHOLDS", 40)?;
    let visits = report::env_number("BENCH_LOAD_VISITS", 10)?;
    let edits = report::env_number("BENCH_LOAD_EDITS", 15)?;
    println!(
        "(c) tablets syncing a day ({visits} visits, {edits} edits each; {households} households per \
         puskesmas, 4 tablets each) at once, 10% of connections cut (p99 target < 2000 ms)"
    );
    LoadRun::print_header();
    let mut runs = Vec::new();
    let sizes: Vec<usize> = match std::env::var("BENCH_LOAD_DEVICES") {
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| format!("BENCH_LOAD_DEVICES must be numbers like 40,100,200: {list:?}"))?,
        Err(_) => LOAD_DEVICES.to_vec(),
    };
    for devices in sizes {
        let config = LoadConfig {
            devices,
            per_puskesmas: 4,
            households,
            visits,
            edits,
            cut_ratio: 0.10,
        };
        for store in ["sqlite", "postgres"] {
            eprintln!("  {devices} tablets on {store}");
            let database = (store == "postgres").then(|| TestDatabase::create("bench_load"));
            let server = match &database {
                Some(db) => BenchServer::postgres(&db.url)?,
                None => BenchServer::sqlite()?,
            };
            let run = load::run(&server, store, config)?;
            run.print();
            drop(server);
            runs.push(run);
        }
    }
    Ok(runs)
}
