//! A form definition, the rules that make one valid ([`FormDefinition::check`]), and the
//! reference a screening keeps to the version it used.

use super::field::{FieldDef, FieldKind};
use super::flags::Condition;
use crate::codes::Sex;
use crate::error::{Rule, ValidationError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// Most fields a form may have: a field's index is stored as a `u8`.
pub const MAX_FIELDS: usize = 250;
/// Most flags a form may derive.
pub const MAX_FLAGS: usize = 64;
/// Most choices a `choice` or `multi_choice` field may offer.
pub const MAX_CHOICES: usize = 64;

/// Which published version of which form a screening used: `vital-signs@1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormRef {
    pub id: String,
    pub version: u16,
}

impl fmt::Display for FormRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

/// One published version of a screening form. Data, not code: the health office can publish
/// a new form or version without a new app build. A published version never changes (see
/// [`super::FormRegistry::add`]), which keeps stored field indexes meaningful.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    /// `[a-z0-9-]{1,40}`, stable across versions.
    pub id: String,
    /// 1 or more; a change to a form is a new version.
    pub version: u16,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whom the form is for; everyone when absent.
    #[serde(default, skip_serializing_if = "Applicability::is_everyone")]
    pub applies_to: Applicability,
    /// The questions; a field's position is its stored index.
    pub fields: Vec<FieldDef>,
    /// Derived flags, computed from the values (see [`FormDefinition::flags`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FlagDef>,
}

/// Whom a form is for. The default admits everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Applicability {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Inclusive lower bound on age in completed months.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_age_months: Option<u32>,
    /// Inclusive upper bound on age in completed months.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age_months: Option<u32>,
}

impl Applicability {
    /// Whether a person of this sex and age (in completed months) should be offered the form.
    pub fn admits(&self, sex: Sex, age_months: u32) -> bool {
        self.sex.is_none_or(|s| s == sex)
            && self.min_age_months.is_none_or(|min| age_months >= min)
            && self.max_age_months.is_none_or(|max| age_months <= max)
    }

    fn is_everyone(&self) -> bool {
        *self == Applicability::default()
    }
}

/// A flag derived from a screening's values, such as raised blood pressure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagDef {
    /// `[a-z][a-z0-9_]{0,39}`, unique in the form and distinct from its field names.
    pub name: String,
    pub label: String,
    /// A danger sign: a visit that raises it is synced and followed up first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub urgent: bool,
    pub when: Condition,
}

impl FormDefinition {
    /// The reference a screening stores.
    pub fn form_ref(&self) -> FormRef {
        FormRef {
            id: self.id.clone(),
            version: self.version,
        }
    }

    /// The field called `name` with its stored index.
    pub fn field(&self, name: &str) -> Option<(u8, &FieldDef)> {
        let index = self.fields.iter().position(|f| f.name == name)?;
        Some((u8::try_from(index).ok()?, &self.fields[index]))
    }

    /// Checks that the definition itself is valid. Errors name the offending part by its path,
    /// such as `fields[3].max` or `flags[0].when.any[1].field`.
    pub fn check(&self) -> Result<(), ValidationError> {
        let err =
            |field: String, rule, message: String| Err(ValidationError::new(field, rule, message));
        if !is_name(&self.id, 40, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        }) {
            return err(
                "id".into(),
                Rule::Format,
                "must be 1 to 40 of a-z, 0-9 and -".into(),
            );
        }
        if self.version == 0 {
            return err("version".into(), Rule::Range, "must be at least 1".into());
        }
        check_text("title", &self.title, 120)?;
        if let Some(description) = &self.description {
            check_text("description", description, 2000)?;
        }
        let applies = &self.applies_to;
        if let (Some(min), Some(max)) = (applies.min_age_months, applies.max_age_months)
            && min > max
        {
            return err(
                "applies_to.max_age_months".into(),
                Rule::Range,
                "must not be below min_age_months".into(),
            );
        }
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            return err(
                "fields".into(),
                Rule::Range,
                format!("must list 1 to {MAX_FIELDS} fields"),
            );
        }
        let mut names = HashSet::new();
        for (i, field) in self.fields.iter().enumerate() {
            let path = format!("fields[{i}]");
            if !is_field_name(&field.name) {
                return err(
                    format!("{path}.name"),
                    Rule::Format,
                    "must be a-z followed by up to 39 of a-z, 0-9 and _".into(),
                );
            }
            if !names.insert(field.name.as_str()) {
                return err(
                    format!("{path}.name"),
                    Rule::Consistency,
                    format!("{} is already a field of this form", field.name),
                );
            }
            check_field(&path, field)?;
        }
        if self.flags.len() > MAX_FLAGS {
            return err(
                "flags".into(),
                Rule::Range,
                format!("must list at most {MAX_FLAGS} flags"),
            );
        }
        for (i, flag) in self.flags.iter().enumerate() {
            let path = format!("flags[{i}]");
            if !is_field_name(&flag.name) {
                return err(
                    format!("{path}.name"),
                    Rule::Format,
                    "must be a-z followed by up to 39 of a-z, 0-9 and _".into(),
                );
            }
            if !names.insert(flag.name.as_str()) {
                return err(
                    format!("{path}.name"),
                    Rule::Consistency,
                    format!("{} is already a field or flag of this form", flag.name),
                );
            }
            check_text(&format!("{path}.label"), &flag.label, 200)?;
            flag.when.check(&self.fields, &format!("{path}.when"), 0)?;
        }
        Ok(())
    }
}

fn check_field(path: &str, field: &FieldDef) -> Result<(), ValidationError> {
    check_text(&format!("{path}.label"), &field.label, 200)?;
    if let Some(unit) = &field.unit {
        check_text(&format!("{path}.unit"), unit, 20)?;
    }
    let err = |key: &str, rule, message: String| {
        Err(ValidationError::new(format!("{path}.{key}"), rule, message))
    };
    match &field.kind {
        FieldKind::Integer { min, max } if min > max => {
            err("max", Rule::Range, "must not be below min".into())
        }
        FieldKind::Decimal { scale, .. } if !(1..=3).contains(scale) => {
            err("scale", Rule::Range, "must be 1 to 3".into())
        }
        FieldKind::Decimal { min, max, .. } if min > max => {
            err("max", Rule::Range, "must not be below min".into())
        }
        FieldKind::Choice { choices } | FieldKind::MultiChoice { choices } => {
            if choices.is_empty() || choices.len() > MAX_CHOICES {
                return err(
                    "choices",
                    Rule::Range,
                    format!("must list 1 to {MAX_CHOICES} choices"),
                );
            }
            let mut seen = HashSet::new();
            for (i, choice) in choices.iter().enumerate() {
                let key = format!("choices[{i}]");
                if !is_name(choice, 40, |c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
                }) {
                    return err(
                        &key,
                        Rule::Format,
                        "must be 1 to 40 of a-z, 0-9 and _".into(),
                    );
                }
                if !seen.insert(choice) {
                    return err(&key, Rule::Consistency, format!("{choice} is listed twice"));
                }
            }
            Ok(())
        }
        FieldKind::Text { max_length } if !(1..=2000).contains(max_length) => {
            err("max_length", Rule::Range, "must be 1 to 2000".into())
        }
        _ => Ok(()),
    }
}

/// Human text: not blank, at most `max` characters.
fn check_text(path: &str, text: &str, max: usize) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        return Err(ValidationError::new(
            path,
            Rule::Required,
            "must not be empty",
        ));
    }
    if text.chars().count() > max {
        return Err(ValidationError::new(
            path,
            Rule::Range,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// 1 to `max` ASCII characters, each accepted by `allowed`.
fn is_name(text: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    (1..=max).contains(&text.len()) && text.chars().all(allowed)
}

/// `[a-z][a-z0-9_]{0,39}`: field and flag names.
fn is_field_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
        && is_name(text, 40, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn form(fields: &str, flags: &str) -> FormDefinition {
        json::parse(&format!(
            r#"{{"id":"test-form","version":1,"title":"Test","fields":{fields},"flags":{flags}}}"#
        ))
        .unwrap()
    }

    const TWO_FIELDS: &str = r#"[
        {"name":"systolic","label":"Sistolik","type":"integer","min":50,"max":300},
        {"name":"fever","label":"Demam","type":"boolean"}]"#;

    #[test]
    fn form_ref_prints_id_at_version() {
        let def = form(TWO_FIELDS, "[]");
        assert_eq!(def.form_ref().to_string(), "test-form@1");
        assert_eq!(def.check(), Ok(()));
    }

    #[test]
    fn flag_referencing_a_missing_field_is_refused() {
        let def = form(
            TWO_FIELDS,
            r#"[{"name":"high","label":"High","when":{"any":[{"field":"fever","is":true},{"field":"diastolic","gte":90}]}}]"#,
        );
        let err = def.check().unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("flags[0].when.any[1].field", Rule::Unknown)
        );
    }

    #[test]
    fn duplicate_field_name_is_refused() {
        let def = form(
            r#"[{"name":"fever","label":"Demam","type":"boolean"},{"name":"fever","label":"Lagi","type":"boolean"}]"#,
            "[]",
        );
        let err = def.check().unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("fields[1].name", Rule::Consistency)
        );
    }

    #[test]
    fn operator_must_suit_the_field_kind() {
        let def = form(
            TWO_FIELDS,
            r#"[{"name":"hot","label":"Hot","when":{"field":"fever","gte":1}}]"#,
        );
        let err = def.check().unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("flags[0].when.gte", Rule::Consistency)
        );

        let def = form(
            r#"[{"name":"status","label":"Status","type":"choice","choices":["none","odgj"]}]"#,
            r#"[{"name":"ill","label":"Ill","when":{"field":"status","in":["odgj","odmk"]}}]"#,
        );
        let err = def.check().unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("flags[0].when.in[1]", Rule::Choice)
        );
    }

    #[test]
    fn limits_and_names_are_checked_with_their_paths() {
        let def = form(
            r#"[{"name":"a","label":"A","type":"integer","min":5,"max":1}]"#,
            "[]",
        );
        assert_eq!(def.check().unwrap_err().field, "fields[0].max");
        let def = form(
            r#"[{"name":"a","label":"A","type":"decimal","scale":4,"min":0,"max":1}]"#,
            "[]",
        );
        assert_eq!(def.check().unwrap_err().field, "fields[0].scale");
        let def = form(
            r#"[{"name":"a","label":"A","type":"choice","choices":["x","x"]}]"#,
            "[]",
        );
        assert_eq!(def.check().unwrap_err().field, "fields[0].choices[1]");
        let def = form(
            r#"[{"name":"a","label":"A","type":"text","max_length":0}]"#,
            "[]",
        );
        assert_eq!(def.check().unwrap_err().field, "fields[0].max_length");
        let def = form(r#"[{"name":"A","label":"A","type":"date"}]"#, "[]");
        assert_eq!(def.check().unwrap_err().field, "fields[0].name");
        let def = form(r#"[{"name":"a","label":" ","type":"date"}]"#, "[]");
        assert_eq!(def.check().unwrap_err().field, "fields[0].label");
        let def = form(
            TWO_FIELDS,
            r#"[{"name":"fever","label":"F","when":{"field":"fever","is":true}}]"#,
        );
        assert_eq!(def.check().unwrap_err().field, "flags[0].name");
        let mut def = form(TWO_FIELDS, "[]");
        def.id = "Vital Signs".into();
        assert_eq!(def.check().unwrap_err().field, "id");
        def.id = "ok".into();
        def.version = 0;
        assert_eq!(def.check().unwrap_err().field, "version");
    }

    #[test]
    fn applicability_admits_by_sex_and_age() {
        let women = Applicability {
            sex: Some(Sex::Female),
            min_age_months: Some(120),
            max_age_months: Some(720),
        };
        assert!(women.admits(Sex::Female, 120));
        assert!(women.admits(Sex::Female, 720));
        assert!(!women.admits(Sex::Female, 721));
        assert!(!women.admits(Sex::Male, 300));
        assert!(Applicability::default().admits(Sex::Male, 0));
    }

    #[test]
    fn definition_round_trips_through_json() {
        let def = form(
            TWO_FIELDS,
            r#"[{"name":"high","label":"High","urgent":true,"when":{"field":"systolic","gte":140}}]"#,
        );
        let text = serde_json::to_string(&def).unwrap();
        assert_eq!(json::parse::<FormDefinition>(&text).unwrap(), def);
    }
}
