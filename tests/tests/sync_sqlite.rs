//! Three devices of one puskesmas and a real `cageur-server` on SQLite, over loopback HTTP:
//! offline edits everywhere, concurrent edits to one household and to one field, syncs in
//! several orders. Every device's export and the server's export of the puskesmas end
//! byte-identical; the same-field conflict shows everywhere until resolved, then nowhere.

use std::path::{Path, PathBuf};

use cageur_e2e::{Server, admin, try_field};
use serde_json::{Value, json};

const PUSKESMAS: &str = "P3671050101";

struct Device {
    db: PathBuf,
}

impl Device {
    fn run(&self, args: &[&str]) -> String {
        try_field(&self.db, args, None).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn input(&self, args: &[&str], stdin: &Value) -> String {
        try_field(&self.db, args, Some(&stdin.to_string()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .trim()
            .to_owned()
    }

    fn sync(&self) -> Value {
        serde_json::from_str(&self.run(&["--json", "sync", "--attempts", "2"])).unwrap()
    }

    fn export(&self) -> String {
        self.run(&["export"])
    }

    fn conflicts(&self) -> Vec<Value> {
        let out: Value = serde_json::from_str(&self.run(&["--json", "conflicts"])).unwrap();
        out.as_array().cloned().unwrap_or_default()
    }
}

fn enroll(server: &Server, token: &str, dir: &Path, team: &str, worker: u32) -> Device {
    let enrollment: Value = serde_json::from_str(
        &admin(
            server,
            token,
            &["--json", "device", "enroll", "--team", team],
        )
        .unwrap(),
    )
    .unwrap();
    let code = enrollment["code"].as_str().unwrap();
    let db = dir.join(format!("{team}-{worker}.db"));
    try_field(
        &db,
        &["enroll", "--server", &server.url, "--code", code],
        None,
    )
    .unwrap();
    let device = Device { db };
    device.run(&[
        "worker",
        "set",
        "--id",
        &worker.to_string(),
        "--name",
        "Perawat",
        "--role",
        "nurse",
    ]);
    device
}

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
fn three_devices_and_the_server_converge_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("server.db").display());
    let server = Server::start(&db);
    let token = server.admin_token();
    admin(
        &server,
        &token,
        &[
            "puskesmas",
            "add",
            "--code",
            PUSKESMAS,
            "--name",
            "Cipondoh",
        ],
    )
    .unwrap();
    for team in ["TEAM-A", "TEAM-B", "TEAM-C"] {
        admin(
            &server,
            &token,
            &[
                "team",
                "add",
                "--code",
                team,
                "--puskesmas",
                PUSKESMAS,
                "--name",
                team,
            ],
        )
        .unwrap();
    }
    let a = enroll(&server, &token, dir.path(), "TEAM-A", 11);
    let b = enroll(&server, &token, dir.path(), "TEAM-B", 12);
    let c = enroll(&server, &token, dir.path(), "TEAM-C", 13);

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
    let server_export = admin(&server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
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
    let server_export = admin(&server, &token, &["export", "--puskesmas", PUSKESMAS]).unwrap();
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
