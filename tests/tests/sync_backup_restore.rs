//! The server's database is restored from an older backup: the devices notice on their next
//! sync (their cursors point into history the server no longer has), push again everything
//! they wrote, and in the end nothing recorded after the backup is lost.

use std::path::Path;

use cageur_e2e::Server;
use cageur_e2e::admin;
use cageur_e2e::device::{enroll, register};
use serde_json::{Value, json};

const PUSKESMAS: &str = "P3671050101";

fn household(kk: &str, head: &str) -> Value {
    json!({
        "kk": kk,
        "head_name": head,
        "address": {"street": "Jl. Kenanga No. 3", "rt": 2, "rw": 7,
                    "kelurahan": "Poris Plawad", "kecamatan": "cipondoh"},
        "puskesmas": PUSKESMAS
    })
}

/// Copies the SQLite store's files (database and write-ahead log) of a stopped server.
fn copy_store(from_dir: &Path, to_dir: &Path) {
    std::fs::create_dir_all(to_dir).unwrap();
    for name in ["server.db", "server.db-wal", "server.db-shm"] {
        let _ = std::fs::remove_file(to_dir.join(name));
        if from_dir.join(name).exists() {
            std::fs::copy(from_dir.join(name), to_dir.join(name)).unwrap();
        }
    }
}

#[test]
fn a_server_restored_from_an_older_backup_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let backup = dir.path().join("backup");
    std::fs::create_dir_all(&live).unwrap();
    let db = format!("sqlite:{}", live.join("server.db").display());

    let mut server = Server::start(&db);
    let token = server.admin_token();
    register(&server, &token, PUSKESMAS, &["TEAM-A", "TEAM-B"]);
    let a = enroll(&server, &token, dir.path(), "TEAM-A", 21);
    let b = enroll(&server, &token, dir.path(), "TEAM-B", 22);

    // Before the backup: one family, on both tablets and the server.
    a.input(
        &["household", "add"],
        &household("3671051203150007", "Ahmad Suryadi"),
    );
    a.sync();
    b.sync();

    // The nightly backup (taken of a stopped server, so the files are consistent).
    let addr = server.addr().to_owned();
    server.kill();
    copy_store(&live, &backup);
    let mut server = Server::start_at(&db, &addr);

    // After the backup, both tablets record and sync: the server has it all...
    let h2 = a.input(
        &["household", "add"],
        &household("3671051203150015", "Budi Santoso"),
    );
    let person = json!({"household": h2, "nik": "3671054702900001", "name": "Siti Aminah",
                        "sex": "female", "birth_date": "1990-02-07", "relation": "spouse"});
    a.input(&["person", "add"], &person);
    a.sync();
    b.input(
        &["household", "add"],
        &household("3671051203150023", "Cahya Lestari"),
    );
    b.sync();
    a.sync();
    let before_disaster = a.export();
    for name in ["Budi Santoso", "Siti Aminah", "Cahya Lestari"] {
        assert!(before_disaster.contains(name), "{name} reached tablet A");
    }

    // ...until its disk dies and the office restores last night's backup.
    server.kill();
    copy_store(&backup, &live);
    let server = Server::start_at(&db, &addr);
    let restored = admin(&server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
    assert!(
        !restored.contains("Budi Santoso"),
        "the backup predates A's second family"
    );

    // Each tablet notices on its next sync and pushes again what it wrote.
    let report = a.sync();
    assert_eq!(report["timeline_reset"], true, "{report}");
    let report = b.sync();
    assert_eq!(report["timeline_reset"], true, "{report}");
    a.sync();

    // Nothing is lost: both tablets and the server hold everything, identically.
    let server_export = admin(&server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
    assert_eq!(a.export(), server_export, "tablet A and the server differ");
    assert_eq!(b.export(), server_export, "tablet B and the server differ");
    assert_eq!(
        server_export, before_disaster,
        "something recorded was lost"
    );

    // And the next sync is an ordinary one again.
    let report = b.sync();
    assert_eq!(report["timeline_reset"], false, "{report}");
}

/// A family moves to another puskesmas's area: the tablet that moved it drops it from its
/// views at its next sync. If the server is then restored from a backup older than all of
/// it, that tablet may be the only one left with the family; it offers its kept copy back,
/// and the family reaches its new puskesmas, members and all (found by the simulation).
#[test]
fn a_family_that_moved_away_before_a_restore_is_offered_back_by_the_tablet_that_moved_it() {
    const THERE: &str = "P3671010101";
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let backup = dir.path().join("backup");
    std::fs::create_dir_all(&live).unwrap();
    let db = format!("sqlite:{}", live.join("server.db").display());

    let mut server = Server::start(&db);
    let token = server.admin_token();
    register(&server, &token, PUSKESMAS, &["TEAM-A"]);
    register(&server, &token, THERE, &["TEAM-B"]);
    let here = enroll(&server, &token, dir.path(), "TEAM-A", 21);
    let there = enroll(&server, &token, dir.path(), "TEAM-B", 22);
    here.sync();
    there.sync();

    // The backup: before the family was registered at all.
    let addr = server.addr().to_owned();
    server.kill();
    copy_store(&live, &backup);
    let mut server = Server::start_at(&db, &addr);

    let family = here.input(
        &["household", "add"],
        &household("3671051203150031", "Dewi Anggraini"),
    );
    let person = json!({"household": family, "nik": "3671054803910009", "name": "Rina Marlina",
                        "sex": "female", "birth_date": "1991-03-08", "relation": "head"});
    here.input(&["person", "add"], &person);
    here.sync();
    here.input(
        &["household", "update", &family],
        &json!({ "puskesmas": THERE }),
    );
    here.sync();
    here.sync();
    assert!(
        !here.export().contains("Dewi Anggraini"),
        "the family left this tablet's puskesmas"
    );

    // The disk dies before any tablet of the new puskesmas synced.
    server.kill();
    copy_store(&backup, &live);
    let server = Server::start_at(&db, &addr);
    let restored = admin(&server, &token, &["export", "--puskesmas", THERE]).unwrap();
    assert!(
        !restored.contains("Dewi Anggraini"),
        "the backup predates the family"
    );

    let report = here.sync();
    assert_eq!(report["timeline_reset"], true, "{report}");
    there.sync();
    let theirs = admin(&server, &token, &["export", "--puskesmas", THERE]).unwrap();
    for name in ["Dewi Anggraini", "Rina Marlina"] {
        assert!(
            theirs.contains(name),
            "{name} is back, in its new puskesmas"
        );
    }
    assert_eq!(
        there.export(),
        theirs,
        "the new puskesmas's tablet holds the family"
    );
    let ours = admin(&server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
    assert!(
        !ours.contains("Dewi Anggraini"),
        "it did not come back to the old one"
    );
    assert_eq!(here.export(), ours);
}
