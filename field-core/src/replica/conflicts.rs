//! Same-field conflicts: listing them with who wrote each value, and resolving them.
//!
//! A resolution is an ordinary write that has seen every concurrent value, so it syncs like
//! any edit and ends the conflict on every replica that receives it.

use cageur_model::fields::to_json;
use cageur_model::forms::FormRegistry;
use cageur_model::{
    Entity, FieldKey, FieldMap, FollowUp, Household, Person, RecordKind, Referral, Role, Rule,
    ValidationError, Value, Visit,
};
use cageur_protocol::{RecordState, policy};
use serde::Serialize;
use serde_json::Value as Json;
use uuid::Uuid;

use super::Replica;
use super::write::write_records_resolving;
use crate::error::{FieldError, Result};
use crate::store::tables::{self, uuid_from_blob};

/// A field whose concurrent values wait for a person.
#[derive(Debug, Clone, Serialize)]
pub struct ConflictView {
    /// The kind of the record in conflict.
    pub kind: RecordKind,
    /// The record in conflict; pass it to [`Replica::resolve`] with `field`.
    pub id: Uuid,
    /// The field's path in the record's JSON (`address.street`, `screenings[0].values.weight`).
    pub field: String,
    /// The concurrent values, the one shown first.
    pub candidates: Vec<Candidate>,
}

/// One of a conflict's values and who wrote it.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The value as it would appear in the record's JSON.
    pub value: Json,
    /// The device it was written on.
    pub device: u32,
    /// The roster number of the health worker who wrote it.
    pub worker: u32,
    /// The writer's role, `None` if its stored code is unknown to this version.
    pub role: Option<Role>,
}

/// How a person settles a conflict.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// Keep one of the candidates (0 is the one shown).
    Pick(usize),
    /// Write another value, checked like any edit.
    Value(Json),
}

impl Replica {
    /// Every unresolved conflict on this device.
    pub fn conflicts(&self) -> Result<Vec<ConflictView>> {
        let mut out = Vec::new();
        for kind in RecordKind::ALL {
            let sql = format!(
                "SELECT id, state FROM {} WHERE conflicts > 0 ORDER BY id",
                tables::table(*kind)
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for row in rows {
                let (id, bytes) = row?;
                let Some(id) = uuid_from_blob(&id) else {
                    continue;
                };
                let state = RecordState::decode(&bytes).map_err(|e| FieldError::Damaged {
                    kind: *kind,
                    id,
                    reason: e.to_string(),
                })?;
                out.extend(conflict_views(*kind, id, &state, &self.forms));
            }
        }
        Ok(out)
    }

    /// Resolves the conflict on `field` of record `id`.
    pub fn resolve(&mut self, id: Uuid, field: &str, resolution: Resolution) -> Result<()> {
        let kind = tables::kind_of(&self.conn, id)?.ok_or(FieldError::NotFound {
            kind: RecordKind::Household,
            id,
        })?;
        let state =
            tables::load(&self.conn, kind, id)?.ok_or_else(|| FieldError::not_found(kind, id))?;
        let fields = state.shown(&policy(kind));
        let conflict = state
            .conflicts(&policy(kind))
            .into_iter()
            .find(|c| field_name(kind, c.field, &fields) == field)
            .ok_or_else(|| {
                ValidationError::new(
                    "field",
                    Rule::Unknown,
                    format!("{field} has no conflict on this record"),
                )
            })?;
        let value = match resolution {
            Resolution::Pick(i) => {
                conflict
                    .values
                    .get(i)
                    .map(|c| c.value.clone())
                    .ok_or_else(|| {
                        ValidationError::new(
                            "pick",
                            Rule::Range,
                            format!("must be below {}", conflict.values.len()),
                        )
                    })?
            }
            Resolution::Value(json) => self.checked_value(kind, conflict.field, &fields, json)?,
        };
        let author = self.author()?;
        let seq = self.next_change_seq;
        let tx = self.conn.transaction()?;
        write_records_resolving(
            &tx,
            &self.forms,
            author,
            seq,
            (kind, id),
            conflict.field,
            value,
        )?;
        tx.commit()?;
        self.next_change_seq += 1;
        Ok(())
    }

    /// A value typed by a person for one field, checked with the rules of its record.
    fn checked_value(
        &self,
        kind: RecordKind,
        key: FieldKey,
        fields: &FieldMap,
        value: Json,
    ) -> Result<Value> {
        match kind {
            RecordKind::Household => through::<Household>(self, fields, key, value),
            RecordKind::Person => through::<Person>(self, fields, key, value),
            RecordKind::Referral => through::<Referral>(self, fields, key, value),
            RecordKind::FollowUp => through::<FollowUp>(self, fields, key, value),
            RecordKind::Visit => self.checked_screening_value(fields, key, value),
        }
    }

    fn checked_screening_value(
        &self,
        fields: &FieldMap,
        key: FieldKey,
        value: Json,
    ) -> Result<Value> {
        let (slot, sub) = ((key.0 >> 8) as usize, key.0 & 0xff);
        let screenings = Visit::screenings_from_fields(fields);
        let screening = slot.checked_sub(1).and_then(|s| screenings.get(s));
        let (Some(screening), Some(index)) = (screening, sub.checked_sub(3)) else {
            return through::<Visit>(self, fields, key, value);
        };
        let form = self
            .forms
            .get(&screening.form.id, screening.form.version)
            .ok_or_else(|| {
                ValidationError::new(
                    "field",
                    Rule::Unknown,
                    "its form is not known on this device",
                )
            })?;
        let index = u8::try_from(index)
            .map_err(|_| ValidationError::new("field", Rule::Unknown, "no such field"))?;
        let mut values = form.values_to_json(&screening.values);
        let name = form
            .fields
            .get(usize::from(index))
            .map(|f| f.name.clone())
            .ok_or_else(|| ValidationError::new("field", Rule::Unknown, "no such field"))?;
        values.insert(name, value);
        let checked = form.validate_values(&values)?;
        Ok(checked
            .into_iter()
            .find(|(i, _)| *i == index)
            .map(|(_, v)| v)
            .unwrap_or(Value::Null))
    }
}

/// A value typed by a person for field `key` of an entity, checked through the entity's own
/// rules (the field set in its JSON, the whole entity parsed and checked).
fn through<E: Entity>(
    replica: &Replica,
    fields: &FieldMap,
    key: FieldKey,
    value: Json,
) -> Result<Value> {
    let spec = E::field_specs()
        .iter()
        .find(|s| s.key == key)
        .ok_or_else(|| ValidationError::new("field", Rule::Unknown, "cannot be set by hand"))?;
    let mut json = E::fields_json(fields);
    let mut target = &mut json;
    let (last, parents) = spec.path.split_last().expect("field paths are not empty");
    for part in parents {
        target = target
            .as_object_mut()
            .expect("entity JSON is an object")
            .entry(*part)
            .or_insert_with(|| Json::Object(Default::default()));
    }
    target
        .as_object_mut()
        .expect("parents are objects")
        .insert((*last).to_owned(), value);
    let entity: E = cageur_model::json::from_value(json)?;
    entity.check(&replica.check_context())?;
    Ok(entity.to_fields().remove(&key).unwrap_or(Value::Null))
}

/// The conflicts of one record, as views.
/// The conflicts of one record's state, as [`Replica::conflicts`] lists them: what the
/// server's admin API shows of a puskesmas.
pub fn conflict_views(
    kind: RecordKind,
    id: Uuid,
    state: &RecordState,
    forms: &FormRegistry,
) -> Vec<ConflictView> {
    let fields = state.shown(&policy(kind));
    state
        .conflicts(&policy(kind))
        .into_iter()
        .map(|c| ConflictView {
            kind,
            id,
            field: field_name(kind, c.field, &fields),
            candidates: c
                .values
                .iter()
                .map(|cell| Candidate {
                    value: value_json(kind, c.field, &cell.value, &fields, forms),
                    device: cell.device,
                    worker: cell.worker,
                    role: cell.author().map(|a| a.role),
                })
                .collect(),
        })
        .collect()
}

fn specs(kind: RecordKind) -> &'static [cageur_model::fields::FieldSpec] {
    match kind {
        RecordKind::Household => Household::field_specs(),
        RecordKind::Person => Person::field_specs(),
        RecordKind::Visit => Visit::field_specs(),
        RecordKind::Referral => Referral::field_specs(),
        RecordKind::FollowUp => FollowUp::field_specs(),
    }
}

/// A field's path in its record's JSON.
pub(crate) fn field_name(kind: RecordKind, key: FieldKey, fields: &FieldMap) -> String {
    match key {
        FieldKey::DELETED => return "deleted".into(),
        FieldKey::MERGED_INTO => return "merged_into".into(),
        _ => {}
    }
    if let Some(spec) = specs(kind).iter().find(|s| s.key == key) {
        return spec.name();
    }
    if kind == RecordKind::Visit && key.0 >= 256 {
        let (slot, sub) = ((key.0 >> 8) - 1, key.0 & 0xff);
        let at = format!("screenings[{slot}]");
        return match sub {
            0 => format!("{at}.person"),
            1 => format!("{at}.form.id"),
            2 => format!("{at}.form.version"),
            _ => {
                let name = Visit::screenings_from_fields(fields)
                    .get(slot as usize)
                    .and_then(|s| {
                        // The screening's form is looked up by whoever renders it; the index
                        // is stable within a form version.
                        Some(format!("{}#{}", s.form, sub.checked_sub(3)?))
                    })
                    .unwrap_or_else(|| format!("#{sub}"));
                format!("{at}.values.{name}")
            }
        };
    }
    format!("field{}", key.0)
}

/// A stored value as JSON for people to read.
pub(crate) fn value_json(
    kind: RecordKind,
    key: FieldKey,
    value: &Value,
    fields: &FieldMap,
    forms: &FormRegistry,
) -> Json {
    if let Some(spec) = specs(kind).iter().find(|s| s.key == key) {
        return to_json(spec.ty, value).unwrap_or(Json::Null);
    }
    if kind == RecordKind::Visit && key.0 >= 256 && key.0 & 0xff >= 3 {
        let slot = (key.0 >> 8) as usize - 1;
        let index = (key.0 & 0xff) - 3;
        let screenings = Visit::screenings_from_fields(fields);
        if let Some(s) = screenings.get(slot)
            && let (Some(form), Ok(index)) =
                (forms.get(&s.form.id, s.form.version), u8::try_from(index))
            && let Some(json) = form
                .values_to_json(&[(index, value.clone())])
                .into_iter()
                .next()
        {
            return json.1;
        }
    }
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::Id(id) => Json::String(id.to_string()),
        Value::Text(t) => Json::String(t.clone()),
        Value::Int(i) => Json::from(*i),
        other => Json::String(format!("{other:?}")),
    }
}
