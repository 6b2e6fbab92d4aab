//! A tablet alone in a process, for what can only be measured per process (peak memory):
//! `bench-tablet DB` opens the enrolled tablet database `DB` (with the benchmarks' key), syncs
//! it once, and prints what it measured as one JSON object.

use std::time::Instant;

use cageur_bench::{Result, db, tablet};
use field_core::Replica;
use field_core::sync::SyncOptions;
use serde_json::json;

fn main() -> Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: bench-tablet DB (an enrolled tablet database)")?;
    let mut replica = Replica::open(path.as_ref(), &db::key(), tablet::options())?;
    let start = Instant::now();
    let report = replica.sync(&SyncOptions::default(), &mut |_| {})?;
    let seconds = start.elapsed().as_secs_f64();
    drop(replica);
    println!(
        "{}",
        json!({"seconds": seconds, "pulled": report.pulled,
               "bytes_down": report.traffic.bytes_down,
               "round_trips": report.traffic.round_trips,
               "peak_rss_bytes": peak_rss_bytes()?})
    );
    Ok(())
}

/// This process's peak resident set size, from `/proc/self/status` (Linux).
fn peak_rss_bytes() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or("no VmHWM in /proc/self/status")?;
    Ok(kb * 1024)
}
