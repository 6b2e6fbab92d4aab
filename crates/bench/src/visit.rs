//! Part `visit`: the time to record one home visit (a visit with nine screenings and a
//! referral, in one `record_visit` call) against writing the same visit and referral as two
//! plain JSON rows in one transaction, in a database opened the same way.
//!
//! Both sides run in the same process, iteration by iteration, alternating which goes first,
//! so that a noisy neighbour or a slow disk moment hits both alike. Every visit goes to a
//! fresh household (registered before timing starts), as in the field.

use std::path::Path;
use std::time::{Duration, Instant};

use field_core::model::{HouseholdId, PersonId, Role};
use field_core::{DeviceInfo, Durability, FixedClock, OpenOptions, Replica, Worker};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::plain::{Layout, PlainStore};
use crate::stats::Summary;
use crate::{Result, db, family};

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct VisitConfig {
    /// Untimed visits first, per durability (caches, statement cache, WAL growth).
    pub warmup: usize,
    /// Timed visits per side and durability.
    pub iterations: usize,
}

/// The result at one durability.
#[derive(Debug, Clone)]
pub struct VisitRun {
    pub durability: Durability,
    pub ours: Summary,
    pub plain: Summary,
}

impl VisitRun {
    /// The most `ours / plain` may be, at p50 and p99: a durable commit costs the same fsyncs
    /// on both sides, so with FULL the CRDT work must hide behind them.
    pub fn target(&self) -> f64 {
        match self.durability {
            Durability::Full => 1.3,
            Durability::Normal => 2.0,
        }
    }

    pub fn ratio_p50(&self) -> f64 {
        self.ours.p50_us / self.plain.p50_us
    }

    pub fn ratio_p99(&self) -> f64 {
        self.ours.p99_us / self.plain.p99_us
    }

    pub fn to_json(&self) -> Value {
        json!({
            "durability": name(self.durability),
            "field_core_us": summary_json(&self.ours),
            "plain_us": summary_json(&self.plain),
            "ratio_p50": self.ratio_p50(),
            "ratio_p99": self.ratio_p99(),
            "target_max_ratio": self.target(),
        })
    }
}

/// The whole part's result.
#[derive(Debug, Clone)]
pub struct VisitReport {
    pub config: VisitConfig,
    /// Records in the replica when timing started.
    pub records_before: u64,
    pub runs: Vec<VisitRun>,
}

impl VisitReport {
    pub fn print(&self) {
        println!(
            "visit: one record_visit (1 visit, 9 screenings of 4 people, 1 referral) vs 2 plain \
             JSON rows in one transaction"
        );
        println!(
            "       {} timed visits per side and durability after {} warm-up; {} records in the \
             replica before",
            self.config.iterations, self.config.warmup, self.records_before
        );
        println!(
            "  {:<11} {:>10} {:>10}   {:>10} {:>10}   {:>6} {:>6}   target",
            "durability", "ours p50", "ours p99", "plain p50", "plain p99", "p50 x", "p99 x"
        );
        for run in &self.runs {
            let met = run.ratio_p50() <= run.target() && run.ratio_p99() <= run.target();
            println!(
                "  {:<11} {:>7.0} us {:>7.0} us   {:>7.0} us {:>7.0} us   {:>5.2}x {:>5.2}x   <= {:.1}x {}",
                name(run.durability),
                run.ours.p50_us,
                run.ours.p99_us,
                run.plain.p50_us,
                run.plain.p99_us,
                run.ratio_p50(),
                run.ratio_p99(),
                run.target(),
                if met { "met" } else { "NOT met" },
            );
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "iterations": self.config.iterations,
            "warmup": self.config.warmup,
            "records_before": self.records_before,
            "runs": self.runs.iter().map(VisitRun::to_json).collect::<Vec<_>>(),
        })
    }
}

/// A family registered on one side: its household and members.
struct Family {
    household: HouseholdId,
    people: Vec<PersonId>,
}

/// Runs the part in a fresh temp dir.
pub fn run(config: VisitConfig) -> Result<VisitReport> {
    let dir = tempfile::tempdir()?;
    let mut replica = new_replica(&dir.path().join("device.db"))?;
    let mut plain = PlainStore::create(
        &dir.path().join("plain.db"),
        Durability::Normal,
        Layout::WithoutRowid,
    )?;

    let durabilities = [Durability::Full, Durability::Normal];
    let per_durability = config.warmup + config.iterations;
    let count = u32::try_from(per_durability * durabilities.len())?;
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for n in 0..count {
        ours.push(register(&mut replica, n)?);
        theirs.push(register_plain(&mut plain, n)?);
    }
    let records_before = replica.all_states()?.len() as u64;
    assert_eq!(plain.rows()?, records_before, "both sides start equal");

    let mut runs = Vec::new();
    let mut families = ours.into_iter().zip(theirs);
    for durability in durabilities {
        replica.set_durability(durability)?;
        plain.set_durability(durability)?;
        let (mut ours_times, mut plain_times) = (Vec::new(), Vec::new());
        for (i, (f, g)) in families.by_ref().take(per_durability).enumerate() {
            // Alternate which side goes first, so neither always follows the other's fsync.
            let (t_ours, t_plain) = if i % 2 == 0 {
                let t = time_ours(&mut replica, &f)?;
                (t, time_plain(&mut plain, &g)?)
            } else {
                let t = time_plain(&mut plain, &g)?;
                (time_ours(&mut replica, &f)?, t)
            };
            if i >= config.warmup {
                ours_times.push(t_ours);
                plain_times.push(t_plain);
            }
        }
        runs.push(VisitRun {
            durability,
            ours: Summary::of(&ours_times),
            plain: Summary::of(&plain_times),
        });
    }
    Ok(VisitReport {
        config,
        records_before,
        runs,
    })
}

/// A replica as a tablet has it: device enrolled, a nurse working, the clock at [`family::now`].
pub fn new_replica(path: &Path) -> Result<Replica> {
    let device = DeviceInfo {
        number: 1,
        puskesmas: Some(family::PUSKESMAS.into()),
        team: Some(family::TEAM.into()),
    };
    let options = OpenOptions {
        durability: Durability::Normal,
        clock: Box::new(FixedClock(family::now())),
    };
    let mut replica = Replica::init(path, &db::key(), device, options)?;
    replica.set_worker(&Worker {
        id: 101,
        name: "Nurse 1".into(),
        role: Role::Nurse,
    })?;
    Ok(replica)
}

/// Registers family `n` in the replica.
fn register(replica: &mut Replica, n: u32) -> Result<Family> {
    let household = replica.add_household(&family::household(n)?)?;
    let people = family::members(n, household)?
        .iter()
        .map(|p| replica.add_person(p))
        .collect::<field_core::Result<_>>()?;
    Ok(Family { household, people })
}

/// Registers family `n` in the plain store, as one row per record.
fn register_plain(plain: &mut PlainStore, n: u32) -> Result<Family> {
    let household = HouseholdId::new();
    let mut rows = vec![(household.0, serde_json::to_string(&family::household(n)?)?)];
    let mut people = Vec::new();
    for person in family::members(n, household)? {
        let id = PersonId::new();
        people.push(id);
        rows.push((id.0, serde_json::to_string(&person)?));
    }
    let rows: Vec<(Uuid, &str)> = rows.iter().map(|(id, j)| (*id, j.as_str())).collect();
    plain.insert(&rows)?;
    Ok(Family { household, people })
}

/// Times recording the family's visit; building the input is not timed.
fn time_ours(replica: &mut Replica, family: &Family) -> Result<Duration> {
    let visit = family::visit(family.household, &family.people)?;
    let start = Instant::now();
    let recorded = replica.record_visit(visit)?;
    let elapsed = start.elapsed();
    debug_assert_eq!(recorded.referrals.len(), 1);
    Ok(elapsed)
}

/// Times the plain equivalent: new ids, the JSON text, one transaction of two inserts.
fn time_plain(plain: &mut PlainStore, family: &Family) -> Result<Duration> {
    let new = family::visit(family.household, &family.people)?;
    let start = Instant::now();
    let visit_id = Uuid::now_v7();
    let rows = family::plain_rows(&new.visit, &new.referrals, visit_id);
    let ids = std::iter::once(visit_id).chain(std::iter::repeat_with(Uuid::now_v7));
    let rows: Vec<(Uuid, &str)> = ids.zip(rows.iter().map(String::as_str)).collect();
    plain.insert(&rows)?;
    Ok(start.elapsed())
}

pub fn name(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    }
}

fn summary_json(s: &Summary) -> Value {
    json!({"samples": s.samples, "p50": s.p50_us, "p99": s.p99_us, "mean": s.mean_us})
}
