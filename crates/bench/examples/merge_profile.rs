//! A profiling aid: merges a seeded puskesmas's states into a fresh replica, as a bootstrap
//! does on the tablet, without the exchange. Made to run under a profiler:
//!
//! ```sh
//! cargo build --release -p cageur-bench --example merge_profile
//! N=150 valgrind --tool=callgrind --toggle-collect='*merge_remote*' target/release/examples/merge_profile
//! perf record --call-graph dwarf target/release/examples/merge_profile
//! ```
//!
//! `N` is the number of households seeded (default 2,000).

use std::time::Instant;

use cageur_bench::seeded::Seeded;
use cageur_bench::visit::new_replica;
use field_core::{Durability, RemoteRecord};

fn main() -> cageur_bench::Result<()> {
    let households = cageur_bench::report::env_number("N", 2_000)?;
    let seeded = Seeded::build(households)?;
    let dir = tempfile::tempdir()?;
    let mut replica = new_replica(&dir.path().join("merged.db"))?;
    replica.set_durability(Durability::Full)?;
    let records: Vec<RemoteRecord> = seeded
        .records
        .iter()
        .map(|r| RemoteRecord {
            kind: r.kind,
            id: r.id,
            state: r.state.clone(),
        })
        .collect();
    let start = Instant::now();
    // Pull pages are merged one transaction each; 2,000 records is about one page.
    for page in records.chunks(2_000) {
        replica.merge_remote(page.to_vec())?;
    }
    eprintln!(
        "merged {} records in {:.2} s",
        records.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
