//! Sync benchmark (c): many tablets syncing a day's work at once against one server, through
//! a proxy that cuts a share of the connections mid-transfer. Every tablet must end with its
//! puskesmas's data exactly as the server has it; the figures are throughput (changes the
//! server accepted per second of the rush) and the latency of each answered request.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use field_core::model::RecordKind;
use field_core::sync::{RetryPolicy, SyncOptions, Traffic};
use field_core::{Durability, FixedClock, OpenOptions, Replica, Worker};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::proxy::FaultProxy;
use crate::server::BenchServer;
use crate::sync_week::record_visits;
use crate::{Result, db, family};

/// The rush to simulate.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    pub devices: usize,
    /// Tablets per puskesmas (a puskesmas's teams).
    pub per_puskesmas: usize,
    /// Households of each puskesmas, seeded before the rush.
    pub households: u32,
    /// A tablet's day: visits recorded, and household edits.
    pub visits: u32,
    pub edits: u32,
    /// Share of connections cut mid-transfer during the rush.
    pub cut_ratio: f64,
}

/// One rush, measured.
#[derive(Debug, Clone)]
pub struct LoadRun {
    pub store: String,
    pub devices: usize,
    /// Records the tablets had waiting when the rush began.
    pub changes: u64,
    pub seconds: f64,
    pub requests: usize,
    pub retries: u64,
    pub cuts: u64,
    pub connections: u64,
    /// Syncs that gave up (after their own retries) and were started again.
    pub restarted_syncs: u64,
    pub p50_ms: u32,
    pub p99_ms: u32,
    pub max_ms: u32,
    pub converged: bool,
}

impl LoadRun {
    pub fn throughput(&self) -> f64 {
        self.changes as f64 / self.seconds
    }

    pub fn print_header() {
        println!(
            "  {:<10} {:>7} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9}",
            "store",
            "devices",
            "changes",
            "seconds",
            "changes/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "requests",
            "cuts",
            "converged"
        );
    }

    pub fn print(&self) {
        println!(
            "  {:<10} {:>7} {:>8} {:>8.2} {:>10.0} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9}",
            self.store,
            self.devices,
            self.changes,
            self.seconds,
            self.throughput(),
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.requests,
            format!("{}/{}", self.cuts, self.connections),
            if self.converged { "yes" } else { "NO" }
        );
    }

    pub fn to_json(&self) -> Value {
        json!({"store": self.store, "devices": self.devices, "changes": self.changes,
               "seconds": self.seconds, "changes_per_second": self.throughput(),
               "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms,
               "requests": self.requests, "retries": self.retries, "cuts": self.cuts,
               "connections": self.connections, "restarted_syncs": self.restarted_syncs,
               "converged": self.converged})
    }
}

struct Tablet {
    path: PathBuf,
    puskesmas: String,
}

fn options() -> OpenOptions {
    OpenOptions {
        durability: Durability::Full,
        clock: Box::new(FixedClock(family::now())),
    }
}

/// Sets up the puskesmas and tablets on `server`, records each tablet's day, then runs the rush.
pub fn run(server: &BenchServer, store: &str, config: LoadConfig) -> Result<LoadRun> {
    let dir = tempfile::tempdir()?;
    let proxy = FaultProxy::start(server.addr())?;
    let puskesmas_count = config.devices.div_ceil(config.per_puskesmas);
    let mut tablets = Vec::new();
    for p in 0..puskesmas_count {
        let code = format!("PKM-{p:03}");
        server.store.add_puskesmas(&code, &code)?;
        let path = dir.path().join(&code);
        let households = seed_puskesmas(server, &proxy, (p, &code), config, &path)?;
        for k in 0..config.per_puskesmas.min(config.devices - tablets.len()) {
            let path = dir.path().join(format!("{code}-{k}.db"));
            let team = format!("{code}-T{k}");
            let mut tablet = server.enroll_via(&proxy.url, &code, &team, &path, options())?;
            set_worker(&mut tablet, tablets.len() as u32)?;
            tablet
                .sync(&SyncOptions::default(), &mut |_| {})
                .map_err(|e| format!("bootstrapping {team}: {e}"))?;
            tablet.set_durability(Durability::Normal)?;
            record_day(&mut tablet, &households, config, &team, tablets.len())?;
            tablet.set_durability(Durability::Full)?;
            tablets.push(Tablet {
                path,
                puskesmas: code.clone(),
            });
        }
    }
    let changes: u64 = tablets
        .iter()
        .map(|t| Ok(Replica::open(&t.path, &db::key(), options())?.pending_changes()?))
        .sum::<Result<u64>>()?;

    // The rush: every tablet syncs at once through a link that cuts connections.
    proxy.set_cut_ratio(config.cut_ratio);
    let (cuts_before, connections_before) = (proxy.cuts(), proxy.connections());
    let barrier = Arc::new(Barrier::new(tablets.len() + 1));
    let threads: Vec<_> = tablets
        .iter()
        .map(|t| {
            let (path, barrier) = (t.path.clone(), barrier.clone());
            std::thread::spawn(move || -> std::result::Result<(Traffic, u64), String> {
                let opened = Replica::open(&path, &db::key(), options());
                barrier.wait();
                rush_sync(&mut opened.map_err(|e| e.to_string())?).map_err(|e| e.to_string())
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let mut latencies = Vec::new();
    let (mut retries, mut restarted) = (0u64, 0u64);
    for thread in threads {
        let (traffic, restarts) = thread.join().map_err(|_| "a tablet's thread panicked")??;
        latencies.extend(traffic.request_ms);
        retries += u64::from(traffic.retries);
        restarted += restarts;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (cuts, connections) = (
        proxy.cuts() - cuts_before,
        proxy.connections() - connections_before,
    );
    proxy.set_cut_ratio(0.0);

    // Then every tablet syncs once more (what the others pushed after its pull) and is checked.
    let mut converged = true;
    for t in &tablets {
        let mut replica = Replica::open(&t.path, &db::key(), options())?;
        replica.sync(&SyncOptions::default(), &mut |_| {})?;
        let mut server_export = Vec::new();
        server.store.export(
            &t.puskesmas,
            &field_core::model::forms::FormRegistry::with_builtins(),
            &mut server_export,
        )?;
        converged &= replica.export()?.into_bytes() == server_export;
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0)
    };
    Ok(LoadRun {
        store: store.into(),
        devices: tablets.len(),
        changes,
        seconds,
        requests: latencies.len(),
        retries,
        cuts,
        connections,
        restarted_syncs: restarted,
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        max_ms: latencies.last().copied().unwrap_or(0),
        converged,
    })
}

/// A tablet's sync in the rush: retries quickly (the link is bad, not the server), and taps
/// "sync" again if a sync gives up, as a health worker would. Returns its traffic and how
/// many times it started again.
fn rush_sync(replica: &mut Replica) -> Result<(Traffic, u64)> {
    let options = SyncOptions {
        retry: RetryPolicy {
            attempts: 6,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(60),
        },
        page_bytes: None,
    };
    let mut traffic = Traffic::default();
    for restart in 0..10 {
        match replica.sync(&options, &mut |_| {}) {
            Ok(report) => {
                traffic.request_ms.extend(report.traffic.request_ms);
                traffic.retries += report.traffic.retries;
                return Ok((traffic, restart));
            }
            Err(field_core::FieldError::Network(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err("a tablet could not sync in 10 tries".into())
}

/// Seeds puskesmas number `index`'s households on a tablet of its own and uploads them; their
/// ids.
fn seed_puskesmas(
    server: &BenchServer,
    proxy: &FaultProxy,
    (index, code): (usize, &str),
    config: LoadConfig,
    path: &std::path::Path,
) -> Result<Vec<Uuid>> {
    let team = format!("{code}-S");
    let mut seeder = server.enroll_via(&proxy.url, code, &team, path, options())?;
    set_worker(&mut seeder, 9_999)?;
    seeder.set_durability(Durability::Normal)?;
    let seed_options = field_core::seed::SeedOptions {
        households: config.households,
        // The seeder's ids follow its seed: one seed per puskesmas.
        seed: 7 + index as u64,
        puskesmas: code.into(),
        team,
        today: family::now().date_naive(),
    };
    field_core::seed::seed(&mut seeder, &seed_options, &mut |_| {})?;
    seeder
        .sync(&SyncOptions::default(), &mut |_| {})
        .map_err(|e| format!("uploading {code}'s households: {e}"))?;
    Ok(seeder
        .all_states()?
        .into_iter()
        .filter(|s| s.kind == RecordKind::Household)
        .map(|s| s.id)
        .collect())
}

fn set_worker(replica: &mut Replica, n: u32) -> Result<()> {
    replica.set_worker(&Worker {
        id: 1_000 + n,
        name: "Perawat".into(),
        role: field_core::model::Role::Nurse,
    })?;
    Ok(())
}

/// A tablet's day: visits, and edits of household streets (tablets of one puskesmas
/// sometimes edit the same household: concurrent edits are part of the load).
fn record_day(
    tablet: &mut Replica,
    households: &[Uuid],
    config: LoadConfig,
    team: &str,
    n: usize,
) -> Result<()> {
    let start = n * 7 % households.len().max(1);
    let mine: Vec<Uuid> = households
        .iter()
        .cycle()
        .skip(start)
        .take(households.len())
        .copied()
        .collect();
    record_visits(tablet, &mine, config.visits, team, |_, _, _| Ok(()))?;
    for e in 0..config.edits as usize {
        let household = mine[(e * 31 + 5) % mine.len()];
        tablet.update_json(
            household,
            &json!({"address": {"street": format!("Jl. Kenari No. {}", n * 100 + e + 1)}}),
        )?;
    }
    Ok(())
}
