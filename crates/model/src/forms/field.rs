//! One question of a form: its name, label and kind, and the flat JSON shape it is written in.
//!
//! A field is one flat JSON object; `type` says the kind and decides which other keys belong:
//!
//! ```json
//! {"name": "systolic", "label": "Tekanan darah sistolik", "unit": "mmHg", "required": false,
//!  "type": "integer", "min": 50, "max": 300}
//! ```
//!
//! | `type`         | keys                                   |
//! |----------------|----------------------------------------|
//! | `integer`      | `min`, `max` (whole numbers)           |
//! | `decimal`      | `scale` (1..=3), `min`, `max` (numbers with at most `scale` places) |
//! | `boolean`      | none                                   |
//! | `choice`       | `choices` (list of names)              |
//! | `multi_choice` | `choices` (list of names)              |
//! | `text`         | `max_length` (characters)              |
//! | `date`         | none                                   |
//!
//! A key that does not belong to the kind is refused, as is any unknown key: a typo in a form
//! must not silently drop a limit. The shape is read through `RawField` because serde cannot
//! combine a flattened tagged enum with `deny_unknown_fields`, and because a decimal's limits
//! can only be read exactly once its sibling `scale` is known.

use crate::error::{Rule, ValidationError};
use crate::value::{Value, dec_from_json};
use serde::{Deserialize, Serialize};
use serde_json::Number;

/// One question of a form. Its position in [`super::FormDefinition::fields`] is its stored
/// index, so a published form never reorders or removes fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawField", into = "RawField")]
pub struct FieldDef {
    /// Stable machine name, `[a-z][a-z0-9_]{0,39}`, used in JSON input and in conditions.
    pub name: String,
    /// What the health worker sees.
    pub label: String,
    /// Unit shown after the value and in range messages (`mmHg`, `kg`).
    pub unit: Option<String>,
    /// Whether a screening with this form must answer it.
    pub required: bool,
    /// What kind of answer it takes, with its limits.
    pub kind: FieldKind,
}

/// The kind of answer a field takes. Each kind has one stored [`Value`] variant (see
/// [`super::FormDefinition::validate_values`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// A whole number within `min..=max`; stored as `Value::Int`.
    Integer { min: i64, max: i64 },
    /// A number with up to `scale` decimal places; `min` and `max` are mantissas at `scale`
    /// (30.0 at scale 1 is 300). Stored as `Value::Dec(mantissa, scale)`.
    Decimal { scale: u8, min: i64, max: i64 },
    /// Yes or no; stored as `Value::Bool`.
    Boolean,
    /// One of `choices`; stored as `Value::Int(index)`.
    Choice { choices: Vec<String> },
    /// Any set of `choices`; stored as `Value::Codes(sorted indexes)`.
    MultiChoice { choices: Vec<String> },
    /// Free text of at most `max_length` characters, trimmed; stored as `Value::Text`.
    Text { max_length: u16 },
    /// A calendar date; stored as `Value::Date(days since 1970-01-01)`.
    Date,
}

impl FieldKind {
    /// The `type` name used in JSON.
    pub fn type_name(&self) -> &'static str {
        self.tag().as_str()
    }

    /// The choices of a `choice` or `multi_choice` field.
    pub fn choices(&self) -> Option<&[String]> {
        match self {
            FieldKind::Choice { choices } | FieldKind::MultiChoice { choices } => Some(choices),
            _ => None,
        }
    }

    /// Whether `value` is the stored variant of this kind, with indexes inside the choices.
    /// Stored data may have been damaged, so everything that reads it asks this first.
    pub fn fits(&self, value: &Value) -> bool {
        match (self, value) {
            (FieldKind::Integer { .. }, Value::Int(_)) => true,
            (FieldKind::Decimal { scale, .. }, Value::Dec(_, s)) => s == scale,
            (FieldKind::Boolean, Value::Bool(_)) => true,
            (FieldKind::Choice { choices }, Value::Int(i)) => {
                usize::try_from(*i).is_ok_and(|i| i < choices.len())
            }
            (FieldKind::MultiChoice { choices }, Value::Codes(codes)) => {
                codes.windows(2).all(|w| w[0] < w[1])
                    && codes.iter().all(|c| usize::from(*c) < choices.len())
            }
            (FieldKind::Text { .. }, Value::Text(_)) => true,
            (FieldKind::Date, Value::Date(_)) => true,
            _ => false,
        }
    }

    fn tag(&self) -> KindTag {
        match self {
            FieldKind::Integer { .. } => KindTag::Integer,
            FieldKind::Decimal { .. } => KindTag::Decimal,
            FieldKind::Boolean => KindTag::Boolean,
            FieldKind::Choice { .. } => KindTag::Choice,
            FieldKind::MultiChoice { .. } => KindTag::MultiChoice,
            FieldKind::Text { .. } => KindTag::Text,
            FieldKind::Date => KindTag::Date,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindTag {
    Integer,
    Decimal,
    Boolean,
    Choice,
    MultiChoice,
    Text,
    Date,
}

impl KindTag {
    fn as_str(self) -> &'static str {
        match self {
            KindTag::Integer => "integer",
            KindTag::Decimal => "decimal",
            KindTag::Boolean => "boolean",
            KindTag::Choice => "choice",
            KindTag::MultiChoice => "multi_choice",
            KindTag::Text => "text",
            KindTag::Date => "date",
        }
    }
}

/// A field exactly as written in JSON: every key any kind may use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unit: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    required: bool,
    #[serde(rename = "type")]
    kind: KindTag,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    choices: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_length: Option<u16>,
}

impl TryFrom<RawField> for FieldDef {
    /// A [`ValidationError::to_serde_message`], so that the rule survives serde.
    type Error = String;

    fn try_from(raw: RawField) -> Result<Self, String> {
        let fail =
            |rule, message: String| ValidationError::new("", rule, message).to_serde_message();
        let present = [
            ("scale", raw.scale.is_some()),
            ("min", raw.min.is_some()),
            ("max", raw.max.is_some()),
            ("choices", raw.choices.is_some()),
            ("max_length", raw.max_length.is_some()),
        ];
        let wanted: &[&str] = match raw.kind {
            KindTag::Integer => &["min", "max"],
            KindTag::Decimal => &["scale", "min", "max"],
            KindTag::Choice | KindTag::MultiChoice => &["choices"],
            KindTag::Text => &["max_length"],
            KindTag::Boolean | KindTag::Date => &[],
        };
        let type_name = raw.kind.as_str();
        for (key, is_present) in present {
            if is_present && !wanted.contains(&key) {
                return Err(fail(
                    Rule::Unknown,
                    format!("`{key}` does not apply to type {type_name}"),
                ));
            }
            if !is_present && wanted.contains(&key) {
                return Err(fail(
                    Rule::Required,
                    format!("type {type_name} needs `{key}`"),
                ));
            }
        }
        let whole = |key: &str, n: Option<Number>| {
            n.and_then(|n| n.as_i64())
                .ok_or_else(|| fail(Rule::Format, format!("`{key}` must be a whole number")))
        };
        let exact = |key: &str, n: Option<Number>, scale: u8| {
            n.and_then(|n| dec_from_json(&n, scale)).ok_or_else(|| {
                fail(
                    Rule::Format,
                    format!("`{key}` must have at most {scale} decimal places"),
                )
            })
        };
        let kind = match raw.kind {
            KindTag::Integer => FieldKind::Integer {
                min: whole("min", raw.min)?,
                max: whole("max", raw.max)?,
            },
            KindTag::Decimal => {
                let scale = raw.scale.unwrap_or_default();
                FieldKind::Decimal {
                    scale,
                    min: exact("min", raw.min, scale)?,
                    max: exact("max", raw.max, scale)?,
                }
            }
            KindTag::Boolean => FieldKind::Boolean,
            KindTag::Choice => FieldKind::Choice {
                choices: raw.choices.unwrap_or_default(),
            },
            KindTag::MultiChoice => FieldKind::MultiChoice {
                choices: raw.choices.unwrap_or_default(),
            },
            KindTag::Text => FieldKind::Text {
                max_length: raw.max_length.unwrap_or_default(),
            },
            KindTag::Date => FieldKind::Date,
        };
        Ok(FieldDef {
            name: raw.name,
            label: raw.label,
            unit: raw.unit,
            required: raw.required,
            kind,
        })
    }
}

impl From<FieldDef> for RawField {
    fn from(field: FieldDef) -> Self {
        let kind = field.kind.tag();
        let mut raw = RawField {
            name: field.name,
            label: field.label,
            unit: field.unit,
            required: field.required,
            kind,
            scale: None,
            min: None,
            max: None,
            choices: None,
            max_length: None,
        };
        match field.kind {
            FieldKind::Integer { min, max } => {
                raw.min = Some(min.into());
                raw.max = Some(max.into());
            }
            FieldKind::Decimal { scale, min, max } => {
                raw.scale = Some(scale);
                raw.min = Some(dec_number(min, scale));
                raw.max = Some(dec_number(max, scale));
            }
            FieldKind::Choice { choices } | FieldKind::MultiChoice { choices } => {
                raw.choices = Some(choices);
            }
            FieldKind::Text { max_length } => raw.max_length = Some(max_length),
            FieldKind::Boolean | FieldKind::Date => {}
        }
        raw
    }
}

/// A mantissa as a JSON number with its places (`300` at scale 1 is `30.0`).
pub(crate) fn dec_number(mantissa: i64, scale: u8) -> Number {
    match Value::dec_to_json(mantissa, scale) {
        serde_json::Value::Number(n) => n,
        // Unreachable for the scales `check` allows; keeps the digits rather than panicking.
        _ => Number::from(mantissa),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn decimal_limits_are_read_exactly_at_their_scale() {
        let field: FieldDef = json::parse(
            r#"{"name":"temperature","label":"Suhu","unit":"°C","type":"decimal","scale":1,"min":30.0,"max":45}"#,
        )
        .unwrap();
        assert_eq!(
            field.kind,
            FieldKind::Decimal {
                scale: 1,
                min: 300,
                max: 450
            }
        );
    }

    #[test]
    fn field_shape_round_trips_through_json() {
        let text = r#"{"name":"temperature","label":"Suhu","unit":"°C","type":"decimal","scale":1,"min":30.0,"max":45.0}"#;
        let field: FieldDef = json::parse(text).unwrap();
        let back = serde_json::to_string(&field).unwrap();
        assert_eq!(back, text);
        let choice = r#"{"name":"status","label":"Status","required":true,"type":"choice","choices":["a","b"]}"#;
        let field: FieldDef = json::parse(choice).unwrap();
        assert_eq!(serde_json::to_string(&field).unwrap(), choice);
    }

    #[test]
    fn keys_that_do_not_belong_to_the_type_are_refused() {
        let err =
            json::parse::<FieldDef>(r#"{"name":"a","label":"A","type":"boolean","choices":["x"]}"#)
                .unwrap_err();
        assert_eq!(err.rule, Rule::Unknown);
        assert!(err.message.contains("choices"), "{err}");

        let err = json::parse::<FieldDef>(r#"{"name":"a","label":"A","type":"integer","min":1}"#)
            .unwrap_err();
        assert_eq!(err.rule, Rule::Required);

        let err =
            json::parse::<FieldDef>(r#"{"name":"a","label":"A","type":"boolean","colour":1}"#)
                .unwrap_err();
        assert_eq!(err.rule, Rule::Unknown);
    }

    #[test]
    fn decimal_limit_with_more_places_than_its_scale_is_refused() {
        let err = json::parse::<FieldDef>(
            r#"{"name":"a","label":"A","type":"decimal","scale":1,"min":0.25,"max":3}"#,
        )
        .unwrap_err();
        assert_eq!(err.rule, Rule::Format);
        assert!(err.message.contains("`min`"), "{err}");
    }

    #[test]
    fn damaged_values_do_not_fit() {
        let multi = FieldKind::MultiChoice {
            choices: vec!["a".into(), "b".into()],
        };
        assert!(multi.fits(&Value::Codes(vec![0, 1])));
        assert!(!multi.fits(&Value::Codes(vec![1, 0])));
        assert!(!multi.fits(&Value::Codes(vec![2])));
        let choice = FieldKind::Choice {
            choices: vec!["a".into()],
        };
        assert!(!choice.fits(&Value::Int(-1)));
        assert!(!choice.fits(&Value::Int(1)));
        let dec = FieldKind::Decimal {
            scale: 1,
            min: 0,
            max: 10,
        };
        assert!(!dec.fits(&Value::Dec(5, 2)));
    }
}
