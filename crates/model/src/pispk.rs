//! PIS-PK (Program Indonesia Sehat dengan Pendekatan Keluarga), the national family health
//! approach: 12 indicators per family, each yes, no or not applicable, rolled up into the
//! family health index (IKS) that the health office reports.
//!
//! The index and its category are computed with integers, so every replica and every report
//! puts a family in the same category (0.8 exactly is pre-healthy, not healthy).

use crate::codes::code_enum;
use crate::error::{Rule, ValidationError};
use std::fmt;

code_enum! {
    /// The 12 PIS-PK indicators, coded in the Ministry's order.
    Indicator {
        /// The family takes part in family planning (KB).
        FamilyPlanning = 1 => "family_planning",
        /// The mother gave birth in a health facility.
        FacilityDelivery = 2 => "facility_delivery",
        /// The infant received complete basic immunisation.
        CompleteImmunisation = 3 => "complete_immunisation",
        /// The infant was exclusively breastfed.
        ExclusiveBreastfeeding = 4 => "exclusive_breastfeeding",
        /// Under-fives have their growth monitored.
        GrowthMonitoring = 5 => "growth_monitoring",
        /// People with pulmonary TB are treated to standard.
        TbTreated = 6 => "tb_treated",
        /// People with hypertension take their treatment regularly.
        HypertensionTreated = 7 => "hypertension_treated",
        /// People with mental disorders are treated and not neglected.
        MentalDisorderTreated = 8 => "mental_disorder_treated",
        /// No family member smokes.
        NoSmoker = 9 => "no_smoker",
        /// The family is enrolled in national health insurance (JKN).
        JknMember = 10 => "jkn_member",
        /// The family has access to clean water.
        CleanWater = 11 => "clean_water",
        /// The family has access to, or uses, a healthy latrine.
        HealthyLatrine = 12 => "healthy_latrine",
    }
}

/// Number of PIS-PK indicators.
pub const INDICATOR_COUNT: usize = 12;

impl Indicator {
    /// Position in [`PisPk::answers`] (code - 1).
    pub fn index(self) -> usize {
        usize::from(self.code()) - 1
    }
}

code_enum! {
    /// An answer to one indicator; not applicable when the family has no one it is about
    /// (no infant, nobody with TB).
    Answer { Yes = 1 => "yes", No = 2 => "no", NotApplicable = 3 => "not_applicable" }
}

code_enum! {
    /// The family's category by its index: over 0.800 healthy, 0.500 to 0.800 pre-healthy,
    /// under 0.500 unhealthy. JSON names are the Indonesian terms of the reports.
    HealthCategory { Healthy = 1 => "sehat", PreHealthy = 2 => "pra_sehat", Unhealthy = 3 => "tidak_sehat" }
}

/// A family's PIS-PK answers, indexed by [`Indicator::index`]; `None` is not yet answered.
///
/// JSON is an object from indicator name to answer (`{"no_smoker": "no", ...}`): absent names
/// (and `null`) are unanswered, unknown names are refused, so a misspelt indicator is not
/// silently lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PisPk {
    pub answers: [Option<Answer>; INDICATOR_COUNT],
}

impl PisPk {
    pub fn get(&self, indicator: Indicator) -> Option<Answer> {
        self.answers[indicator.index()]
    }

    pub fn set(&mut self, indicator: Indicator, answer: Option<Answer>) {
        self.answers[indicator.index()] = answer;
    }

    /// Every indicator in order, with its answer.
    pub fn iter(&self) -> impl Iterator<Item = (Indicator, Option<Answer>)> + '_ {
        Indicator::ALL.iter().map(|i| (*i, self.get(*i)))
    }

    /// Whether every indicator has an answer.
    pub fn is_complete(&self) -> bool {
        self.answers.iter().all(Option::is_some)
    }

    /// The family health index (IKS): yes / (12 - not applicable). `None` until every indicator
    /// is answered (a partial index would flatter or wrong the family), and when none applies.
    pub fn health_index(&self) -> Option<FamilyHealthIndex> {
        let mut yes = 0u8;
        let mut applicable = 0u8;
        for answer in &self.answers {
            match (*answer)? {
                Answer::Yes => {
                    yes += 1;
                    applicable += 1;
                }
                Answer::No => applicable += 1,
                Answer::NotApplicable => {}
            }
        }
        FamilyHealthIndex::new(yes, applicable)
    }
}

impl serde::Serialize for PisPk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let answered = self.answers.iter().filter(|a| a.is_some()).count();
        let mut map = s.serialize_map(Some(answered))?;
        for (indicator, answer) in self.iter() {
            if let Some(answer) = answer {
                map.serialize_entry(indicator.as_str(), &answer)?;
            }
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for PisPk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PisPkVisitor)
    }
}

struct PisPkVisitor;

impl<'de> serde::de::Visitor<'de> for PisPkVisitor {
    type Value = PisPk;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object from PIS-PK indicator name to answer")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<PisPk, A::Error> {
        let mut pispk = PisPk::default();
        let mut seen = [false; INDICATOR_COUNT];
        // Bounded: each pass either fills a new indicator or returns an error.
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let indicator = match Indicator::parse(&key) {
                Ok(indicator) => indicator,
                Err(_) => {
                    let names: Vec<&str> = Indicator::ALL.iter().map(|i| i.as_str()).collect();
                    return Err(fail_at_key(
                        &mut map,
                        ValidationError::new(
                            "",
                            Rule::Unknown,
                            format!(
                                "is not a PIS-PK indicator; expected one of {}",
                                names.join(", ")
                            ),
                        ),
                    ));
                }
            };
            if std::mem::replace(&mut seen[indicator.index()], true) {
                return Err(fail_at_key(
                    &mut map,
                    ValidationError::new("", Rule::Format, "is given more than once"),
                ));
            }
            pispk.set(indicator, map.next_value::<Option<Answer>>()?);
        }
        Ok(pispk)
    }
}

/// Reports `error` as the value of the current key, so that a path-tracking deserializer
/// ([`crate::json::parse`]) names the offending key as the field (`pispk.no_smoking`).
fn fail_at_key<'de, A: serde::de::MapAccess<'de>>(map: &mut A, error: ValidationError) -> A::Error {
    struct Fail(ValidationError);
    impl<'de> serde::de::DeserializeSeed<'de> for Fail {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
            Err(serde::de::Error::custom(self.0.to_serde_message()))
        }
    }
    let message = error.to_serde_message();
    match map.next_value_seed(Fail(error)) {
        Err(e) => e,
        Ok(()) => serde::de::Error::custom(message),
    }
}

/// A family's health index (IKS): `yes` answers out of `applicable` indicators.
///
/// Exists only with `1 <= applicable <= 12` and `yes <= applicable`. JSON:
/// `{"yes": 8, "applicable": 10, "value": "0.800", "category": "pra_sehat"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FamilyHealthIndex {
    yes: u8,
    applicable: u8,
}

impl FamilyHealthIndex {
    /// `None` unless `yes <= applicable` and `1 <= applicable <= 12`.
    pub fn new(yes: u8, applicable: u8) -> Option<Self> {
        let valid =
            applicable >= 1 && usize::from(applicable) <= INDICATOR_COUNT && yes <= applicable;
        valid.then_some(FamilyHealthIndex { yes, applicable })
    }

    pub fn yes(&self) -> u8 {
        self.yes
    }

    pub fn applicable(&self) -> u8 {
        self.applicable
    }

    /// The index as a number, for charts; categories come from [`Self::category`], not this.
    pub fn value(&self) -> f64 {
        f64::from(self.yes) / f64::from(self.applicable)
    }

    /// Compared as fractions: yes/applicable > 4/5 is healthy, >= 1/2 pre-healthy.
    pub fn category(&self) -> HealthCategory {
        let (yes, applicable) = (u32::from(self.yes), u32::from(self.applicable));
        if yes * 5 > applicable * 4 {
            HealthCategory::Healthy
        } else if yes * 2 >= applicable {
            HealthCategory::PreHealthy
        } else {
            HealthCategory::Unhealthy
        }
    }

    /// The index with three decimals, rounded half up (`"0.818"` for 9/11), as reported.
    pub fn value_text(&self) -> String {
        let (yes, applicable) = (u32::from(self.yes), u32::from(self.applicable));
        let thousandths = (yes * 2000 + applicable) / (2 * applicable);
        debug_assert!(thousandths <= 1000);
        format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
    }
}

impl serde::Serialize for FamilyHealthIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("FamilyHealthIndex", 4)?;
        st.serialize_field("yes", &self.yes)?;
        st.serialize_field("applicable", &self.applicable)?;
        st.serialize_field("value", &self.value_text())?;
        st.serialize_field("category", &self.category())?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn family(yes: usize, no: usize, na: usize) -> PisPk {
        assert_eq!(yes + no + na, INDICATOR_COUNT);
        let mut p = PisPk::default();
        for (n, indicator) in Indicator::ALL.iter().enumerate() {
            let answer = if n < yes {
                Answer::Yes
            } else if n < yes + no {
                Answer::No
            } else {
                Answer::NotApplicable
            };
            p.set(*indicator, Some(answer));
        }
        p
    }

    fn index(yes: u8, applicable: u8) -> FamilyHealthIndex {
        FamilyHealthIndex::new(yes, applicable).unwrap()
    }

    #[test]
    fn indicators_are_in_the_ministry_order() {
        assert_eq!(Indicator::ALL.len(), INDICATOR_COUNT);
        assert_eq!(Indicator::FamilyPlanning.code(), 1);
        assert_eq!(Indicator::NoSmoker.code(), 9);
        assert_eq!(Indicator::HealthyLatrine.code(), 12);
        for (n, i) in Indicator::ALL.iter().enumerate() {
            assert_eq!(i.index(), n);
        }
    }

    #[test]
    fn get_set_and_iter_agree() {
        let mut p = PisPk::default();
        assert!(p.iter().all(|(_, a)| a.is_none()));
        p.set(Indicator::JknMember, Some(Answer::Yes));
        assert_eq!(p.get(Indicator::JknMember), Some(Answer::Yes));
        assert_eq!(p.answers[9], Some(Answer::Yes));
        let answered: Vec<_> = p.iter().filter(|(_, a)| a.is_some()).collect();
        assert_eq!(answered, vec![(Indicator::JknMember, Some(Answer::Yes))]);
        p.set(Indicator::JknMember, None);
        assert_eq!(p, PisPk::default());
    }

    #[test]
    fn index_needs_every_answer_and_one_applicable() {
        assert_eq!(PisPk::default().health_index(), None);
        let mut p = family(8, 2, 2);
        p.set(Indicator::CleanWater, None);
        assert_eq!(p.health_index(), None);
        assert_eq!(family(0, 0, 12).health_index(), None);
        assert_eq!(family(8, 2, 2).health_index(), Some(index(8, 10)));
        assert_eq!(family(0, 1, 11).health_index(), Some(index(0, 1)));
    }

    #[test]
    fn categories_have_exact_boundaries() {
        use HealthCategory::*;
        assert_eq!(index(8, 10).category(), PreHealthy); // 0.8 exactly
        assert_eq!(index(4, 5).category(), PreHealthy);
        assert_eq!(index(9, 11).category(), Healthy); // 0.818
        assert_eq!(index(5, 6).category(), Healthy); // 0.833
        assert_eq!(index(12, 12).category(), Healthy);
        assert_eq!(index(4, 8).category(), PreHealthy); // 0.5 exactly
        assert_eq!(index(6, 12).category(), PreHealthy);
        assert_eq!(index(5, 11).category(), Unhealthy); // 0.4545
        assert_eq!(index(3, 7).category(), Unhealthy);
        assert_eq!(index(0, 1).category(), Unhealthy);
    }

    #[test]
    fn value_text_rounds_half_up() {
        assert_eq!(index(8, 10).value_text(), "0.800");
        assert_eq!(index(9, 11).value_text(), "0.818");
        assert_eq!(index(2, 3).value_text(), "0.667");
        assert_eq!(index(1, 8).value_text(), "0.125");
        assert_eq!(index(1, 3).value_text(), "0.333");
        assert_eq!(index(12, 12).value_text(), "1.000");
        assert_eq!(index(0, 7).value_text(), "0.000");
        assert!((index(9, 11).value() - 9.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn index_rejects_impossible_counts() {
        assert_eq!(FamilyHealthIndex::new(0, 0), None);
        assert_eq!(FamilyHealthIndex::new(3, 2), None);
        assert_eq!(FamilyHealthIndex::new(13, 13), None);
    }

    #[test]
    fn index_serialises_with_its_category() {
        let json = serde_json::to_value(index(8, 10)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"yes": 8, "applicable": 10, "value": "0.800", "category": "pra_sehat"})
        );
    }

    #[test]
    fn json_holds_only_answered_indicators_in_order() {
        let mut p = PisPk::default();
        p.set(Indicator::HealthyLatrine, Some(Answer::Yes));
        p.set(Indicator::NoSmoker, Some(Answer::No));
        p.set(Indicator::FacilityDelivery, Some(Answer::NotApplicable));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"facility_delivery":"not_applicable","no_smoker":"no","healthy_latrine":"yes"}"#
        );
        assert_eq!(crate::json::parse::<PisPk>(&json), Ok(p));
        assert_eq!(crate::json::parse::<PisPk>("{}"), Ok(PisPk::default()));
        assert_eq!(
            crate::json::parse::<PisPk>(r#"{"no_smoker":null}"#),
            Ok(PisPk::default())
        );
    }

    #[test]
    fn unknown_indicator_is_named_as_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Visit {
            pispk: PisPk,
        }
        let err =
            crate::json::parse::<Visit>(r#"{"pispk":{"clean_water":"yes","no_smoking":"yes"}}"#)
                .unwrap_err();
        assert_eq!(err.field, "pispk.no_smoking");
        assert_eq!(err.rule, Rule::Unknown);
        assert!(err.message.contains("no_smoker"));

        let err = crate::json::parse::<PisPk>(r#"{"no_smoking":"yes"}"#).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("no_smoking", Rule::Unknown)
        );

        let err = crate::json::parse::<PisPk>(r#"{"no_smoker":"maybe"}"#).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("no_smoker", Rule::Choice));

        let err =
            crate::json::parse::<PisPk>(r#"{"no_smoker":"yes","no_smoker":"no"}"#).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("no_smoker", Rule::Format));

        assert!(serde_json::from_str::<PisPk>(r#"{"x":1}"#).is_err());
        assert!(serde_json::from_str::<PisPk>("[]").is_err());
    }

    fn any_answer() -> impl Strategy<Value = Option<Answer>> {
        proptest::option::of(proptest::sample::select(Answer::ALL))
    }

    proptest! {
        #[test]
        fn json_round_trips(answers in proptest::array::uniform12(any_answer())) {
            let p = PisPk { answers };
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(crate::json::parse::<PisPk>(&json), Ok(p));
        }

        #[test]
        fn category_agrees_with_the_rounded_text(yes in 0u8..=12, applicable in 1u8..=12) {
            prop_assume!(yes <= applicable);
            let idx = index(yes, applicable);
            let value: f64 = idx.value_text().parse().unwrap();
            let expected = if value > 0.8 {
                HealthCategory::Healthy
            } else if value >= 0.5 {
                HealthCategory::PreHealthy
            } else {
                HealthCategory::Unhealthy
            };
            prop_assert_eq!(idx.category(), expected);
            prop_assert!((value - idx.value()).abs() <= 0.0005);
        }

        #[test]
        fn index_counts_answers(answers in proptest::array::uniform12(proptest::sample::select(Answer::ALL))) {
            let p = PisPk { answers: answers.map(Some) };
            let yes = answers.iter().filter(|a| **a == Answer::Yes).count();
            let na = answers.iter().filter(|a| **a == Answer::NotApplicable).count();
            match p.health_index() {
                None => prop_assert_eq!(na, INDICATOR_COUNT),
                Some(idx) => {
                    prop_assert_eq!(usize::from(idx.yes()), yes);
                    prop_assert_eq!(usize::from(idx.applicable()), INDICATOR_COUNT - na);
                }
            }
        }
    }
}
