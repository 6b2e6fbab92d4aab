//! Helpers for the end-to-end tests: locating the workspace's built binaries and running them
//! on real files.

pub mod device;
pub mod link;
pub mod pg;

use std::path::PathBuf;
use std::process::Command;

/// The database key every end-to-end test uses (a raw 256-bit key).
pub const KEY_HEX: &str = "3b9f0c1d2e4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344";

/// A binary of another workspace package, built by `cargo build --workspace --bins` (which
/// `scripts/test` runs first): it sits beside the test executable's `deps/` directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executables live in target/<profile>/deps");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` (scripts/test does)",
        path.display()
    );
    path
}

/// Runs `cageur-field` on a database file with the test key; panics with its stderr on failure.
pub fn field(db: &std::path::Path, args: &[&str]) -> String {
    try_field(db, args, None).unwrap_or_else(|e| panic!("cageur-field {args:?} failed: {e}"))
}

/// Runs `cageur-field` and returns its stdout, or its stderr as the error.
pub fn try_field(
    db: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, String> {
    use std::io::Write;
    let mut child = Command::new(binary("cageur-field"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CAGEUR_DB_KEY", KEY_HEX)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cageur-field runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("stdin accepts the input");
    drop(input);
    let out = child.wait_with_output().expect("cageur-field finishes");
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("output is UTF-8"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A `cageur-server` running on a loopback port for one test; killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The store URL it serves (`sqlite:PATH`).
    pub db: String,
}

impl Server {
    /// Starts `cageur-server serve` on a free port over the store `db`.
    pub fn start(db: &str) -> Server {
        Self::start_at(db, "127.0.0.1:0")
    }

    /// Starts `cageur-server serve` on `listen` (to restart a server where devices know it).
    pub fn start_at(db: &str, listen: &str) -> Server {
        use std::io::BufRead;
        let mut child = Command::new(binary("cageur-server"))
            .args(["serve", "--listen", listen, "--db", db])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("cageur-server starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("cageur-server prints its address");
        let url = line
            .trim()
            .strip_prefix("cageur-server listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Server {
            child,
            url,
            db: db.to_owned(),
        }
    }

    /// A new admin credential for this server's store.
    pub fn admin_token(&self) -> String {
        let out = Command::new(binary("cageur-server"))
            .args(["admin-token", "--db", &self.db])
            .output()
            .expect("cageur-server admin-token runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// Stops the server (as a crash would: no goodbye).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `cageur-admin` against `server`; returns stdout, or stderr as the error.
pub fn admin(server: &Server, token: &str, args: &[&str]) -> Result<String, String> {
    let ran = admin_at(&server.url, token, args);
    if ran.code == 0 {
        Ok(ran.stdout)
    } else {
        Err(ran.stderr)
    }
}

/// What a command printed, and its exit code.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The standard output as JSON (the command ran with `--json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

/// Runs `cageur-admin` against the server at `url` (tablet files opened with [`KEY_HEX`]).
pub fn admin_at(url: &str, token: &str, args: &[&str]) -> Ran {
    let out = Command::new(binary("cageur-admin"))
        .args(["--server", url])
        .args(args)
        .env("CAGEUR_ADMIN_TOKEN", token)
        .env("CAGEUR_DB_KEY", KEY_HEX)
        .output()
        .expect("cageur-admin runs");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("output is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `cageur-admin --json ...`, which must succeed; its JSON answer.
pub fn admin_json(server: &Server, token: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let ran = admin_at(&server.url, token, &all);
    assert_eq!(
        ran.code, 0,
        "cageur-admin {args:?}: {}{}",
        ran.stdout, ran.stderr
    );
    ran.json()
}
