//! The baseline store: each record as one row of plain JSON keyed by its 16-byte id, in an
//! SQLCipher file opened like field-core's. It is what an app without CRDTs, query columns or
//! an outbox would keep, so the ratio against it is the price of those.

use std::path::Path;

use field_core::Durability;
use field_core::model::RecordKind;
use rusqlite::{Connection, params};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::{Result, db};

/// How the table of JSON rows is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `WITHOUT ROWID`, clustered on the id, as field-core's own tables are.
    WithoutRowid,
    /// An ordinary rowid table with an index on the id: SQLite's advice for rows larger than
    /// about 1/20 of a page, since an index b-tree keeps large rows less compactly (fewer
    /// rows fit a page before they spill to overflow pages).
    Rowid,
}

/// A database holding one table of JSON rows.
#[derive(Debug)]
pub struct PlainStore {
    conn: Connection,
}

impl PlainStore {
    /// Creates the store in a new file.
    pub fn create(path: &Path, durability: Durability, layout: Layout) -> Result<Self> {
        let conn = db::open(path, durability)?;
        conn.execute_batch(match layout {
            Layout::WithoutRowid => {
                "CREATE TABLE records (id BLOB PRIMARY KEY, json TEXT NOT NULL) WITHOUT ROWID"
            }
            Layout::Rowid => "CREATE TABLE records (id BLOB PRIMARY KEY, json TEXT NOT NULL)",
        })?;
        Ok(Self { conn })
    }

    pub fn set_durability(&self, durability: Durability) -> Result<()> {
        Ok(db::set_durability(&self.conn, durability)?)
    }

    /// Inserts `rows` in one transaction: one user action.
    pub fn insert(&mut self, rows: &[(Uuid, &str)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("INSERT INTO records (id, json) VALUES (?1, ?2)")?;
            for (id, json) in rows {
                stmt.execute(params![id.as_bytes(), json])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Bulk-loads `rows`, `per_tx` rows to a transaction.
    pub fn load(&mut self, rows: &[(Uuid, &str)], per_tx: usize) -> Result<()> {
        assert!(per_tx > 0);
        for chunk in rows.chunks(per_tx) {
            self.insert(chunk)?;
        }
        Ok(())
    }

    pub fn rows(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM records", [], |r| r.get(0))?;
        Ok(u64::try_from(n)?)
    }
}

/// The entity JSON of a record as the app entered it, from a record view's `record`: without
/// what field-core derives on reading (a screening's flags, a household's health index), which
/// a plain store would not keep either.
pub fn entity_json(kind: RecordKind, mut record: Json) -> String {
    match kind {
        RecordKind::Visit => {
            if let Some(Json::Array(screenings)) = record.get_mut("screenings") {
                for s in screenings.iter_mut().filter_map(Json::as_object_mut) {
                    s.remove("flags");
                }
            }
        }
        RecordKind::Household => {
            if let Some(obj) = record.as_object_mut() {
                obj.remove("health_index");
            }
        }
        _ => {}
    }
    serde_json::to_string(&record).expect("JSON values serialize")
}
