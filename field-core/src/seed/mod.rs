//! Deterministic synthetic data for demos, tests and benchmarks: households of Kota Tangerang
//! with their members, years of visits with screenings, and the referrals and follow-ups those
//! visits led to.
//!
//! Everything comes from one ChaCha8 stream seeded by [`SeedOptions::seed`], record ids
//! included, so the same seed on the same device number gives a byte-identical
//! [`Replica::export`]. Ids are UUIDv7-shaped without reading the clock: a seeding clock that
//! starts the day before [`SeedOptions::today`] and ticks one millisecond per record, plus
//! random bits. Ids thus increase in the order records are written, so every table grows at its
//! end as on a real device (with ids from each record's own date, spread over the years,
//! seeding took three times as long). The data depends on the seed alone: two devices seeded
//! alike hold the *same* records, so seed devices that are to sync with each other with
//! different seeds.
//!
//! Every entity is built through the model's parse functions and checked like user input, and
//! every screening is validated against its form and must apply to the person's sex and age on
//! the day of the visit. Generated data that breaks a rule is a bug in this module: it panics
//! naming the rule, rather than writing data the app would refuse.
//!
//! What is not generated: edits after creation (each record is written once, already in its
//! final state: a referral made two years ago is written as completed), conflicts, removals
//! and merged duplicates. Households hold today's members: a child born in 2024 belongs to a
//! household registered in 2019, and is only screened at visits after their birth.
//!
//! The generator is split by what it makes: `family` decides who lives in a household,
//! `members` gives them their traits, `names` and `numbers` (NIK, KK, JKN) their
//! identities, `households` the household record; `visits` writes the visit history,
//! `screenings` what was measured and found, `referrals` the referrals and follow-ups the
//! findings led to. `random` holds the draws from the one seeded stream, ids included, and
//! `places` the places of Kota Tangerang.

mod family;
mod households;
mod members;
mod names;
mod numbers;
mod places;
mod random;
mod referrals;
mod screenings;
mod visits;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashSet};

use cageur_model::area::{Kecamatan, PuskesmasCode};
use cageur_model::forms::FormRegistry;
use cageur_model::visit::TeamCode;
use cageur_model::{
    CheckContext, Entity, FieldMap, HouseholdId, RecordKind, Rule, ValidationError,
};
use chrono::{Datelike, Duration, FixedOffset, Months, NaiveDate, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use uuid::Uuid;

use crate::error::Result;
use crate::replica::Replica;
use crate::store::Durability;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedOptions {
    /// How many households (each with its members and visit history).
    pub households: u32,
    /// The seed of the random stream: the same seed gives the same data.
    pub seed: u64,
    /// The puskesmas the households belong to (`P3671050101`). A code of the form
    /// `P3671KK...` with a kecamatan code `KK` puts every household in that kecamatan;
    /// otherwise households are spread over the whole city.
    pub puskesmas: String,
    /// The team that made every visit (`CPD-01`).
    pub team: String,
    /// The last day of the generated history; visits run from 2019-01-01 to this day.
    pub today: NaiveDate,
}

/// How many records of each kind were written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeedReport {
    /// Households (about 4 members and 8 visits each).
    pub households: u64,
    /// Household members.
    pub persons: u64,
    /// Visits, whatever their outcome.
    pub visits: u64,
    /// Referrals (about 3% of visits).
    pub referrals: u64,
    /// Follow-ups of referrals (most referrals have one).
    pub followups: u64,
}

/// `progress` is called after every this many households, and after the last.
const PROGRESS_EVERY: u32 = 100;

/// Fills `replica` with `options.households` synthetic households, each written with all its
/// records in one transaction (one user action), authored by the replica's current worker. `progress` receives the number of households written so far.
///
/// Runs with [`Durability::Normal`] (bulk work) and sets [`Durability::Full`] back afterwards,
/// also on error. Errors: an invalid `puskesmas`, `team` or `today` is
/// [`crate::FieldError::Invalid`] before anything is written; without a current worker, the
/// first write fails with [`crate::FieldError::NoWorker`]; storage errors as they come.
/// Households written before an error stay written.
pub fn seed(
    replica: &mut Replica,
    options: &SeedOptions,
    progress: &mut dyn FnMut(u32),
) -> Result<SeedReport> {
    let puskesmas = PuskesmasCode::parse(&options.puskesmas).map_err(|e| e.within("puskesmas"))?;
    let team = TeamCode::parse(&options.team).map_err(|e| e.within("team"))?;
    if options.today <= first_visit_day() {
        return Err(ValidationError::new(
            "today",
            Rule::Date,
            "must be after 2019-01-01, the start of the generated visit history",
        )
        .into());
    }
    let mut generator = Generator {
        rng: ChaCha8Rng::seed_from_u64(options.seed),
        today: options.today,
        ctx: CheckContext {
            today: options.today,
        },
        home: home_kecamatan(&puskesmas),
        puskesmas,
        team,
        device: replica.device().number,
        forms: replica.forms().clone(),
        id_clock_ms: id_clock_start(options.today),
        used_niks: HashSet::new(),
        used_kks: HashSet::new(),
        report: SeedReport::default(),
    };
    replica.set_durability(Durability::Normal)?;
    let outcome = write_households(replica, &mut generator, options.households, progress);
    let restored = replica.set_durability(Durability::Full);
    outcome?;
    restored?;
    Ok(generator.report)
}

fn write_households(
    replica: &mut Replica,
    generator: &mut Generator,
    households: u32,
    progress: &mut dyn FnMut(u32),
) -> Result<()> {
    for done in 1..=households {
        let (records, counts) = generator.household();
        replica.create_all(records)?;
        generator.report.add(&counts);
        if done % PROGRESS_EVERY == 0 || done == households {
            progress(done);
        }
    }
    Ok(())
}

impl SeedReport {
    fn add(&mut self, other: &SeedReport) {
        self.households += other.households;
        self.persons += other.persons;
        self.visits += other.visits;
        self.referrals += other.referrals;
        self.followups += other.followups;
    }
}

/// The kecamatan a puskesmas code of the form `P3671KK...` names.
fn home_kecamatan(puskesmas: &PuskesmasCode) -> Option<Kecamatan> {
    let code = puskesmas.as_str().strip_prefix("P3671")?;
    Kecamatan::from_code(code.get(..2)?.parse().ok()?)
}

fn first_visit_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2019, 1, 1).expect("valid date")
}

/// Where the seeding clock of ids starts: the day before `today`, 00:00 WIB. A million records
/// take 17 minutes of it.
fn id_clock_start(today: NaiveDate) -> u64 {
    let day = (today - Duration::days(1))
        .and_time(chrono::NaiveTime::MIN)
        .and_local_timezone(wib())
        .single()
        .expect("a fixed offset has one local time");
    u64::try_from(day.timestamp_millis()).unwrap_or(0)
}

/// WIB, the offset every generated time is recorded in.
fn wib() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

// ---------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------

/// The records of one household, in the order they are written.
type Records = Vec<(RecordKind, Uuid, FieldMap)>;

/// The state of one seeding run: the seeded stream, the id clock and the numbers handed out
/// so far. Its methods are spread over the submodules, one job each.
struct Generator {
    rng: ChaCha8Rng,
    today: NaiveDate,
    ctx: CheckContext,
    puskesmas: PuskesmasCode,
    /// Where households are, when the puskesmas code names a kecamatan.
    home: Option<Kecamatan>,
    team: TeamCode,
    device: u32,
    forms: FormRegistry,
    /// The seeding clock of record ids (see [`Generator::id`]), in Unix milliseconds.
    id_clock_ms: u64,
    /// NIK and KK numbers handed out so far: each is unique in the run.
    used_niks: HashSet<u64>,
    used_kks: HashSet<u64>,
    report: SeedReport,
}

impl Generator {
    /// One household with everything that belongs to it, as the records to write together.
    fn household(&mut self) -> (Records, SeedReport) {
        let kecamatan = match self.home {
            Some(k) => k,
            None => self.pick(Kecamatan::ALL),
        };
        let k = usize::from(kecamatan.code()) - 1;
        let visit_days = self.visit_days();
        // Registered at the first visit; one never visited was registered recently.
        let registered = match visit_days.first() {
            Some(first) => *first,
            None => {
                let from = (self.today - Duration::days(90)).max(first_visit_day());
                self.day_between(from, self.today)
            }
        };
        let household_id = HouseholdId(self.id());
        let drafts = self.family();
        let members = self.members(&drafts, household_id, kecamatan);
        let household = self.household_entity(kecamatan, k, &members, registered);

        let mut records = Vec::with_capacity(2 + members.len() + visit_days.len() * 2);
        records.push((
            RecordKind::Household,
            household_id.0,
            checked(&household, &self.ctx),
        ));
        for m in &members {
            records.push((RecordKind::Person, m.id.0, checked(&m.person, &self.ctx)));
        }
        let mut report = SeedReport {
            households: 1,
            persons: members.len() as u64,
            ..SeedReport::default()
        };
        for day in visit_days {
            self.visit(household_id, k, &members, day, &mut records, &mut report);
        }
        (records, report)
    }

    /// The days a household was visited: on average eight, Monday to Saturday, from 2019 on.
    fn visit_days(&mut self) -> Vec<NaiveDate> {
        let count = if self.chance(0.03) {
            0
        } else {
            1 + (0..15).filter(|_| self.rng.random_bool(0.48)).count()
        };
        let first = first_visit_day();
        let mut days = BTreeSet::new();
        // Bounded: a few extra draws for the rare day drawn twice.
        for _ in 0..count * 3 {
            if days.len() == count {
                break;
            }
            let mut day = self.day_between(first, self.today);
            if day.weekday() == Weekday::Sun {
                day = if day > first {
                    day - Duration::days(1)
                } else {
                    day + Duration::days(1)
                };
            }
            days.insert(day.min(self.today));
        }
        days.into_iter().collect()
    }
}

fn years_before(day: NaiveDate, years: u32) -> NaiveDate {
    day.checked_sub_months(Months::new(12 * years))
        .expect("dates stay within chrono's range")
}

fn years_after(day: NaiveDate, years: u32) -> NaiveDate {
    months_after(day, 12 * years)
}

fn months_after(day: NaiveDate, months: u32) -> NaiveDate {
    day.checked_add_months(Months::new(months))
        .expect("dates stay within chrono's range")
}

/// A parsed value the generator built; failing to parse is a bug in this module.
fn valid<T>(what: &str, parsed: std::result::Result<T, ValidationError>) -> T {
    parsed.unwrap_or_else(|err| panic!("seed generated an invalid {what}: {err}"))
}

/// An entity's fields, after its cross-field rules pass; failing them is a bug in this module.
fn checked<E: Entity>(entity: &E, ctx: &CheckContext) -> FieldMap {
    if let Err(err) = entity.check(ctx) {
        panic!("seed generated an invalid {}: {err}", E::KIND);
    }
    entity.to_fields()
}
