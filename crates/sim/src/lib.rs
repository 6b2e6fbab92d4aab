//! A deterministic simulation of the whole sync system: the real `cageur-server` application
//! on a real SQLite file and 3 to 20 real field-core replicas on real SQLCipher files, in one
//! process, driven from one seed through a random workload (households, people, visits,
//! referrals, edits of the same fields on several tablets, removals, resolutions, households
//! moving between puskesmas) while faults strike every step of the protocol (see
//! [`transport`]), the server restarts or is restored from an older backup, tablets crash,
//! stay offline for long stretches or keep wrong clocks. Then the faults heal, every tablet
//! syncs twice, and [`invariants`] are checked.
//!
//! The same seed replays the same run: ids come from a seeded stream, clocks from the
//! simulation's step, faults from the seeded random stream; [`RunReport::trace`] is a digest
//! of the run's outcome, equal for equal seeds.

pub mod invariants;
pub mod server;
pub mod transport;
mod watch;
mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, FixedOffset};
use field_core::sync::{RetryPolicy, SyncOptions};
use field_core::{Clock, DatabaseKey, FieldError, IdSource, OpenOptions, Replica, Worker};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use server::SimServer;
use transport::{Fault, FaultRates, Network, SimTransport};

/// The two puskesmas of the simulation.
pub const PUSKESMAS: [&str; 2] = ["P3671050101", "P3671010101"];

/// What a run is made of.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Tablets (3 to 20), spread over the two puskesmas.
    pub devices: usize,
    /// Steps of workload and faults before healing.
    pub steps: usize,
    /// The network's faults while they are on.
    pub rates: FaultRates,
    /// Households move between the puskesmas.
    pub moves: bool,
}

impl SimConfig {
    /// What CI runs per seed: small and quick, every kind of fault.
    pub fn quick(seed: u64) -> SimConfig {
        SimConfig {
            devices: 3 + (seed % 4) as usize,
            steps: 60,
            rates: FaultRates {
                request_lost: 0.06,
                response_lost: 0.06,
                duplicated: 0.04,
                kept_for_later: 0.05,
                late_delivery: 0.08,
                crash: 0.03,
            },
            moves: std::env::var_os("SIM_NO_MOVES").is_none(),
        }
    }

    /// A larger run, for soaks.
    pub fn soak(seed: u64) -> SimConfig {
        SimConfig {
            devices: 3 + (seed % 18) as usize,
            steps: 200,
            ..SimConfig::quick(seed)
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub seed: u64,
    pub devices: usize,
    pub steps: usize,
    pub syncs: u64,
    pub requests: u64,
    pub faults: BTreeMap<Fault, u64>,
    /// Records on the server at the end.
    pub records: usize,
    /// Invariants checked at the end (each check of each replica counts).
    pub checks: u64,
    /// A digest of the run's outcome: equal seeds give equal traces.
    pub trace: String,
}

/// A seed whose run broke an invariant or panicked: replay it with `cageur-sim replay`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub seed: u64,
    pub step: usize,
    pub what: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {} failed at step {}: {} (replay: cargo run -p cageur-sim --release -- replay --seed {})",
            self.seed, self.step, self.what, self.seed
        )
    }
}

/// Whether `SIM_TRACE` asks for every step, request and fault on stderr (to read a failing
/// seed's run).
pub fn tracing_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SIM_TRACE").is_some())
}

/// The key of every tablet file in the simulation.
const KEY: [u8; 32] = [7; 32];

/// The simulation's clock: minutes since its start, shared; each tablet adds its own error.
#[derive(Debug, Clone)]
struct SimClock {
    minutes: Arc<AtomicI64>,
    /// How wrong this tablet's clock is.
    off_by: Duration,
}

fn start_time() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-23T08:00:00+07:00").expect("a valid time")
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<FixedOffset> {
        start_time() + Duration::minutes(self.minutes.load(Ordering::SeqCst)) + self.off_by
    }
}

/// New records' ids from a seeded stream.
#[derive(Debug)]
struct SeededIds(ChaCha8Rng);

impl IdSource for SeededIds {
    fn next_id(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.0.random()).into_uuid()
    }
}

/// One tablet.
struct Tablet {
    number: u32,
    path: PathBuf,
    puskesmas: &'static str,
    clock: SimClock,
    replica: Option<Replica>,
    /// The step until which the tablet is out of coverage.
    offline_until: usize,
    /// Its id stream's seed, advanced at every reopening so ids never repeat.
    ids: u64,
}

impl Tablet {
    fn replica(&mut self) -> &mut Replica {
        self.replica.as_mut().expect("the tablet is open")
    }

    fn open(&mut self) -> Result<(), FieldError> {
        let options = OpenOptions {
            durability: field_core::Durability::Full,
            clock: Box::new(self.clock.clone()),
        };
        let mut replica = Replica::open(&self.path, &DatabaseKey::Raw(KEY), options)?;
        self.ids = self.ids.wrapping_add(1);
        replica.set_id_source(Box::new(SeededIds(ChaCha8Rng::seed_from_u64(self.ids))));
        self.replica = Some(replica);
        Ok(())
    }
}

/// A simulation in progress.
struct Sim {
    seed: u64,
    config: SimConfig,
    rng: ChaCha8Rng,
    net: Arc<Mutex<Network>>,
    tablets: Vec<Tablet>,
    minutes: Arc<AtomicI64>,
    step: usize,
    syncs: u64,
    /// Every record any tablet created.
    created: BTreeSet<Uuid>,
    /// Same-field edits made concurrently on purpose: (record, value one, value two).
    concurrent: Vec<invariants::ConcurrentPair>,
    _dir: tempfile::TempDir,
}

impl Sim {
    fn fail(&self, what: impl Into<String>) -> Failure {
        Failure {
            seed: self.seed,
            step: self.step,
            what: what.into(),
        }
    }

    fn net(&self) -> std::sync::MutexGuard<'_, Network> {
        self.net.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn transport(&self) -> Box<SimTransport> {
        Box::new(SimTransport(self.net.clone()))
    }

    fn options() -> SyncOptions {
        SyncOptions {
            retry: RetryPolicy {
                attempts: 1,
                ..RetryPolicy::default()
            },
            page_bytes: Some(16 * 1024),
        }
    }

    fn new(seed: u64, config: SimConfig) -> anyhow::Result<Sim> {
        let dir = tempfile::tempdir()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let server = SimServer::start(dir.path())?;
        let net = Arc::new(Mutex::new(Network::new(
            server,
            ChaCha8Rng::seed_from_u64(rng.random()),
        )));
        let minutes = Arc::new(AtomicI64::new(0));
        let mut sim = Sim {
            seed,
            config,
            rng,
            net,
            tablets: Vec::new(),
            minutes,
            step: 0,
            syncs: 0,
            created: BTreeSet::new(),
            concurrent: Vec::new(),
            _dir: dir,
        };
        {
            let net = sim.net();
            let store = net.server.store();
            for (i, p) in PUSKESMAS.iter().enumerate() {
                store.add_puskesmas(p, &format!("Puskesmas {i}"))?;
                store.add_team(&format!("TIM{i}"), p, &format!("Tim {i}"))?;
            }
        }
        for i in 0..sim.config.devices.clamp(3, 20) {
            let scope = i % 2;
            let code = sim
                .net()
                .server
                .store()
                .create_enrollment(&format!("TIM{scope}"), std::time::Duration::from_secs(3600))?
                .code;
            let path = sim._dir.path().join(format!("tablet-{i}.db"));
            // Clocks wrong by up to five days either way, on some tablets.
            let off_by = if sim.rng.random_bool(0.4) {
                sim.net().count(Fault::ClockWrong);
                Duration::hours(sim.rng.random_range(-120..=120))
            } else {
                Duration::zero()
            };
            let clock = SimClock {
                minutes: sim.minutes.clone(),
                off_by,
            };
            let options = OpenOptions {
                durability: field_core::Durability::Full,
                clock: Box::new(clock.clone()),
            };
            let mut replica = Replica::enroll_via(
                sim.transport(),
                &path,
                &DatabaseKey::Raw(KEY),
                "sim://server",
                &code,
                options,
                Sim::options().retry,
            )?;
            replica.set_worker(&Worker {
                id: 100 + i as u32,
                name: format!("Petugas {i}"),
                role: [
                    cageur_model::Role::Doctor,
                    cageur_model::Role::Nurse,
                    cageur_model::Role::Midwife,
                ][i % 3],
            })?;
            let ids: u64 = sim.rng.random();
            replica.set_id_source(Box::new(SeededIds(ChaCha8Rng::seed_from_u64(ids))));
            sim.tablets.push(Tablet {
                number: replica.device().number,
                path,
                puskesmas: PUSKESMAS[scope],
                clock,
                replica: Some(replica),
                offline_until: 0,
                ids,
            });
        }
        Ok(sim)
    }

    /// A tablet syncs, faults and all. A simulated crash drops the tablet's replica in the
    /// middle of whatever it was doing (uncommitted work is lost, as in a real crash) and
    /// opens the file again; any other panic is a failure.
    fn sync(&mut self, t: usize) -> Result<(), Failure> {
        self.syncs += 1;
        let transport = self.transport();
        let tablet = &mut self.tablets[t];
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            tablet
                .replica()
                .sync_via(transport, &Sim::options(), &mut |_| {})
        }));
        match outcome {
            Ok(Ok(report)) => {
                if tracing_on() {
                    eprintln!(
                        "  synced: pushed {}, pulled {}, merged {}{}",
                        report.pushed,
                        report.pulled,
                        report.merged,
                        if report.timeline_reset {
                            ", timeline reset"
                        } else {
                            ""
                        }
                    );
                }
                Ok(())
            }
            Ok(Err(e)) => {
                if tracing_on() {
                    eprintln!("  sync failed: {e}");
                }
                self.expected_error(e)
            }
            Err(panic) => {
                let crashed = std::mem::take(&mut self.net().crashed);
                if !crashed {
                    return Err(self.fail(format!("a tablet panicked: {}", panic_text(&panic))));
                }
                let tablet = &mut self.tablets[t];
                tablet.replica = None;
                tablet
                    .open()
                    .map_err(|e| self.fail(format!("a tablet did not reopen after a crash: {e}")))
            }
        }
    }

    /// Errors a sync may end with while faults are on; anything else is a failure.
    fn expected_error(&self, e: FieldError) -> Result<(), Failure> {
        match &e {
            FieldError::Network(_) => Ok(()),
            FieldError::Server(body) if body.code.is_retryable() => Ok(()),
            _ => Err(self.fail(format!("a sync failed unexpectedly: {e}"))),
        }
    }

    fn run(&mut self) -> Result<(), Failure> {
        let rates = self.config.rates;
        for step in 0..self.config.steps {
            self.step = step;
            self.minutes.fetch_add(7, Ordering::SeqCst);
            self.net().rates = rates;
            workload::step(self)?;
            watch::report(self, &format!("step {step}"));
        }
        self.heal()
    }

    /// The faults stop; every tablet comes back and syncs, twice over.
    fn heal(&mut self) -> Result<(), Failure> {
        self.step = self.config.steps;
        self.net().rates = FaultRates::NONE;
        for tablet in &mut self.tablets {
            tablet.offline_until = 0;
        }
        for _ in 0..2 {
            for t in 0..self.tablets.len() {
                self.syncs += 1;
                let transport = self.transport();
                let report =
                    self.tablets[t]
                        .replica()
                        .sync_via(transport, &Sim::options(), &mut |_| {});
                match report {
                    Err(e) => {
                        return Err(self.fail(format!(
                            "tablet {} could not sync once the faults healed: {e}",
                            self.tablets[t].number
                        )));
                    }
                    Ok(report) if tracing_on() => eprintln!(
                        "  healing sync of tablet {}: pushed {}, pulled {}, merged {}{}",
                        self.tablets[t].number,
                        report.pushed,
                        report.pulled,
                        report.merged,
                        if report.timeline_reset {
                            ", timeline reset"
                        } else {
                            ""
                        }
                    ),
                    Ok(_) => {}
                }
                watch::report(
                    self,
                    &format!("healing sync of tablet {}", self.tablets[t].number),
                );
            }
        }
        Ok(())
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Keeps simulated crashes quiet: they are expected; any other panic is printed as usual.
pub fn quiet_simulated_crashes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let simulated = info.payload().is::<transport::SimulatedCrash>()
                || info
                    .payload()
                    .downcast_ref::<&str>()
                    .is_some_and(|s| s.contains("a scoped thread panicked"));
            if !simulated {
                default(info);
            }
        }));
    });
}

/// Runs the simulation of `seed`.
pub fn run(seed: u64, config: &SimConfig) -> Result<RunReport, Failure> {
    quiet_simulated_crashes();
    let fail = |what: String| Failure {
        seed,
        step: 0,
        what,
    };
    let mut sim = Sim::new(seed, config.clone()).map_err(|e| fail(format!("set-up: {e:#}")))?;
    sim.run()?;
    let checked = invariants::check(&mut sim)?;
    let net = sim.net();
    Ok(RunReport {
        seed,
        devices: sim.tablets.len(),
        steps: sim.config.steps,
        syncs: sim.syncs,
        requests: net.requests,
        faults: net.faults.clone(),
        records: checked.records,
        checks: checked.checks,
        trace: checked.trace,
    })
}
