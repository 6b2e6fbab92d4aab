//! A screening's values: from the JSON a health worker entered to stored `(field_index, Value)`
//! pairs, and back.

use super::definition::FormDefinition;
use super::field::{FieldDef, FieldKind};
use crate::error::{Rule, ValidationError};
use crate::value::{Value, dec_from_json, dec_to_string};
use chrono::{Datelike, NaiveDate, TimeDelta};
use serde_json::{Map, Value as Json};

/// Earliest and latest dates a date field accepts: anything else is a typing error.
const FIRST_DATE: (i32, u32, u32) = (1900, 1, 1);
const LAST_DATE: (i32, u32, u32) = (2100, 12, 31);

impl FormDefinition {
    /// Validates the values entered for this form, given as a JSON object from field name to
    /// value, and returns them as stored: pairs of field index and value, sorted by index.
    ///
    /// Absent or null optional fields, and blank texts, produce no pair. Errors name the field
    /// by its name alone; the caller adds the path (`screenings[0].values`). Never panics.
    pub fn validate_values(
        &self,
        values: &Map<String, Json>,
    ) -> Result<Vec<(u8, Value)>, ValidationError> {
        if let Some(name) = values.keys().find(|name| self.field(name).is_none()) {
            let message = format!("is not a field of form {}", self.form_ref());
            return Err(ValidationError::new(name.as_str(), Rule::Unknown, message));
        }
        let mut stored = Vec::new();
        for (index, field) in self.fields.iter().enumerate() {
            let value = match values.get(&field.name) {
                None | Some(Json::Null) => None,
                Some(json) => parse(field, json)?,
            };
            let Some(value) = value else {
                if field.required {
                    return Err(ValidationError::new(
                        field.name.as_str(),
                        Rule::Required,
                        "is required",
                    ));
                }
                continue;
            };
            let Ok(index) = u8::try_from(index) else {
                let message = "lies beyond the 256 fields a screening can store";
                return Err(ValidationError::new(
                    field.name.as_str(),
                    Rule::Range,
                    message,
                ));
            };
            stored.push((index, value));
        }
        debug_assert!(stored.windows(2).all(|w| w[0].0 < w[1].0));
        Ok(stored)
    }

    /// The stored values as JSON, the inverse of [`FormDefinition::validate_values`]: decimals
    /// with exactly their places, choices by name, dates as `YYYY-MM-DD`. A value that does not
    /// fit its field (possible after merging damaged data) is left out.
    pub fn values_to_json(&self, values: &[(u8, Value)]) -> Map<String, Json> {
        let mut out = Map::new();
        for (index, value) in values {
            let Some(field) = self.fields.get(usize::from(*index)) else {
                continue;
            };
            if let Some(json) = to_json(&field.kind, value) {
                out.insert(field.name.clone(), json);
            }
        }
        out
    }
}

/// One entered value as stored; `None` for a blank text.
fn parse(field: &FieldDef, json: &Json) -> Result<Option<Value>, ValidationError> {
    let fail =
        |rule, message: String| Err(ValidationError::new(field.name.as_str(), rule, message));
    // Built only for an error: this runs for every value of every screening recorded.
    let unit = || {
        field
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default()
    };
    match &field.kind {
        FieldKind::Integer { min, max } => {
            let Json::Number(number) = json else {
                return fail(Rule::Format, "must be a number".into());
            };
            let in_range = |v: &i64| (min..=max).contains(&v);
            match dec_from_json(number, 0) {
                Some(v) if in_range(&v) => Ok(Some(Value::Int(v))),
                None if number.as_f64().is_some_and(|f| f.fract() != 0.0) => {
                    fail(Rule::Format, "must be a whole number".into())
                }
                _ => fail(
                    Rule::Range,
                    format!("must be between {min} and {max}{}", unit()),
                ),
            }
        }
        FieldKind::Decimal { scale, min, max } => {
            let Json::Number(number) = json else {
                return fail(Rule::Format, "must be a number".into());
            };
            let range = || {
                format!(
                    "must be between {} and {}{}",
                    dec_to_string(*min, *scale),
                    dec_to_string(*max, *scale),
                    unit()
                )
            };
            match dec_from_json(number, *scale) {
                Some(v) if (min..=max).contains(&&v) => Ok(Some(Value::Dec(v, *scale))),
                Some(_) => fail(Rule::Range, range()),
                // Too many places, or too large for a mantissa (1e16 and beyond).
                None if number.as_f64().is_some_and(|f| f.abs() >= 1e15) => {
                    fail(Rule::Range, range())
                }
                None => fail(
                    Rule::Format,
                    format!("must have at most {scale} decimal places"),
                ),
            }
        }
        FieldKind::Boolean => match json {
            Json::Bool(b) => Ok(Some(Value::Bool(*b))),
            _ => fail(Rule::Format, "must be true or false".into()),
        },
        FieldKind::Choice { choices } => {
            let Json::String(name) = json else {
                return fail(Rule::Format, "must be a string".into());
            };
            match choices
                .iter()
                .position(|c| c == name)
                .and_then(|i| i64::try_from(i).ok())
            {
                Some(index) => Ok(Some(Value::Int(index))),
                None => fail(
                    Rule::Choice,
                    format!("must be one of {}", choices.join(", ")),
                ),
            }
        }
        FieldKind::MultiChoice { choices } => {
            let Json::Array(items) = json else {
                return fail(Rule::Format, "must be a list of choices".into());
            };
            let mut codes = Vec::with_capacity(items.len().min(choices.len()));
            for item in items {
                let Json::String(name) = item else {
                    return fail(Rule::Format, "must be a list of strings".into());
                };
                let Some(code) = choices
                    .iter()
                    .position(|c| c == name)
                    .and_then(|i| u16::try_from(i).ok())
                else {
                    return fail(
                        Rule::Choice,
                        format!("must list only {}", choices.join(", ")),
                    );
                };
                if codes.contains(&code) {
                    return fail(Rule::Format, format!("lists {name} twice"));
                }
                codes.push(code);
            }
            codes.sort_unstable();
            Ok(Some(Value::Codes(codes)))
        }
        FieldKind::Text { max_length } => {
            let Json::String(text) = json else {
                return fail(Rule::Format, "must be a string".into());
            };
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            if text.chars().count() > usize::from(*max_length) {
                return fail(
                    Rule::Range,
                    format!("must be at most {max_length} characters"),
                );
            }
            Ok(Some(Value::Text(text.to_owned())))
        }
        FieldKind::Date => {
            let Json::String(text) = json else {
                return fail(Rule::Format, "must be a date as YYYY-MM-DD".into());
            };
            match parse_date(text) {
                Some(days) => Ok(Some(Value::Date(days))),
                None => {
                    let (first, last) = (ymd(FIRST_DATE), ymd(LAST_DATE));
                    fail(
                        Rule::Date,
                        format!("must be a date as YYYY-MM-DD between {first} and {last}"),
                    )
                }
            }
        }
    }
}

/// `YYYY-MM-DD`, an existing date within the plausible range, as days since 1970-01-01.
fn parse_date(text: &str) -> Option<i32> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape {
        return None;
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let in_range = (ymd_date(FIRST_DATE)?..=ymd_date(LAST_DATE)?).contains(&date);
    let days = (date - ymd_date((1970, 1, 1))?).num_days();
    if in_range {
        i32::try_from(days).ok()
    } else {
        None
    }
}

fn ymd_date((y, m, d): (i32, u32, u32)) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn ymd((y, m, d): (i32, u32, u32)) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// A stored value as JSON, if it fits `kind`.
fn to_json(kind: &FieldKind, value: &Value) -> Option<Json> {
    if !kind.fits(value) {
        return None;
    }
    Some(match (kind, value) {
        (_, Value::Int(i)) if matches!(kind, FieldKind::Integer { .. }) => Json::from(*i),
        (_, Value::Dec(mantissa, scale)) => Value::dec_to_json(*mantissa, *scale),
        (_, Value::Bool(b)) => Json::Bool(*b),
        (FieldKind::Choice { choices }, Value::Int(i)) => {
            Json::String(choices.get(usize::try_from(*i).ok()?)?.clone())
        }
        (FieldKind::MultiChoice { choices }, Value::Codes(codes)) => {
            let names: Option<Vec<Json>> = codes
                .iter()
                .map(|c| {
                    choices
                        .get(usize::from(*c))
                        .map(|n| Json::String(n.clone()))
                })
                .collect();
            Json::Array(names?)
        }
        (_, Value::Text(text)) => Json::String(text.clone()),
        (_, Value::Date(days)) => {
            let date = ymd_date((1970, 1, 1))?
                .checked_add_signed(TimeDelta::try_days(i64::from(*days))?)?;
            Json::String(ymd((date.year(), date.month(), date.day())))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
