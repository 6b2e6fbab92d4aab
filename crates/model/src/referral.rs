//! A referral of a person to a puskesmas or hospital (through SISRUTE, the national referral
//! system, and the free ambulance 119 when needed).

use serde::{Deserialize, Serialize};

use crate::codes::{DestinationKind, RecordKind, ReferralCategory, ReferralStatus, Urgency};
use crate::entity::{CheckContext, Entity, check_text};
use crate::error::{Rule, ValidationError};
use crate::fields::{CodeTable, FieldSpec, FieldType};
use crate::ids::{HouseholdId, PersonId, VisitId};

/// A referral as the team records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referral {
    pub person: PersonId,
    /// The person's household; set by the device from the person, never by input.
    #[serde(default)]
    pub household: HouseholdId,
    /// The visit the referral was made at, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visit: Option<VisitId>,
    pub category: ReferralCategory,
    pub reason: String,
    pub destination: Destination,
    pub urgency: Urgency,
    /// Whether the free ambulance 119 was called.
    #[serde(default)]
    pub ambulance_119: bool,
    /// The referral's number in SISRUTE, once it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sisrute_ref: Option<String>,
    #[serde(default = "created")]
    pub status: ReferralStatus,
}

fn created() -> ReferralStatus {
    ReferralStatus::Created
}

/// Where the patient is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub kind: DestinationKind,
    pub name: String,
}

/// Field numbers of a referral. Never reuse one.
pub mod field {
    pub const PERSON: u32 = 10;
    pub const HOUSEHOLD: u32 = 11;
    pub const STATUS: u32 = 20;
}

static FIELDS: &[FieldSpec] = &[
    FieldSpec::new(field::PERSON, &["person"], FieldType::Id),
    FieldSpec::new(field::HOUSEHOLD, &["household"], FieldType::Id),
    FieldSpec::new(12, &["visit"], FieldType::Id),
    FieldSpec::new(
        13,
        &["category"],
        FieldType::Code(CodeTable::of::<ReferralCategory>()),
    ),
    FieldSpec::new(14, &["reason"], FieldType::Text),
    FieldSpec::new(
        15,
        &["destination", "kind"],
        FieldType::Code(CodeTable::of::<DestinationKind>()),
    ),
    FieldSpec::new(16, &["destination", "name"], FieldType::Text),
    FieldSpec::new(
        17,
        &["urgency"],
        FieldType::Code(CodeTable::of::<Urgency>()),
    ),
    FieldSpec::new(18, &["ambulance_119"], FieldType::Bool),
    FieldSpec::new(19, &["sisrute_ref"], FieldType::Text),
    FieldSpec::new(
        field::STATUS,
        &["status"],
        FieldType::Code(CodeTable::of::<ReferralStatus>()),
    ),
];

impl Referral {
    /// The rule for editing a referral: its status moves only forward.
    pub fn check_transition(&self, before: &Referral) -> Result<(), ValidationError> {
        if self.status != before.status && !before.status.can_move_to(self.status) {
            return Err(ValidationError::new(
                "status",
                Rule::Transition,
                format!("cannot move from {} to {}", before.status, self.status),
            ));
        }
        Ok(())
    }
}

impl Entity for Referral {
    const KIND: RecordKind = RecordKind::Referral;

    fn field_specs() -> &'static [FieldSpec] {
        FIELDS
    }

    fn check(&self, _ctx: &CheckContext) -> Result<(), ValidationError> {
        check_text("reason", &self.reason, 500)?;
        check_text("destination.name", &self.destination.name, 120)?;
        if let Some(sisrute) = &self.sisrute_ref {
            let ok = (1..=40).contains(&sisrute.len())
                && sisrute
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-/.".contains(&b));
            if !ok {
                return Err(ValidationError::new(
                    "sisrute_ref",
                    Rule::Format,
                    "must be 1 to 40 letters, digits, '-', '/' or '.'",
                ));
            }
        }
        if self.ambulance_119 && self.urgency == Urgency::Routine {
            return Err(ValidationError::new(
                "ambulance_119",
                Rule::Consistency,
                "the ambulance is called only for an urgent or emergency referral",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn ctx() -> CheckContext {
        CheckContext {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        }
    }

    fn sample() -> serde_json::Value {
        json!({
            "person": "0192f0c4-5b1e-7c3a-9d2e-1f2a3b4c5d6e",
            "category": "tuberculosis",
            "reason": "Batuk lebih dari dua minggu, perlu pemeriksaan dahak",
            "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"},
            "urgency": "routine"
        })
    }

    #[test]
    fn a_new_referral_starts_created_and_round_trips() {
        let r: Referral = crate::json::from_value(sample()).unwrap();
        r.check(&ctx()).unwrap();
        assert_eq!(r.status, ReferralStatus::Created);
        assert_eq!(Referral::from_fields(&r.to_fields()).unwrap(), r);
    }

    #[test]
    fn status_cannot_move_back() {
        let mut before: Referral = crate::json::from_value(sample()).unwrap();
        before.status = ReferralStatus::Arrived;
        let mut after = before.clone();
        after.status = ReferralStatus::Sent;
        let err = after.check_transition(&before).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("status", Rule::Transition));
        after.status = ReferralStatus::Completed;
        after.check_transition(&before).unwrap();
    }

    #[test]
    fn ambulance_needs_urgency() {
        let mut json = sample();
        json["ambulance_119"] = json!(true);
        let r: Referral = crate::json::from_value(json).unwrap();
        assert_eq!(r.check(&ctx()).unwrap_err().field, "ambulance_119");
    }

    #[test]
    fn empty_reason_is_refused() {
        let mut json = sample();
        json["reason"] = json!("  ");
        let r: Referral = crate::json::from_value(json).unwrap();
        assert_eq!(r.check(&ctx()).unwrap_err().rule, Rule::Required);
    }
}
