//! Sync against same-run baselines: `cargo bench -p cageur-bench --bench sync`, or one part
//! with `-- week`.
//!
//! - `week`: on a seeded puskesmas behind a real server (SQLite store, loopback HTTP): (b) a new
//!   tablet's bootstrap against inserting the same rows into SQLite and against the
//!   zstd-compressed export; (a) a week offline for a team against Automerge 0.12's sync
//!   protocol on the same changes.
//!
//! Environment: `BENCH_HOUSEHOLDS` (default 12,500: one puskesmas), `BENCH_WEEK_VISITS` (350),
//! `BENCH_WEEK_EDITS` (500), `BENCH_WEEK_COLLISIONS` (10, i.e. 2% of the edits). Targets are
//! printed, never asserted; the JSON report goes to `target/bench-sync.json`.

use std::time::Instant;

use cageur_bench::server::BenchServer;
use cageur_bench::sync_week::{self, WeekConfig};
use cageur_bench::{Result, report};
use serde_json::Map;

const PARTS: [&str; 1] = ["week"];

fn main() -> Result<()> {
    let wanted = report::wanted_parts(&PARTS)?;
    let started = Instant::now();
    let mut parts = Map::new();
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
    let total = started.elapsed().as_secs_f64();
    println!("whole run: {total:.1} s");
    let path = report::write("sync", total, parts)?;
    println!("JSON report: {}", path.display());
    Ok(())
}
