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
