//! Three devices of one puskesmas and real `cageur-server` processes, over loopback HTTP:
//! offline edits everywhere, concurrent edits to one household and to one field, syncs in
//! several orders. Every device's export and the server's export of the puskesmas end
//! byte-identical; the same-field conflict shows everywhere until resolved, then nowhere.
//!
//! Once with one server on its SQLite default, once with two server processes on one
//! PostgreSQL database, the devices spread over both (servers are stateless).

use std::path::Path;

use cageur_e2e::device::{enroll, register};
use cageur_e2e::pg::TestDatabase;
use cageur_e2e::{Server, admin};
use serde_json::{Value, json};

const PUSKESMAS: &str = "P3671050101";

fn household() -> Value {
    json!({
        "kk": "3671051203150007",
        "head_name": "Ahmad Suryadi",
        "address": {"street": "Jl. Melati No. 12", "rt": 3, "rw": 5,
                    "kelurahan": "Cipondoh Indah", "kecamatan": "cipondoh"},
        "puskesmas": PUSKESMAS
    })
}

#[test]
fn three_devices_and_one_sqlite_server_converge_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("server.db").display());
    let server = Server::start(&db);
    converge(dir.path(), &[&server]);
}

#[test]
fn three_devices_and_two_servers_on_one_postgres_converge_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create("converge");
    let first = Server::start(&database.url);
    let second = Server::start(&database.url);
    assert_ne!(first.url, second.url);
    converge(dir.path(), &[&first, &second]);
}

/// The scenario; device `i` talks to `servers[i % servers.len()]`, the admin tool to the last.
fn converge(dir: &Path, servers: &[&Server]) {
    let server = servers[servers.len() - 1];
    let via = |i: usize| servers[i % servers.len()];
    let token = server.admin_token();
    register(server, &token, PUSKESMAS, &["TEAM-A", "TEAM-B", "TEAM-C"]);
    let a = enroll(via(0), &token, dir, "TEAM-A", 11);
    let b = enroll(via(1), &token, dir, "TEAM-B", 12);
    let c = enroll(via(2), &token, dir, "TEAM-C", 13);

    // A registers a family and everyone gets it.
    let h = a.input(&["household", "add"], &household());
    let person = json!({"household": h, "nik": "3671054702900001", "name": "Siti Aminah",
                        "sex": "female", "birth_date": "1990-02-07", "relation": "spouse"});
    let p = a.input(&["person", "add"], &person);
    let pushed = a.sync();
    assert_eq!(pushed["pushed"], 2, "{pushed}");
    for d in [&b, &c] {
        let report = d.sync();
        assert_eq!(report["pulled"], 2, "{report}");
    }

    // Offline: A and C change the same field differently, B another field; A records a
    // visit with a referral; C registers a household of its own.
    a.input(
        &["household", "update", &h],
        &json!({"head_name": "Ahmad Suryadi Putra"}),
    );
    c.input(
        &["household", "update", &h],
        &json!({"head_name": "H. Ahmad Suryadi"}),
    );
    b.input(
        &["household", "update", &h],
        &json!({"address": {"street": "Jl. Melati Raya No. 12"}}),
    );
    let visit = json!({
        "visit": {"household": h, "outcome": "visited", "screenings": []},
        "referrals": [{"person": p, "reason": "Tekanan darah tinggi", "category": "hypertension",
                       "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"},
                       "urgency": "routine", "status": "created"}]
    });
    a.input(&["visit", "record"], &visit);
    let mut other = household();
    other["kk"] = json!("3671051203150015");
    other["head_name"] = json!("Budi Santoso");
    c.input(&["household", "add"], &other);

    // Syncs in several orders.
    for d in [&c, &a, &b, &c, &a] {
        d.sync();
    }

    let exports: Vec<String> = [&a, &b, &c].iter().map(|d| d.export()).collect();
    let server_export = admin(server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
    assert_eq!(exports[0], exports[1], "A and B differ");
    assert_eq!(exports[1], exports[2], "B and C differ");
    assert_eq!(exports[0], server_export, "devices and server differ");
    assert!(
        server_export.contains("Jl. Melati Raya No. 12"),
        "B's edit survived"
    );
    assert!(
        server_export.contains("Budi Santoso"),
        "C's household arrived"
    );

    // The same-field conflict is visible on every device...
    for d in [&a, &b, &c] {
        let conflicts = d.conflicts();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        let text = conflicts[0].to_string();
        assert!(
            text.contains("Ahmad Suryadi Putra") && text.contains("H. Ahmad Suryadi"),
            "{text}"
        );
    }
    // ...until B resolves it; then it is resolved everywhere.
    b.run(&["resolve", &h, "head_name", "--pick", "1"]);
    for d in [&b, &a, &c] {
        d.sync();
    }
    for d in [&a, &b, &c] {
        assert!(d.conflicts().is_empty());
    }
    let exports: Vec<String> = [&a, &b, &c].iter().map(|d| d.export()).collect();
    let server_export = admin(server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
    assert_eq!(exports[0], exports[1]);
    assert_eq!(exports[1], exports[2]);
    assert_eq!(exports[0], server_export);

    // A sync with nothing to do moves almost nothing.
    let idle = a.sync();
    assert_eq!(idle["pushed"], 0);
    assert_eq!(idle["pulled"], 0);
    let bytes = idle["traffic"]["bytes_up"].as_u64().unwrap()
        + idle["traffic"]["bytes_down"].as_u64().unwrap();
    assert!(bytes < 1024, "an idle sync moved {bytes} bytes");
}
