//! Deriving a record's query columns and sending priority from its state, and saving both.

use cageur_model::forms::FormRegistry;
use cageur_model::visit::StoredScreening;
use cageur_model::{
    FieldKey, FieldMap, RecordKind, Urgency, Value, VisitOutcome, followup, household,
    name::search_key, person, referral, visit,
};
use cageur_protocol::{RecordState, Summary, policy};
use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use crate::error::Result;
use crate::store::outbox::Priority;
use crate::store::tables::{self, Columns, Common, Write, Writes};

/// What a record's state says about it, for the tables and the outbox.
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    pub common: Common,
    pub columns: Columns,
    pub priority: Priority,
    /// The tombstone is set.
    pub deleted: bool,
}

fn id_at(fields: &FieldMap, key: u32) -> Option<Uuid> {
    fields.get(&FieldKey(key)).and_then(Value::as_id)
}

fn int_at(fields: &FieldMap, key: u32) -> Option<i64> {
    fields.get(&FieldKey(key)).and_then(Value::as_int)
}

fn text_at(fields: &FieldMap, key: u32) -> Option<String> {
    fields
        .get(&FieldKey(key))
        .and_then(Value::as_text)
        .map(str::to_owned)
}

/// The visit's day in the offset it was recorded in, as days since 1970-01-01.
fn local_day(value: Option<&Value>) -> Option<i32> {
    let Some(Value::Time(ms, offset_min)) = value else {
        return None;
    };
    let local_ms = ms.checked_add(i64::from(*offset_min) * 60_000)?;
    i32::try_from(local_ms.div_euclid(86_400_000)).ok()
}

/// Derives the columns of a record of `kind` from its state's summary.
pub(crate) fn derive(kind: RecordKind, summary: &Summary, forms: &FormRegistry) -> Derived {
    let fields = &summary.shown;
    let merged_into = fields.get(&FieldKey::MERGED_INTO).and_then(Value::as_id);
    let deleted = summary.is_deleted();
    let common = Common {
        live: !deleted && merged_into.is_none(),
        merged_into,
        conflicts: u32::try_from(summary.conflicts).unwrap_or(u32::MAX),
        removed: deleted,
    };
    let mut priority = Priority::Routine;
    let columns = match kind {
        RecordKind::Household => Columns::Household {
            kk: int_at(fields, household::field::KK),
            puskesmas: text_at(fields, household::field::PUSKESMAS),
            kelurahan: text_at(fields, 15).map(|k| search_key(&k)),
            rw: int_at(fields, 14),
            rt: int_at(fields, 13),
        },
        RecordKind::Person => Columns::Person {
            household: id_at(fields, person::field::HOUSEHOLD),
            nik: int_at(fields, person::field::NIK),
            name_key: text_at(fields, person::field::NAME).map(|n| search_key(&n)),
            sex: int_at(fields, person::field::SEX),
            born: match fields.get(&FieldKey(person::field::BIRTH_DATE)) {
                Some(Value::Date(d)) => Some(*d),
                _ => None,
            },
        },
        RecordKind::Visit => {
            let screenings = cageur_model::Visit::screenings_from_fields(fields);
            let (flagged, urgent) = visit_flags(&screenings, forms);
            priority = if urgent {
                Priority::Urgent
            } else if flagged {
                Priority::Clinical
            } else {
                Priority::Routine
            };
            Columns::Visit {
                household: id_at(fields, visit::field::HOUSEHOLD),
                visited_on: local_day(fields.get(&FieldKey(visit::field::VISITED_AT))),
                seen: int_at(fields, visit::field::OUTCOME)
                    == Some(i64::from(VisitOutcome::Visited.code())),
                flagged,
                urgent,
            }
        }
        RecordKind::Referral => {
            priority = Priority::Urgent;
            let urgency = int_at(fields, 17);
            let ambulance = fields.get(&FieldKey(18)).and_then(Value::as_bool) == Some(true);
            Columns::Referral {
                person: id_at(fields, referral::field::PERSON),
                household: id_at(fields, referral::field::HOUSEHOLD),
                status: int_at(fields, referral::field::STATUS),
                urgent: ambulance
                    || urgency.is_some_and(|u| u != i64::from(Urgency::Routine.code())),
            }
        }
        RecordKind::FollowUp => {
            priority = Priority::Clinical;
            Columns::FollowUp {
                person: id_at(fields, followup::field::PERSON),
                household: id_at(fields, followup::field::HOUSEHOLD),
                due: match fields.get(&FieldKey(followup::field::DUE)) {
                    Some(Value::Date(d)) => Some(*d),
                    _ => None,
                },
                done: fields
                    .get(&FieldKey(followup::field::DONE_AT))
                    .is_some_and(|v| !v.is_null()),
            }
        }
    };
    Derived {
        common,
        columns,
        priority,
        deleted,
    }
}

/// Whether any screening raised a flag, and whether any raised an urgent one.
pub(crate) fn visit_flags(screenings: &[StoredScreening], forms: &FormRegistry) -> (bool, bool) {
    let mut flagged = false;
    let mut urgent = false;
    // The flags' names are not needed here: this runs for every visit a bootstrap brings.
    for s in screenings {
        let Some(form) = forms.get(&s.form.id, s.form.version) else {
            continue;
        };
        for flag in form.flags(&s.values) {
            flagged = true;
            urgent |= flag.urgent;
        }
    }
    (flagged, urgent)
}

/// Saves a record's state with its derived columns.
pub(crate) fn save(
    conn: &Connection,
    kind: RecordKind,
    id: Uuid,
    state: &RecordState,
    forms: &FormRegistry,
) -> Result<Derived> {
    let mut derived = derive(kind, &state.summary(&policy(kind)), forms);
    tables::write(
        conn,
        id,
        &state.encode(),
        &derived.common,
        &derived.columns,
        Write::Replace,
    )?;
    derived.common.live = settle_merge_cycle(conn, kind, id, &derived)?;
    Ok(derived)
}

/// Derives every record's query columns again from its stored state, and stores them beside
/// the state, untouched. A schema migration that adds a column runs this in its transaction.
pub(crate) fn rederive_all(conn: &Connection, forms: &FormRegistry) -> Result<()> {
    // Ids first: rows are rewritten while the table would otherwise be read.
    let ids: Vec<(u8, Vec<u8>)> = conn
        .prepare("SELECT kind, id FROM records")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (kind, id) in ids {
        let (Some(kind), Some(id)) = (RecordKind::from_code(kind), tables::uuid_from_blob(&id))
        else {
            continue;
        };
        if let Some(bytes) = tables::load_bytes(conn, kind, id)? {
            store_as_is(conn, kind, id, &bytes, forms)?;
        }
    }
    Ok(())
}

/// Stores a record's state bytes as they are (replacing what is stored), with its columns
/// derived from them.
pub(crate) fn store_as_is(
    conn: &Connection,
    kind: RecordKind,
    id: Uuid,
    bytes: &[u8],
    forms: &FormRegistry,
) -> Result<()> {
    let summary = cageur_protocol::DecodedState::read(bytes)
        .map_err(|e| crate::error::FieldError::Damaged {
            kind,
            id,
            reason: e.to_string(),
        })?
        .into_summary(&policy(kind));
    let derived = derive(kind, &summary, forms);
    tables::write(
        conn,
        id,
        bytes,
        &derived.common,
        &derived.columns,
        Write::Replace,
    )?;
    settle_merge_cycle(conn, kind, id, &derived)?;
    Ok(())
}

/// Inserts a record that is not here yet, from its envelope bytes as they came and the
/// columns derived from them; `false` (and nothing written) if the record is here after all.
pub(crate) fn insert_new(
    writes: &mut Writes<'_>,
    kind: RecordKind,
    id: Uuid,
    state: &[u8],
    derived: &Derived,
) -> Result<bool> {
    let inserted = writes.write(id, state, &derived.common, &derived.columns, Write::New)?;
    if inserted {
        settle_merge_cycle(writes.conn(), kind, id, derived)?;
    }
    Ok(inserted)
}

/// Whether the record just written stays live. When two records were merged into each
/// other concurrently (a cycle of two), the one with the smaller id stays live, on every
/// replica alike.
fn settle_merge_cycle(
    conn: &Connection,
    kind: RecordKind,
    id: Uuid,
    derived: &Derived,
) -> Result<bool> {
    let Some(target) = derived.common.merged_into else {
        return Ok(derived.common.live);
    };
    let table = tables::table(kind);
    let back: Option<Option<Vec<u8>>> = conn
        .prepare_cached(&format!("SELECT merged_into FROM {table} WHERE id = ?1"))?
        .query_row([target.as_bytes()], |r| r.get(0))
        .optional()?;
    if back.flatten().as_deref() != Some(id.as_bytes().as_slice()) {
        return Ok(derived.common.live);
    }
    let keeper = id.min(target);
    conn.prepare_cached("UPDATE records SET live = (id = ?1) WHERE id IN (?2, ?3)")?
        .execute([keeper.as_bytes(), id.as_bytes(), target.as_bytes()])?;
    Ok(keeper == id && !derived.deleted)
}
