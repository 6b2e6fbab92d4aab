//! A visit to a household, with the screenings of the people seen.
//!
//! A visit is recorded once (with its referrals, in one transaction) and then only removed
//! if entered in error. Its screenings are stored in the visit's own record, one field per
//! screening value, at keys `(slot + 1) << 8 | sub` where `slot` is the screening's position
//! in the visit and `sub` is 0 for the person, 1 for the form id, 2 for the form version and
//! `3 + i` for the form's field `i` (form versions are immutable, so `i` is stable).

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::codes::{RecordKind, VisitOutcome};
use crate::entity::{CheckContext, Entity};
use crate::error::{Rule, ValidationError};
use crate::fields::{CodeTable, FieldSpec, FieldType};
use crate::forms::{FormDefinition, FormRef, FormRegistry};
use crate::ids::{HouseholdId, PersonId};
use crate::value::{FieldKey, FieldMap, Value};

/// A visit as the team records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visit {
    pub household: HouseholdId,
    /// When, in the device's own UTC offset (WIB is +07:00).
    pub visited_at: DateTime<FixedOffset>,
    pub team: TeamCode,
    /// The device that recorded the visit; set by the device itself, never by input.
    #[serde(default)]
    pub device: u32,
    pub outcome: VisitOutcome,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub screenings: Vec<Screening>,
}

/// One person's screening with one form, as entered: values by field name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Screening {
    pub person: PersonId,
    pub form: FormRef,
    #[serde(default)]
    pub values: Map<String, Json>,
}

/// A screening as stored: values by the form's field index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredScreening {
    pub person: PersonId,
    pub form: FormRef,
    pub values: Vec<(u8, Value)>,
}

/// Field numbers of a visit. Never reuse one.
pub mod field {
    pub const HOUSEHOLD: u32 = 10;
    pub const VISITED_AT: u32 = 11;
    pub const OUTCOME: u32 = 14;
}

static FIELDS: &[FieldSpec] = &[
    FieldSpec::new(field::HOUSEHOLD, &["household"], FieldType::Id),
    FieldSpec::new(field::VISITED_AT, &["visited_at"], FieldType::Time),
    FieldSpec::new(12, &["team"], FieldType::Text),
    FieldSpec::new(13, &["device"], FieldType::Int),
    FieldSpec::new(
        field::OUTCOME,
        &["outcome"],
        FieldType::Code(CodeTable::of::<VisitOutcome>()),
    ),
];

/// Most screenings one visit may hold (a family of eight, six forms each, with room).
pub const MAX_SCREENINGS: usize = 64;

const SUB_PERSON: u32 = 0;
const SUB_FORM_ID: u32 = 1;
const SUB_FORM_VERSION: u32 = 2;
const SUB_FIRST_VALUE: u32 = 3;

fn slot_key(slot: usize, sub: u32) -> FieldKey {
    debug_assert!(slot < MAX_SCREENINGS && sub < 256);
    FieldKey(((slot as u32 + 1) << 8) | sub)
}

/// The first program date: no visit can be older.
fn programme_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2017, 1, 1).expect("valid date")
}

impl Visit {
    /// Checks every screening against its form and returns their stored values, in order.
    pub fn validate_screenings(
        &self,
        forms: &FormRegistry,
    ) -> Result<Vec<StoredScreening>, ValidationError> {
        if self.outcome != VisitOutcome::Visited && !self.screenings.is_empty() {
            return Err(ValidationError::new(
                "screenings",
                Rule::Consistency,
                format!("a visit with outcome {} has no screenings", self.outcome),
            ));
        }
        if self.screenings.len() > MAX_SCREENINGS {
            return Err(ValidationError::new(
                "screenings",
                Rule::Range,
                format!("at most {MAX_SCREENINGS} screenings per visit"),
            ));
        }
        let mut stored: Vec<StoredScreening> = Vec::with_capacity(self.screenings.len());
        for (i, screening) in self.screenings.iter().enumerate() {
            let at = format!("screenings[{i}]");
            let form = forms
                .get(&screening.form.id, screening.form.version)
                .ok_or_else(|| {
                    ValidationError::new(
                        format!("{at}.form"),
                        Rule::Unknown,
                        format!("form {} is not known on this device", screening.form),
                    )
                })?;
            if stored
                .iter()
                .any(|s| s.person == screening.person && s.form.id == screening.form.id)
            {
                return Err(ValidationError::new(
                    at,
                    Rule::Consistency,
                    "this person already has a screening with this form in this visit",
                ));
            }
            let values = form
                .validate_values(&screening.values)
                .map_err(|e| e.within(&format!("{at}.values")))?;
            stored.push(StoredScreening {
                person: screening.person,
                form: screening.form.clone(),
                values,
            });
        }
        Ok(stored)
    }

    /// The fields of the visit's screenings.
    pub fn screening_fields(screenings: &[StoredScreening]) -> FieldMap {
        let mut fields = FieldMap::new();
        for (slot, s) in screenings.iter().enumerate() {
            fields.insert(slot_key(slot, SUB_PERSON), Value::Id(s.person.0));
            fields.insert(slot_key(slot, SUB_FORM_ID), Value::Text(s.form.id.clone()));
            fields.insert(
                slot_key(slot, SUB_FORM_VERSION),
                Value::Int(i64::from(s.form.version)),
            );
            for (index, value) in &s.values {
                fields.insert(
                    slot_key(slot, SUB_FIRST_VALUE + u32::from(*index)),
                    value.clone(),
                );
            }
        }
        fields
    }

    /// The screenings stored in a visit's fields. Lenient: a slot whose header is damaged is
    /// skipped, never an error that would hide the visit.
    pub fn screenings_from_fields(fields: &FieldMap) -> Vec<StoredScreening> {
        let mut out = Vec::new();
        for slot in 0..MAX_SCREENINGS {
            let Some(Value::Id(person)) = fields.get(&slot_key(slot, SUB_PERSON)) else {
                // Slots are filled in order, so the first empty one ends the list.
                break;
            };
            let (Some(Value::Text(id)), Some(Value::Int(version))) = (
                fields.get(&slot_key(slot, SUB_FORM_ID)),
                fields.get(&slot_key(slot, SUB_FORM_VERSION)),
            ) else {
                continue;
            };
            let Ok(version) = u16::try_from(*version) else {
                continue;
            };
            let lo = slot_key(slot, SUB_FIRST_VALUE);
            let hi = slot_key(slot, 255);
            let values = fields
                .range(lo..=hi)
                .filter(|(_, v)| !v.is_null())
                .filter_map(|(k, v)| Some((u8::try_from(k.0 - lo.0).ok()?, v.clone())))
                .collect();
            out.push(StoredScreening {
                person: PersonId(*person),
                form: FormRef {
                    id: id.clone(),
                    version,
                },
                values,
            });
        }
        out
    }
}

impl StoredScreening {
    /// The screening's JSON, with its values by name and its raised flags, using its form (or
    /// raw values if this device does not know the form version yet).
    pub fn to_json(&self, forms: &FormRegistry) -> Json {
        let form: Option<&FormDefinition> = forms.get(&self.form.id, self.form.version);
        let (values, flags) = match form {
            Some(form) => (
                Json::Object(form.values_to_json(&self.values)),
                form.flags(&self.values)
                    .iter()
                    .map(|f| Json::String(f.name.clone()))
                    .collect(),
            ),
            None => (Json::Null, Vec::new()),
        };
        serde_json::json!({
            "person": self.person,
            "form": self.form,
            "values": values,
            "flags": flags,
        })
    }

    /// The names of the flags this screening raises, and whether any is urgent.
    pub fn flags(&self, forms: &FormRegistry) -> (Vec<String>, bool) {
        match forms.get(&self.form.id, self.form.version) {
            Some(form) => {
                let raised = form.flags(&self.values);
                let urgent = raised.iter().any(|f| f.urgent);
                (raised.iter().map(|f| f.name.clone()).collect(), urgent)
            }
            None => (Vec::new(), false),
        }
    }
}

impl Entity for Visit {
    const KIND: RecordKind = RecordKind::Visit;

    fn field_specs() -> &'static [FieldSpec] {
        FIELDS
    }

    fn check(&self, ctx: &CheckContext) -> Result<(), ValidationError> {
        let day = self.visited_at.date_naive();
        if day < programme_start() {
            return Err(ValidationError::new(
                "visited_at",
                Rule::Date,
                "is before Cageur Jasa began (2017)",
            ));
        }
        if day > ctx.today.succ_opt().unwrap_or(ctx.today) {
            return Err(ValidationError::new(
                "visited_at",
                Rule::Date,
                "must not be in the future",
            ));
        }
        Ok(())
    }
}

/// A team's code, as the health office names it (`CPD-01`): upper-case letters, digits and
/// hyphens, 1 to 20 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TeamCode(String);

impl TeamCode {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let code = text.trim().to_ascii_uppercase();
        if code.is_empty()
            || code.len() > 20
            || !code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                "must be 1 to 20 letters, digits or hyphens",
            ));
        }
        Ok(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TeamCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn forms() -> FormRegistry {
        FormRegistry::with_builtins()
    }

    fn ctx() -> CheckContext {
        CheckContext {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        }
    }

    const PERSON: &str = "0192f0c4-5b1e-7c3a-9d2e-1f2a3b4c5d6e";

    fn sample() -> Json {
        json!({
            "household": "0192f0c4-5b1e-7c3a-9d2e-000000000001",
            "visited_at": "2026-11-23T09:30:00+07:00",
            "team": "cpd-01",
            "outcome": "visited",
            "screenings": [
                {"person": PERSON, "form": {"id": "vital-signs", "version": 1},
                 "values": {"systolic": 150, "diastolic": 95, "temperature": 36.5}},
                {"person": PERSON, "form": {"id": "tb-symptoms", "version": 1},
                 "values": {"cough_two_weeks": true, "cough_with_blood": false}}
            ]
        })
    }

    #[test]
    fn screenings_round_trip_through_fields() {
        let visit: Visit = crate::json::from_value(sample()).unwrap();
        visit.check(&ctx()).unwrap();
        let stored = visit.validate_screenings(&forms()).unwrap();
        let mut fields = visit.to_fields();
        fields.extend(Visit::screening_fields(&stored));
        assert_eq!(Visit::screenings_from_fields(&fields), stored);
        let decoded = Visit::from_fields(&fields).unwrap();
        assert_eq!(decoded.team.as_str(), "CPD-01");
        let (flags, urgent) = stored[0].flags(&forms());
        assert_eq!((flags, urgent), (vec!["raised_bp".to_owned()], false));
        assert_eq!(
            stored[1].to_json(&forms())["flags"],
            json!(["presumptive_tb"])
        );
    }

    #[test]
    fn an_implausible_value_names_its_screening_and_field() {
        let mut json = sample();
        json["screenings"][0]["values"]["temperature"] = json!(52.0);
        let visit: Visit = crate::json::from_value(json).unwrap();
        let err = visit.validate_screenings(&forms()).unwrap_err();
        assert_eq!(err.field, "screenings[0].values.temperature");
        assert_eq!(err.rule, Rule::Range);
    }

    #[test]
    fn nobody_home_has_no_screenings() {
        let mut json = sample();
        json["outcome"] = json!("nobody_home");
        let visit: Visit = crate::json::from_value(json).unwrap();
        assert_eq!(
            visit.validate_screenings(&forms()).unwrap_err().rule,
            Rule::Consistency
        );
    }

    #[test]
    fn an_unknown_form_is_refused() {
        let mut json = sample();
        json["screenings"][0]["form"]["version"] = json!(99);
        let visit: Visit = crate::json::from_value(json).unwrap();
        let err = visit.validate_screenings(&forms()).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("screenings[0].form", Rule::Unknown)
        );
    }

    #[test]
    fn a_visit_in_the_future_is_refused() {
        let mut json = sample();
        json["visited_at"] = json!("2026-12-25T09:30:00+07:00");
        let visit: Visit = crate::json::from_value(json).unwrap();
        assert_eq!(visit.check(&ctx()).unwrap_err().field, "visited_at");
    }
}
