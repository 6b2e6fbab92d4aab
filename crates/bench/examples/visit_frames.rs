//! Counts the WAL frames (pages written) of one `record_visit` and of the plain baseline's
//! insert of the same visit and referral: each frame is encrypted, signed and written, so
//! frames per action are most of what a commit costs.
//!
//! ```sh
//! cargo run --release -p cageur-bench --example visit_frames
//! SHOW=1 N=5 cargo run --release -p cageur-bench --example visit_frames    # which pages
//! cargo build --release -p cageur-bench --example visit_frames
//! PROFILE=1 N=300 valgrind --tool=callgrind --toggle-collect='*record_visit*' target/release/examples/visit_frames
//! ```

use cageur_bench::plain::{Layout, PlainStore};
use cageur_bench::{db, family, visit};
use field_core::Durability;
use field_core::model::{HouseholdId, PersonId};
use rusqlite::Connection;
use std::path::Path;
use uuid::Uuid;

/// How many frames the WAL holds, then folds it into the main file and empties it. (The
/// frame count of `PRAGMA wal_checkpoint` reads 0 from a second connection here, so the WAL
/// file's length tells: a 32-byte header, then a 24-byte header and a page per frame.)
fn frames_then_checkpoint(path: &Path) -> cageur_bench::Result<u64> {
    let wal = path.with_extension("db-wal");
    let bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let conn: Connection = db::open(path, Durability::Normal)?;
    if std::env::var_os("SHOW").is_some() {
        let raw = std::fs::read(&wal).unwrap_or_default();
        let mut names = Vec::new();
        let mut at = 32;
        while at + 24 <= raw.len() {
            let pgno = u32::from_be_bytes(raw[at..at + 4].try_into().unwrap());
            let name: String = conn
                .query_row(
                    "SELECT name || ':' || pagetype FROM dbstat WHERE pageno = ?1",
                    [pgno],
                    |r| r.get(0),
                )
                .unwrap_or_else(|_| format!("?{pgno}"));
            names.push(format!("{pgno}={name}"));
            at += 24 + 4096;
        }
        eprintln!(
            "{}: {}",
            path.file_name().unwrap().to_string_lossy(),
            names.join(" ")
        );
    }
    let page: u64 = conn
        .query_row("PRAGMA page_size", [], |r| {
            r.get::<_, String>(0)
                .or_else(|_| r.get::<_, i64>(0).map(|n| n.to_string()))
        })?
        .trim()
        .parse()?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(bytes.saturating_sub(32) / (page + 24))
}

fn main() -> cageur_bench::Result<()> {
    let n: u32 = cageur_bench::report::env_number("N", 40)?;
    let dir = tempfile::tempdir()?;
    let ours_path = dir.path().join("device.db");
    let plain_path = dir.path().join("plain.db");
    let mut replica = visit::new_replica(&ours_path)?;
    let mut plain = PlainStore::create(&plain_path, Durability::Normal, Layout::WithoutRowid)?;
    let mut families = Vec::new();
    for i in 0..(n + 200) {
        let household = replica.add_household(&family::household(i)?)?;
        let people: Vec<PersonId> = family::members(i, household)?
            .iter()
            .map(|p| replica.add_person(p))
            .collect::<field_core::Result<_>>()?;
        families.push((household, people));
        let h = HouseholdId::new();
        let mut rows = vec![(h.0, serde_json::to_string(&family::household(i)?)?)];
        for p in family::members(i, h)? {
            rows.push((Uuid::now_v7(), serde_json::to_string(&p)?));
        }
        let rows: Vec<(Uuid, &str)> = rows.iter().map(|(id, j)| (*id, j.as_str())).collect();
        plain.insert(&rows)?;
    }
    let (mut ours_frames, mut plain_frames) = (Vec::new(), Vec::new());
    if std::env::var_os("PROFILE").is_some() {
        // For a profiler: record the visits only, with no checkpoint between them (another
        // connection's checkpoint makes this one drop its page cache).
        for (household, people) in families.iter().skip(200) {
            replica.record_visit(family::visit(*household, people)?)?;
        }
        return Ok(());
    }
    for (household, people) in families.iter().skip(200) {
        frames_then_checkpoint(&ours_path)?;
        replica.record_visit(family::visit(*household, people)?)?;
        ours_frames.push(frames_then_checkpoint(&ours_path)?);
        frames_then_checkpoint(&plain_path)?;
        let new = family::visit(*household, people)?;
        let visit_id = Uuid::now_v7();
        let rows = family::plain_rows(&new.visit, &new.referrals, visit_id);
        let ids = std::iter::once(visit_id).chain(std::iter::repeat_with(Uuid::now_v7));
        let rows: Vec<(Uuid, &str)> = ids.zip(rows.iter().map(String::as_str)).collect();
        plain.insert(&rows)?;
        plain_frames.push(frames_then_checkpoint(&plain_path)?);
    }
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64;
    println!(
        "frames per visit: ours {:.2} (min {}, max {}), plain {:.2} (min {}, max {})",
        mean(&ours_frames),
        ours_frames.iter().min().unwrap_or(&0),
        ours_frames.iter().max().unwrap_or(&0),
        mean(&plain_frames),
        plain_frames.iter().min().unwrap_or(&0),
        plain_frames.iter().max().unwrap_or(&0),
    );
    Ok(())
}
