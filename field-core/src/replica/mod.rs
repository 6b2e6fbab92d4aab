//! [`Replica`]: the app-facing API over one device database.
//!
//! Every user action is one SQLite transaction: the records it changes, their query columns
//! and their outbox entries are committed together or not at all. Input is validated in full
//! before the transaction starts writing, so an error changes nothing.

mod conflicts;
mod duplicates;
pub(crate) mod index;
#[cfg(test)]
mod query_plans;
mod read;
mod replicate;
mod write;

use std::path::Path;

use cageur_model::forms::{FormDefinition, FormRegistry};
use cageur_model::{CheckContext, Role};
use cageur_protocol::{Author, DeviceNumber};
use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::{Clock, SystemClock};
use crate::error::{FieldError, Result};
use crate::store::{self, DatabaseKey, Durability};

pub use conflicts::{Candidate, ConflictView, Resolution, conflict_views};
pub use duplicates::DuplicateGroup;
pub(crate) use read::view as read_view;
pub use read::{
    FollowUpItem, HouseholdItem, RecordView, ReferralItem, SearchHit, SearchQuery, Worklist,
    WorklistFilter,
};
pub(crate) use replicate::{Lookups, Received, decode_all, merge_decoded};
pub use replicate::{MergeReport, RemoteRecord};
pub use write::{NewVisit, RecordedVisit};

/// This device's identity in the replicated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device's CRDT actor number, unique among all devices (assigned at enrollment).
    pub number: DeviceNumber,
    /// The puskesmas whose records the device holds.
    pub puskesmas: Option<String>,
    /// The team that uses the device, the default team of its visits.
    pub team: Option<String>,
}

/// A health worker of the team.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Worker {
    /// The worker's number in the health office's roster.
    pub id: u32,
    /// The name shown in the app; [`Replica::set_worker`] trims it and requires 1 to 100
    /// characters.
    pub name: String,
    /// The worker's role in the team, stamped on every change they make.
    pub role: Role,
}

/// How to open a replica.
pub struct OpenOptions {
    /// How hard commits wait for the disk; [`Durability::Full`] by default.
    pub durability: Durability,
    /// Where "now" comes from for plausibility checks and defaults, never for ordering
    /// changes; the device clock by default.
    pub clock: Box<dyn Clock>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Full,
            clock: Box::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for OpenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenOptions")
            .field("durability", &self.durability)
            .finish()
    }
}

/// One device's replica: an encrypted SQLite file of CRDT records.
pub struct Replica {
    pub(crate) conn: Connection,
    device: DeviceInfo,
    pub(crate) forms: FormRegistry,
    clock: Box<dyn Clock>,
    /// Who is working now (mirrors `current_worker`, read on every change).
    pub(crate) worker: Option<Worker>,
    /// The change number the next user action takes; advanced only when one commits.
    pub(crate) next_change_seq: i64,
    /// New records' ids.
    pub(crate) ids: Box<dyn crate::IdSource>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// Creates the replica of device `device` in a new (or empty) database file.
    pub fn init(
        path: &Path,
        key: &DatabaseKey,
        device: DeviceInfo,
        options: OpenOptions,
    ) -> Result<Self> {
        let conn = store::open(path, key, options.durability, &rederive)?;
        if let Some(existing) = read_device(&conn)? {
            return Err(FieldError::AlreadyInitialised(existing.number));
        }
        conn.execute(
            "INSERT INTO device (singleton, device_number, puskesmas, team) VALUES (1, ?1, ?2, ?3)",
            params![device.number, device.puskesmas, device.team],
        )?;
        Self::from_conn(conn, options.clock)
    }

    /// Opens an initialised replica.
    pub fn open(path: &Path, key: &DatabaseKey, options: OpenOptions) -> Result<Self> {
        let conn = store::open(path, key, options.durability, &rederive)?;
        Self::from_conn(conn, options.clock)
    }

    fn from_conn(conn: Connection, clock: Box<dyn Clock>) -> Result<Self> {
        let device = read_device(&conn)?.ok_or(FieldError::NotInitialised)?;
        let forms = load_forms(&conn)?;
        let worker = read_worker(&conn)?;
        let next_change_seq = store::outbox::first_free_change_seq(&conn)?;
        Ok(Self {
            conn,
            device,
            forms,
            clock,
            worker,
            next_change_seq,
            ids: Box::new(crate::RandomIds),
        })
    }

    /// Takes new records' ids from `ids` (the simulator's seeded stream) from now on.
    pub fn set_id_source(&mut self, ids: Box<dyn crate::IdSource>) {
        self.ids = ids;
    }

    /// This device's identity.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// The screening forms this device knows: the built-in ones and those published since.
    pub fn forms(&self) -> &FormRegistry {
        &self.forms
    }

    /// Sets how hard commits wait for the disk (see [`Durability`]).
    pub fn set_durability(&self, durability: Durability) -> Result<()> {
        store::set_durability(&self.conn, durability)
    }

    /// Adds a form version published by the health office; it is used for new visits, while
    /// old visits keep the version they were recorded with.
    pub fn add_form(&mut self, definition: FormDefinition) -> Result<()> {
        self.forms.add(definition.clone())?;
        let json = serde_json::to_string(&definition).expect("form definitions serialize");
        self.conn.execute(
            "INSERT OR IGNORE INTO forms (form_id, version, definition) VALUES (?1, ?2, ?3)",
            params![definition.id, definition.version, json],
        )?;
        Ok(())
    }

    /// Records who is working on the device now; their changes are stamped with them.
    pub fn set_worker(&mut self, worker: &Worker) -> Result<()> {
        let name = worker.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(cageur_model::ValidationError::new(
                "name",
                cageur_model::Rule::Range,
                "must be 1 to 100 characters",
            )
            .into());
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO workers (worker, name, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (worker) DO UPDATE SET name = excluded.name, role = excluded.role",
            params![worker.id, name, worker.role.code()],
        )?;
        tx.execute(
            "INSERT OR REPLACE INTO current_worker (singleton, worker) VALUES (1, ?1)",
            [worker.id],
        )?;
        tx.commit()?;
        self.worker = Some(Worker {
            id: worker.id,
            name: name.to_owned(),
            role: worker.role,
        });
        Ok(())
    }

    /// The health worker working now, if one is set.
    pub fn current_worker(&self) -> Result<Option<Worker>> {
        Ok(self.worker.clone())
    }

    /// The author of a change made now.
    fn author(&self) -> Result<Author> {
        let worker = self.worker.as_ref().ok_or(FieldError::NoWorker)?;
        Ok(Author {
            device: self.device.number,
            worker: worker.id,
            role: worker.role,
        })
    }

    fn check_context(&self) -> CheckContext {
        CheckContext {
            today: self.clock.now().date_naive(),
        }
    }

    /// Now, by the device's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.clock.now()
    }

    /// How many records wait to be sent to the server.
    pub fn pending_changes(&self) -> Result<u64> {
        store::outbox::pending(&self.conn)
    }

    /// Pending records by sending priority: urgent, clinical, routine.
    pub fn pending_by_priority(&self) -> Result<[u64; 3]> {
        store::outbox::pending_by_priority(&self.conn)
    }
}

fn read_device(conn: &Connection) -> Result<Option<DeviceInfo>> {
    Ok(conn
        .query_row(
            "SELECT device_number, puskesmas, team FROM device",
            [],
            |r| {
                Ok(DeviceInfo {
                    number: r.get(0)?,
                    puskesmas: r.get(1)?,
                    team: r.get(2)?,
                })
            },
        )
        .optional()?)
}

fn read_worker(conn: &Connection) -> Result<Option<Worker>> {
    let row = conn
        .query_row(
            "SELECT w.worker, w.name, w.role FROM current_worker c JOIN workers w USING (worker)",
            [],
            |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u8>(2)?,
                ))
            },
        )
        .optional()?;
    Ok(row.and_then(|(id, name, role)| {
        Some(Worker {
            id,
            name,
            role: Role::from_code(role)?,
        })
    }))
}

/// Derives every record's query columns again, with the forms this replica knows (a
/// visit's flags depend on them): what a migration that adds a column runs.
fn rederive(conn: &rusqlite::Transaction<'_>) -> Result<()> {
    index::rederive_all(conn, &load_forms(conn)?)
}

fn load_forms(conn: &Connection) -> Result<FormRegistry> {
    let mut forms = FormRegistry::with_builtins();
    let mut stmt = conn.prepare("SELECT definition FROM forms ORDER BY form_id, version")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for row in rows {
        // A stored definition was checked when it was added; one that no longer parses is
        // skipped rather than making the whole replica unreadable.
        if let Ok(def) = serde_json::from_str::<FormDefinition>(&row?) {
            let _ = forms.add(def);
        }
    }
    Ok(forms)
}
