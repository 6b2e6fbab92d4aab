//! Part `records`: what one record costs in bytes as a stored CRDT state (the versioned
//! envelope of `cageur_protocol`), raw and zstd-compressed, against the same entity as plain
//! JSON, raw and compressed. Compressed sizes tell what a sync message or a backup would
//! carry; raw sizes what a database row holds.

use field_core::model::RecordKind;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::seeded::{Seeded, SeededRecord};
use crate::stats::median_index;
use crate::{Result, family, plain, visit};

/// zstd level of every compressed size: the library's default, a fair middle.
pub const ZSTD_LEVEL: i32 = 3;

/// One record's sizes in bytes.
#[derive(Debug, Clone)]
pub struct RecordBytes {
    pub label: String,
    pub envelope: usize,
    pub envelope_zstd: usize,
    pub json: usize,
    pub json_zstd: usize,
}

impl RecordBytes {
    pub fn measure(label: impl Into<String>, state: &[u8], json: &str) -> Result<Self> {
        Ok(Self {
            label: label.into(),
            envelope: state.len(),
            envelope_zstd: zstd::bulk::compress(state, ZSTD_LEVEL)?.len(),
            json: json.len(),
            json_zstd: zstd::bulk::compress(json.as_bytes(), ZSTD_LEVEL)?.len(),
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "record": self.label, "envelope": self.envelope, "envelope_zstd": self.envelope_zstd,
            "json": self.json, "json_zstd": self.json_zstd,
        })
    }
}

/// Mean sizes of one kind over the seeded database.
#[derive(Debug, Clone)]
pub struct KindMeans {
    pub kind: RecordKind,
    pub count: usize,
    pub envelope: f64,
    pub json: f64,
}

#[derive(Debug, Clone)]
pub struct RecordsReport {
    pub samples: Vec<RecordBytes>,
    pub kinds: Vec<KindMeans>,
}

impl RecordsReport {
    pub fn print(&self) {
        println!(
            "records: bytes of one record, stored CRDT envelope vs plain JSON (zstd level {ZSTD_LEVEL})"
        );
        println!(
            "  {:<30} {:>9} {:>9} {:>9} {:>9} {:>10}",
            "record", "envelope", "env+zstd", "json", "json+zstd", "env/json"
        );
        for s in &self.samples {
            println!(
                "  {:<30} {:>9} {:>9} {:>9} {:>9} {:>9.2}x",
                s.label,
                s.envelope,
                s.envelope_zstd,
                s.json,
                s.json_zstd,
                s.envelope as f64 / s.json as f64
            );
        }
        println!("  mean bytes per kind over the seeded database:");
        println!(
            "  {:<30} {:>9} {:>9} {:>9} {:>10}",
            "kind", "records", "envelope", "json", "env/json"
        );
        for k in &self.kinds {
            println!(
                "  {:<30} {:>9} {:>9.0} {:>9.0} {:>9.2}x",
                k.kind.to_string(),
                k.count,
                k.envelope,
                k.json,
                k.envelope / k.json
            );
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "zstd_level": ZSTD_LEVEL,
            "samples": self.samples.iter().map(RecordBytes::to_json).collect::<Vec<_>>(),
            "mean_per_kind": self.kinds.iter().map(|k| json!({
                "kind": k.kind.to_string(), "records": k.count,
                "envelope": k.envelope, "json": k.json,
            })).collect::<Vec<_>>(),
        })
    }
}

pub fn run(seeded: &Seeded) -> Result<RecordsReport> {
    let mut samples = family_visit()?;
    for kind in [RecordKind::Household, RecordKind::Visit] {
        let of_kind: Vec<&SeededRecord> =
            seeded.records.iter().filter(|r| r.kind == kind).collect();
        if let Some(i) = median_index(&of_kind, |r| r.state.len()) {
            let r = of_kind[i];
            samples.push(RecordBytes::measure(
                format!("{kind} (seeded, median)"),
                &r.state,
                &r.json,
            )?);
        }
    }
    let kinds = RecordKind::ALL
        .iter()
        .filter_map(|&kind| {
            let of_kind: Vec<&SeededRecord> =
                seeded.records.iter().filter(|r| r.kind == kind).collect();
            let count = of_kind.len();
            (count > 0).then(|| KindMeans {
                kind,
                count,
                envelope: of_kind.iter().map(|r| r.state.len()).sum::<usize>() as f64
                    / count as f64,
                json: of_kind.iter().map(|r| r.json.len()).sum::<usize>() as f64 / count as f64,
            })
        })
        .collect();
    Ok(RecordsReport { samples, kinds })
}

/// The household, visit and referral of part `visit`, recorded in a replica of their own.
fn family_visit() -> Result<Vec<RecordBytes>> {
    let dir = tempfile::tempdir()?;
    let mut replica = visit::new_replica(&dir.path().join("device.db"))?;
    let household = replica.add_household(&family::household(0)?)?;
    let people = family::members(0, household)?
        .iter()
        .map(|p| replica.add_person(p))
        .collect::<field_core::Result<Vec<_>>>()?;
    let recorded = replica.record_visit(family::visit(household, &people)?)?;
    let states = replica.all_states()?;
    let sample = |label: &str, id: Uuid| -> Result<RecordBytes> {
        let state = states
            .iter()
            .find(|s| s.id == id)
            .ok_or("a recorded record is in all_states")?;
        let json = plain::entity_json(state.kind, replica.get(id)?.record);
        RecordBytes::measure(label, &state.state, &json)
    };
    Ok(vec![
        sample("household (visit part)", household.0)?,
        sample("visit (visit part, 9 screenings)", recorded.visit.0)?,
        sample("referral (visit part)", recorded.referrals[0].0)?,
    ])
}
