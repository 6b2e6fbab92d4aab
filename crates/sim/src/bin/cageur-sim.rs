//! `cageur-sim`: runs the deterministic simulation.
//!
//! ```sh
//! cargo run -p cageur-sim --release -- run --seeds 500            # seeds 0..500, quick runs
//! cargo run -p cageur-sim --release -- replay --seed 1234         # one seed again, with its report
//! cargo run -p cageur-sim --release -- soak --seconds 3600        # larger runs until time is up
//! ```

use std::time::{Duration, Instant};

use anyhow::bail;
use cageur_sim::{SimConfig, run};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cageur-sim",
    about = "The deterministic simulation of Cageur Jasa sync"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs `--seeds` seeds from `--from`, quick runs; prints failing seeds.
    Run {
        #[arg(long, default_value_t = 200)]
        seeds: u64,
        #[arg(long, default_value_t = 0)]
        from: u64,
    },
    /// Runs one seed and prints its report.
    Replay {
        #[arg(long)]
        seed: u64,
        /// Replay it as a soak run (larger) rather than a quick one.
        #[arg(long)]
        soak: bool,
    },
    /// Runs larger seeds until `--seconds` have passed; prints seeds per second.
    Soak {
        #[arg(long, default_value_t = 600)]
        seconds: u64,
        #[arg(long, default_value_t = 1_000_000)]
        from: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { seeds, from } => sweep(from, Some(seeds), None, SimConfig::quick),
        Command::Replay { seed, soak } => {
            let config = if soak {
                SimConfig::soak(seed)
            } else {
                SimConfig::quick(seed)
            };
            match run(seed, &config) {
                Ok(report) => {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                    Ok(())
                }
                Err(failure) => bail!("{failure}"),
            }
        }
        Command::Soak { seconds, from } => sweep(
            from,
            None,
            Some(Duration::from_secs(seconds)),
            SimConfig::soak,
        ),
    }
}

fn sweep(
    from: u64,
    count: Option<u64>,
    budget: Option<Duration>,
    config: fn(u64) -> SimConfig,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (mut ran, mut failed) = (0u64, Vec::new());
    let mut faults = std::collections::BTreeMap::new();
    let mut seed = from;
    loop {
        if count.is_some_and(|n| ran >= n) || budget.is_some_and(|b| started.elapsed() >= b) {
            break;
        }
        match run(seed, &config(seed)) {
            Ok(report) => {
                for (fault, n) in report.faults {
                    *faults.entry(fault).or_insert(0u64) += n;
                }
            }
            Err(failure) => {
                eprintln!("{failure}");
                failed.push(seed);
            }
        }
        ran += 1;
        seed += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{ran} seeds in {secs:.1} s ({:.2} seeds/s), {} failed; faults injected: {}",
        ran as f64 / secs,
        failed.len(),
        serde_json::to_string(&faults)?
    );
    if !failed.is_empty() {
        bail!("failing seeds: {failed:?}");
    }
    Ok(())
}
