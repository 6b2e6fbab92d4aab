//! A follow-up: the monitoring a team does after a referral or a discharge from hospital.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::codes::{FollowUpOutcome, RecordKind};
use crate::entity::{CheckContext, Entity};
use crate::error::{Rule, ValidationError};
use crate::fields::{CodeTable, FieldSpec, FieldType};
use crate::ids::{HouseholdId, PersonId, ReferralId};

/// A follow-up as the team plans and then records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub person: PersonId,
    /// The person's household; set by the device from the person, never by input.
    #[serde(default)]
    pub household: HouseholdId,
    /// The referral this follow-up continues, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<ReferralId>,
    pub due: NaiveDate,
    /// When it was done; set together with `outcome`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<FixedOffset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<FollowUpOutcome>,
}

/// Field numbers of a follow-up. Never reuse one.
pub mod field {
    pub const PERSON: u32 = 10;
    pub const HOUSEHOLD: u32 = 11;
    pub const DUE: u32 = 13;
    pub const DONE_AT: u32 = 14;
}

static FIELDS: &[FieldSpec] = &[
    FieldSpec::new(field::PERSON, &["person"], FieldType::Id),
    FieldSpec::new(field::HOUSEHOLD, &["household"], FieldType::Id),
    FieldSpec::new(12, &["referral"], FieldType::Id),
    FieldSpec::new(field::DUE, &["due"], FieldType::Date),
    FieldSpec::new(field::DONE_AT, &["done_at"], FieldType::Time),
    FieldSpec::new(
        15,
        &["outcome"],
        FieldType::Code(CodeTable::of::<FollowUpOutcome>()),
    ),
];

impl Entity for FollowUp {
    const KIND: RecordKind = RecordKind::FollowUp;

    fn field_specs() -> &'static [FieldSpec] {
        FIELDS
    }

    fn check(&self, ctx: &CheckContext) -> Result<(), ValidationError> {
        match (&self.done_at, &self.outcome) {
            (Some(_), None) => {
                return Err(ValidationError::new(
                    "outcome",
                    Rule::Required,
                    "is required once done_at is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ValidationError::new(
                    "done_at",
                    Rule::Required,
                    "is required once outcome is set",
                ));
            }
            _ => {}
        }
        if let Some(done) = self.done_at
            && done.date_naive() > ctx.today.succ_opt().unwrap_or(ctx.today)
        {
            return Err(ValidationError::new(
                "done_at",
                Rule::Date,
                "must not be in the future",
            ));
        }
        let earliest = NaiveDate::from_ymd_opt(2017, 1, 1).expect("valid date");
        if self.due < earliest {
            return Err(ValidationError::new(
                "due",
                Rule::Date,
                "is before Cageur Jasa began (2017)",
            ));
        }
        Ok(())
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

    #[test]
    fn done_needs_an_outcome() {
        let f: FollowUp = crate::json::from_value(json!({
            "person": "0192f0c4-5b1e-7c3a-9d2e-1f2a3b4c5d6e",
            "due": "2026-11-30",
            "done_at": "2026-11-23T10:00:00+07:00"
        }))
        .unwrap();
        let err = f.check(&ctx()).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("outcome", Rule::Required));
    }

    #[test]
    fn a_follow_up_round_trips() {
        let f: FollowUp = crate::json::from_value(json!({
            "person": "0192f0c4-5b1e-7c3a-9d2e-1f2a3b4c5d6e",
            "due": "2026-11-30",
            "done_at": "2026-11-23T10:00:00+07:00",
            "outcome": "improved"
        }))
        .unwrap();
        f.check(&ctx()).unwrap();
        assert_eq!(FollowUp::from_fields(&f.to_fields()).unwrap(), f);
    }
}
