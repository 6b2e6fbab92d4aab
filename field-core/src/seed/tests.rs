//! Tests of seeding: determinism, realistic counts, and valid, consistent records.

use std::collections::HashSet;

use cageur_model::{CheckContext, Entity, FollowUp, Household, Person, Referral, Relation, Visit};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use serde_json::Value as Json;
use uuid::Uuid;

use super::{SeedOptions, SeedReport, seed};
use crate::replica::Replica;
use crate::store::Durability;

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

fn seeded(dir: &TempDir, file: &str, households: u32, seed_value: u64) -> (Replica, SeedReport) {
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
fn every_record_reads_back_as_a_valid_entity() {
    fn check<E: Entity>(mut record: Json, derived: &str) {
        if let Json::Object(obj) = &mut record {
            obj.remove(derived);
        }
        let entity: E = cageur_model::json::from_value(record).unwrap();
        entity.check(&CheckContext { today: today() }).unwrap();
    }
    let dir = TempDir::new().unwrap();
    let (replica, _) = seeded(&dir, "d.db", 100, 5);
    for r in exported(&replica, "households") {
        check::<Household>(r["record"].clone(), "health_index");
    }
    for r in exported(&replica, "visits") {
        check::<Visit>(r["record"].clone(), "screenings");
    }
    for r in exported(&replica, "referrals") {
        check::<Referral>(r["record"].clone(), "");
    }
    for r in exported(&replica, "followups") {
        check::<FollowUp>(r["record"].clone(), "");
    }
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
