//! field-core against same-run baselines: `cargo bench -p cageur-bench --bench field`, or one
//! part with `-- visit`, `-- size` or `-- records`.
//!
//! The machines that run this are small and noisy, so nothing here is a bare timing: each
//! figure is printed beside its baseline, measured in the same process, and the ratio is what
//! to read. Targets are printed, never asserted. The report also goes, as JSON, to
//! `target/bench-field.json` (for docs/benchmarks.md).
//!
//! Environment: `BENCH_HOUSEHOLDS` (default 12,500, one puskesmas) sizes the seeded database
//! of parts `size` and `records`; `BENCH_VISITS` (default 1,500) the timed visits of `visit`.

use std::path::PathBuf;
use std::time::Instant;

use cageur_bench::seeded::Seeded;
use cageur_bench::visit::VisitConfig;
use cageur_bench::{Result, records, size, visit};
use serde_json::{Map, Value, json};

const PARTS: [&str; 3] = ["visit", "size", "records"];

fn main() -> Result<()> {
    // Cargo passes `--bench`; anything else is a part to run.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted =
        |part: &str| filters.is_empty() || filters.iter().any(|f| part.contains(f.as_str()));
    if !PARTS.iter().any(|p| wanted(p)) {
        return Err(format!("no part matches {filters:?}; parts: {}", PARTS.join(", ")).into());
    }
    let households: u32 = env_number("BENCH_HOUSEHOLDS", 12_500)?;
    let visits: usize = env_number("BENCH_VISITS", 1_500)?;

    let started = Instant::now();
    let mut parts = Map::new();
    if wanted("visit") {
        let report = visit::run(VisitConfig {
            warmup: 100,
            iterations: visits,
        })?;
        report.print();
        parts.insert("visit".into(), report.to_json());
        println!();
    }
    if wanted("size") || wanted("records") {
        let seeded = Seeded::build(households)?;
        if wanted("size") {
            let report = size::run(&seeded)?;
            report.print();
            parts.insert("size".into(), report.to_json());
            println!();
        }
        if wanted("records") {
            let report = records::run(&seeded)?;
            report.print();
            parts.insert("records".into(), report.to_json());
            println!();
        }
    }
    let total = started.elapsed().as_secs_f64();
    println!("whole run: {total:.1} s");

    let report = json!({
        "bench": "field",
        "run_at": chrono::Local::now().to_rfc3339(),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "total_seconds": total,
        "parts": Value::Object(parts),
    });
    let path = report_path()?;
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("JSON report: {}", path.display());
    Ok(())
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .replace(['_', ','], "")
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not {text:?}").into()),
        Err(_) => Ok(default),
    }
}

/// `target/bench-field.json`: the bench runs as `target/<profile>/deps/field-<hash>`.
fn report_path() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("the bench executable is not inside a target directory")?;
    Ok(target.join("bench-field.json"))
}
