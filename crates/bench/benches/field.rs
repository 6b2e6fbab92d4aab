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

use std::time::Instant;

use cageur_bench::seeded::Seeded;
use cageur_bench::visit::VisitConfig;
use cageur_bench::{Result, records, report, size, visit};
use serde_json::Map;

const PARTS: [&str; 3] = ["visit", "size", "records"];

fn main() -> Result<()> {
    let parts_wanted = report::wanted_parts(&PARTS)?;
    let wanted = |part: &str| parts_wanted.iter().any(|p| p == part);
    let households: u32 = report::env_number("BENCH_HOUSEHOLDS", 12_500)?;
    let visits: usize = report::env_number("BENCH_VISITS", 1_500)?;

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

    let path = report::write("field", total, parts)?;
    println!("JSON report: {}", path.display());
    Ok(())
}
