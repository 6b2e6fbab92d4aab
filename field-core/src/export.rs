//! The whole replica as canonical JSON: the same records give the same bytes, on any device
//! or on the server, whatever order they were merged in. Two replicas have converged exactly
//! when their exports are byte-identical.
//!
//! Layout: one record per line (so a diff points at a record), kinds in a fixed order,
//! records by id, object keys sorted; nothing device-local (outbox, device number) is in it.

use std::io::Write;

use cageur_model::RecordKind;
use cageur_protocol::RecordState;
use serde_json::Value as Json;

use crate::error::{FieldError, Result};
use crate::replica::Replica;
use crate::replica::read_view;
use crate::store::tables::{self, uuid_from_blob};

/// The export format's name and version, its first line.
pub const EXPORT_FORMAT: &str = "cageur-export/1";

/// The JSON key of each kind's list.
fn section(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Household => "households",
        RecordKind::Person => "persons",
        RecordKind::Visit => "visits",
        RecordKind::Referral => "referrals",
        RecordKind::FollowUp => "followups",
    }
}

impl Replica {
    /// Writes the canonical export to `out`, record by record (a puskesmas's replica does not
    /// have to fit in memory as one JSON value).
    pub fn export_to(&self, out: &mut dyn Write) -> Result<()> {
        let io = |e: std::io::Error| {
            FieldError::Storage(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
        };
        writeln!(out, "{{\"format\":\"{EXPORT_FORMAT}\",").map_err(io)?;
        for (k, kind) in RecordKind::ALL.iter().enumerate() {
            writeln!(out, "\"{}\":[", section(*kind)).map_err(io)?;
            let sql = format!("SELECT id, state FROM {} ORDER BY id", tables::table(*kind));
            let mut stmt = self.conn.prepare(&sql)?;
            let mut rows = stmt.query([])?;
            let mut first = true;
            while let Some(row) = rows.next()? {
                let (id, bytes): (Vec<u8>, Vec<u8>) = (row.get(0)?, row.get(1)?);
                let Some(id) = uuid_from_blob(&id) else {
                    continue;
                };
                let state = RecordState::decode(&bytes).map_err(|e| FieldError::Damaged {
                    kind: *kind,
                    id,
                    reason: e.to_string(),
                })?;
                let mut record = serde_json::to_value(read_view(*kind, id, &state, &self.forms))
                    .expect("views serialize to JSON");
                if let Json::Object(obj) = &mut record {
                    obj.remove("kind");
                }
                let line = serde_json::to_string(&record).expect("JSON values serialize");
                let sep = if first { "" } else { ",\n" };
                write!(out, "{sep}{line}").map_err(io)?;
                first = false;
            }
            let end = if k + 1 == RecordKind::ALL.len() {
                "]"
            } else {
                "],"
            };
            writeln!(out, "{}{end}", if first { "" } else { "\n" }).map_err(io)?;
        }
        writeln!(out, "}}").map_err(io)?;
        Ok(())
    }

    /// The canonical export as a string.
    pub fn export(&self) -> Result<String> {
        let mut out = Vec::new();
        self.export_to(&mut out)?;
        Ok(String::from_utf8(out).expect("JSON is UTF-8"))
    }
}
