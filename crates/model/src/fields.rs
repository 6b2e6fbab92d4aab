//! Field tables: how each entity's JSON maps to the numbered fields of its CRDT record.
//!
//! Each field of an entity is its own register in the record, so that concurrent edits to
//! different fields both survive. The table is data: one line per field, giving its stable
//! number, its path in the entity's JSON and how its value is stored. Field numbers are never
//! reused; a removed field keeps its number reserved.

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::codes::Coded;
use crate::error::{Rule, ValidationError};
use crate::value::{FieldKey, FieldMap, Value, dec_from_json};

/// How a field's JSON value is stored.
#[derive(Debug, Clone, Copy)]
pub enum FieldType {
    /// A string, stored as text.
    Text,
    /// An integer.
    Int,
    /// `true` or `false`.
    Bool,
    /// A string of digits that never starts with 0 (NIK, KK number), stored as an integer:
    /// 8 bytes instead of 17.
    Digits,
    /// `"YYYY-MM-DD"`.
    Date,
    /// An RFC 3339 instant with its UTC offset, `"2026-11-23T09:30:00+07:00"`.
    Time,
    /// A record id (UUID string), stored as 16 bytes.
    Id,
    /// `{"lat": .., "lon": ..}` in degrees with up to 6 decimals.
    Point,
    /// A name from a closed set, stored as its code.
    Code(CodeTable),
}

/// Converts between a closed set's names and codes.
#[derive(Clone, Copy)]
pub struct CodeTable {
    name_of: fn(i64) -> Option<&'static str>,
    code_of: fn(&str) -> Option<i64>,
}

impl std::fmt::Debug for CodeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeTable")
    }
}

fn name_of<T: Coded>(code: i64) -> Option<&'static str> {
    u8::try_from(code)
        .ok()
        .and_then(T::from_code)
        .map(T::as_str)
}

fn code_of<T: Coded>(name: &str) -> Option<i64> {
    T::parse(name).ok().map(|t| i64::from(t.code()))
}

impl CodeTable {
    /// The table of a coded enum.
    pub const fn of<T: Coded>() -> Self {
        Self {
            name_of: name_of::<T>,
            code_of: code_of::<T>,
        }
    }
}

/// One field of an entity.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub key: FieldKey,
    /// Path in the entity's JSON: `["address", "rt"]`.
    pub path: &'static [&'static str],
    pub ty: FieldType,
}

impl FieldSpec {
    pub const fn new(key: u32, path: &'static [&'static str], ty: FieldType) -> Self {
        Self {
            key: FieldKey(key),
            path,
            ty,
        }
    }

    /// The dotted path, for error messages and conflict listings.
    pub fn name(&self) -> String {
        self.path.join(".")
    }
}

fn lookup<'a>(json: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(json, |node, part| node.get(part))
}

/// An entity's (already validated) JSON as field values. A field absent from the JSON is
/// `Value::Null`, so that clearing an optional field is written like any other edit.
pub fn json_to_fields(specs: &[FieldSpec], json: &Json) -> Result<FieldMap, ValidationError> {
    let mut out = FieldMap::new();
    for spec in specs {
        let value = match lookup(json, spec.path) {
            None | Some(Json::Null) => Value::Null,
            Some(node) => to_value(spec.ty, node).ok_or_else(|| {
                ValidationError::new(spec.name(), Rule::Format, "unexpected value")
            })?,
        };
        out.insert(spec.key, value);
    }
    Ok(out)
}

fn to_value(ty: FieldType, node: &Json) -> Option<Value> {
    Some(match ty {
        FieldType::Text => Value::Text(node.as_str()?.to_owned()),
        FieldType::Int => Value::Int(node.as_i64()?),
        FieldType::Bool => Value::Bool(node.as_bool()?),
        FieldType::Digits => {
            let text = node.as_str()?;
            if text.starts_with('0') {
                return None;
            }
            Value::Int(text.parse().ok()?)
        }
        FieldType::Date => {
            let date = NaiveDate::parse_from_str(node.as_str()?, "%Y-%m-%d").ok()?;
            Value::Date(days_since_epoch(date))
        }
        FieldType::Time => {
            let time = DateTime::parse_from_rfc3339(node.as_str()?).ok()?;
            let offset_min = i16::try_from(time.offset().local_minus_utc() / 60).ok()?;
            Value::Time(time.timestamp_millis(), offset_min)
        }
        FieldType::Id => Value::Id(Uuid::parse_str(node.as_str()?).ok()?),
        FieldType::Point => {
            let lat = dec_from_json(node.get("lat")?.as_number()?, 6)?;
            let lon = dec_from_json(node.get("lon")?.as_number()?, 6)?;
            Value::Point(i32::try_from(lat).ok()?, i32::try_from(lon).ok()?)
        }
        FieldType::Code(table) => Value::Int((table.code_of)(node.as_str()?)?),
    })
}

/// Field values back as the entity's JSON. Never fails: a value that does not fit its field
/// (damaged data) is left out rather than hiding the rest of the record.
pub fn fields_to_json(specs: &[FieldSpec], fields: &FieldMap) -> Json {
    let mut root = Json::Object(Map::new());
    for spec in specs {
        let Some(node) = fields.get(&spec.key).and_then(|v| to_json(spec.ty, v)) else {
            continue;
        };
        let (last, parents) = spec.path.split_last().expect("field paths are not empty");
        let mut target = &mut root;
        for part in parents {
            target = target
                .as_object_mut()
                .expect("parents are objects")
                .entry(*part)
                .or_insert_with(|| Json::Object(Map::new()));
        }
        if let Some(obj) = target.as_object_mut() {
            obj.insert((*last).to_owned(), node);
        }
    }
    root
}

/// One stored value as JSON, if it fits the field's type.
pub fn to_json(ty: FieldType, value: &Value) -> Option<Json> {
    Some(match (ty, value) {
        (_, Value::Null) => return None,
        (FieldType::Text, Value::Text(t)) => Json::String(t.clone()),
        (FieldType::Int, Value::Int(i)) => Json::from(*i),
        (FieldType::Bool, Value::Bool(b)) => Json::Bool(*b),
        (FieldType::Digits, Value::Int(i)) => Json::String(i.to_string()),
        (FieldType::Date, Value::Date(d)) => Json::String(date_from_days(*d)?.to_string()),
        (FieldType::Time, Value::Time(ms, offset)) => Json::String(time_to_rfc3339(*ms, *offset)?),
        (FieldType::Id, Value::Id(id)) => Json::String(id.to_string()),
        (FieldType::Point, Value::Point(lat, lon)) => {
            let mut obj = Map::new();
            obj.insert("lat".into(), Value::dec_to_json(i64::from(*lat), 6));
            obj.insert("lon".into(), Value::dec_to_json(i64::from(*lon), 6));
            Json::Object(obj)
        }
        (FieldType::Code(table), Value::Int(code)) => {
            Json::String((table.name_of)(*code)?.to_owned())
        }
        _ => return None,
    })
}

/// Days since 1970-01-01.
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    i32::try_from((date - epoch).num_days()).unwrap_or(i32::MAX)
}

/// The date `days` after 1970-01-01.
pub fn date_from_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(i64::from(days)))
}

/// An instant in its recorded offset, as RFC 3339 with seconds.
pub fn time_to_rfc3339(ms: i64, offset_min: i16) -> Option<String> {
    let offset = chrono::FixedOffset::east_opt(i32::from(offset_min) * 60)?;
    let utc = DateTime::from_timestamp_millis(ms)?;
    Some(
        utc.with_timezone(&offset)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Sex;
    use serde_json::json;

    const SPECS: &[FieldSpec] = &[
        FieldSpec::new(10, &["name"], FieldType::Text),
        FieldSpec::new(11, &["address", "rt"], FieldType::Int),
        FieldSpec::new(12, &["sex"], FieldType::Code(CodeTable::of::<Sex>())),
        FieldSpec::new(13, &["at"], FieldType::Time),
        FieldSpec::new(14, &["born"], FieldType::Date),
        FieldSpec::new(15, &["location"], FieldType::Point),
        FieldSpec::new(16, &["nik"], FieldType::Digits),
    ];

    #[test]
    fn json_round_trips_through_fields() {
        let json = json!({
            "name": "Siti", "address": {"rt": 3}, "sex": "female",
            "at": "2026-11-23T09:30:00+07:00", "born": "1990-02-28",
            "location": {"lat": -6.178306, "lon": 106.631889},
            "nik": "3671014702900001"
        });
        let fields = json_to_fields(SPECS, &json).unwrap();
        assert_eq!(fields[&FieldKey(12)], Value::Int(2));
        assert_eq!(fields[&FieldKey(15)], Value::Point(-6_178_306, 106_631_889));
        assert_eq!(fields_to_json(SPECS, &fields), json);
    }

    #[test]
    fn absent_fields_are_written_as_null_and_read_back_absent() {
        let fields = json_to_fields(SPECS, &json!({"name": "Siti"})).unwrap();
        assert_eq!(fields[&FieldKey(15)], Value::Null);
        assert_eq!(fields_to_json(SPECS, &fields), json!({"name": "Siti"}));
    }

    #[test]
    fn values_that_do_not_fit_are_left_out() {
        let mut fields = FieldMap::new();
        fields.insert(FieldKey(10), Value::Int(5));
        fields.insert(FieldKey(12), Value::Int(99));
        assert_eq!(fields_to_json(SPECS, &fields), json!({}));
    }
}
