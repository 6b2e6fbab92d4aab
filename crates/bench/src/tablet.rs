//! What the sync benchmarks do with a tablet: open one as the app does, time its sync, and
//! give a seeded puskesmas to a server by having one tablet upload it.

use std::path::Path;
use std::time::Instant;

use field_core::sync::{SyncOptions, SyncReport};
use field_core::{Durability, FixedClock, OpenOptions, Replica, Worker};
use serde_json::{Value, json};

use crate::server::BenchServer;
use crate::{Result, family};

/// One device's sync, as measured.
#[derive(Debug, Clone, Default)]
pub struct SyncRun {
    pub seconds: f64,
    pub report: SyncReport,
}

impl SyncRun {
    /// Bytes on the wire, both directions.
    pub fn bytes(&self) -> u64 {
        self.report.traffic.bytes_up + self.report.traffic.bytes_down
    }

    pub fn to_json(&self) -> Value {
        json!({"seconds": self.seconds, "round_trips": self.report.traffic.round_trips,
               "bytes_up": self.report.traffic.bytes_up,
               "bytes_down": self.report.traffic.bytes_down,
               "pushed": self.report.pushed, "pulled": self.report.pulled})
    }

    /// One line of a printed report.
    pub fn line(&self, label: &str) {
        println!(
            "  {label:<34} {:>8.2} s {:>5} trips {:>11} B up {:>11} B down  ({} pushed, {} pulled)",
            self.seconds,
            self.report.traffic.round_trips,
            self.report.traffic.bytes_up,
            self.report.traffic.bytes_down,
            self.report.pushed,
            self.report.pulled
        );
    }
}

/// How the benchmarks open a tablet: durable as in the field, at the seeded workload's "now".
pub fn options() -> OpenOptions {
    OpenOptions {
        durability: Durability::Full,
        clock: Box::new(FixedClock(family::now())),
    }
}

/// Runs one sync of `replica` and times it.
pub fn timed_sync(replica: &mut Replica) -> Result<SyncRun> {
    let start = Instant::now();
    let report = replica.sync(&SyncOptions::default(), &mut |_| {})?;
    Ok(SyncRun {
        seconds: start.elapsed().as_secs_f64(),
        report,
    })
}

/// Signs in a nurse numbered `id` on `replica`.
pub fn worker(replica: &mut Replica, id: u32) -> Result<()> {
    replica.set_worker(&Worker {
        id,
        name: format!("Perawat {id}"),
        role: field_core::model::Role::Nurse,
    })?;
    Ok(())
}

/// Seeds a puskesmas of `households` on a tablet of team CPD-01 (in `dir`) and uploads it to
/// `server`: the history every other tablet then bootstraps.
pub fn upload_seeded(server: &BenchServer, households: u32, dir: &Path) -> Result<SyncRun> {
    let mut seeded = server.enroll("CPD-01", &dir.join("seeded.db"), options())?;
    worker(&mut seeded, 101)?;
    seeded.set_durability(Durability::Normal)?;
    let seed_options = field_core::seed::SeedOptions {
        households,
        seed: 1,
        puskesmas: family::PUSKESMAS.into(),
        team: "CPD-01".into(),
        today: family::now().date_naive(),
    };
    let step = (households / 5).max(1);
    field_core::seed::seed(&mut seeded, &seed_options, &mut |done| {
        if done % step == 0 {
            eprintln!("  seeding: {done} of {households} households");
        }
    })?;
    eprintln!("  uploading the scope");
    timed_sync(&mut seeded)
}
