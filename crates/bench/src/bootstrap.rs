//! (b) A new tablet's bootstrap of a seeded puskesmas, through a real server over loopback:
//! its time against inserting the same rows straight into an SQLite file opened the same way
//! (the rounds interleaved in one process), its bytes against the zstd-compressed canonical
//! export, and its peak memory, measured on a tablet running alone in a child process.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::BenchServer;
use crate::stats::median;
use crate::tablet::{self, SyncRun};
use crate::{Result, db, records};

/// Targets of the sync issue.
const TIME_TARGET: f64 = 3.0;
const BYTES_TARGET: f64 = 1.1;
const MEMORY_TARGET: u64 = 200 * 1024 * 1024;

/// The size of the run.
#[derive(Debug, Clone, Copy)]
pub struct BootstrapConfig {
    pub households: u32,
    /// Bootstraps timed, each followed by a baseline insert.
    pub rounds: usize,
}

/// What the tablet in the child process (`bench-tablet`) reports.
#[derive(Debug, Clone, Deserialize)]
pub struct ChildRun {
    pub seconds: f64,
    pub pulled: u64,
    pub bytes_down: u64,
    pub round_trips: u32,
    /// The process's peak resident set (Linux `VmHWM`).
    pub peak_rss_bytes: u64,
}

/// Everything the run measured.
#[derive(Debug)]
pub struct BootstrapReport {
    pub config: BootstrapConfig,
    pub records: usize,
    pub upload: SyncRun,
    pub bootstraps: Vec<SyncRun>,
    pub plain_seconds: Vec<f64>,
    pub export_zstd_bytes: u64,
    pub child: ChildRun,
}

impl BootstrapReport {
    fn time_ratio(&self) -> f64 {
        let ours: Vec<f64> = self.bootstraps.iter().map(|b| b.seconds).collect();
        median(&ours) / median(&self.plain_seconds)
    }

    fn bytes_ratio(&self) -> f64 {
        self.bootstraps[0].bytes() as f64 / self.export_zstd_bytes as f64
    }

    pub fn print(&self) {
        println!(
            "(b) bootstrap of a new tablet: a puskesmas of {} households ({} records), real server on SQLite, loopback HTTP",
            self.config.households, self.records
        );
        self.upload.line("seeded tablet uploads the scope");
        for (n, (run, plain)) in self.bootstraps.iter().zip(&self.plain_seconds).enumerate() {
            run.line(&format!("round {}: bootstrap (paged pull)", n + 1));
            println!(
                "  round {}: same rows inserted into SQLite   {plain:>8.2} s",
                n + 1
            );
        }
        let ratio = self.time_ratio();
        println!(
            "  median bootstrap / median insert: {ratio:.2}x (target <= {TIME_TARGET}x: {})",
            verdict(ratio <= TIME_TARGET)
        );
        let bytes = self.bytes_ratio();
        println!(
            "  zstd canonical export: {} B -> wire {bytes:.2}x (target <= {BYTES_TARGET}x: {})",
            self.export_zstd_bytes,
            verdict(bytes <= BYTES_TARGET)
        );
        let c = &self.child;
        println!(
            "  alone in a process: {:.2} s, {} records, {} round trips; peak memory {:.1} MB (target < {} MB: {})",
            c.seconds,
            c.pulled,
            c.round_trips,
            c.peak_rss_bytes as f64 / 1_048_576.0,
            MEMORY_TARGET / 1_048_576,
            verdict(c.peak_rss_bytes < MEMORY_TARGET)
        );
    }

    pub fn to_json(&self) -> Value {
        json!({
            "households": self.config.households, "records": self.records,
            "upload": self.upload.to_json(),
            "bootstraps": self.bootstraps.iter().map(SyncRun::to_json).collect::<Vec<_>>(),
            "plain_insert_seconds": self.plain_seconds,
            "time_ratio": self.time_ratio(),
            "export_zstd_bytes": self.export_zstd_bytes,
            "bytes_ratio": self.bytes_ratio(),
            "child": {"seconds": self.child.seconds, "pulled": self.child.pulled,
                      "bytes_down": self.child.bytes_down, "round_trips": self.child.round_trips,
                      "peak_rss_bytes": self.child.peak_rss_bytes},
        })
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// Runs (b) against `server`; `tablet_exe` is the `bench-tablet` binary.
pub fn run(
    server: &BenchServer,
    config: BootstrapConfig,
    tablet_exe: &Path,
) -> Result<BootstrapReport> {
    let dir = tempfile::tempdir()?;
    let upload = tablet::upload_seeded(server, config.households, dir.path())?;

    let mut bootstraps = Vec::new();
    let mut plain_seconds = Vec::new();
    let mut states = Vec::new();
    let mut export_zstd_bytes = 0;
    for round in 0..config.rounds.max(1) {
        eprintln!("  round {}: bootstrapping", round + 1);
        let path = dir.path().join(format!("tablet-{round}.db"));
        let mut tablet = server.enroll("CPD-02", &path, tablet::options())?;
        bootstraps.push(tablet::timed_sync(&mut tablet)?);
        if round == 0 {
            states = tablet.all_states()?;
            let export = tablet.export()?.into_bytes();
            export_zstd_bytes =
                zstd::encode_all(export.as_slice(), records::ZSTD_LEVEL)?.len() as u64;
        }
        drop(tablet);
        std::fs::remove_file(&path)?;
        plain_seconds.push(plain_insert(
            &dir.path().join(format!("plain-{round}.db")),
            &states,
        )?);
    }

    eprintln!("  bootstrapping a tablet alone in a process");
    let path = dir.path().join("alone.db");
    drop(server.enroll("CPD-03", &path, tablet::options())?);
    let child = run_child(tablet_exe, &path)?;
    Ok(BootstrapReport {
        config,
        records: states.len(),
        upload,
        bootstraps,
        plain_seconds,
        export_zstd_bytes,
        child,
    })
}

/// Syncs the tablet database at `path` in a `bench-tablet` process; under a profiler if
/// `BENCH_TABLET_WRAPPER` names one (e.g. `perf record -g -o /tmp/tablet.data --`), which is
/// how the tablet's side of a bootstrap is profiled alone.
fn run_child(exe: &Path, path: &Path) -> Result<ChildRun> {
    let wrapper = std::env::var("BENCH_TABLET_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let output = command.arg(path).output()?;
    if !output.status.success() {
        return Err(format!(
            "bench-tablet failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// Inserts the bootstrap's rows (id, kind, state) into a plain table of a database opened as
/// field-core opens its own, in one transaction: the floor a bootstrap is measured against.
fn plain_insert(path: &Path, states: &[field_core::RemoteRecord]) -> Result<f64> {
    let mut conn = db::open(path, field_core::Durability::Full)?;
    conn.execute_batch(
        "CREATE TABLE records (id BLOB PRIMARY KEY, kind INTEGER NOT NULL, state BLOB NOT NULL)",
    )?;
    let start = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO records (id, kind, state) VALUES (?1, ?2, ?3)")?;
        for s in states {
            insert.execute(rusqlite::params![s.id.as_bytes(), s.kind.code(), s.state])?;
        }
    }
    tx.commit()?;
    Ok(start.elapsed().as_secs_f64())
}
