//! Helpers for the end-to-end tests: locating the workspace's built binaries and running them
//! on real files.

use std::path::PathBuf;
use std::process::{Command, Output};

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
pub fn field(db: &std::path::Path, args: &[&str]) -> Output {
    let out = Command::new(binary("cageur-field"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CAGEUR_DB_KEY", KEY_HEX)
        .output()
        .expect("cageur-field runs");
    assert!(
        out.status.success(),
        "cageur-field {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
