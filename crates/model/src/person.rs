//! A person: a member of a household, identified by NIK once they have one.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::codes::{RecordKind, Relation, Sex};
use crate::entity::{CheckContext, Entity};
use crate::error::{Rule, ValidationError};
use crate::fields::{CodeTable, FieldSpec, FieldType};
use crate::ids::HouseholdId;
use crate::name::PersonName;
use crate::nik::Nik;

/// A person as the team registers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub household: HouseholdId,
    /// Missing for a newborn not yet registered with Dukcapil.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nik: Option<Nik>,
    pub name: PersonName,
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub relation: Relation,
    /// National health insurance (JKN-KIS / BPJS Kesehatan) card number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkn: Option<JknNumber>,
    #[serde(default)]
    pub pregnant: bool,
}

/// Field numbers of a person. Never reuse one.
pub mod field {
    pub const HOUSEHOLD: u32 = 10;
    pub const NIK: u32 = 11;
    pub const NAME: u32 = 12;
    pub const SEX: u32 = 13;
    pub const BIRTH_DATE: u32 = 14;
}

static FIELDS: &[FieldSpec] = &[
    FieldSpec::new(field::HOUSEHOLD, &["household"], FieldType::Id),
    FieldSpec::new(field::NIK, &["nik"], FieldType::Digits),
    FieldSpec::new(field::NAME, &["name"], FieldType::Text),
    FieldSpec::new(
        field::SEX,
        &["sex"],
        FieldType::Code(CodeTable::of::<Sex>()),
    ),
    FieldSpec::new(field::BIRTH_DATE, &["birth_date"], FieldType::Date),
    FieldSpec::new(
        15,
        &["relation"],
        FieldType::Code(CodeTable::of::<Relation>()),
    ),
    FieldSpec::new(16, &["jkn"], FieldType::Text),
    FieldSpec::new(17, &["pregnant"], FieldType::Bool),
];

/// Oldest plausible age.
const MAX_AGE_YEARS: i32 = 120;

impl Person {
    /// Age in whole months on `today` (0 for a birth date in the future).
    pub fn age_months(&self, today: NaiveDate) -> u32 {
        age_months(self.birth_date, today)
    }
}

/// Age in whole months between `birth` and `today` (0 if `birth` is later).
pub fn age_months(birth: NaiveDate, today: NaiveDate) -> u32 {
    let mut months =
        (today.year() - birth.year()) * 12 + today.month() as i32 - birth.month() as i32;
    if today.day() < birth.day() {
        months -= 1;
    }
    u32::try_from(months).unwrap_or(0)
}

impl Entity for Person {
    const KIND: RecordKind = RecordKind::Person;

    fn field_specs() -> &'static [FieldSpec] {
        FIELDS
    }

    fn check(&self, ctx: &CheckContext) -> Result<(), ValidationError> {
        if self.birth_date > ctx.today {
            return Err(ValidationError::new(
                "birth_date",
                Rule::Date,
                "must not be in the future",
            ));
        }
        if ctx.today.year() - self.birth_date.year() > MAX_AGE_YEARS {
            return Err(ValidationError::new(
                "birth_date",
                Rule::Date,
                format!("gives an age over {MAX_AGE_YEARS} years"),
            ));
        }
        if let Some(nik) = &self.nik {
            if nik.sex() != self.sex {
                return Err(ValidationError::new(
                    "nik",
                    Rule::Consistency,
                    format!("encodes sex {}, but sex is {}", nik.sex(), self.sex),
                ));
            }
            if !nik.birth_date_matches(self.birth_date) {
                return Err(ValidationError::new(
                    "nik",
                    Rule::Consistency,
                    "encodes another birth date than birth_date",
                ));
            }
        }
        if self.pregnant {
            if self.sex != Sex::Female {
                return Err(ValidationError::new(
                    "pregnant",
                    Rule::Consistency,
                    "only a woman can be pregnant",
                ));
            }
            let years = self.age_months(ctx.today) / 12;
            if !(10..=60).contains(&years) {
                return Err(ValidationError::new(
                    "pregnant",
                    Rule::Consistency,
                    "implausible for a woman of this age (10 to 60 years)",
                ));
            }
        }
        Ok(())
    }
}

/// A JKN-KIS (BPJS Kesehatan) card number: 13 digits, often with leading zeros.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct JknNumber(String);

impl JknNumber {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text.len() != 13 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ValidationError::new("", Rule::Format, "must be 13 digits"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for JknNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JknNumber(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for JknNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> CheckContext {
        CheckContext {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        }
    }

    fn sample() -> serde_json::Value {
        json!({
            "household": "0192f0c4-5b1e-7c3a-9d2e-1f2a3b4c5d6e",
            "nik": "3671014702900001",
            "name": "Siti Aminah",
            "sex": "female",
            "birth_date": "1990-02-07",
            "relation": "spouse",
            "jkn": "0001234567890",
            "pregnant": true
        })
    }

    #[test]
    fn a_consistent_person_passes_and_round_trips() {
        let p: Person = crate::json::from_value(sample()).unwrap();
        p.check(&ctx()).unwrap();
        assert_eq!(Person::from_fields(&p.to_fields()).unwrap(), p);
    }

    #[test]
    fn nik_must_agree_with_sex() {
        let mut json = sample();
        json["sex"] = json!("male");
        json["pregnant"] = json!(false);
        let p: Person = crate::json::from_value(json).unwrap();
        let err = p.check(&ctx()).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("nik", Rule::Consistency));
    }

    #[test]
    fn nik_must_agree_with_birth_date() {
        let mut json = sample();
        json["birth_date"] = json!("1990-02-08");
        let p: Person = crate::json::from_value(json).unwrap();
        assert_eq!(p.check(&ctx()).unwrap_err().field, "nik");
    }

    #[test]
    fn birth_date_in_the_future_is_refused() {
        let mut json = sample();
        json.as_object_mut().unwrap().remove("nik");
        json["birth_date"] = json!("2027-01-01");
        let p: Person = crate::json::from_value(json).unwrap();
        assert_eq!(p.check(&ctx()).unwrap_err().rule, Rule::Date);
    }

    #[test]
    fn a_man_cannot_be_pregnant() {
        let mut json = sample();
        json.as_object_mut().unwrap().remove("nik");
        json["sex"] = json!("male");
        let p: Person = crate::json::from_value(json).unwrap();
        assert_eq!(p.check(&ctx()).unwrap_err().field, "pregnant");
    }

    #[test]
    fn jkn_is_thirteen_digits() {
        let mut json = sample();
        json["jkn"] = json!("12345");
        assert_eq!(
            crate::json::from_value::<Person>(json).unwrap_err().field,
            "jkn"
        );
    }

    #[test]
    fn age_in_months_counts_whole_months() {
        let birth = NaiveDate::from_ymd_opt(2024, 5, 24).unwrap();
        assert_eq!(age_months(birth, ctx().today), 29);
        assert_eq!(age_months(ctx().today, birth), 0);
    }
}
