//! Part `size`: the device database of a whole puskesmas on disk, against the same records as
//! plain JSON rows in an SQLCipher file with the same settings, inserted in the same order.
//! Both are checkpointed first, so each main file holds everything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use field_core::Durability;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Result;
use crate::db::{self, FileSize};
use crate::plain::{Layout, PlainStore};
use crate::seeded::Seeded;

/// Rows per transaction of the plain bulk load.
pub const PLAIN_BATCH: usize = 1_000;

/// The most our file may be, as a multiple of the plain one.
pub const TARGET_RATIO: f64 = 1.5;

#[derive(Debug, Clone)]
pub struct SizeReport {
    pub households: u32,
    pub records: usize,
    pub seed_time: Duration,
    pub ours: FileSize,
    pub outbox_rows: u64,
    /// The plain rows inserted in the order field-core wrote the records.
    pub plain: FileSize,
    /// The same in a rowid table (for reference: see [`Layout::Rowid`]).
    pub plain_rowid: FileSize,
    pub plain_load_time: Duration,
}

impl SizeReport {
    /// Our file over the plain one: the figure the target is about.
    pub fn ratio(&self) -> f64 {
        self.ours.file_bytes as f64 / self.plain.file_bytes as f64
    }

    /// Our file over the plain rowid table.
    pub fn ratio_rowid(&self) -> f64 {
        self.ours.file_bytes as f64 / self.plain_rowid.file_bytes as f64
    }

    pub fn print(&self) {
        let secs = self.seed_time.as_secs_f64();
        let plain_secs = self.plain_load_time.as_secs_f64();
        println!(
            "size: device database after seeding {} households ({} records), checkpointed",
            self.households, self.records
        );
        println!(
            "  seed                {:>8.1} s   {:>8.0} records/s",
            secs,
            self.records as f64 / secs
        );
        println!(
            "  plain load          {:>8.1} s   {:>8.0} rows/s   ({PLAIN_BATCH} rows per transaction, \
             NORMAL; for scale, not like for like)",
            plain_secs,
            self.records as f64 / plain_secs,
        );
        println!(
            "  {:<24} {:>12} {:>15} {:>10} {:>13}",
            "", "file bytes", "page_count*size", "free pages", "bytes/record"
        );
        for (label, size) in [
            ("field-core", &self.ours),
            ("plain, WITHOUT ROWID", &self.plain),
            ("plain, rowid table", &self.plain_rowid),
        ] {
            println!(
                "  {:<24} {:>12} {:>15} {:>10} {:>13.0}",
                label,
                size.file_bytes,
                size.page_bytes,
                size.free_pages,
                size.file_bytes as f64 / self.records as f64
            );
        }
        let met = self.ratio() <= TARGET_RATIO;
        println!(
            "  ratio ours / plain WITHOUT ROWID: {:.2}x   target <= {TARGET_RATIO:.1}x {}",
            self.ratio(),
            if met { "met" } else { "NOT met" }
        );
        println!(
            "  ratio ours / plain rowid table:   {:.2}x   (reference: the compact way to store \
             rows this large)",
            self.ratio_rowid()
        );
        println!(
            "  outbox: {} rows = {:.0}% of records (seeded data is all pending)",
            self.outbox_rows,
            100.0 * self.outbox_rows as f64 / self.records as f64
        );
    }

    pub fn to_json(&self) -> Value {
        let size = |s: &FileSize| json!({"file_bytes": s.file_bytes, "page_bytes": s.page_bytes, "free_pages": s.free_pages});
        json!({
            "households": self.households,
            "records": self.records,
            "seed_seconds": self.seed_time.as_secs_f64(),
            "seed_records_per_second": self.records as f64 / self.seed_time.as_secs_f64(),
            "field_core": size(&self.ours),
            "outbox_rows": self.outbox_rows,
            "plain": size(&self.plain),
            "plain_rowid_table": size(&self.plain_rowid),
            "plain_batch_rows": PLAIN_BATCH,
            "plain_load_seconds": self.plain_load_time.as_secs_f64(),
            "ratio": self.ratio(),
            "ratio_rowid_table": self.ratio_rowid(),
            "target_max_ratio": TARGET_RATIO,
        })
    }
}

pub fn run(seeded: &Seeded) -> Result<SizeReport> {
    let write_seq = outbox_seqs(seeded)?;
    let outbox_rows = write_seq.len() as u64;
    let ours = db::checkpointed_size(&seeded.path())?;

    // Rows in the order field-core wrote them (by change number; a household's records share
    // one), so both B-trees take the same insertion order: seeded ids carry each record's own
    // date, years apart, so ours are not appended in id order either.
    let mut rows: Vec<(u64, Uuid, &str)> = seeded
        .records
        .iter()
        .map(|r| {
            (
                write_seq.get(&r.id).copied().unwrap_or(u64::MAX),
                r.id,
                r.json.as_str(),
            )
        })
        .collect();
    rows.sort_unstable_by_key(|(seq, id, _)| (*seq, *id));
    let rows: Vec<(Uuid, &str)> = rows.into_iter().map(|(_, id, json)| (id, json)).collect();
    let (plain, plain_load_time) = plain_file(&rows, Layout::WithoutRowid)?;
    let (plain_rowid, _) = plain_file(&rows, Layout::Rowid)?;

    Ok(SizeReport {
        households: seeded.households,
        records: seeded.records.len(),
        seed_time: seeded.seed_time,
        ours,
        outbox_rows,
        plain,
        plain_rowid,
        plain_load_time,
    })
}

/// Each pending record's change number: the order its transaction was committed in.
fn outbox_seqs(seeded: &Seeded) -> Result<HashMap<Uuid, u64>> {
    let conn = db::open(&seeded.path(), Durability::Normal)?;
    let mut stmt = conn.prepare("SELECT record_id, change_seq FROM outbox")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))?;
    let mut seqs = HashMap::new();
    for row in rows {
        let (id, seq) = row?;
        seqs.insert(Uuid::from_slice(&id)?, u64::try_from(seq)?);
    }
    Ok(seqs)
}

/// Bulk-loads `rows` into a new plain store, [`PLAIN_BATCH`] per transaction; its
/// checkpointed size and the load time.
fn plain_file(rows: &[(Uuid, &str)], layout: Layout) -> Result<(FileSize, Duration)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("plain.db");
    let mut plain = PlainStore::create(&path, Durability::Normal, layout)?;
    let start = Instant::now();
    plain.load(rows, PLAIN_BATCH)?;
    let elapsed = start.elapsed();
    drop(plain);
    Ok((db::checkpointed_size(&path)?, elapsed))
}
