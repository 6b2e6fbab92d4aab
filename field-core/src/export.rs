//! The whole replica as canonical JSON: the same records give the same bytes, on any device
//! or on the server, whatever order they were merged in. Two replicas have converged exactly
//! when their exports are byte-identical.
//!
//! Layout: one record per line (so a diff points at a record), kinds in a fixed order,
//! records by id, object keys sorted; nothing device-local (outbox, device number) is in it.

use std::io::Write;

use cageur_model::RecordKind;
use cageur_model::forms::FormRegistry;
use cageur_protocol::RecordState;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::error::{FieldError, Result};
use crate::replica::Replica;
use crate::replica::read_view;
use crate::store::tables;

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

/// Writes the canonical export of the records `rows` yields for each kind, in id order: how a
/// device exports its replica and the server a puskesmas's scope, byte for byte alike.
///
/// `rows(kind, emit)` must call `emit` once per record of `kind`, in ascending id order.
pub fn write_export<F>(out: &mut dyn Write, forms: &FormRegistry, mut rows: F) -> Result<()>
where
    F: FnMut(RecordKind, &mut dyn FnMut(Uuid, &[u8]) -> Result<()>) -> Result<()>,
{
    writeln!(out, "{{\"format\":\"{EXPORT_FORMAT}\",").map_err(io)?;
    for (k, kind) in RecordKind::ALL.iter().enumerate() {
        writeln!(out, "\"{}\":[", section(*kind)).map_err(io)?;
        let mut first = true;
        rows(*kind, &mut |id, bytes| {
            let state = RecordState::decode(bytes).map_err(|e| FieldError::Damaged {
                kind: *kind,
                id,
                reason: e.to_string(),
            })?;
            let mut record = serde_json::to_value(read_view(*kind, id, &state, forms))
                .expect("views serialize to JSON");
            if let Json::Object(obj) = &mut record {
                obj.remove("kind");
            }
            let line = serde_json::to_string(&record).expect("JSON values serialize");
            let sep = if first { "" } else { ",\n" };
            write!(out, "{sep}{line}").map_err(io)?;
            first = false;
            Ok(())
        })?;
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

fn io(e: std::io::Error) -> FieldError {
    FieldError::Io(e)
}

impl Replica {
    /// Writes the canonical export to `out`, record by record (a puskesmas's replica does not
    /// have to fit in memory as one JSON value).
    pub fn export_to(&self, out: &mut dyn Write) -> Result<()> {
        write_export(out, &self.forms, |kind, emit| {
            tables::each_of_kind(&self.conn, kind, |id, bytes| emit(id, &bytes))
        })
    }

    /// The canonical export as a string.
    pub fn export(&self) -> Result<String> {
        let mut out = Vec::new();
        self.export_to(&mut out)?;
        Ok(String::from_utf8(out).expect("JSON is UTF-8"))
    }
}
