//! What every bench binary shares: its settings from the environment, and its JSON report
//! under `target/` (for docs/benchmarks.md).

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::Result;

/// A whole number from the environment (`12_500` and `12,500` read as 12500), or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .replace(['_', ','], "")
            .parse()
            .map_err(|_| format!("{name} must be a whole number, not {text:?}").into()),
        Err(_) => Ok(default),
    }
}

/// The parts named on the command line (Cargo's own `--bench` flags left out); none means all.
pub fn wanted_parts(all: &[&str]) -> Result<Vec<String>> {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted: Vec<String> = all
        .iter()
        .filter(|part| filters.is_empty() || filters.iter().any(|f| part.contains(f.as_str())))
        .map(|p| p.to_string())
        .collect();
    if wanted.is_empty() {
        return Err(format!("no part matches {filters:?}; parts: {}", all.join(", ")).into());
    }
    Ok(wanted)
}

/// Writes `target/bench-NAME.json` (the bench runs as `target/<profile>/deps/NAME-<hash>`).
pub fn write(name: &str, total_seconds: f64, parts: Map<String, Value>) -> Result<PathBuf> {
    let report = json!({
        "bench": name,
        "run_at": chrono::Local::now().to_rfc3339(),
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "total_seconds": total_seconds,
        "parts": Value::Object(parts),
    });
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("the bench executable is not inside a target directory")?;
    let path = target.join(format!("bench-{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    Ok(path)
}
