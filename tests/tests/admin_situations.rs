//! The health office's situations, end to end with `cageur-admin` on a real `cageur-server`
//! and real tablet files: a tablet dropped in a ditch (salvaged, replaced, rebuilt), one that
//! has not synced for nine days (found, ranked first), one that diverged from the server
//! (detected by `verify`, re-synced, verified equal), one lost and one stolen (revoked and
//! wiped, the trusted one's unsynced work pushed, the stolen one's held for review), long
//! operations cut and run again, and a screening form published to the tablets.

use std::path::Path;

use cageur_e2e::device::{Device, enroll, enroll_via, register};
use cageur_e2e::link::Link;
use cageur_e2e::pg::TestDatabase;
use cageur_e2e::{Server, admin, admin_at, admin_json};
use serde_json::{Value, json};

const PUSKESMAS: &str = "P3671050101";

/// A server with the puskesmas and two teams, and an admin credential.
fn office(dir: &Path) -> (Server, String) {
    let server = Server::start(&format!("sqlite:{}", dir.join("server.db").display()));
    let token = server.admin_token();
    register(&server, &token, PUSKESMAS, &["TEAM-A", "TEAM-B"]);
    (server, token)
}

fn household(kk: &str, head: &str) -> Value {
    json!({
        "kk": kk, "head_name": head,
        "address": {"street": "Jl. Melati No. 12", "rt": 3, "rw": 5,
                    "kelurahan": "Cipondoh Indah", "kecamatan": "cipondoh"},
        "puskesmas": PUSKESMAS
    })
}

/// A household with a mother in it; their ids.
fn family(d: &Device, kk: &str) -> (String, String) {
    let h = d.input(&["household", "add"], &household(kk, "Ahmad Suryadi"));
    let p = d.input(
        &["person", "add"],
        &json!({"household": h, "nik": "3671054702900001", "name": "Siti Aminah",
                "sex": "female", "birth_date": "1990-02-07", "relation": "spouse"}),
    );
    (h, p)
}

/// A visit with a referral whose reason is `reason` (to find it in exports).
fn visit(d: &Device, h: &str, p: &str, reason: &str) {
    d.input(
        &["visit", "record"],
        &json!({
            "visit": {"household": h, "outcome": "visited", "screenings": []},
            "referrals": [{"person": p, "reason": reason, "category": "maternal",
                           "destination": {"kind": "hospital", "name": "RSUD Kota Tangerang"},
                           "urgency": "emergency", "ambulance_119": true}]
        }),
    );
}

fn number(d: &Device) -> String {
    let status: Value = serde_json::from_str(&d.run(&["--json", "status"])).unwrap();
    status["device"].to_string()
}

fn export(server: &Server, token: &str) -> String {
    admin(server, token, &["export", "--puskesmas", PUSKESMAS]).unwrap()
}

fn actions(server: &Server, token: &str, device: &str) -> Vec<String> {
    admin_json(server, token, &["audit", "--device", device])["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_dropped_tablets_unsynced_work_is_salvaged_once_and_a_rebuilt_tablet_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    dropped_tablet(dir.path(), &server, &token);
}

#[test]
fn a_dropped_tablet_is_salvaged_on_postgres_too() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create("dropped");
    let server = Server::start(&database.url);
    let token = server.admin_token();
    register(&server, &token, PUSKESMAS, &["TEAM-A", "TEAM-B"]);
    dropped_tablet(dir.path(), &server, &token);
}

fn dropped_tablet(dir: &Path, server: &Server, token: &str) {
    let a = enroll(server, token, dir, "TEAM-A", 11);
    let b = enroll(server, token, dir, "TEAM-B", 12);
    let (h, p) = family(&a, "3671051203150007");
    a.sync();
    b.sync();
    // On the motorbike route, offline: a visit with an emergency referral, and an edit.
    visit(&a, &h, &p, "Perdarahan pada kehamilan 30 minggu");
    a.input(
        &["household", "update", &h],
        &json!({"head_name": "Ahmad Suryadi Putra"}),
    );
    // The tablet falls in a ditch: only its file is left.
    let dead = dir.join("dead-tablet.db");
    a.copy_to(&dead);
    let id = number(&a);

    let replaced = admin_json(
        server,
        token,
        &["device", "replace", &id, "--team", "TEAM-A"],
    );
    assert_eq!(replaced["old"]["state"], "revoked");
    let code = replaced["enrollment"]["code"].as_str().unwrap().to_owned();

    let first = admin_json(
        server,
        token,
        &["salvage", "--device-db", dead.to_str().unwrap()],
    );
    assert!(first["records"].as_u64().unwrap() >= 3, "{first}");
    assert_eq!(first["changed"], first["groups"], "{first}");
    let again = admin_json(
        server,
        token,
        &["salvage", "--device-db", dead.to_str().unwrap()],
    );
    assert_eq!(again["records"], first["records"]);
    assert_eq!(again["changed"], 0, "salvaging twice adds nothing: {again}");
    assert_eq!(again["unchanged"], again["groups"]);

    // The salvaged visit reached the server, and the other team.
    let server_export = export(server, token);
    assert!(server_export.contains("Perdarahan pada kehamilan 30 minggu"));
    assert!(server_export.contains("Ahmad Suryadi Putra"));
    b.sync();
    assert_eq!(b.export(), server_export);

    // The replacement, prepared at the office, holds exactly the server's scope.
    let new_db = dir.join("replacement.db");
    let built = admin_json(
        server,
        token,
        &[
            "rebuild",
            "--device-db",
            new_db.to_str().unwrap(),
            "--code",
            &code,
        ],
    );
    assert_eq!(built["team"], "TEAM-A");
    let new = Device { db: new_db };
    assert_eq!(new.export(), server_export);
    new.run(&[
        "worker", "set", "--id", "11", "--name", "Perawat", "--role", "nurse",
    ]);
    visit(&new, &h, &p, "Kontrol pasca rujukan");
    assert_eq!(new.sync()["pushed"], 2);
    let shown = admin_json(server, token, &["device", "show", &id]);
    assert_eq!(shown["device"]["replaced_by"], built["device"]);

    // A file from another server's database is refused: its device number is another's here.
    let elsewhere_dir = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere_dir).unwrap();
    let elsewhere = Server::start(&format!("sqlite:{}", elsewhere_dir.join("s.db").display()));
    let other_token = elsewhere.admin_token();
    register(&elsewhere, &other_token, PUSKESMAS, &["TEAM-A"]);
    let stranger = enroll(&elsewhere, &other_token, &elsewhere_dir, "TEAM-A", 19);
    family(&stranger, "3671051203150023");
    let foreign = admin_at(
        &server.url,
        token,
        &["salvage", "--device-db", stranger.db.to_str().unwrap()],
    );
    assert_eq!(foreign.code, 1);
    assert!(
        foreign.stderr.contains("another server database"),
        "{}",
        foreign.stderr
    );

    // The old tablet, should it come back, is refused.
    let refused = a.try_sync().unwrap_err();
    assert!(refused.contains("revoked"), "{refused}");
    let done = actions(server, token, &id);
    assert_eq!(
        done.iter().filter(|a| *a == "salvage").count(),
        2,
        "{done:?}"
    );
    assert!(done.contains(&"replace".to_owned()), "{done:?}");
}

/// Now plus `days`, as RFC 3339.
fn days_from_now(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let secs = now + days * 86_400;
    // A civil date from days since 1970 (Howard Hinnant's algorithm).
    let (z, rem) = (secs.div_euclid(86_400) + 719_468, secs.rem_euclid(86_400));
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[test]
fn a_tablet_silent_for_nine_days_is_found_and_ranked_first() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let link = Link::start(server.addr());
    let silent = enroll_via(&link.url, &server, &token, dir.path(), "TEAM-A", 21);
    let other = enroll(&server, &token, dir.path(), "TEAM-B", 22);
    let (h, p) = family(&silent, "3671051203150007");
    silent.sync();
    other.sync();
    // A referral, then the connection fails just after the hello, every day after.
    visit(&silent, &h, &p, "Preeklampsia berat");
    link.refuse("/v1/push");
    assert!(silent.try_sync().is_err());
    let id = number(&silent);

    let nine_days_on = days_from_now(9);
    let stale = admin_json(
        &server,
        &token,
        &[
            "device",
            "list",
            "--state",
            "stale",
            "--as-of",
            &nine_days_on,
        ],
    );
    let found = stale
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id.as_str()))
        .expect("the silent tablet is stale");
    assert_eq!(found["days_unsynced"], 9);
    assert_eq!(
        found["pending"], 2,
        "its visit and referral, as it reported"
    );
    assert_eq!(found["unsent_referral"], true);
    let status = admin_json(&server, &token, &["status", "--as-of", &nine_days_on]);
    let at_risk = status["at_risk"].as_array().unwrap();
    assert_eq!(at_risk[0]["id"].to_string(), id, "{status}");
    assert_eq!(at_risk.len(), 1, "the other tablet holds nothing unsynced");
    assert_eq!(status["by_state"]["stale"], 2);
    // Today both are healthy; the table for people says so too.
    let today = admin(&server, &token, &["device", "list", "--state", "healthy"]).unwrap();
    assert_eq!(today.lines().count(), 3, "{today}");

    // Back in coverage: the sync goes through, and its history shows the cut one.
    link.restore();
    assert_eq!(silent.sync()["pushed"], 2);
    let shown = admin_json(&server, &token, &["device", "show", &id]);
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history[0]["finished"], false, "{shown}");
    assert!(
        history[0]["error"].as_str().unwrap().contains("network"),
        "{shown}"
    );
    assert_eq!(history[1]["finished"], true);
}

/// A UUID as SQLite's blob literal.
fn blob(id: &str) -> String {
    format!("x'{}'", id.trim_matches('"').replace('-', ""))
}

#[test]
fn a_diverged_tablet_is_detected_by_verify_resynced_then_verified_equal() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let d = enroll(&server, &token, dir.path(), "TEAM-A", 31);
    let e = enroll(&server, &token, dir.path(), "TEAM-B", 32);
    let (h, mother) = family(&d, "3671051203150007");
    let child = d.input(
        &["person", "add"],
        &json!({"household": h, "nik": "3671051505200003", "name": "Rizky Pratama",
                "sex": "male", "birth_date": "2020-05-15", "relation": "child"}),
    );
    d.sync();
    e.sync();
    // After an app update: a record lost from the tablet, and one there the server never had.
    d.tamper(&format!("DELETE FROM records WHERE id = {};", blob(&child)));
    d.tamper(&format!(
        "INSERT INTO records (id, kind, state, live, merged_into, conflicts, removed, kk,
                              puskesmas, kelurahan, rw, rt)
         SELECT {}, kind, state, live, merged_into, conflicts, removed, kk, puskesmas,
                kelurahan, rw, rt FROM records WHERE id = {};",
        blob("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        blob(&h)
    ));
    // Meanwhile a change here not pushed yet, and one on the server not pulled yet.
    d.input(
        &["household", "update", &h],
        &json!({"head_name": "H. Ahmad Suryadi"}),
    );
    e.input(
        &["person", "update", &mother],
        &json!({"name": "Siti Aminah Putri"}),
    );
    e.sync();

    let db = d.db.to_str().unwrap().to_owned();
    let verify = admin_at(
        &server.url,
        &token,
        &["--json", "verify", "--device-db", &db],
    );
    assert_eq!(verify.code, 3, "{}{}", verify.stdout, verify.stderr);
    let found = verify.json();
    assert_eq!(found["agree"], false);
    assert_eq!(
        found["counts"],
        json!({"not_yet_pushed": 1, "not_yet_pulled": 1, "diverged": 2}),
        "{found}"
    );
    let text = admin_at(&server.url, &token, &["verify", "--device-db", &db]);
    assert_eq!(text.code, 3);
    assert!(text.stdout.contains("Diverged"), "{}", text.stdout);

    let id = number(&d);
    let asked = admin_json(&server, &token, &["device", "resync", &id]);
    assert_eq!(asked["state"], "resync_requested");
    let report = d.sync();
    assert_eq!(report["resync"]["set_aside"], 1, "{report}");
    let shown = admin_json(&server, &token, &["device", "show", &id]);
    assert_eq!(shown["device"]["state"], "healthy", "{shown}");
    assert!(shown["device"]["resync_done_at"].is_i64());

    let verify = admin_at(
        &server.url,
        &token,
        &["--json", "verify", "--device-db", &db],
    );
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    assert_eq!(verify.json()["agree"], true);
    let server_export = export(&server, &token);
    assert!(
        server_export.contains("H. Ahmad Suryadi"),
        "the unpushed edit was kept"
    );
    assert!(server_export.contains("Rizky Pratama"));
    assert_eq!(d.export(), server_export);
    assert!(actions(&server, &token, &id).contains(&"resync_done".to_owned()));
}

#[test]
fn a_lost_tablet_pushes_its_unsynced_work_then_wipes() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let lost = enroll(&server, &token, dir.path(), "TEAM-A", 41);
    let (h, p) = family(&lost, "3671051203150007");
    lost.sync();
    visit(&lost, &h, &p, "Kejang demam");
    let id = number(&lost);
    let revoked = admin_json(&server, &token, &["device", "revoke", &id, "--wipe"]);
    assert_eq!(revoked["state"], "wipe_pending");

    let report = lost.sync();
    assert_eq!(report["wiped"], true, "{report}");
    assert_eq!(report["pushed"], 2);
    assert!(!lost.db.exists(), "the tablet's file is deleted");
    assert!(export(&server, &token).contains("Kejang demam"));
    let shown = admin_json(&server, &token, &["device", "show", &id]);
    assert_eq!(shown["device"]["state"], "wiped");
    let done = actions(&server, &token, &id);
    assert!(done.contains(&"wiped".to_owned()), "{done:?}");
}

#[test]
fn a_stolen_tablet_is_wiped_and_its_unsynced_work_is_held_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let stolen = enroll(&server, &token, dir.path(), "TEAM-B", 42);
    let (h, p) = family(&stolen, "3671051203150015");
    stolen.sync();
    visit(&stolen, &h, &p, "Gangguan jiwa berat");
    let copy = dir.path().join("taken-before.db");
    stolen.copy_to(&copy);
    let id = number(&stolen);
    admin_json(
        &server,
        &token,
        &["device", "revoke", &id, "--wipe", "--stolen"],
    );

    let report = stolen.sync();
    assert_eq!(report["wiped"], true, "{report}");
    assert!(!stolen.db.exists());
    let before = export(&server, &token);
    assert!(
        !before.contains("Gangguan jiwa berat"),
        "a stolen tablet's push is not merged"
    );
    let held = admin_json(&server, &token, &["device", "held", &id]);
    assert_eq!(held.as_array().unwrap().len(), 1);
    assert!(held[0]["accepted_at"].is_null());

    let refused = admin_at(
        &server.url,
        &token,
        &["salvage", "--device-db", copy.to_str().unwrap()],
    );
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("stolen"), "{}", refused.stderr);
    assert_eq!(export(&server, &token), before);

    let accepted = admin_json(&server, &token, &["device", "held", &id, "--accept"]);
    assert_eq!(accepted["changed"], 1, "{accepted}");
    assert!(export(&server, &token).contains("Gangguan jiwa berat"));
    let again = admin_json(&server, &token, &["device", "held", &id, "--accept"]);
    assert_eq!(again["groups"], 0);
    let done = actions(&server, &token, &id);
    for action in ["revoke", "held_push", "wiped", "accept_held"] {
        assert!(done.contains(&action.to_owned()), "{action}: {done:?}");
    }
}

#[test]
fn a_rebuild_cut_half_way_and_exports_run_again_safely() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let seeded = enroll(&server, &token, dir.path(), "TEAM-A", 51);
    seeded.run(&["seed", "--households", "120", "--seed", "3"]);
    seeded.sync();
    let server_export = export(&server, &token);

    let link = Link::start(server.addr());
    let code = admin_json(&server, &token, &["device", "enroll", "--team", "TEAM-B"])["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let new_db = dir.path().join("rebuilt.db");
    let db = new_db.to_str().unwrap().to_owned();
    let args = ["--json", "rebuild", "--device-db", &db, "--code", &code];
    link.go_down_after(30_000);
    let cut = admin_at(&link.url, &token, &args);
    assert_eq!(cut.code, 1, "{}{}", cut.stdout, cut.stderr);
    assert!(link.is_down());
    link.restore();
    let resumed = admin_at(&link.url, &token, &args);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(resumed.json()["resumed"], true);
    assert_eq!(Device { db: new_db }.export(), server_export);

    let json_out = dir.path().join("export.json");
    let out = json_out.to_str().unwrap();
    for _ in 0..2 {
        admin(
            &server,
            &token,
            &["export", "--puskesmas", PUSKESMAS, "--out", out],
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(&json_out).unwrap(), server_export);
    }
    let csv_dir = dir.path().join("csv");
    admin(
        &server,
        &token,
        &[
            "export",
            "--puskesmas",
            PUSKESMAS,
            "--format",
            "csv",
            "--out",
            csv_dir.to_str().unwrap(),
        ],
    )
    .unwrap();
    let households = std::fs::read_to_string(csv_dir.join("households.csv")).unwrap();
    assert_eq!(
        households.lines().count(),
        121,
        "a header and a row per household"
    );
    assert!(households.starts_with("id,deleted,merged_into,conflicts,address.kecamatan"));
    for kind in ["persons", "visits", "referrals", "followups"] {
        assert!(csv_dir.join(format!("{kind}.csv")).is_file(), "{kind}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .chain(std::fs::read_dir(&csv_dir).unwrap())
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_published_form_reaches_tablets_and_old_visits_keep_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let a = enroll(&server, &token, dir.path(), "TEAM-A", 61);
    let (h, p) = family(&a, "3671051203150007");
    let screening = |version: u16, values: Value| {
        json!({"visit": {"household": h, "outcome": "visited", "screenings": [
            {"person": p, "form": {"id": "vital-signs", "version": version}, "values": values}]}})
    };
    a.input(
        &["visit", "record"],
        &screening(1, json!({"systolic": 150, "diastolic": 95})),
    );

    let mut form: Value = serde_json::from_str(include_str!(
        "../../crates/model/src/forms/builtin/vital-signs.json"
    ))
    .unwrap();
    form["version"] = json!(2);
    form["fields"].as_array_mut().unwrap().push(json!(
        {"name": "spo2", "label": "Saturasi oksigen", "unit": "%", "type": "integer", "min": 50, "max": 100}
    ));
    let file = dir.path().join("vital-signs-2.json");
    std::fs::write(&file, form.to_string()).unwrap();
    let path = file.to_str().unwrap();
    let published = admin_json(&server, &token, &["forms", "publish", path]);
    assert_eq!(published["new"], true);
    assert_eq!(
        admin_json(&server, &token, &["forms", "publish", path])["new"],
        false
    );
    form["title"] = json!("Tanda Vital (ubah)");
    std::fs::write(&file, form.to_string()).unwrap();
    let changed = admin_at(&server.url, &token, &["forms", "publish", path]);
    assert_eq!(changed.code, 1, "a published version never changes");

    // The form is unknown to the tablet until it syncs.
    let early = cageur_e2e::try_field(
        &a.db,
        &["visit", "record"],
        Some(&screening(2, json!({"spo2": 91})).to_string()),
    );
    assert!(early.is_err());
    assert_eq!(a.sync()["forms_received"], 1);
    a.input(
        &["visit", "record"],
        &screening(2, json!({"spo2": 91, "systolic": 120})),
    );
    a.sync();
    let server_export = export(&server, &token);
    assert_eq!(a.export(), server_export);
    assert!(
        server_export.contains("\"spo2\":91"),
        "the new field is rendered by the server too"
    );
    assert!(server_export.contains("\"version\":1") && server_export.contains("\"version\":2"));
}

#[test]
fn admin_refusals_are_json_with_a_stable_code_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    // A connection per request: once, under a full suite's load, a pooled connection was
    // found closed when reused ("Peer disconnected"), which is not what this test is about.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into();
    let ask = |method: &str, path: &str, body: Option<&str>| -> (u16, Value) {
        let url = format!("{}{path}", server.url);
        let auth = format!("Bearer {token}");
        let mut response = match body {
            None => agent.get(&url).header("authorization", &auth).call(),
            Some(b) => agent
                .post(&url)
                .header("authorization", &auth)
                .header("content-type", "application/json")
                .send(b.as_bytes()),
        }
        .unwrap();
        assert!(method == "GET" || body.is_some());
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, json)
    };
    let audit_before = admin_json(&server, &token, &["audit"]);
    let cases = [
        (
            "GET",
            "/admin/v1/devices?state=lost",
            None,
            400,
            "bad_request",
            "state",
        ),
        (
            "GET",
            "/admin/v1/devices?as_of=yesterday",
            None,
            400,
            "bad_request",
            "query",
        ),
        (
            "GET",
            "/admin/v1/devices/abc",
            None,
            400,
            "bad_request",
            "path",
        ),
        ("GET", "/admin/v1/devices/999", None, 404, "not_found", ""),
        (
            "POST",
            "/admin/v1/devices/999/resync",
            Some("{}"),
            404,
            "not_found",
            "",
        ),
        (
            "POST",
            "/admin/v1/devices/1/revoke",
            Some("{\"stolen\":true}"),
            400,
            "bad_request",
            "stolen",
        ),
        (
            "POST",
            "/admin/v1/forms",
            Some("{\"id\":\"x\"}"),
            400,
            "bad_request",
            "",
        ),
        (
            "POST",
            "/admin/v1/forms",
            Some("not json"),
            400,
            "bad_request",
            "body",
        ),
        (
            "GET",
            "/admin/v1/export?puskesmas=P%20X",
            None,
            400,
            "bad_request",
            "puskesmas",
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let (got, error) = ask(method, path, body);
        assert_eq!(
            (got, error["code"].as_str().unwrap()),
            (status, code),
            "{path}: {error}"
        );
        assert!(!error["message"].as_str().unwrap().is_empty(), "{path}");
        if !field.is_empty() {
            assert_eq!(error["field"], field, "{path}: {error}");
        }
    }
    assert_eq!(
        admin_json(&server, &token, &["audit"]),
        audit_before,
        "a refusal is not an action"
    );
}

/// Flips one byte of the file at `offset`.
fn flip(path: &Path, offset: u64) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8; 1];
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&[byte[0] ^ 0x5a]).unwrap();
}

/// The record lines of a canonical export (one record per line).
fn record_lines(export: &str) -> std::collections::BTreeSet<String> {
    export
        .lines()
        .filter(|l| l.starts_with("{\"deleted\""))
        .map(|l| l.trim_end_matches(',').to_owned())
        .collect()
}

#[test]
fn a_damaged_tablet_file_is_refused_by_the_app_and_salvage_rescues_what_is_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let a = enroll(&server, &token, dir.path(), "TEAM-A", 11);
    // A week of work never synced, then the tablet's storage goes bad.
    a.run(&["seed", "--households", "120", "--seed", "9"]);
    a.tamper("PRAGMA wal_checkpoint(TRUNCATE);");
    let intact = record_lines(&a.export());
    let damaged = Device {
        db: dir.path().join("damaged.db"),
    };
    a.copy_to(&damaged.db);
    let pages = std::fs::metadata(&damaged.db).unwrap().len() / 4096;
    for page in [pages / 3, pages * 2 / 3] {
        flip(&damaged.db, page * 4096 + 1500);
    }

    // The app says so, and sends nothing of it.
    let err = damaged.try_sync().unwrap_err();
    assert!(err.contains("damaged"), "{err}");
    assert!(record_lines(&export(&server, &token)).is_empty());

    let salvaged = admin_json(
        &server,
        &token,
        &["salvage", "--device-db", damaged.db.to_str().unwrap()],
    );
    assert_eq!(salvaged["damaged"], true, "{salvaged}");
    assert!(
        salvaged["damaged_reads"].as_u64().unwrap() > 0,
        "{salvaged}"
    );
    // Everything the server now holds is exactly what the tablet recorded, and only the
    // records on the two damaged pages are missing.
    let on_server = record_lines(&export(&server, &token));
    assert!(
        on_server.is_subset(&intact),
        "the server holds what was recorded, unaltered"
    );
    let lost = intact.len() - on_server.len();
    assert!(
        lost > 0 && lost <= 40,
        "{lost} of {} records lost to two damaged pages: {salvaged}",
        intact.len()
    );
    assert_eq!(
        salvaged["records"].as_u64().unwrap() as usize,
        on_server.len()
    );
}
