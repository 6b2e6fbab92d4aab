//! A household (keluarga): one Kartu Keluarga, at one address, in one puskesmas's area.

use serde::{Deserialize, Serialize};

use crate::area::{Address, GeoPoint, Kecamatan, PuskesmasCode};
use crate::codes::RecordKind;
use crate::entity::{CheckContext, Entity};
use crate::error::ValidationError;
use crate::fields::{CodeTable, FieldSpec, FieldType};
use crate::kk::KkNumber;
use crate::name::PersonName;
use crate::pispk::{Answer, PisPk};

/// A household as the team registers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Household {
    pub kk: KkNumber,
    pub head_name: PersonName,
    pub address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
    /// The puskesmas whose working area the household is in: decides which devices see it.
    pub puskesmas: PuskesmasCode,
    /// The family's answers to the 12 Keluarga Sehat indicators.
    #[serde(default)]
    pub pispk: PisPk,
}

const ANSWER: FieldType = FieldType::Code(CodeTable::of::<Answer>());

/// Field numbers of a household. Never reuse one.
pub mod field {
    pub const KK: u32 = 10;
    pub const PUSKESMAS: u32 = 18;
}

static FIELDS: &[FieldSpec] = &[
    FieldSpec::new(field::KK, &["kk"], FieldType::Digits),
    FieldSpec::new(11, &["head_name"], FieldType::Text),
    FieldSpec::new(12, &["address", "street"], FieldType::Text),
    FieldSpec::new(13, &["address", "rt"], FieldType::Int),
    FieldSpec::new(14, &["address", "rw"], FieldType::Int),
    FieldSpec::new(15, &["address", "kelurahan"], FieldType::Text),
    FieldSpec::new(
        16,
        &["address", "kecamatan"],
        FieldType::Code(CodeTable::of::<Kecamatan>()),
    ),
    FieldSpec::new(17, &["location"], FieldType::Point),
    FieldSpec::new(field::PUSKESMAS, &["puskesmas"], FieldType::Text),
    FieldSpec::new(20, &["pispk", "family_planning"], ANSWER),
    FieldSpec::new(21, &["pispk", "facility_delivery"], ANSWER),
    FieldSpec::new(22, &["pispk", "complete_immunisation"], ANSWER),
    FieldSpec::new(23, &["pispk", "exclusive_breastfeeding"], ANSWER),
    FieldSpec::new(24, &["pispk", "growth_monitoring"], ANSWER),
    FieldSpec::new(25, &["pispk", "tb_treated"], ANSWER),
    FieldSpec::new(26, &["pispk", "hypertension_treated"], ANSWER),
    FieldSpec::new(27, &["pispk", "mental_disorder_treated"], ANSWER),
    FieldSpec::new(28, &["pispk", "no_smoker"], ANSWER),
    FieldSpec::new(29, &["pispk", "jkn_member"], ANSWER),
    FieldSpec::new(30, &["pispk", "clean_water"], ANSWER),
    FieldSpec::new(31, &["pispk", "healthy_latrine"], ANSWER),
];

impl Entity for Household {
    const KIND: RecordKind = RecordKind::Household;

    fn field_specs() -> &'static [FieldSpec] {
        FIELDS
    }

    /// Every rule of a household is a rule of one field, enforced when it is parsed.
    fn check(&self, _ctx: &CheckContext) -> Result<(), ValidationError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pispk::Indicator;
    use serde_json::json;

    pub(crate) fn sample() -> serde_json::Value {
        json!({
            "kk": "3671011203150007",
            "head_name": "Ahmad Suryadi",
            "address": {"street": "Jl. Melati No. 12", "rt": 3, "rw": 5,
                        "kelurahan": "Sukasari", "kecamatan": "tangerang"},
            "location": {"lat": -6.178306, "lon": 106.631889},
            "puskesmas": "P3671010201",
            "pispk": {"family_planning": "yes", "no_smoker": "no", "clean_water": "yes"}
        })
    }

    #[test]
    fn household_round_trips_through_its_fields() {
        let hh: Household = crate::json::from_value(sample()).unwrap();
        assert_eq!(hh.pispk.get(Indicator::NoSmoker), Some(Answer::No));
        let fields = hh.to_fields();
        assert_eq!(Household::from_fields(&fields).unwrap(), hh);
        assert_eq!(serde_json::to_value(&hh).unwrap(), sample());
    }

    #[test]
    fn a_bad_kk_names_its_field() {
        let mut json = sample();
        json["kk"] = json!("12345");
        let err = crate::json::from_value::<Household>(json).unwrap_err();
        assert_eq!(err.field, "kk");
    }
}
