//! A whole puskesmas's device database, made by field-core's own seeder, with every record
//! read back as its stored state and as plain entity JSON: parts `size` and `records` then
//! measure exactly the same data on both sides.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use field_core::model::RecordKind;
use field_core::seed::{SeedOptions, seed};
use tempfile::TempDir;
use uuid::Uuid;

use crate::{Result, family, plain, visit};

/// One seeded record.
#[derive(Debug, Clone)]
pub struct SeededRecord {
    pub kind: RecordKind,
    pub id: Uuid,
    /// The stored state: the envelope of `RecordState::encode`.
    pub state: Vec<u8>,
    /// The entity as plain JSON (see [`plain::entity_json`]).
    pub json: String,
}

/// A seeded device database, closed, in a temp dir of its own.
#[derive(Debug)]
pub struct Seeded {
    dir: TempDir,
    pub households: u32,
    /// How long the seeder took, committing included.
    pub seed_time: Duration,
    pub records: Vec<SeededRecord>,
}

const FILE: &str = "device.db";

impl Seeded {
    /// Seeds `households` households (about 4 people and 8 visits each) with a fixed seed.
    pub fn build(households: u32) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut replica = visit::new_replica(&dir.path().join(FILE))?;
        let options = SeedOptions {
            households,
            seed: 1,
            puskesmas: family::PUSKESMAS.into(),
            team: family::TEAM.into(),
            today: family::now().date_naive(),
        };
        let step = (households / 10).max(1);
        let start = Instant::now();
        seed(&mut replica, &options, &mut |done| {
            if done % step == 0 {
                eprintln!("  seeding: {done} of {households} households");
            }
        })?;
        let seed_time = start.elapsed();

        let records = replica
            .all_states()?
            .into_iter()
            .map(|s| {
                let json = plain::entity_json(s.kind, replica.get(s.id)?.record);
                Ok(SeededRecord {
                    kind: s.kind,
                    id: s.id,
                    state: s.state,
                    json,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            dir,
            households,
            seed_time,
            records,
        })
    }

    /// The database file (no connection to it is open).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join(FILE)
    }
}
