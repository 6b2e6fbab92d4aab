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

use std::collections::{BTreeSet, HashSet};

use cageur_model::area::{Address, GeoPoint, Kecamatan, Kelurahan, PuskesmasCode, Rt, Rw, Street};
use cageur_model::forms::{FormRef, FormRegistry};
use cageur_model::name::PersonName;
use cageur_model::person::{JknNumber, age_months};
use cageur_model::pispk::{Answer, Indicator, PisPk};
use cageur_model::referral::Destination;
use cageur_model::visit::{Screening, TeamCode};
use cageur_model::{
    CheckContext, DestinationKind, Entity, FieldMap, FollowUp, FollowUpId, FollowUpOutcome,
    Household, HouseholdId, KkNumber, Nik, Person, PersonId, RecordKind, Referral,
    ReferralCategory, ReferralId, ReferralStatus, Relation, Rule, Sex, Urgency, ValidationError,
    Visit, VisitId, VisitOutcome,
};
use chrono::{DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Map, Value as Json};
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
        replica.write_all(records)?;
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
// Places and names.
// ---------------------------------------------------------------------------------------------

/// The kelurahan of each kecamatan, in kecamatan code order (36.71.01 to 36.71.13).
#[rustfmt::skip]
const KELURAHAN: [&[&str]; 13] = [
    &["Babakan", "Buaran Indah", "Cikokol", "Kelapa Indah", "Sukaasih", "Sukarasa", "Sukasari",
      "Tanah Tinggi"],
    &["Alam Jaya", "Gandasari", "Jatake", "Keroncong", "Manis Jaya", "Pasir Jaya"],
    &["Batuceper", "Batujaya", "Batusari", "Kebon Besar", "Poris Gaga", "Poris Gaga Baru",
      "Poris Jaya"],
    &["Belendung", "Benda", "Jurumudi", "Jurumudi Baru", "Pajang"],
    &["Cipondoh", "Cipondoh Indah", "Cipondoh Makmur", "Gondrong", "Kenanga", "Ketapang", "Petir",
      "Poris Plawad", "Poris Plawad Indah", "Poris Plawad Utara"],
    &["Paninggilan", "Paninggilan Utara", "Parung Serab", "Sudimara Barat", "Sudimara Jaya",
      "Sudimara Selatan", "Sudimara Timur", "Tajur"],
    &["Bojong Jaya", "Bugel", "Cimone", "Cimone Jaya", "Gerendeng", "Karawaci", "Karawaci Baru",
      "Koang Jaya", "Margasari", "Nambo Jaya", "Nusa Jaya", "Pabuaran", "Pabuaran Tumpeng",
      "Pasar Baru", "Sukajadi", "Sumur Pancing"],
    &["Gebang Raya", "Gembor", "Periuk", "Periuk Jaya", "Sangiang Jaya"],
    &["Cibodas", "Cibodas Baru", "Cibodasari", "Jatiuwung", "Panunggangan Barat", "Uwung Jaya"],
    &["Karang Anyar", "Karang Sari", "Kedaung Baru", "Kedaung Wetan", "Mekarsari", "Neglasari",
      "Selapajang Jaya"],
    &["Cipete", "Kunciran", "Kunciran Indah", "Kunciran Jaya", "Nerogtog", "Pakojan",
      "Panunggangan", "Panunggangan Timur", "Panunggangan Utara", "Pinang", "Sudimara Pinang"],
    &["Karang Mulya", "Karang Tengah", "Karang Timur", "Parung Jaya", "Pedurenan", "Pondok Bahar",
      "Pondok Pucung"],
    &["Cipadu", "Cipadu Jaya", "Gaga", "Kreo", "Kreo Selatan", "Larangan Indah",
      "Larangan Selatan", "Larangan Utara"],
];

/// Puskesmas serving each kecamatan (referral destinations), in kecamatan code order.
#[rustfmt::skip]
const PUSKESMAS: [&[&str]; 13] = [
    &["Puskesmas Tanah Tinggi", "Puskesmas Cikokol", "Puskesmas Sukasari"],
    &["Puskesmas Manis Jaya", "Puskesmas Gandasari"],
    &["Puskesmas Batuceper", "Puskesmas Poris Gaga Lama"],
    &["Puskesmas Benda", "Puskesmas Jurumudi Baru"],
    &["Puskesmas Cipondoh", "Puskesmas Petir", "Puskesmas Ketapang"],
    &["Puskesmas Ciledug", "Puskesmas Paninggilan", "Puskesmas Tajur"],
    &["Puskesmas Karawaci Baru", "Puskesmas Pabuaran Tumpeng", "Puskesmas Pasar Baru"],
    &["Puskesmas Periuk Jaya", "Puskesmas Gembor"],
    &["Puskesmas Cibodasari", "Puskesmas Jatiuwung"],
    &["Puskesmas Kedaung Wetan", "Puskesmas Neglasari"],
    &["Puskesmas Panunggangan", "Puskesmas Kunciran"],
    &["Puskesmas Pondok Bahar", "Puskesmas Karang Tengah"],
    &["Puskesmas Larangan Utara", "Puskesmas Kreo"],
];

/// Hospitals patients are referred to, with weights.
const HOSPITALS: &[(&str, u32)] = &[
    ("RSUD Kota Tangerang", 6),
    ("RSU Kabupaten Tangerang", 3),
    ("RSUP Dr. Sitanala", 1),
];

/// Approximate centre of each kecamatan in micro-degrees (latitude, longitude), for map points.
#[rustfmt::skip]
const CENTRES: [(i32, i32); 13] = [
    (-6_178_000, 106_632_000), (-6_190_000, 106_585_000), (-6_160_000, 106_655_000),
    (-6_125_000, 106_670_000), (-6_190_000, 106_690_000), (-6_230_000, 106_712_000),
    (-6_190_000, 106_612_000), (-6_165_000, 106_575_000), (-6_205_000, 106_600_000),
    (-6_150_000, 106_622_000), (-6_222_000, 106_672_000), (-6_215_000, 106_718_000),
    (-6_238_000, 106_735_000),
];

/// The box every generated map point lies in, in micro-degrees.
const LAT_BOX: (i32, i32) = (-6_300_000, -6_100_000);
const LON_BOX: (i32, i32) = (106_550_000, 106_750_000);

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Melati", "Mawar", "Kenanga", "Anggrek", "Flamboyan", "Cempaka", "Dahlia", "Kamboja",
    "Beringin", "Mangga", "Rambutan", "Nangka", "Jambu", "Teratai", "Kemuning",
    "KH. Hasyim Ashari", "Imam Bonjol", "Daan Mogot", "Perintis Kemerdekaan", "Gatot Subroto",
    "Raden Saleh", "Pembangunan", "Merdeka", "Masjid Al-Ikhlas", "Swadaya", "Bhakti", "Karya",
    "Hasanudin", "Sudirman", "Irigasi",
];

/// Regions (province, regency, district) of NIKs issued outside Kota Tangerang: Kabupaten
/// Tangerang, Tangerang Selatan, Jakarta, West, Central and East Java, Sumatra and beyond.
#[rustfmt::skip]
const OTHER_REGIONS: &[&str] = &[
    "360301", "360316", "367401", "367405", "317101", "317306", "317402", "317504", "320101",
    "320512", "327101", "327303", "327502", "327601", "330101", "331503", "337402", "340201",
    "350101", "357801", "120101", "127101", "160101", "180101", "520101", "730101",
];

/// Given names of people born before about 1992: Sundanese, Betawi and Javanese.
#[rustfmt::skip]
const MALE_CLASSIC: &[&str] = &[
    "Ahmad", "Budi", "Agus", "Asep", "Ujang", "Iwan", "Hendra", "Bambang", "Joko", "Dedi",
    "Yusuf", "Rudi", "Slamet", "Sugeng", "Eko", "Wahyu", "Cecep", "Dadang", "Ade", "Mamat",
    "Rohman", "Saipul", "Rojali", "Mansur", "Zainal", "Abdul", "Jaenudin", "Suparman", "Rahmat",
    "Hasan", "Ismail", "Dede", "Yayan", "Nana", "Endang", "Heri", "Tatang", "Usman",
];
#[rustfmt::skip]
const FEMALE_CLASSIC: &[&str] = &[
    "Siti", "Dewi", "Euis", "Nur", "Rina", "Wati", "Sri", "Neneng", "Yanti", "Tuti", "Ani",
    "Lilis", "Cucu", "Entin", "Iis", "Nining", "Ratna", "Rohayati", "Maesaroh", "Fatimah",
    "Aminah", "Juariah", "Marlina", "Yuyun", "Eti", "Imas", "Popon", "Rosita", "Sumiati",
    "Mulyani", "Nurhasanah", "Oom",
];
/// Given names of younger people.
#[rustfmt::skip]
const MALE_MODERN: &[&str] = &[
    "Muhammad", "Rizky", "Fajar", "Dimas", "Aditya", "Raka", "Bayu", "Farhan", "Arya", "Rafi",
    "Alif", "Gilang", "Daffa", "Naufal", "Azka", "Ilham", "Reza", "Yoga", "Fadli", "Hafiz",
    "Irfan", "Kevin", "Rangga", "Zaki",
];
#[rustfmt::skip]
const FEMALE_MODERN: &[&str] = &[
    "Aulia", "Nabila", "Putri", "Salsabila", "Zahra", "Aisyah", "Nayla", "Keisha", "Alya",
    "Syifa", "Nadia", "Anisa", "Fitri", "Intan", "Citra", "Dinda", "Rahma", "Khansa", "Kirana",
    "Tiara", "Amelia", "Safira", "Nur'aini", "Zaskia",
];
/// Second names (Indonesians often have no family name; many have a second given name).
#[rustfmt::skip]
const MALE_SECOND: &[&str] = &[
    "Santoso", "Hidayat", "Saputra", "Kurniawan", "Setiawan", "Nugroho", "Wijaya", "Permana",
    "Gunawan", "Firmansyah", "Hermawan", "Sulaiman", "Suryadi", "Supriadi", "Sumarna", "Rahman",
    "Hakim", "Maulana", "Pratama", "Ramadhan", "Syahputra", "Wibowo", "Susilo", "Prasetyo",
    "Hidayatullah", "Sobari", "Mulyana", "Fauzi",
];
#[rustfmt::skip]
const FEMALE_SECOND: &[&str] = &[
    "Rahmawati", "Lestari", "Susanti", "Wahyuni", "Handayani", "Kurniasih", "Rahayu", "Suryani",
    "Fitriani", "Nurhayati", "Puspita", "Anggraini", "Maharani", "Safitri", "Permatasari",
    "Wulandari", "Hasanah", "Aminah", "Komariah", "Nurjanah", "Sari", "Oktaviani",
];

/// The maternal form's danger signs, with how a team writes them in a referral.
const DANGER_SIGNS: &[(&str, &str)] = &[
    ("bleeding", "perdarahan"),
    ("severe_headache", "sakit kepala hebat"),
    ("blurred_vision", "pandangan kabur"),
    ("convulsions", "kejang"),
    ("high_fever", "demam tinggi"),
    ("reduced_fetal_movement", "gerakan janin berkurang"),
    ("swelling", "bengkak pada wajah dan tangan"),
    ("waters_broke_early", "ketuban pecah dini"),
    ("severe_abdominal_pain", "nyeri perut hebat"),
];

/// Danger signs that call for the ambulance at once.
const EMERGENCY_SIGNS: &[&str] = &[
    "bleeding",
    "convulsions",
    "waters_broke_early",
    "severe_abdominal_pain",
];

/// WHO median weight (kg) and length/height (cm) by age in months, boys; girls are a few
/// percent smaller.
#[rustfmt::skip]
const GROWTH: &[(u32, f64, f64)] = &[
    (0, 3.3, 49.9), (1, 4.5, 54.7), (2, 5.6, 58.4), (3, 6.4, 61.4), (6, 7.9, 67.6),
    (9, 8.9, 72.0), (12, 9.6, 75.7), (18, 10.9, 82.3), (24, 12.2, 87.1), (36, 14.3, 96.1),
    (48, 16.3, 103.3), (60, 18.3, 110.0),
];

// ---------------------------------------------------------------------------------------------
// The generator.
// ---------------------------------------------------------------------------------------------

type Records = Vec<(RecordKind, Uuid, FieldMap)>;

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

/// A member before names and numbers: who they are in the family.
#[derive(Debug, Clone, Copy)]
struct Draft {
    sex: Sex,
    birth: NaiveDate,
    relation: Relation,
    /// The member's mother, if she lives in the household (always an earlier member).
    mother: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mental {
    None,
    Odmk,
    Odgj,
}

/// A generated member, with the traits that keep their screenings consistent over the years.
#[derive(Debug, Clone)]
struct Member {
    id: PersonId,
    person: Person,
    hypertensive: bool,
    /// Knows of their hypertension, and is treated for it.
    hypertension_known: bool,
    hypertension_treated: bool,
    diabetic: bool,
    mental: Mental,
    mental_treated: bool,
    smoker: bool,
    stunted: bool,
    /// Adult height in mm and usual weight in units of 100 g.
    height_mm: i64,
    weight_hg: i64,
    /// Pregnancies as (conception, end), end exclusive.
    pregnancies: Vec<(NaiveDate, NaiveDate)>,
}

/// A finding at a visit that may lead to a referral.
#[derive(Debug, Clone)]
enum Finding {
    RaisedBp {
        systolic: i64,
        diastolic: i64,
    },
    PresumptiveTb {
        blood: bool,
    },
    Mental {
        odgj: bool,
        treated: bool,
    },
    DangerSigns {
        signs: Vec<&'static str>,
        weeks: i64,
    },
    Stunting {
        length_mm: i64,
        months: u32,
    },
    HighGlucose(i64),
}

impl Generator {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        self.rng.random_range(lo..=hi)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.random_range(0..total);
        for (item, weight) in items {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        unreachable!("the roll is below the total weight")
    }

    /// A UUIDv7-shaped id: the seeding clock's next millisecond, and random bits from the
    /// seeded stream. Ids therefore increase in the order records are generated, so each table
    /// grows at its end, as on a device where records are made one after the other.
    fn id(&mut self) -> Uuid {
        let mut bytes = [0u8; 10];
        self.rng.fill(&mut bytes);
        self.id_clock_ms += 1;
        uuid::Builder::from_unix_timestamp_millis(self.id_clock_ms, &bytes).into_uuid()
    }

    /// A day between `from` and `to`, both included (`from` if the range is empty).
    fn day_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = (to - from).num_days().max(0);
        from + Duration::days(self.range(0, span))
    }

    /// A birth date giving an age of `min..=max` whole years today.
    fn birth_for_age(&mut self, min: u32, max: u32) -> NaiveDate {
        let latest = years_before(self.today, min);
        let earliest = years_before(self.today, max + 1) + Duration::days(1);
        self.day_between(earliest, latest)
    }

    /// A working-day time of day: 08:00 to 15:30 WIB.
    fn daytime(&mut self, day: NaiveDate) -> DateTime<FixedOffset> {
        let minutes = u32::try_from(self.range(8 * 60, 15 * 60 + 30)).expect("small");
        let time = chrono::NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)
            .expect("valid time of day");
        day.and_time(time)
            .and_local_timezone(wib())
            .single()
            .expect("a fixed offset has one local time")
    }

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

    // -----------------------------------------------------------------------------------------
    // Families.
    // -----------------------------------------------------------------------------------------

    /// Who lives in the household: 1 to 8 people, about 4 on average.
    fn family(&mut self) -> Vec<Draft> {
        let mut family = Vec::new();
        match self.weighted(&[(0u8, 5), (1, 8), (2, 72), (3, 8), (4, 7)]) {
            // An elder living alone, most often a widow.
            0 => {
                let sex = if self.chance(0.6) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let birth = self.birth_for_age(62, 85);
                family.push(draft(sex, birth, Relation::Head, None));
            }
            // A couple: newly married, or whose children have left.
            1 => {
                let (min, max) = if self.chance(0.5) { (22, 32) } else { (55, 78) };
                self.couple(&mut family, min, max);
            }
            // Parents with children, sometimes a grandparent or a nephew.
            2 => {
                self.couple(&mut family, 25, 58);
                let count = self.weighted(&[(1, 20), (2, 35), (3, 27), (4, 12), (5, 6)]);
                self.children(&mut family, 0, 1, count, Relation::Child);
                if self.chance(0.15) {
                    self.grandparents(&mut family);
                }
                if self.chance(0.04) {
                    let sex = self.sex();
                    let birth = self.birth_for_age(8, 24);
                    family.push(draft(sex, birth, Relation::OtherFamily, None));
                }
            }
            // Three generations: grandparents, a married child and their children.
            3 => self.three_generations(&mut family),
            // A single parent, most often a mother.
            _ => {
                let sex = if self.chance(0.85) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let birth = self.birth_for_age(28, 55);
                family.push(draft(sex, birth, Relation::Head, None));
                let count = self.weighted(&[(1, 35), (2, 35), (3, 20), (4, 10)]);
                self.children(&mut family, 0, 0, count, Relation::Child);
            }
        }
        family.truncate(8);
        family
    }

    fn sex(&mut self) -> Sex {
        if self.chance(0.5) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// A head (most often the husband) and spouse aged `min..=max`.
    fn couple(&mut self, family: &mut Vec<Draft>, min: u32, max: u32) {
        let head_sex = if self.chance(0.95) {
            Sex::Male
        } else {
            Sex::Female
        };
        let head = self.birth_for_age(min, max);
        // The wife is up to 8 years younger, sometimes a little older.
        let gap_days = self.range(-3 * 365, 8 * 365);
        let gap = if head_sex == Sex::Male {
            gap_days
        } else {
            -gap_days
        };
        let latest = years_before(self.today, 19);
        let spouse = (head + Duration::days(gap)).min(latest);
        let spouse_sex = match head_sex {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        };
        family.push(draft(head_sex, head, Relation::Head, None));
        family.push(draft(spouse_sex, spouse, Relation::Spouse, None));
    }

    /// Up to `count` children of the members at `a` and `b` (the same index for one parent),
    /// born when their mother was 19 to 42, at least 15 months apart. Grown children have often
    /// left home.
    fn children(
        &mut self,
        family: &mut Vec<Draft>,
        a: usize,
        b: usize,
        count: usize,
        relation: Relation,
    ) {
        let (pa, pb) = (family[a], family[b]);
        let mother = [a, b].into_iter().find(|i| family[*i].sex == Sex::Female);
        let bearer = mother.map_or(pa.birth, |m| family[m].birth);
        let first_min = years_after(pa.birth.max(pb.birth), 20).max(years_after(bearer, 19));
        let first_max = years_after(bearer, 32).min(self.today);
        if first_min > first_max {
            return;
        }
        let last = years_after(bearer, 42);
        let mut birth = self.day_between(first_min, first_max);
        for _ in 0..count {
            if birth > self.today || birth > last {
                break;
            }
            let grown = age_months(birth, self.today) / 12 >= 23;
            if !(grown && self.chance(0.5)) {
                let sex = self.sex();
                family.push(draft(sex, birth, relation, mother));
            }
            let gap = self.range(15, 60);
            birth = months_after(birth, u32::try_from(gap).expect("small"));
        }
    }

    /// One or both parents of the head or of the spouse.
    fn grandparents(&mut self, family: &mut Vec<Draft>) {
        let of_head = self.chance(0.5);
        let anchor = if of_head {
            family[0].birth
        } else {
            family[1].birth
        };
        let relation = if of_head {
            Relation::Parent
        } else {
            Relation::ParentInLaw
        };
        let both = self.chance(0.3);
        for sex in [Sex::Female, Sex::Male] {
            if sex == Sex::Male && !both {
                break;
            }
            let birth = anchor - Duration::days(self.range(21 * 365, 35 * 365));
            if age_months(birth, self.today) / 12 <= 92 {
                family.push(draft(sex, birth, relation, None));
            }
        }
    }

    fn three_generations(&mut self, family: &mut Vec<Draft>) {
        if self.chance(0.8) {
            self.couple(family, 52, 72);
        } else {
            let birth = self.birth_for_age(52, 72);
            family.push(draft(Sex::Female, birth, Relation::Head, None));
        }
        let before = family.len();
        // One grown child who stayed, with their spouse: born when the mother was 20 to 30,
        // and at least 21 now.
        let bearer = family
            .iter()
            .find(|d| d.sex == Sex::Female)
            .map_or(family[0].birth, |d| d.birth);
        let youngest_parent = family.iter().map(|d| d.birth).max().unwrap_or(bearer);
        let from = years_after(bearer, 20).max(years_after(youngest_parent, 20));
        let to = years_after(bearer, 30).min(years_before(self.today, 21));
        if from > to {
            return;
        }
        let birth = self.day_between(from, to);
        let sex = self.sex();
        let mother = (0..before).find(|i| family[*i].sex == Sex::Female);
        family.push(draft(sex, birth, Relation::Child, mother));
        let child = family.len() - 1;
        let in_law_birth = (birth + Duration::days(self.range(-3 * 365, 3 * 365)))
            .min(years_before(self.today, 19));
        let in_law_sex = match sex {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        };
        family.push(draft(in_law_sex, in_law_birth, Relation::ChildInLaw, None));
        let in_law = family.len() - 1;
        let count = self.weighted(&[(1, 40), (2, 40), (3, 20)]);
        self.children(family, child, in_law, count, Relation::Grandchild);
    }

    // -----------------------------------------------------------------------------------------
    // Members, names and numbers.
    // -----------------------------------------------------------------------------------------

    fn members(
        &mut self,
        drafts: &[Draft],
        household: HouseholdId,
        kecamatan: Kecamatan,
    ) -> Vec<Member> {
        let insured = self.chance(0.78);
        let mut members: Vec<Member> = Vec::with_capacity(drafts.len());
        for d in drafts {
            let id = PersonId(self.id());
            let age = age_months(d.birth, self.today);
            let nik = if age < 12 && self.chance(0.05) {
                None
            } else {
                Some(self.nik(kecamatan, d.sex, d.birth))
            };
            let jkn = (insured && self.chance(0.9)).then(|| self.jkn());
            let name = self.name(d.sex, d.birth);
            let person = Person {
                household,
                nik,
                name,
                sex: d.sex,
                birth_date: d.birth,
                relation: d.relation,
                jkn,
                pregnant: false,
            };
            members.push(self.traits(id, person));
        }
        // Past pregnancies, from the children born in the household.
        for d in drafts {
            if let Some(m) = d.mother {
                let weeks = self.range(37, 41);
                let conception = d.birth - Duration::weeks(weeks);
                members[m].pregnancies.push((conception, d.birth));
            }
        }
        // A current pregnancy for about 5% of women aged 18 to 42 (married ones: a little more
        // often), not within ten months of a birth.
        for m in &mut members {
            let p = &m.person;
            let years = age_months(p.birth_date, self.today) / 12;
            let married = matches!(
                p.relation,
                Relation::Head | Relation::Spouse | Relation::ChildInLaw
            );
            let recent_birth = m
                .pregnancies
                .iter()
                .any(|(_, end)| (self.today - *end).num_days() < 300);
            if p.sex == Sex::Female
                && married
                && (18..=42).contains(&years)
                && !recent_birth
                && self.rng.random_bool(0.088)
            {
                let weeks = self.rng.random_range(4..=40);
                let conception = self.today - Duration::weeks(weeks);
                m.pregnancies
                    .push((conception, conception + Duration::weeks(40)));
                m.person.pregnant = true;
            }
        }
        members
    }

    fn traits(&mut self, id: PersonId, person: Person) -> Member {
        let years = age_months(person.birth_date, self.today) / 12;
        let adult = years >= 15;
        let p_hypertension = match years {
            0..=14 => 0.0,
            15..=29 => 0.05,
            30..=44 => 0.18,
            45..=59 => 0.38,
            _ => 0.58,
        };
        let hypertensive = self.chance(p_hypertension);
        let hypertension_known = hypertensive && self.chance(0.6);
        let hypertension_treated = hypertension_known && self.chance(0.55);
        let diabetic = years >= 35 && self.chance(0.08);
        let mental = if !adult {
            Mental::None
        } else {
            self.weighted(&[(Mental::None, 989), (Mental::Odmk, 7), (Mental::Odgj, 4)])
        };
        let mental_treated = mental != Mental::None && self.chance(0.5);
        let smoker = adult
            && match person.sex {
                Sex::Male => self.chance(0.6),
                Sex::Female => self.chance(0.03),
            };
        let stunted = self.chance(0.2);
        let (height_mm, weight_hg) = match person.sex {
            Sex::Male => (self.range(1550, 1780), self.range(500, 900)),
            Sex::Female => (self.range(1450, 1650), self.range(420, 800)),
        };
        Member {
            id,
            person,
            hypertensive,
            hypertension_known,
            hypertension_treated,
            diabetic,
            mental,
            mental_treated,
            smoker,
            stunted,
            height_mm,
            weight_hg,
            pregnancies: Vec::new(),
        }
    }

    /// A Sundanese, Betawi or Javanese name fitting the person's sex and generation.
    fn name(&mut self, sex: Sex, birth: NaiveDate) -> PersonName {
        let modern = (birth.year() >= 1992) != self.chance(0.15);
        let given = match (sex, modern) {
            (Sex::Male, false) => self.pick(MALE_CLASSIC),
            (Sex::Male, true) => self.pick(MALE_MODERN),
            (Sex::Female, false) => self.pick(FEMALE_CLASSIC),
            (Sex::Female, true) => self.pick(FEMALE_MODERN),
        };
        let single = self.chance(if birth.year() < 1970 { 0.35 } else { 0.1 });
        let text = if single {
            given.to_owned()
        } else {
            let second = match sex {
                Sex::Male => self.pick(MALE_SECOND),
                Sex::Female => self.pick(FEMALE_SECOND),
            };
            format!("{given} {second}")
        };
        valid("name", PersonName::parse(&text))
    }

    /// A NIK unique in the run: mostly issued in the household's kecamatan, sometimes in
    /// another one or another province; the day carries +40 for women.
    fn nik(&mut self, kecamatan: Kecamatan, sex: Sex, birth: NaiveDate) -> Nik {
        let region = match self.weighted(&[(0u8, 78), (1, 10), (2, 12)]) {
            0 => format!("3671{:02}", kecamatan.code()),
            1 => {
                let other = self.pick(Kecamatan::ALL);
                format!("3671{:02}", other.code())
            }
            _ => self.pick(OTHER_REGIONS).to_owned(),
        };
        let day = birth.day() + if sex == Sex::Female { 40 } else { 0 };
        let prefix = format!(
            "{region}{day:02}{:02}{:02}",
            birth.month(),
            birth.year().rem_euclid(100)
        );
        for _ in 0..1000 {
            let serial = self.range(1, 9999);
            let nik = valid("NIK", Nik::parse(&format!("{prefix}{serial:04}")));
            let number = nik.as_string().parse::<u64>().expect("16 digits");
            if self.used_niks.insert(number) {
                debug_assert_eq!(nik.sex(), sex);
                debug_assert!(nik.birth_date_matches(birth));
                return nik;
            }
        }
        panic!("seed ran out of NIK serials for one region and birth date");
    }

    fn jkn(&mut self) -> JknNumber {
        let number = self.range(1_000_000_000, 3_999_999_999);
        valid("JKN number", JknNumber::parse(&format!("000{number:010}")))
    }

    /// A KK number unique in the run, issued in the kecamatan.
    fn kk(&mut self, kecamatan: Kecamatan, issued: NaiveDate) -> KkNumber {
        let prefix = format!(
            "3671{:02}{:02}{:02}{:02}",
            kecamatan.code(),
            issued.day(),
            issued.month(),
            issued.year().rem_euclid(100)
        );
        for _ in 0..1000 {
            let serial = self.range(1, 9999);
            let kk = valid(
                "KK number",
                KkNumber::parse(&format!("{prefix}{serial:04}")),
            );
            if self
                .used_kks
                .insert(kk.as_string().parse::<u64>().expect("16 digits"))
            {
                return kk;
            }
        }
        panic!("seed ran out of KK serials for one kecamatan and issue date");
    }

    fn household_entity(
        &mut self,
        kecamatan: Kecamatan,
        k: usize,
        members: &[Member],
        registered: NaiveDate,
    ) -> Household {
        let head = &members[0].person;
        let issued_from = years_after(head.birth_date, 20)
            .max(NaiveDate::from_ymd_opt(2008, 1, 1).expect("valid date"));
        let issued = self.day_between(issued_from.min(registered), registered);
        let kk = self.kk(kecamatan, issued);
        let street = self.street();
        let address = Address {
            street: valid("street", Street::parse(&street)),
            rt: valid("RT", Rt::new(self.range(1, 15))),
            rw: valid("RW", Rw::new(self.range(1, 12))),
            kelurahan: valid("kelurahan", Kelurahan::parse(self.pick(KELURAHAN[k]))),
            kecamatan,
        };
        let location = self.chance(0.8).then(|| {
            let (lat, lon) = CENTRES[k];
            let lat = (lat + self.rng.random_range(-18_000..=18_000)).clamp(LAT_BOX.0, LAT_BOX.1);
            let lon = (lon + self.rng.random_range(-18_000..=18_000)).clamp(LON_BOX.0, LON_BOX.1);
            valid("location", GeoPoint::new(lat, lon))
        });
        Household {
            kk,
            head_name: head.name.clone(),
            address,
            location,
            puskesmas: self.puskesmas.clone(),
            pispk: self.pispk(members),
        }
    }

    fn street(&mut self) -> String {
        let number = self.range(1, 120);
        let name = self.pick(STREETS);
        match self.weighted(&[(0u8, 60), (1, 25), (2, 15)]) {
            0 => format!("Jl. {name} No. {number}"),
            1 => {
                let lane = self.pick(STREETS);
                format!("Jl. {name} Gg. {lane} No. {number}")
            }
            _ => {
                let block = self.pick(&['A', 'B', 'C', 'D', 'E', 'F']);
                let row = self.range(1, 12);
                format!("Perum Taman {name} Blok {block}{row} No. {number}")
            }
        }
    }

    /// The family's PIS-PK answers, consistent with who lives there: all 12 for 70% of
    /// families, some for the rest.
    fn pispk(&mut self, members: &[Member]) -> PisPk {
        let months: Vec<u32> = members
            .iter()
            .map(|m| age_months(m.person.birth_date, self.today))
            .collect();
        let has = |lo: u32, hi: u32| months.iter().any(|m| (lo..=hi).contains(m));
        let couple_of_fertile_age = members.iter().any(|m| {
            m.person.sex == Sex::Female
                && matches!(m.person.relation, Relation::Spouse | Relation::ChildInLaw)
                && (15..=49).contains(&(age_months(m.person.birth_date, self.today) / 12))
        });
        let mut answer = |applies: bool, p_yes: f64| {
            if !applies {
                Answer::NotApplicable
            } else if self.rng.random_bool(p_yes) {
                Answer::Yes
            } else {
                Answer::No
            }
        };
        let all_insured = members.iter().all(|m| m.person.jkn.is_some());
        let answers = [
            (
                Indicator::FamilyPlanning,
                answer(couple_of_fertile_age, 0.65),
            ),
            (Indicator::FacilityDelivery, answer(has(0, 11), 0.9)),
            (Indicator::CompleteImmunisation, answer(has(12, 23), 0.8)),
            (Indicator::ExclusiveBreastfeeding, answer(has(7, 23), 0.6)),
            (Indicator::GrowthMonitoring, answer(has(2, 59), 0.75)),
            (Indicator::TbTreated, Answer::NotApplicable),
            (
                Indicator::HypertensionTreated,
                answer(
                    members.iter().any(|m| m.hypertension_known),
                    if members.iter().any(|m| m.hypertension_treated) {
                        0.8
                    } else {
                        0.1
                    },
                ),
            ),
            (
                Indicator::MentalDisorderTreated,
                answer(members.iter().any(|m| m.mental == Mental::Odgj), 0.5),
            ),
            (
                Indicator::NoSmoker,
                if members.iter().any(|m| m.smoker) {
                    Answer::No
                } else {
                    Answer::Yes
                },
            ),
            (
                Indicator::JknMember,
                if all_insured { Answer::Yes } else { Answer::No },
            ),
            (Indicator::CleanWater, answer(true, 0.92)),
            (Indicator::HealthyLatrine, answer(true, 0.88)),
        ];
        let complete = self.chance(0.7);
        let mut pispk = PisPk::default();
        for (indicator, answer) in answers {
            if complete || self.chance(0.5) {
                pispk.set(indicator, Some(answer));
            }
        }
        pispk
    }

    // -----------------------------------------------------------------------------------------
    // Visits, screenings, referrals and follow-ups.
    // -----------------------------------------------------------------------------------------

    fn visit(
        &mut self,
        household: HouseholdId,
        k: usize,
        members: &[Member],
        day: NaiveDate,
        records: &mut Records,
        report: &mut SeedReport,
    ) {
        let visited_at = self.daytime(day);
        let visit_id = VisitId(self.id());
        let outcome = self.weighted(&[
            (VisitOutcome::Visited, 85),
            (VisitOutcome::NobodyHome, 10),
            (VisitOutcome::Refused, 5),
        ]);
        let mut screenings = Vec::new();
        let mut findings = Vec::new();
        if outcome == VisitOutcome::Visited {
            for m in self.screened(members, day) {
                self.screen(&members[m], m, day, &mut screenings, &mut findings);
            }
        }
        let mut visit = Visit {
            household,
            visited_at,
            team: self.team.clone(),
            device: self.device,
            outcome,
            screenings,
        };
        let stored = match visit.validate_screenings(&self.forms) {
            Ok(stored) => stored,
            Err(err) => panic!("seed generated an invalid visit: {err}"),
        };
        // Stored apart from the visit's own fields; no need to serialize them again.
        visit.screenings.clear();
        let mut fields = checked(&visit, &self.ctx);
        fields.extend(Visit::screening_fields(&stored));
        records.push((RecordKind::Visit, visit_id.0, fields));
        report.visits += 1;

        let mut referred = 0;
        for (m, finding) in findings {
            if referred == 2 {
                break;
            }
            if let Some(referral) =
                self.referral(&members[m], household, visit_id, k, &finding, day)
            {
                referred += 1;
                let referral_id = ReferralId(self.id());
                records.push((
                    RecordKind::Referral,
                    referral_id.0,
                    checked(&referral, &self.ctx),
                ));
                report.referrals += 1;
                if self.chance(0.85) {
                    let followup = self.followup(&members[m], household, referral_id, day);
                    let followup_id = FollowUpId(self.id());
                    records.push((
                        RecordKind::FollowUp,
                        followup_id.0,
                        checked(&followup, &self.ctx),
                    ));
                    report.followups += 1;
                }
            }
        }
    }

    /// The members screened at a visit: 1 to 3 of those born by then, favouring pregnant women
    /// and under-fives.
    fn screened(&mut self, members: &[Member], day: NaiveDate) -> Vec<usize> {
        let mut candidates: Vec<(usize, u32)> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.person.birth_date <= day)
            .map(|(i, m)| {
                let months = age_months(m.person.birth_date, day);
                let weight = if months < 60 || pregnancy_week(m, day).is_some() {
                    3
                } else {
                    1
                };
                (i, weight)
            })
            .collect();
        let want = self.range(1, 3);
        let mut chosen = Vec::new();
        while i64::try_from(chosen.len()).expect("small") < want && !candidates.is_empty() {
            let total: u32 = candidates.iter().map(|(_, w)| w).sum();
            let mut roll = self.rng.random_range(0..total);
            let at = candidates
                .iter()
                .position(|(_, w)| {
                    if roll < *w {
                        true
                    } else {
                        roll -= w;
                        false
                    }
                })
                .expect("the roll is below the total weight");
            chosen.push(candidates.remove(at).0);
        }
        chosen.sort_unstable();
        chosen
    }

    /// The screenings of one member at a visit, with the forms that apply to them that day.
    fn screen(
        &mut self,
        member: &Member,
        index: usize,
        day: NaiveDate,
        screenings: &mut Vec<Screening>,
        findings: &mut Vec<(usize, Finding)>,
    ) {
        let months = age_months(member.person.birth_date, day);
        let years = months / 12;
        let pregnant = pregnancy_week(member, day);
        let mut add = |generator: &Generator, form: &str, values: Map<String, Json>| {
            let definition = generator
                .forms
                .get(form, 1)
                .unwrap_or_else(|| panic!("built-in form {form}@1 is missing"));
            assert!(
                definition.applies_to.admits(member.person.sex, months),
                "seed screened a person with form {form}, which does not apply to their sex and age"
            );
            screenings.push(Screening {
                person: member.id,
                form: FormRef {
                    id: form.to_owned(),
                    version: 1,
                },
                values,
            });
        };
        if months < 60 {
            let values = self.under_five(member, months, index, findings);
            add(self, "under-five", values);
            if self.chance(0.3) {
                let values = self.tb(index, findings);
                add(self, "tb-symptoms", values);
            }
            return;
        }
        if years < 15 {
            let values = self.child_vitals(member, years);
            add(self, "vital-signs", values);
            if self.chance(0.6) {
                let values = self.tb(index, findings);
                add(self, "tb-symptoms", values);
            }
            return;
        }
        let values = self.adult_vitals(member, index, pregnant.is_some(), findings);
        add(self, "vital-signs", values);
        if self.chance(0.8) {
            let values = self.tb(index, findings);
            add(self, "tb-symptoms", values);
        }
        if self.chance(0.35) {
            let values = self.mental(member, index, findings);
            add(self, "mental-health", values);
        }
        if (member.hypertensive && self.chance(0.5)) || self.chance(0.05) {
            let values = self.hypertension(member);
            add(self, "hypertension", values);
        }
        if let Some(weeks) = pregnant {
            let values = self.maternal(weeks, index, findings);
            add(self, "maternal", values);
        }
    }

    fn adult_vitals(
        &mut self,
        member: &Member,
        index: usize,
        pregnant: bool,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let raised = self.chance(if member.hypertensive { 0.8 } else { 0.06 });
        let (systolic, diastolic) = if !raised {
            let systolic = self.range(100, 138);
            (systolic, self.range(60, 88.min(systolic - 25)))
        } else if self.chance(0.1) {
            // Raised diastolic alone.
            (self.range(125, 139), self.range(90, 99))
        } else if self.chance(0.15) {
            (self.range(180, 210), self.range(100, 125))
        } else {
            (self.range(140, 179), self.range(82, 109))
        };
        debug_assert_eq!(raised, systolic >= 140 || diastolic >= 90);
        if raised {
            findings.push((
                index,
                Finding::RaisedBp {
                    systolic,
                    diastolic,
                },
            ));
        }
        let mut values = Map::new();
        values.insert("systolic".into(), Json::from(systolic));
        values.insert("diastolic".into(), Json::from(diastolic));
        let pulse = if self.chance(0.95) {
            self.range(60, 100)
        } else {
            self.range(101, 120)
        };
        values.insert("pulse".into(), Json::from(pulse));
        let temperature = if self.chance(0.95) {
            self.range(360, 374)
        } else {
            self.range(375, 392)
        };
        values.insert("temperature".into(), dec(temperature));
        if self.chance(0.3) {
            let glucose = if member.diabetic {
                self.range(200, 380)
            } else {
                self.range(75, 180)
            };
            if glucose >= 200 {
                findings.push((index, Finding::HighGlucose(glucose)));
            }
            values.insert("blood_glucose".into(), Json::from(glucose));
        }
        let weight = member.weight_hg + self.range(-20, 20) + if pregnant { 60 } else { 0 };
        values.insert("weight".into(), dec(weight));
        if self.chance(0.6) {
            values.insert("height".into(), dec(member.height_mm));
        }
        if member.person.sex == Sex::Female && (pregnant || self.chance(0.2)) {
            values.insert("muac".into(), dec(self.range(220, 320)));
        }
        values
    }

    fn child_vitals(&mut self, member: &Member, years: u32) -> Map<String, Json> {
        let grown = i64::from(years) - 5;
        let height = 1100 + 60 * grown + self.range(-60, 60);
        let weight = 180 + 30 * grown + self.range(-25, 25);
        let factor = if member.stunted { 94 } else { 100 };
        let mut values = Map::new();
        values.insert("temperature".into(), dec(self.range(362, 376)));
        values.insert("weight".into(), dec(weight * factor / 100));
        values.insert("height".into(), dec(height * factor / 100));
        values
    }

    fn under_five(
        &mut self,
        member: &Member,
        months: u32,
        index: usize,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let (weight_kg, length_cm) = growth_median(months);
        let sex_factor = if member.person.sex == Sex::Female {
            0.96
        } else {
            1.0
        };
        let (stunt_w, stunt_l) = if member.stunted {
            (0.88, 0.92)
        } else {
            (1.0, 1.0)
        };
        let noise_w = self.rng.random_range(0.88..1.12);
        let noise_l = self.rng.random_range(0.97..1.03);
        let weight = (weight_kg * sex_factor * stunt_w * noise_w * 10.0).round() as i64;
        let length = (length_cm * sex_factor * stunt_l * noise_l * 10.0).round() as i64;
        let (weight, length) = (weight.clamp(5, 400), length.clamp(350, 1300));
        if member.stunted {
            findings.push((
                index,
                Finding::Stunting {
                    length_mm: length,
                    months,
                },
            ));
        }
        let mut values = Map::new();
        values.insert("weight".into(), dec(weight));
        values.insert("length_height".into(), dec(length));
        if months >= 12 {
            values.insert(
                "immunisation_complete".into(),
                Json::Bool(self.chance(0.85)),
            );
        }
        values
    }

    fn tb(&mut self, index: usize, findings: &mut Vec<(usize, Finding)>) -> Map<String, Json> {
        let presumptive = self.chance(0.03);
        let mut symptoms = [false; 6];
        if presumptive {
            // At least one symptom; cough is the most common.
            symptoms[0] = self.chance(0.7);
            for s in symptoms.iter_mut().skip(1) {
                *s = self.rng.random_bool(0.25);
            }
            if !symptoms.contains(&true) {
                symptoms[0] = true;
            }
            findings.push((index, Finding::PresumptiveTb { blood: symptoms[1] }));
        }
        let names = [
            "cough_two_weeks",
            "cough_with_blood",
            "fever",
            "night_sweats",
            "weight_loss",
            "tb_contact",
        ];
        names
            .iter()
            .zip(symptoms)
            .map(|(name, s)| ((*name).to_owned(), Json::Bool(s)))
            .collect()
    }

    fn mental(
        &mut self,
        member: &Member,
        index: usize,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let status = match member.mental {
            Mental::None => "none",
            Mental::Odmk => "odmk",
            Mental::Odgj => "odgj",
        };
        let mut values = Map::new();
        values.insert("status".into(), Json::from(status));
        if member.mental != Mental::None {
            values.insert("under_treatment".into(), Json::Bool(member.mental_treated));
            findings.push((
                index,
                Finding::Mental {
                    odgj: member.mental == Mental::Odgj,
                    treated: member.mental_treated,
                },
            ));
        }
        values
    }

    fn hypertension(&mut self, member: &Member) -> Map<String, Json> {
        let mut values = Map::new();
        values.insert(
            "known_hypertension".into(),
            Json::Bool(member.hypertension_known),
        );
        if member.hypertension_known {
            values.insert(
                "on_treatment".into(),
                Json::Bool(member.hypertension_treated),
            );
            if member.hypertension_treated {
                values.insert(
                    "takes_medication_regularly".into(),
                    Json::Bool(self.chance(0.6)),
                );
            }
        }
        values
    }

    fn maternal(
        &mut self,
        weeks: i64,
        index: usize,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let mut values = Map::new();
        values.insert("pregnant".into(), Json::Bool(true));
        values.insert("gestational_age_weeks".into(), Json::from(weeks));
        let anc = (weeks / 5 + self.range(-1, 1)).clamp(0, 20);
        values.insert("antenatal_visits".into(), Json::from(anc));
        if self.chance(0.04) {
            let mut signs = vec![self.pick(DANGER_SIGNS).0];
            if self.chance(0.3) {
                let second = self.pick(DANGER_SIGNS).0;
                if !signs.contains(&second) {
                    signs.push(second);
                }
            }
            values.insert(
                "danger_signs".into(),
                Json::Array(signs.iter().map(|s| Json::from(*s)).collect()),
            );
            findings.push((index, Finding::DangerSigns { signs, weeks }));
        }
        values
    }

    /// A referral for a finding, or `None` when the team did not refer (most findings are
    /// counselled at home). About 3% of visits lead to one.
    fn referral(
        &mut self,
        member: &Member,
        household: HouseholdId,
        visit: VisitId,
        k: usize,
        finding: &Finding,
        day: NaiveDate,
    ) -> Option<Referral> {
        let local = self.pick(PUSKESMAS[k]);
        let (category, reason, hospital, urgency) = match finding {
            Finding::RaisedBp {
                systolic,
                diastolic,
            } => {
                let severe = *systolic >= 180 || *diastolic >= 110;
                if !self.chance(if severe { 0.2 } else { 0.015 }) {
                    return None;
                }
                let reason = format!(
                    "Tekanan darah {systolic}/{diastolic} mmHg, perlu pemeriksaan dan pengobatan hipertensi"
                );
                let urgency = if severe && self.chance(0.4) {
                    Urgency::Urgent
                } else {
                    Urgency::Routine
                };
                let hospital = urgency == Urgency::Urgent;
                (ReferralCategory::Hypertension, reason, hospital, urgency)
            }
            Finding::PresumptiveTb { blood } => {
                if !self.chance(0.3) {
                    return None;
                }
                let reason = if *blood {
                    "Terduga TBC dengan batuk berdarah, perlu pemeriksaan dahak (TCM) dan rontgen"
                } else {
                    "Terduga TBC, perlu pemeriksaan dahak (TCM) di puskesmas"
                };
                let urgency = if *blood && self.chance(0.5) {
                    Urgency::Urgent
                } else {
                    Urgency::Routine
                };
                let hospital = urgency == Urgency::Urgent;
                (
                    ReferralCategory::Tuberculosis,
                    reason.to_owned(),
                    hospital,
                    urgency,
                )
            }
            Finding::Mental { odgj, treated } => {
                if *treated || !self.chance(if *odgj { 0.5 } else { 0.15 }) {
                    return None;
                }
                let reason = if *odgj {
                    "ODGJ belum diobati, perlu penilaian dan pengobatan di poli jiwa"
                } else {
                    "ODMK, perlu konseling kesehatan jiwa di puskesmas"
                };
                let urgency = if *odgj && self.chance(0.2) {
                    Urgency::Urgent
                } else {
                    Urgency::Routine
                };
                (
                    ReferralCategory::MentalHealth,
                    reason.to_owned(),
                    *odgj,
                    urgency,
                )
            }
            Finding::DangerSigns { signs, weeks } => {
                let described: Vec<&str> = signs
                    .iter()
                    .filter_map(|s| DANGER_SIGNS.iter().find(|(n, _)| n == s).map(|(_, t)| *t))
                    .collect();
                let reason = format!(
                    "Tanda bahaya kehamilan ({}) pada usia kehamilan {weeks} minggu",
                    described.join(", ")
                );
                let emergency = signs.iter().any(|s| EMERGENCY_SIGNS.contains(s));
                let urgency = if emergency {
                    Urgency::Emergency
                } else {
                    Urgency::Urgent
                };
                (ReferralCategory::Maternal, reason, true, urgency)
            }
            Finding::Stunting { length_mm, months } => {
                if !self.chance(0.05) {
                    return None;
                }
                let reason = format!(
                    "Balita pendek (panjang/tinggi {}.{} cm pada usia {months} bulan), perlu penilaian gizi",
                    length_mm / 10,
                    length_mm % 10
                );
                (ReferralCategory::Child, reason, false, Urgency::Routine)
            }
            Finding::HighGlucose(glucose) => {
                if !self.chance(0.15) {
                    return None;
                }
                let reason =
                    format!("Gula darah sewaktu {glucose} mg/dL, perlu pemeriksaan diabetes");
                (ReferralCategory::Other, reason, false, Urgency::Routine)
            }
        };
        let destination = if hospital {
            Destination {
                kind: DestinationKind::Hospital,
                name: self.weighted(HOSPITALS).to_owned(),
            }
        } else {
            Destination {
                kind: DestinationKind::Puskesmas,
                name: local.to_owned(),
            }
        };
        let ambulance_119 = urgency == Urgency::Emergency && self.chance(0.7);
        let status = self.referral_status((self.today - day).num_days());
        let sisrute_ref = (status != ReferralStatus::Created
            && self.chance(if hospital { 0.85 } else { 0.15 }))
        .then(|| format!("SRT-{}-{:05}", day.format("%Y%m%d"), self.range(1, 99_999)));
        Some(Referral {
            person: member.id,
            household,
            visit: Some(visit),
            category,
            reason,
            destination,
            urgency,
            ambulance_119,
            sisrute_ref,
            status,
        })
    }

    /// Where a referral made `age` days ago has got to: recent ones are created or sent, old
    /// ones completed (a few never arrive, or are cancelled).
    fn referral_status(&mut self, age: i64) -> ReferralStatus {
        use ReferralStatus::*;
        match age {
            ..=2 => self.weighted(&[(Created, 60), (Sent, 40)]),
            3..=14 => self.weighted(&[(Sent, 45), (Arrived, 35), (Completed, 20)]),
            _ => self.weighted(&[(Completed, 80), (Arrived, 6), (Sent, 4), (Cancelled, 10)]),
        }
    }

    /// The follow-up of a referral, due 7 to 14 days after it: done with an outcome when due in
    /// the past, except a few recent ones that are overdue.
    fn followup(
        &mut self,
        member: &Member,
        household: HouseholdId,
        referral: ReferralId,
        day: NaiveDate,
    ) -> FollowUp {
        let due = day + Duration::days(self.range(7, 14));
        let overdue = (self.today - due).num_days() <= 21 && self.chance(0.25);
        let (done_at, outcome) = if due < self.today && !overdue {
            let done_day = (due + Duration::days(self.range(-2, 3)))
                .clamp(day + Duration::days(1), self.today);
            let outcome = self.weighted(&[
                (FollowUpOutcome::Improved, 55),
                (FollowUpOutcome::Unchanged, 20),
                (FollowUpOutcome::Worse, 5),
                (FollowUpOutcome::ReferredAgain, 6),
                (FollowUpOutcome::Died, 1),
                (FollowUpOutcome::LostToFollowUp, 8),
            ]);
            (Some(self.daytime(done_day)), Some(outcome))
        } else {
            (None, None)
        };
        FollowUp {
            person: member.id,
            household,
            referral: Some(referral),
            due,
            done_at,
            outcome,
        }
    }
}

fn draft(sex: Sex, birth: NaiveDate, relation: Relation, mother: Option<usize>) -> Draft {
    Draft {
        sex,
        birth,
        relation,
        mother,
    }
}

/// The week of pregnancy a member is in on `day` (4 weeks on, when it shows), if any.
fn pregnancy_week(member: &Member, day: NaiveDate) -> Option<i64> {
    if member.person.sex != Sex::Female {
        return None;
    }
    let months = age_months(member.person.birth_date, day);
    if !(120..=720).contains(&months) {
        return None;
    }
    member
        .pregnancies
        .iter()
        .filter(|(start, end)| *start <= day && day < *end)
        .map(|(start, _)| (day - *start).num_days() / 7)
        .find(|weeks| (4..=42).contains(weeks))
}

/// WHO median weight (kg) and length (cm) at `months`, interpolated.
fn growth_median(months: u32) -> (f64, f64) {
    let upper = GROWTH
        .iter()
        .position(|(m, _, _)| *m >= months)
        .unwrap_or(GROWTH.len() - 1);
    if upper == 0 {
        return (GROWTH[0].1, GROWTH[0].2);
    }
    let (m0, w0, l0) = GROWTH[upper - 1];
    let (m1, w1, l1) = GROWTH[upper];
    let t = (f64::from(months.min(m1)) - f64::from(m0)) / f64::from(m1 - m0);
    (w0 + t * (w1 - w0), l0 + t * (l1 - l0))
}

/// A decimal with one place as JSON (`365` is `36.5`).
fn dec(tenths: i64) -> Json {
    Json::from(tenths as f64 / 10.0)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        DatabaseKey, DeviceInfo, FieldError, FixedClock, OpenOptions, SearchQuery, Worker,
        WorklistFilter,
    };
    use cageur_model::Role;
    use tempfile::TempDir;

    const KEY: &str = "3b8f0c6a1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    fn replica(dir: &TempDir, file: &str) -> Replica {
        let now = DateTime::parse_from_rfc3339("2026-11-23T10:00:00+07:00").unwrap();
        let info = DeviceInfo {
            number: 3,
            puskesmas: Some("P3671050101".into()),
            team: Some("CPD-01".into()),
        };
        let options = OpenOptions {
            durability: Durability::Normal,
            clock: Box::new(FixedClock(now)),
        };
        Replica::init(
            &dir.path().join(file),
            &DatabaseKey::from_secret(KEY),
            info,
            options,
        )
        .unwrap()
    }

    fn with_worker(mut replica: Replica) -> Replica {
        let worker = Worker {
            id: 1,
            name: "Seeder".into(),
            role: Role::Nurse,
        };
        replica.set_worker(&worker).unwrap();
        replica
    }

    fn options(households: u32, seed: u64) -> SeedOptions {
        SeedOptions {
            households,
            seed,
            puskesmas: "P3671050101".into(),
            team: "CPD-01".into(),
            today: today(),
        }
    }

    fn seeded(
        dir: &TempDir,
        file: &str,
        households: u32,
        seed_value: u64,
    ) -> (Replica, SeedReport) {
        let mut replica = with_worker(replica(dir, file));
        let report = seed(&mut replica, &options(households, seed_value), &mut |_| {}).unwrap();
        (replica, report)
    }

    /// The export's records of one kind, as JSON.
    fn exported(replica: &Replica, section: &str) -> Vec<Json> {
        let export: Json = serde_json::from_str(&replica.export().unwrap()).unwrap();
        export[section].as_array().unwrap().clone()
    }

    #[test]
    fn the_same_seed_gives_byte_identical_exports_and_another_seed_does_not() {
        let dir = TempDir::new().unwrap();
        let (a, report_a) = seeded(&dir, "a.db", 40, 7);
        let (b, report_b) = seeded(&dir, "b.db", 40, 7);
        let (c, _) = seeded(&dir, "c.db", 40, 8);
        assert_eq!(report_a, report_b);
        let export = a.export().unwrap();
        assert_eq!(export, b.export().unwrap());
        assert_ne!(export, c.export().unwrap());
    }

    #[test]
    fn counts_are_in_realistic_ranges() {
        let dir = TempDir::new().unwrap();
        let mut calls = Vec::new();
        let mut replica = with_worker(replica(&dir, "d.db"));
        let report = seed(&mut replica, &options(200, 1), &mut |done| calls.push(done)).unwrap();
        assert_eq!(calls, [100, 200]);
        assert_eq!(report.households, 200);
        let per_household = |n: u64| n as f64 / 200.0;
        assert!(
            (3.0..=5.0).contains(&per_household(report.persons)),
            "{report:?}"
        );
        assert!(
            (6.0..=10.0).contains(&per_household(report.visits)),
            "{report:?}"
        );
        let referral_rate = report.referrals as f64 / report.visits as f64;
        assert!((0.01..=0.06).contains(&referral_rate), "{report:?}");
        assert!(
            report.followups > 0 && report.followups <= report.referrals,
            "{report:?}"
        );
        let counts = replica.counts().unwrap();
        assert_eq!(counts["household"], report.households);
        assert_eq!(counts["person"], report.persons);
        assert_eq!(counts["visit"], report.visits);
        assert_eq!(counts["referral"], report.referrals);
        assert_eq!(counts["followup"], report.followups);
    }

    #[test]
    fn every_nik_agrees_with_sex_and_birth_date_and_is_unique() {
        let dir = TempDir::new().unwrap();
        let (replica, report) = seeded(&dir, "d.db", 150, 2);
        let persons = exported(&replica, "persons");
        assert_eq!(persons.len() as u64, report.persons);
        let mut niks = HashSet::new();
        let mut in_city = 0;
        for p in &persons {
            let record = &p["record"];
            let person: Person = cageur_model::json::from_value(record.clone()).unwrap();
            person.check(&CheckContext { today: today() }).unwrap();
            let Some(nik) = person.nik else { continue };
            assert_eq!(nik.sex(), person.sex);
            assert!(nik.birth_date_matches(person.birth_date));
            assert!(niks.insert(nik), "NIKs are unique");
            in_city += usize::from(nik.region_code().starts_with("3671"));
            let hits = replica.search(&SearchQuery::Nik(nik.to_string())).unwrap();
            assert_eq!(hits.len(), 1);
            assert_eq!(
                hits[0].id,
                p["id"].as_str().unwrap().parse::<Uuid>().unwrap()
            );
        }
        assert!(
            niks.len() * 10 >= persons.len() * 9,
            "nearly everyone has a NIK"
        );
        assert!(
            in_city * 10 >= niks.len() * 7,
            "most NIKs are issued in the city"
        );
    }

    #[test]
    fn children_are_younger_than_their_parents_and_screenings_fit_the_day() {
        let dir = TempDir::new().unwrap();
        let (replica, _) = seeded(&dir, "d.db", 150, 3);
        let mut births: std::collections::HashMap<String, (String, NaiveDate, Relation)> =
            std::collections::HashMap::new();
        for p in exported(&replica, "persons") {
            let person: Person = cageur_model::json::from_value(p["record"].clone()).unwrap();
            births.insert(
                p["id"].as_str().unwrap().to_owned(),
                (
                    person.household.to_string(),
                    person.birth_date,
                    person.relation,
                ),
            );
        }
        let mut heads = std::collections::HashMap::new();
        for (household, birth, relation) in births.values() {
            if *relation == Relation::Head {
                assert!(
                    heads.insert(household.clone(), *birth).is_none(),
                    "one head per household"
                );
            }
        }
        for (household, birth, relation) in births.values() {
            if *relation == Relation::Child {
                assert!(*birth > heads[household] + Duration::days(365 * 15));
            }
        }
        let mut screened = 0;
        for v in exported(&replica, "visits") {
            let visited: DateTime<FixedOffset> =
                v["record"]["visited_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(visited.offset().local_minus_utc(), 7 * 3600);
            assert!((8..16).contains(&visited.format("%H").to_string().parse::<u32>().unwrap()));
            for s in v["record"]["screenings"].as_array().into_iter().flatten() {
                let (household, birth, _) = &births[s["person"].as_str().unwrap()];
                assert_eq!(household, v["record"]["household"].as_str().unwrap());
                assert!(*birth <= visited.date_naive());
                screened += 1;
            }
        }
        assert!(screened > 0);
    }

    #[test]
    fn the_worklist_has_due_households_and_open_referrals() {
        let dir = TempDir::new().unwrap();
        let (replica, _) = seeded(&dir, "d.db", 200, 4);
        let worklist = replica
            .worklist(today(), &WorklistFilter::default())
            .unwrap();
        assert!(worklist.due_again_total > 0);
        assert!(worklist.never_visited_total > 0);
        assert!(!worklist.open_referrals.is_empty());
    }

    #[test]
    fn without_a_worker_seeding_fails_and_durability_is_restored() {
        let dir = TempDir::new().unwrap();
        let mut replica = replica(&dir, "d.db");
        let err = seed(&mut replica, &options(5, 1), &mut |_| {}).unwrap_err();
        assert!(matches!(err, FieldError::NoWorker), "{err}");
        let synchronous: i64 = replica
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
    }

    #[test]
    fn bad_options_are_refused_before_writing() {
        let dir = TempDir::new().unwrap();
        let mut replica = with_worker(replica(&dir, "d.db"));
        let mut bad = options(5, 1);
        bad.team = "CPD 01!".into();
        let err = seed(&mut replica, &bad, &mut |_| {}).unwrap_err();
        assert!(
            matches!(err, FieldError::Invalid(ref e) if e.field == "team"),
            "{err}"
        );
        assert_eq!(replica.counts().unwrap()["household"], 0);
    }

    #[test]
    #[ignore]
    fn tmp_stats() {
        let n: u32 = std::env::var("SEED_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12_500);
        let dir = TempDir::new().unwrap();
        let mut replica = with_worker(replica(&dir, "d.db"));
        let started = std::time::Instant::now();
        let report = seed(&mut replica, &options(n, 42), &mut |_| {}).unwrap();
        eprintln!("seeded in {:.2?}: {report:?}", started.elapsed());
        let size = std::fs::metadata(dir.path().join("d.db")).unwrap().len()
            + std::fs::metadata(dir.path().join("d.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0);
        eprintln!("db bytes {size}");
        if std::env::var("SEED_NO_EXPORT").is_ok() {
            return;
        }
        let t = std::time::Instant::now();
        let export = replica.export().unwrap();
        eprintln!("export {:.2?} {} bytes", t.elapsed(), export.len());
        let export: Json = serde_json::from_str(&export).unwrap();
        let persons = export["persons"].as_array().unwrap();
        let mut sex_birth = std::collections::HashMap::new();
        let (mut no_nik, mut infants, mut jkn, mut women, mut pregnant, mut in_city) =
            (0, 0, 0, 0, 0, 0);
        let mut sizes = std::collections::BTreeMap::<String, u32>::new();
        for p in persons {
            let r = &p["record"];
            let birth: NaiveDate = r["birth_date"].as_str().unwrap().parse().unwrap();
            let sex = r["sex"].as_str().unwrap().to_owned();
            sex_birth.insert(p["id"].as_str().unwrap().to_owned(), (sex.clone(), birth));
            *sizes
                .entry(r["household"].as_str().unwrap().to_owned())
                .or_default() += 1;
            if age_months(birth, today()) < 12 {
                infants += 1;
                if r.get("nik").is_none() {
                    no_nik += 1;
                }
            }
            if r.get("nik")
                .is_some_and(|n| n.as_str().unwrap().starts_with("3671"))
            {
                in_city += 1;
            }
            if r.get("jkn").is_some() {
                jkn += 1;
            }
            let y = age_months(birth, today()) / 12;
            if sex == "female" && (18..=42).contains(&y) {
                women += 1;
                if r["pregnant"] == Json::Bool(true) {
                    pregnant += 1;
                }
            }
        }
        let mut hist = [0u32; 9];
        for s in sizes.values() {
            hist[*s as usize] += 1;
        }
        eprintln!("size histogram {hist:?}");
        eprintln!(
            "infants {infants} without nik {no_nik}; jkn {:.3}; in city {:.3}; pregnant {pregnant}/{women} = {:.3}",
            jkn as f64 / persons.len() as f64,
            in_city as f64 / persons.len() as f64,
            pregnant as f64 / women as f64
        );
        let visits = export["visits"].as_array().unwrap();
        let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
        let mut forms = std::collections::BTreeMap::<String, u32>::new();
        let mut flags = std::collections::BTreeMap::<String, u32>::new();
        let (mut adult_vitals, mut raised) = (0, 0);
        for v in visits {
            *outcomes
                .entry(v["record"]["outcome"].as_str().unwrap().to_owned())
                .or_default() += 1;
            for s in v["record"]["screenings"].as_array().into_iter().flatten() {
                let form = s["form"]["id"].as_str().unwrap().to_owned();
                *forms.entry(form.clone()).or_default() += 1;
                for f in s["flags"].as_array().unwrap() {
                    *flags.entry(f.as_str().unwrap().to_owned()).or_default() += 1;
                }
                if form == "vital-signs" && s["values"].get("systolic").is_some() {
                    adult_vitals += 1;
                    if s["flags"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f == "raised_bp")
                    {
                        raised += 1;
                    }
                }
            }
        }
        eprintln!(
            "outcomes {outcomes:?}\nforms {forms:?}\nflags {flags:?}\nraised {:.3}",
            raised as f64 / adult_vitals as f64
        );
        let mut cats = std::collections::BTreeMap::<String, u32>::new();
        let mut statuses = std::collections::BTreeMap::<String, u32>::new();
        let mut urg = std::collections::BTreeMap::<String, u32>::new();
        for r in export["referrals"].as_array().unwrap() {
            *cats
                .entry(r["record"]["category"].as_str().unwrap().to_owned())
                .or_default() += 1;
            *statuses
                .entry(r["record"]["status"].as_str().unwrap().to_owned())
                .or_default() += 1;
            *urg.entry(r["record"]["urgency"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        eprintln!(
            "referral rate {:.4}\ncategories {cats:?}\nstatuses {statuses:?}\nurgency {urg:?}",
            report.referrals as f64 / report.visits as f64
        );
        let mut done = 0;
        for f in export["followups"].as_array().unwrap() {
            if f["record"].get("done_at").is_some() {
                done += 1;
            }
        }
        eprintln!("followups done {done}/{}", report.followups);
        let wl = replica
            .worklist(today(), &WorklistFilter::default())
            .unwrap();
        eprintln!(
            "worklist never {} due {} followups {} open referrals {}",
            wl.never_visited_total,
            wl.due_again_total,
            wl.followups_due.len(),
            wl.open_referrals.len()
        );
        let _ = sex_birth;
    }

    #[test]
    #[ignore]
    fn tmp_generate_only() {
        let dir = TempDir::new().unwrap();
        let replica = with_worker(replica(&dir, "d.db"));
        let mut g = Generator {
            rng: ChaCha8Rng::seed_from_u64(42),
            today: today(),
            ctx: CheckContext { today: today() },
            home: Some(Kecamatan::Cipondoh),
            puskesmas: PuskesmasCode::parse("P3671050101").unwrap(),
            team: TeamCode::parse("CPD-01").unwrap(),
            device: 3,
            forms: replica.forms().clone(),
            id_clock_ms: id_clock_start(today()),
            used_niks: HashSet::new(),
            used_kks: HashSet::new(),
            report: SeedReport::default(),
        };
        let started = std::time::Instant::now();
        let mut n = 0;
        for _ in 0..12_500 {
            n += g.household().0.len();
        }
        eprintln!("generated {n} records in {:.2?}", started.elapsed());
    }

    #[test]
    #[ignore]
    fn tmp_stress() {
        let dir = TempDir::new().unwrap();
        let replica = with_worker(replica(&dir, "d.db"));
        for (run, day) in ["2019-01-02", "2019-03-01", "2021-02-28", "2024-02-29", "2026-11-23", "2040-12-31"].iter().enumerate() {
            for home in [None, Some(Kecamatan::Larangan), Some(Kecamatan::Cipondoh)] {
                let today: NaiveDate = day.parse().unwrap();
                let mut g = Generator {
                    rng: ChaCha8Rng::seed_from_u64(run as u64 * 31 + 5),
                    today,
                    ctx: CheckContext { today },
                    home,
                    puskesmas: PuskesmasCode::parse("P3671050101").unwrap(),
                    team: TeamCode::parse("CPD-01").unwrap(),
                    device: 3,
                    forms: replica.forms().clone(),
                    id_clock_ms: id_clock_start(today),
                    used_niks: HashSet::new(),
                    used_kks: HashSet::new(),
                    report: SeedReport::default(),
                };
                let mut n = 0;
                for _ in 0..20_000 { n += g.household().0.len(); }
                eprintln!("{day} {home:?}: {n} records");
            }
        }
    }
}
