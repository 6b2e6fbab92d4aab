//! A tablet in an end-to-end test: a `cageur-field` database file enrolled with a server.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Server, admin, try_field};

/// An enrolled tablet's database.
#[derive(Debug)]
pub struct Device {
    /// The database file.
    pub db: PathBuf,
}

impl Device {
    /// Runs `cageur-field` on this tablet; panics with its stderr on failure.
    pub fn run(&self, args: &[&str]) -> String {
        try_field(&self.db, args, None).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// Runs `cageur-field` with `stdin` as its JSON input; returns the trimmed output.
    pub fn input(&self, args: &[&str], stdin: &Value) -> String {
        try_field(&self.db, args, Some(&stdin.to_string()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .trim()
            .to_owned()
    }

    /// Syncs; the JSON report.
    pub fn sync(&self) -> Value {
        serde_json::from_str(&self.run(&["--json", "sync", "--attempts", "2"])).unwrap()
    }

    /// The canonical export.
    pub fn export(&self) -> String {
        self.run(&["export"])
    }

    /// Syncs and returns the outcome whatever it is: the report, or the error text.
    pub fn try_sync(&self) -> Result<Value, String> {
        try_field(&self.db, &["--json", "sync", "--attempts", "1"], None)
            .map(|out| serde_json::from_str(&out).unwrap())
    }

    /// Runs one SQL batch on the tablet's file directly (to damage it as an app bug would).
    pub fn tamper(&self, sql: &str) {
        let conn = rusqlite_open(&self.db);
        conn.execute_batch(sql).unwrap();
    }

    /// Copies the tablet's files (database, write-ahead log) to `to`: the file as it was.
    pub fn copy_to(&self, to: &Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut from = self.db.as_os_str().to_owned();
            from.push(suffix);
            let mut dest = to.as_os_str().to_owned();
            dest.push(suffix);
            if std::path::Path::new(&from).exists() {
                std::fs::copy(&from, &dest).unwrap();
            }
        }
    }

    /// The unresolved conflicts.
    pub fn conflicts(&self) -> Vec<Value> {
        let out: Value = serde_json::from_str(&self.run(&["--json", "conflicts"])).unwrap();
        out.as_array().cloned().unwrap_or_default()
    }
}

/// Opens a tablet's SQLCipher file with the test key, for tampering.
fn rusqlite_open(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\"", crate::KEY_HEX))
        .unwrap();
    conn
}

/// Enrolls a tablet through `server` (the code comes from any server: they share the store).
pub fn enroll(server: &Server, token: &str, dir: &Path, team: &str, worker: u32) -> Device {
    enroll_via(&server.url, server, token, dir, team, worker)
}

/// Enrolls a tablet that syncs through `url` (a [`crate::link::Link`] to `server`).
pub fn enroll_via(
    url: &str,
    server: &Server,
    token: &str,
    dir: &Path,
    team: &str,
    worker: u32,
) -> Device {
    let code = enrollment_code(server, token, team);
    let db = dir.join(format!("{team}-{worker}.db"));
    try_field(&db, &["enroll", "--server", url, "--code", &code], None).unwrap();
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

/// A new one-time enrollment code for a tablet of `team`.
pub fn enrollment_code(server: &Server, token: &str, team: &str) -> String {
    let out = admin(
        server,
        token,
        &["--json", "device", "enroll", "--team", team],
    )
    .unwrap();
    let enrollment: Value = serde_json::from_str(&out).unwrap();
    enrollment["code"].as_str().unwrap().to_owned()
}

/// Registers a puskesmas and its teams (each team's name is its code).
pub fn register(server: &Server, token: &str, puskesmas: &str, teams: &[&str]) {
    admin(
        server,
        token,
        &["puskesmas", "add", "--code", puskesmas, "--name", puskesmas],
    )
    .unwrap();
    for team in teams {
        admin(
            server,
            token,
            &[
                "team",
                "add",
                "--code",
                team,
                "--puskesmas",
                puskesmas,
                "--name",
                team,
            ],
        )
        .unwrap();
    }
}
