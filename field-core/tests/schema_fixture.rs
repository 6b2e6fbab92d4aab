//! A device database made by the first release (schema v1, envelope format 1), committed as a
//! file. Every later release must open it, migrate it, and read the same records: a visit
//! recorded on a tablet that has not been updated yet must never become unreadable.
//!
//! The fixture was made with `cageur-field init --device 2`, `worker set`, and
//! `seed --households 12 --seed 5 --today 2026-11-23`, key `support::KEY_HEX`.

mod support;

use field_core::Replica;

#[test]
fn a_database_from_schema_v1_opens_and_reads_the_same_records() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("device.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/device-v1.db"),
        &path,
    )
    .unwrap();
    let replica = Replica::open(&path, &support::key(), support::options()).unwrap();
    assert_eq!(replica.device().number, 2);
    assert_eq!(
        replica.current_worker().unwrap().unwrap().name,
        "Dokter Rina"
    );
    assert_eq!(replica.counts().unwrap()["household"], 12);
    assert!(replica.pending_changes().unwrap() > 0);
    expect_test::expect_file!["fixtures/device-v1.export.json"]
        .assert_eq(&replica.export().unwrap());
}

/// The upgrade to schema v4 derives the people's new query columns (sex, birth date,
/// removed) from their states: a person recorded before the update can be referred at once.
#[test]
fn people_recorded_before_the_upgrade_to_v4_can_be_referred() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("device.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/device-v1.db"),
        &path,
    )
    .unwrap();
    let mut replica = Replica::open(&path, &support::key(), support::options()).unwrap();
    let person = replica
        .all_states()
        .unwrap()
        .into_iter()
        .find(|r| r.kind == field_core::model::RecordKind::Person)
        .expect("the fixture has people")
        .id;
    let household = replica.get(person).unwrap().record["household"].clone();
    let referral = replica
        .add_referral(support::parse(serde_json::json!({
            "person": person, "category": "hypertension", "reason": "TD 170/100",
            "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"}, "urgency": "urgent"
        })))
        .unwrap();
    assert_eq!(
        replica.get(referral.0).unwrap().record["household"],
        household
    );
}
