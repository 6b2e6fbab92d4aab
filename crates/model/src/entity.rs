//! What every kind of record has in common: its field table and its cross-field rules.

use chrono::NaiveDate;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codes::RecordKind;
use crate::error::ValidationError;
use crate::fields::{FieldSpec, fields_to_json, json_to_fields};
use crate::value::FieldMap;

/// What rules may depend on beyond the entity itself.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext {
    /// The device's date, for "not in the future" rules. Only used for plausibility, never for
    /// ordering or merging: a wrong clock can at worst refuse an implausible input.
    pub today: NaiveDate,
}

/// A kind of record: serde gives its JSON form (and parses input with per-field rules), the
/// field table maps that JSON to CRDT fields, and `check` adds the rules across fields.
pub trait Entity: Serialize + DeserializeOwned + Clone + std::fmt::Debug {
    const KIND: RecordKind;

    /// The entity's fields, in the order they are listed in JSON.
    fn field_specs() -> &'static [FieldSpec];

    /// Rules that span fields (a NIK that must agree with sex and birth date, say).
    fn check(&self, ctx: &CheckContext) -> Result<(), ValidationError>;

    /// The entity as field values, one per field of its table.
    fn to_fields(&self) -> FieldMap {
        let json = serde_json::to_value(self).expect("entities serialize to JSON");
        json_to_fields(Self::field_specs(), &json)
            .expect("a valid entity's JSON fits its own field table")
    }

    /// The entity's JSON from field values, leniently (never fails; see [`fields_to_json`]).
    fn fields_json(fields: &FieldMap) -> serde_json::Value {
        fields_to_json(Self::field_specs(), fields)
    }

    /// The entity from field values, with every per-field rule applied.
    fn from_fields(fields: &FieldMap) -> Result<Self, ValidationError> {
        crate::json::from_value(Self::fields_json(fields))
    }
}

/// Checks that text is 1..=`max` characters after trimming, with no control characters.
pub(crate) fn check_text(field: &str, text: &str, max: usize) -> Result<(), ValidationError> {
    use crate::error::Rule;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(
            field,
            Rule::Required,
            "must not be empty",
        ));
    }
    if trimmed.chars().count() > max {
        return Err(ValidationError::new(
            field,
            Rule::Range,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            Rule::Format,
            "must not contain control characters",
        ));
    }
    Ok(())
}
