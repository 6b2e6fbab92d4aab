//! Derived flags: conditions over a screening's values, computed on read and never stored, so
//! that correcting a value can never leave a stale flag behind.
//!
//! A condition is one JSON object with exactly one operator:
//!
//! ```json
//! {"any": [{"field": "systolic", "gte": 140}, {"field": "diastolic", "gte": 90}]}
//! {"all": [{"field": "status", "in": ["odmk", "odgj"]}, {"field": "under_treatment", "is": false}]}
//! {"field": "danger_signs", "contains_any": ["bleeding"]}
//! {"field": "danger_signs", "not_empty": true}
//! ```
//!
//! Numeric operators are `gt`, `gte`, `lt`, `lte` and `eq`, compared exactly (a threshold of
//! 37.5 against a decimal field never meets floating point). A missing value satisfies no
//! operator, so `{"field": "on_treatment", "is": false}` needs an explicit "no".

use super::definition::{FlagDef, FormDefinition};
use super::field::{FieldDef, FieldKind, dec_number};
use crate::error::{Rule, ValidationError};
use crate::value::{Value, dec_from_json};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// How deeply `any` and `all` may nest; deeper is a mistake, and recursion must be bounded.
pub const MAX_CONDITION_DEPTH: usize = 8;
/// Most decimal places a threshold may have.
pub const MAX_THRESHOLD_SCALE: u8 = 6;

/// When a flag is raised. See the module docs for the JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCondition", into = "RawCondition")]
pub enum Condition {
    /// At least one holds.
    Any(Vec<Condition>),
    /// Every one holds.
    All(Vec<Condition>),
    /// A number field compared with a threshold.
    Compare {
        field: String,
        op: Comparison,
        threshold: Threshold,
    },
    /// A boolean field has this answer.
    Is { field: String, value: bool },
    /// A choice field's answer is one of these.
    In { field: String, choices: Vec<String> },
    /// A multi-choice field's answer includes at least one of these.
    ContainsAny { field: String, choices: Vec<String> },
    /// A multi-choice field has at least one answer ticked.
    NotEmpty { field: String },
}

/// A numeric comparison: value `op` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

impl Comparison {
    fn key(self) -> &'static str {
        match self {
            Comparison::Gt => "gt",
            Comparison::Gte => "gte",
            Comparison::Lt => "lt",
            Comparison::Lte => "lte",
            Comparison::Eq => "eq",
        }
    }

    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Gt => ordering.is_gt(),
            Comparison::Gte => ordering.is_ge(),
            Comparison::Lt => ordering.is_lt(),
            Comparison::Lte => ordering.is_le(),
            Comparison::Eq => ordering.is_eq(),
        }
    }
}

/// An exact decimal threshold, written in JSON as a plain number: `mantissa` at `scale` places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub mantissa: i64,
    pub scale: u8,
}

impl Threshold {
    /// The number exactly, with the fewest places that hold it (at most [`MAX_THRESHOLD_SCALE`]).
    pub fn from_number(number: &serde_json::Number) -> Option<Self> {
        (0..=MAX_THRESHOLD_SCALE).find_map(|scale| {
            dec_from_json(number, scale).map(|mantissa| Threshold { mantissa, scale })
        })
    }

    /// How a stored number compares with the threshold; `None` if `value` is not a number or
    /// the comparison would overflow (only damaged data can get there).
    pub fn compare(&self, value: &Value) -> Option<Ordering> {
        let (mantissa, scale) = match value {
            Value::Int(i) => (*i, 0),
            Value::Dec(m, s) => (*m, *s),
            _ => return None,
        };
        let common = scale.max(self.scale);
        let lift = |m: i64, s: u8| {
            10i128
                .checked_pow(u32::from(common - s))
                .and_then(|f| i128::from(m).checked_mul(f))
        };
        Some(lift(mantissa, scale)?.cmp(&lift(self.mantissa, self.scale)?))
    }
}

impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        dec_number(self.mantissa, self.scale).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(d)?;
        Threshold::from_number(&number).ok_or_else(|| {
            let message =
                format!("must be a number with at most {MAX_THRESHOLD_SCALE} decimal places");
            serde::de::Error::custom(
                ValidationError::new("", Rule::Format, message).to_serde_message(),
            )
        })
    }
}

/// A condition exactly as written in JSON: every key any operator may use.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    any: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gt: Option<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gte: Option<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lt: Option<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lte: Option<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    eq: Option<Threshold>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is: Option<bool>,
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    in_: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contains_any: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_empty: Option<bool>,
}

impl TryFrom<RawCondition> for Condition {
    /// A [`ValidationError::to_serde_message`], so that the rule survives serde.
    type Error = String;

    fn try_from(raw: RawCondition) -> Result<Self, String> {
        let fail = |rule, message: &str| ValidationError::new("", rule, message).to_serde_message();
        let compares = [
            (Comparison::Gt, raw.gt),
            (Comparison::Gte, raw.gte),
            (Comparison::Lt, raw.lt),
            (Comparison::Lte, raw.lte),
            (Comparison::Eq, raw.eq),
        ];
        let operators = usize::from(raw.any.is_some())
            + usize::from(raw.all.is_some())
            + compares.iter().filter(|(_, t)| t.is_some()).count()
            + usize::from(raw.is.is_some())
            + usize::from(raw.in_.is_some())
            + usize::from(raw.contains_any.is_some())
            + usize::from(raw.not_empty.is_some());
        if operators != 1 {
            return Err(fail(
                Rule::Format,
                "a condition needs exactly one of any, all, gt, gte, lt, lte, eq, is, in, contains_any, not_empty",
            ));
        }
        if (raw.any.is_some() || raw.all.is_some()) && raw.field.is_some() {
            return Err(fail(Rule::Unknown, "`any` and `all` take no `field`"));
        }
        if let Some(list) = raw.any {
            return Ok(Condition::Any(list));
        }
        if let Some(list) = raw.all {
            return Ok(Condition::All(list));
        }
        let field = raw
            .field
            .ok_or_else(|| fail(Rule::Required, "the condition needs a `field`"))?;
        if let Some((op, Some(threshold))) = compares.into_iter().find(|(_, t)| t.is_some()) {
            return Ok(Condition::Compare {
                field,
                op,
                threshold,
            });
        }
        if let Some(value) = raw.is {
            return Ok(Condition::Is { field, value });
        }
        if let Some(choices) = raw.in_ {
            return Ok(Condition::In { field, choices });
        }
        if let Some(choices) = raw.contains_any {
            return Ok(Condition::ContainsAny { field, choices });
        }
        match raw.not_empty {
            Some(true) => Ok(Condition::NotEmpty { field }),
            _ => Err(fail(Rule::Format, "`not_empty` can only be true")),
        }
    }
}

impl From<Condition> for RawCondition {
    fn from(condition: Condition) -> Self {
        let mut raw = RawCondition::default();
        match condition {
            Condition::Any(list) => raw.any = Some(list),
            Condition::All(list) => raw.all = Some(list),
            Condition::Compare {
                field,
                op,
                threshold,
            } => {
                raw.field = Some(field);
                let slot = match op {
                    Comparison::Gt => &mut raw.gt,
                    Comparison::Gte => &mut raw.gte,
                    Comparison::Lt => &mut raw.lt,
                    Comparison::Lte => &mut raw.lte,
                    Comparison::Eq => &mut raw.eq,
                };
                *slot = Some(threshold);
            }
            Condition::Is { field, value } => (raw.field, raw.is) = (Some(field), Some(value)),
            Condition::In { field, choices } => (raw.field, raw.in_) = (Some(field), Some(choices)),
            Condition::ContainsAny { field, choices } => {
                (raw.field, raw.contains_any) = (Some(field), Some(choices));
            }
            Condition::NotEmpty { field } => (raw.field, raw.not_empty) = (Some(field), Some(true)),
        }
        raw
    }
}

impl Condition {
    /// Checks that the condition only names fields of `fields` with an operator that suits
    /// their kind. `path` is where the condition sits (`flags[0].when`).
    pub(crate) fn check(
        &self,
        fields: &[FieldDef],
        path: &str,
        depth: usize,
    ) -> Result<(), ValidationError> {
        let (field_name, key, needs) = match self {
            Condition::Any(list) | Condition::All(list) => {
                let key = if matches!(self, Condition::Any(_)) {
                    "any"
                } else {
                    "all"
                };
                if depth >= MAX_CONDITION_DEPTH {
                    let message = format!("conditions nest at most {MAX_CONDITION_DEPTH} deep");
                    return Err(ValidationError::new(
                        format!("{path}.{key}"),
                        Rule::Range,
                        message,
                    ));
                }
                if list.is_empty() || list.len() > 64 {
                    let message = "must list 1 to 64 conditions";
                    return Err(ValidationError::new(
                        format!("{path}.{key}"),
                        Rule::Range,
                        message,
                    ));
                }
                for (i, inner) in list.iter().enumerate() {
                    inner.check(fields, &format!("{path}.{key}[{i}]"), depth + 1)?;
                }
                return Ok(());
            }
            Condition::Compare { field, op, .. } => (field, op.key(), "integer or decimal"),
            Condition::Is { field, .. } => (field, "is", "boolean"),
            Condition::In { field, .. } => (field, "in", "choice"),
            Condition::ContainsAny { field, .. } => (field, "contains_any", "multi_choice"),
            Condition::NotEmpty { field } => (field, "not_empty", "multi_choice"),
        };
        let Some(def) = fields.iter().find(|f| &f.name == field_name) else {
            let message = "names no field of this form";
            return Err(ValidationError::new(
                format!("{path}.field"),
                Rule::Unknown,
                message,
            ));
        };
        if !needs.split(" or ").any(|kind| kind == def.kind.type_name()) {
            let message = format!(
                "`{key}` needs a {needs} field, but {field_name} is {}",
                def.kind.type_name()
            );
            return Err(ValidationError::new(
                format!("{path}.{key}"),
                Rule::Consistency,
                message,
            ));
        }
        if let (
            Condition::In { choices, .. } | Condition::ContainsAny { choices, .. },
            Some(allowed),
        ) = (self, def.kind.choices())
        {
            if choices.is_empty() {
                return Err(ValidationError::new(
                    format!("{path}.{key}"),
                    Rule::Required,
                    "must list at least one choice",
                ));
            }
            if let Some(i) = choices.iter().position(|c| !allowed.contains(c)) {
                let message = format!("must be one of {}", allowed.join(", "));
                return Err(ValidationError::new(
                    format!("{path}.{key}[{i}]"),
                    Rule::Choice,
                    message,
                ));
            }
        }
        Ok(())
    }

    /// Whether the condition holds for `values`. Values that do not fit their field count as
    /// missing, and a missing value satisfies nothing.
    pub fn holds(&self, form: &FormDefinition, values: &[(u8, Value)]) -> bool {
        let lookup = |name: &str| -> Option<(&FieldKind, &Value)> {
            let (index, def) = form.field(name)?;
            let (_, value) = values
                .iter()
                .find(|(i, v)| *i == index && def.kind.fits(v))?;
            Some((&def.kind, value))
        };
        let named = |choices: &[String], kind: &FieldKind, code: i64| {
            let all = kind.choices().unwrap_or_default();
            usize::try_from(code)
                .ok()
                .and_then(|c| all.get(c))
                .is_some_and(|name| choices.contains(name))
        };
        match self {
            Condition::Any(list) => list.iter().any(|c| c.holds(form, values)),
            Condition::All(list) => list.iter().all(|c| c.holds(form, values)),
            Condition::Compare {
                field,
                op,
                threshold,
            } => lookup(field)
                .and_then(|(_, v)| threshold.compare(v))
                .is_some_and(|ordering| op.accepts(ordering)),
            Condition::Is { field, value } => {
                lookup(field).is_some_and(|(_, v)| v.as_bool() == Some(*value))
            }
            Condition::In { field, choices } => lookup(field)
                .is_some_and(|(kind, v)| v.as_int().is_some_and(|code| named(choices, kind, code))),
            Condition::ContainsAny { field, choices } => {
                lookup(field).is_some_and(|(kind, v)| match v {
                    Value::Codes(codes) => {
                        codes.iter().any(|c| named(choices, kind, i64::from(*c)))
                    }
                    _ => false,
                })
            }
            Condition::NotEmpty { field } => {
                lookup(field).is_some_and(|(_, v)| matches!(v, Value::Codes(c) if !c.is_empty()))
            }
        }
    }
}

impl FormDefinition {
    /// The flags `values` raise, in definition order. Computed, never stored.
    pub fn flags(&self, values: &[(u8, Value)]) -> Vec<&FlagDef> {
        self.flags
            .iter()
            .filter(|flag| flag.when.holds(self, values))
            .collect()
    }
}

#[cfg(test)]
mod tests;
