//! `cageur-field` end to end on a real encrypted file: what a script or a demo does.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use tempfile::TempDir;

fn cli(db: &Path, args: &[&str], stdin: Option<&Value>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cageur-field"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CAGEUR_DB_KEY", support::KEY_HEX)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(value) = stdin {
        input.write_all(value.to_string().as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(db: &Path, args: &[&str], stdin: Option<&Value>) -> String {
    let out = cli(db, args, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn ok_json(db: &Path, args: &[&str], stdin: Option<&Value>) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(db, &all, stdin)).unwrap()
}

fn device(dir: &TempDir, name: &str, number: &str) -> std::path::PathBuf {
    let db = dir.path().join(name);
    ok(
        &db,
        &[
            "init",
            "--device",
            number,
            "--puskesmas",
            "P3671050101",
            "--team",
            "CPD-01",
        ],
        None,
    );
    ok(
        &db,
        &[
            "worker",
            "set",
            "--id",
            "7",
            "--name",
            "Bidan Euis",
            "--role",
            "midwife",
        ],
        None,
    );
    db
}

#[test]
fn a_team_day_on_the_command_line() {
    let dir = TempDir::new().unwrap();
    let db = device(&dir, "tablet.db", "4");
    let hh = ok(&db, &["household", "add"], Some(&support::household_json()))
        .trim()
        .to_owned();
    let person = ok(
        &db,
        &["person", "add"],
        Some(&support::person_json(hh.parse().unwrap())),
    )
    .trim()
    .to_owned();
    let visit = json!({"household": hh, "outcome": "visited", "screenings": [
        {"person": person, "form": {"id": "tb-symptoms", "version": 1},
         "values": {"cough_two_weeks": true, "cough_with_blood": false}}]});
    let recorded = ok_json(&db, &["visit", "record"], Some(&visit));
    let visit_id = recorded["visit"].as_str().unwrap().to_owned();

    let shown = ok_json(&db, &["show", &visit_id], None);
    assert_eq!(shown["record"]["team"], json!("CPD-01"));
    assert_eq!(
        shown["record"]["screenings"][0]["flags"],
        json!(["presumptive_tb"])
    );

    let referral = json!({"person": person, "visit": visit_id, "category": "tuberculosis",
        "reason": "Batuk dua minggu", "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"},
        "urgency": "routine"});
    let referral_id = ok(&db, &["referral", "add"], Some(&referral))
        .trim()
        .to_owned();
    ok(
        &db,
        &["referral", "update", &referral_id],
        Some(&json!({"status": "sent"})),
    );
    let followup = json!({"person": person, "referral": referral_id, "due": "2026-12-01"});
    ok(&db, &["followup", "add"], Some(&followup));
    ok(
        &db,
        &["household", "update", &hh],
        Some(&json!({"pispk": {"clean_water": "yes"}})),
    );

    let hits = ok_json(&db, &["search", "--name", "aminah"], None);
    assert_eq!(hits[0]["id"], json!(person));
    let hits = ok_json(&db, &["search", "--kk", "3671051203150007"], None);
    assert_eq!(hits[0]["id"], json!(hh));
    let members = ok_json(&db, &["household", "members", &hh], None);
    assert_eq!(members.as_array().unwrap().len(), 1);

    let list = ok_json(&db, &["worklist", "--today", "2026-12-05"], None);
    assert_eq!(list["open_referrals"][0]["id"], json!(referral_id));
    assert_eq!(list["followups_due"].as_array().unwrap().len(), 1);

    let status = ok_json(&db, &["status"], None);
    assert_eq!(status["pending_changes"]["total"], json!(5));
    assert_eq!(status["worker"]["role"], json!("midwife"));
    assert_eq!(status["records"]["visit"], json!(1));

    // The table forms work too.
    assert!(ok(&db, &["worklist", "--today", "2026-12-05"], None).contains("Open referrals (1)"));
    assert!(ok(&db, &["status"], None).contains("5 changes"));

    let export = ok(&db, &["export"], None);
    let parsed: Value = serde_json::from_str(&export).unwrap();
    assert_eq!(parsed["format"], json!("cageur-export/1"));
    assert_eq!(parsed["referrals"][0]["record"]["status"], json!("sent"));
    assert_eq!(ok(&db, &["export"], None), export, "export is stable");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_2_and_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let db = device(&dir, "tablet.db", "4");
    let before = ok(&db, &["export"], None);

    let mut bad = support::household_json();
    bad["address"]["rt"] = json!(1200);
    let out = cli(&db, &["household", "add"], Some(&bad));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("address.rt"), "{stderr}");

    let out = cli(
        &db,
        &["--json", "person", "add"],
        Some(&json!({"name": "x"})),
    );
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["rule"], json!("required"));

    let out = cli(&db, &["household", "add"], None);
    assert_eq!(out.status.code(), Some(2), "empty input");
    let out = cli(&db, &["show", "not-an-id"], None);
    assert_eq!(out.status.code(), Some(2));

    assert_eq!(ok(&db, &["export"], None), before);
}

#[test]
fn a_wrong_or_missing_key_is_refused() {
    let dir = TempDir::new().unwrap();
    let db = device(&dir, "tablet.db", "4");
    let out = Command::new(env!("CARGO_BIN_EXE_cageur-field"))
        .args(["--db", db.to_str().unwrap(), "status"])
        .env("CAGEUR_DB_KEY", "wrong key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("key is wrong"));
    let out = Command::new(env!("CARGO_BIN_EXE_cageur-field"))
        .args(["--db", db.to_str().unwrap(), "status"])
        .env_remove("CAGEUR_DB_KEY")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("CAGEUR_DB_KEY"));
}

#[test]
fn seeding_is_deterministic_for_a_seed() {
    let dir = TempDir::new().unwrap();
    let a = device(&dir, "a.db", "4");
    let b = device(&dir, "b.db", "4");
    for db in [&a, &b] {
        ok(
            db,
            &[
                "seed",
                "--households",
                "30",
                "--seed",
                "11",
                "--today",
                "2026-11-23",
            ],
            None,
        );
    }
    assert_eq!(ok(&a, &["export"], None), ok(&b, &["export"], None));
    let status = ok_json(&a, &["status"], None);
    assert_eq!(status["records"]["household"], json!(30));
}

/// Kills `cageur-field seed` at an arbitrary moment, again and again: every time, the file
/// opens, passes SQLite's integrity check, and every record written is in the outbox.
#[test]
fn the_outbox_survives_a_crash_at_any_point() {
    let dir = TempDir::new().unwrap();
    let db = device(&dir, "crash.db", "4");
    for (round, delay_ms) in [40u64, 90, 150, 230, 320].into_iter().enumerate() {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cageur-field"))
            .arg("--db")
            .arg(&db)
            .args([
                "seed",
                "--households",
                "2000",
                "--seed",
                &round.to_string(),
                "--today",
                "2026-11-23",
            ])
            .env("CAGEUR_DB_KEY", support::KEY_HEX)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap();
        child.wait().unwrap();

        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "key", format!("x'{}'", support::KEY_HEX))
            .unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let records: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM households) + (SELECT count(*) FROM persons)
                 + (SELECT count(*) FROM visits) + (SELECT count(*) FROM referrals)
                 + (SELECT count(*) FROM followups)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let pending: i64 = conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            records, pending,
            "round {round}: every record written is waiting to be sent"
        );
        drop(conn);
        // The replica still opens and works after the crash.
        ok(&db, &["status"], None);
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let dir = TempDir::new().unwrap();
    let db = device(&dir, "tablet.db", "3");
    // The pipe's reading end is closed before the command writes: every write fails as it
    // does under `cageur-field status | head -1` once `head` has exited.
    let mut child = Command::new(env!("CARGO_BIN_EXE_cageur-field"))
        .arg("--db")
        .arg(&db)
        .arg("status")
        .env("CAGEUR_DB_KEY", support::KEY_HEX)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}
