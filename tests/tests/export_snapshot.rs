//! The canonical export of a seeded replica, pinned as a snapshot: any change to the stored
//! representation, the field tables, the forms or the export layout shows up as a diff here.
//! Update it deliberately with `UPDATE_EXPECT=1 cargo test -p cageur-e2e`.

use cageur_e2e::field;
use tempfile::TempDir;

#[test]
fn a_seeded_replica_exports_the_pinned_canonical_json() {
    let dir = TempDir::new().unwrap();
    let db = dir.path().join("tablet.db");
    field(
        &db,
        &[
            "init",
            "--device",
            "3",
            "--puskesmas",
            "P3671050101",
            "--team",
            "CPD-01",
        ],
    );
    field(
        &db,
        &[
            "worker",
            "set",
            "--id",
            "301",
            "--name",
            "Perawat Asep",
            "--role",
            "nurse",
        ],
    );
    field(
        &db,
        &[
            "seed",
            "--households",
            "2",
            "--seed",
            "2026",
            "--today",
            "2026-11-23",
        ],
    );
    let export = field(&db, &["export"]);
    serde_json::from_str::<serde_json::Value>(&export).expect("the export is JSON");
    expect_test::expect_file!["../snapshots/export-seed-2026.json"].assert_eq(&export);
}
