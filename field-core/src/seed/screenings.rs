//! Screenings: the forms that apply on the day, values that fit the member, and findings.

use cageur_model::Sex;
use cageur_model::forms::FormRef;
use cageur_model::person::age_months;
use cageur_model::visit::Screening;
use chrono::NaiveDate;
use rand::Rng;
use serde_json::{Map, Value as Json};

use super::Generator;
use super::members::{Member, Mental, pregnancy_week};

/// The maternal form's danger signs, with how a team writes them in a referral.
pub(super) const DANGER_SIGNS: &[(&str, &str)] = &[
    ("bleeding", "perdarahan"),
    ("severe_headache", "sakit kepala hebat"),
    ("blurred_vision", "pandangan kabur"),
    ("convulsions", "kejang"),
    ("high_fever", "demam tinggi"),
    ("reduced_fetal_movement", "gerakan janin berkurang"),
    ("swelling", "bengkak pada wajah dan tangan"),
    ("waters_broke_early", "ketuban pecah dini"),
    ("severe_abdominal_pain", "nyeri perut hebat"),
];

/// WHO median weight (kg) and length/height (cm) by age in months, boys; girls are a few
/// percent smaller.
#[rustfmt::skip]
const GROWTH: &[(u32, f64, f64)] = &[
    (0, 3.3, 49.9), (1, 4.5, 54.7), (2, 5.6, 58.4), (3, 6.4, 61.4), (6, 7.9, 67.6),
    (9, 8.9, 72.0), (12, 9.6, 75.7), (18, 10.9, 82.3), (24, 12.2, 87.1), (36, 14.3, 96.1),
    (48, 16.3, 103.3), (60, 18.3, 110.0),
];

/// A finding at a visit that may lead to a referral.
#[derive(Debug, Clone)]
pub(super) enum Finding {
    RaisedBp {
        systolic: i64,
        diastolic: i64,
    },
    PresumptiveTb {
        blood: bool,
    },
    Mental {
        odgj: bool,
        treated: bool,
    },
    DangerSigns {
        signs: Vec<&'static str>,
        weeks: i64,
    },
    Stunting {
        length_mm: i64,
        months: u32,
    },
    HighGlucose(i64),
}

impl Generator {
    /// The screenings of one member at a visit, with the forms that apply to them that day.
    pub(super) fn screen(
        &mut self,
        member: &Member,
        index: usize,
        day: NaiveDate,
        screenings: &mut Vec<Screening>,
        findings: &mut Vec<(usize, Finding)>,
    ) {
        let months = age_months(member.person.birth_date, day);
        let years = months / 12;
        let pregnant = pregnancy_week(member, day);
        let mut add = |generator: &Generator, form: &str, values: Map<String, Json>| {
            let definition = generator
                .forms
                .get(form, 1)
                .unwrap_or_else(|| panic!("built-in form {form}@1 is missing"));
            assert!(
                definition.applies_to.admits(member.person.sex, months),
                "seed screened a person with form {form}, which does not apply to their sex and age"
            );
            screenings.push(Screening {
                person: member.id,
                form: FormRef {
                    id: form.to_owned(),
                    version: 1,
                },
                values,
            });
        };
        if months < 60 {
            let values = self.under_five(member, months, index, findings);
            add(self, "under-five", values);
            if self.chance(0.3) {
                let values = self.tb(index, findings);
                add(self, "tb-symptoms", values);
            }
            return;
        }
        if years < 15 {
            let values = self.child_vitals(member, years);
            add(self, "vital-signs", values);
            if self.chance(0.6) {
                let values = self.tb(index, findings);
                add(self, "tb-symptoms", values);
            }
            return;
        }
        let values = self.adult_vitals(member, index, pregnant.is_some(), findings);
        add(self, "vital-signs", values);
        if self.chance(0.8) {
            let values = self.tb(index, findings);
            add(self, "tb-symptoms", values);
        }
        if self.chance(0.35) {
            let values = self.mental(member, index, findings);
            add(self, "mental-health", values);
        }
        if (member.hypertensive && self.chance(0.5)) || self.chance(0.05) {
            let values = self.hypertension(member);
            add(self, "hypertension", values);
        }
        if let Some(weeks) = pregnant {
            let values = self.maternal(weeks, index, findings);
            add(self, "maternal", values);
        }
    }

    fn adult_vitals(
        &mut self,
        member: &Member,
        index: usize,
        pregnant: bool,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let raised = self.chance(if member.hypertensive { 0.8 } else { 0.06 });
        let (systolic, diastolic) = if !raised {
            let systolic = self.range(100, 138);
            (systolic, self.range(60, 88.min(systolic - 25)))
        } else if self.chance(0.1) {
            // Raised diastolic alone.
            (self.range(125, 139), self.range(90, 99))
        } else if self.chance(0.15) {
            (self.range(180, 210), self.range(100, 125))
        } else {
            (self.range(140, 179), self.range(82, 109))
        };
        debug_assert_eq!(raised, systolic >= 140 || diastolic >= 90);
        if raised {
            findings.push((
                index,
                Finding::RaisedBp {
                    systolic,
                    diastolic,
                },
            ));
        }
        let mut values = Map::new();
        values.insert("systolic".into(), Json::from(systolic));
        values.insert("diastolic".into(), Json::from(diastolic));
        let pulse = if self.chance(0.95) {
            self.range(60, 100)
        } else {
            self.range(101, 120)
        };
        values.insert("pulse".into(), Json::from(pulse));
        let temperature = if self.chance(0.95) {
            self.range(360, 374)
        } else {
            self.range(375, 392)
        };
        values.insert("temperature".into(), dec(temperature));
        if self.chance(0.3) {
            let glucose = if member.diabetic {
                self.range(200, 380)
            } else {
                self.range(75, 180)
            };
            if glucose >= 200 {
                findings.push((index, Finding::HighGlucose(glucose)));
            }
            values.insert("blood_glucose".into(), Json::from(glucose));
        }
        let weight = member.weight_hg + self.range(-20, 20) + if pregnant { 60 } else { 0 };
        values.insert("weight".into(), dec(weight));
        if self.chance(0.6) {
            values.insert("height".into(), dec(member.height_mm));
        }
        if member.person.sex == Sex::Female && (pregnant || self.chance(0.2)) {
            values.insert("muac".into(), dec(self.range(220, 320)));
        }
        values
    }

    fn child_vitals(&mut self, member: &Member, years: u32) -> Map<String, Json> {
        let grown = i64::from(years) - 5;
        let height = 1100 + 60 * grown + self.range(-60, 60);
        let weight = 180 + 30 * grown + self.range(-25, 25);
        let factor = if member.stunted { 94 } else { 100 };
        let mut values = Map::new();
        values.insert("temperature".into(), dec(self.range(362, 376)));
        values.insert("weight".into(), dec(weight * factor / 100));
        values.insert("height".into(), dec(height * factor / 100));
        values
    }

    fn under_five(
        &mut self,
        member: &Member,
        months: u32,
        index: usize,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let (weight_kg, length_cm) = growth_median(months);
        let sex_factor = if member.person.sex == Sex::Female {
            0.96
        } else {
            1.0
        };
        let (stunt_w, stunt_l) = if member.stunted {
            (0.88, 0.92)
        } else {
            (1.0, 1.0)
        };
        let noise_w = self.rng.random_range(0.88..1.12);
        let noise_l = self.rng.random_range(0.97..1.03);
        let weight = (weight_kg * sex_factor * stunt_w * noise_w * 10.0).round() as i64;
        let length = (length_cm * sex_factor * stunt_l * noise_l * 10.0).round() as i64;
        let (weight, length) = (weight.clamp(5, 400), length.clamp(350, 1300));
        if member.stunted {
            findings.push((
                index,
                Finding::Stunting {
                    length_mm: length,
                    months,
                },
            ));
        }
        let mut values = Map::new();
        values.insert("weight".into(), dec(weight));
        values.insert("length_height".into(), dec(length));
        if months >= 12 {
            values.insert(
                "immunisation_complete".into(),
                Json::Bool(self.chance(0.85)),
            );
        }
        values
    }

    fn tb(&mut self, index: usize, findings: &mut Vec<(usize, Finding)>) -> Map<String, Json> {
        let presumptive = self.chance(0.03);
        let mut symptoms = [false; 6];
        if presumptive {
            // At least one symptom; cough is the most common.
            symptoms[0] = self.chance(0.7);
            for s in symptoms.iter_mut().skip(1) {
                *s = self.rng.random_bool(0.25);
            }
            if !symptoms.contains(&true) {
                symptoms[0] = true;
            }
            findings.push((index, Finding::PresumptiveTb { blood: symptoms[1] }));
        }
        let names = [
            "cough_two_weeks",
            "cough_with_blood",
            "fever",
            "night_sweats",
            "weight_loss",
            "tb_contact",
        ];
        names
            .iter()
            .zip(symptoms)
            .map(|(name, s)| ((*name).to_owned(), Json::Bool(s)))
            .collect()
    }

    fn mental(
        &mut self,
        member: &Member,
        index: usize,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let status = match member.mental {
            Mental::None => "none",
            Mental::Odmk => "odmk",
            Mental::Odgj => "odgj",
        };
        let mut values = Map::new();
        values.insert("status".into(), Json::from(status));
        if member.mental != Mental::None {
            values.insert("under_treatment".into(), Json::Bool(member.mental_treated));
            findings.push((
                index,
                Finding::Mental {
                    odgj: member.mental == Mental::Odgj,
                    treated: member.mental_treated,
                },
            ));
        }
        values
    }

    fn hypertension(&mut self, member: &Member) -> Map<String, Json> {
        let mut values = Map::new();
        values.insert(
            "known_hypertension".into(),
            Json::Bool(member.hypertension_known),
        );
        if member.hypertension_known {
            values.insert(
                "on_treatment".into(),
                Json::Bool(member.hypertension_treated),
            );
            if member.hypertension_treated {
                values.insert(
                    "takes_medication_regularly".into(),
                    Json::Bool(self.chance(0.6)),
                );
            }
        }
        values
    }

    fn maternal(
        &mut self,
        weeks: i64,
        index: usize,
        findings: &mut Vec<(usize, Finding)>,
    ) -> Map<String, Json> {
        let mut values = Map::new();
        values.insert("pregnant".into(), Json::Bool(true));
        values.insert("gestational_age_weeks".into(), Json::from(weeks));
        let anc = (weeks / 5 + self.range(-1, 1)).clamp(0, 20);
        values.insert("antenatal_visits".into(), Json::from(anc));
        if self.chance(0.04) {
            let mut signs = vec![self.pick(DANGER_SIGNS).0];
            if self.chance(0.3) {
                let second = self.pick(DANGER_SIGNS).0;
                if !signs.contains(&second) {
                    signs.push(second);
                }
            }
            values.insert(
                "danger_signs".into(),
                Json::Array(signs.iter().map(|s| Json::from(*s)).collect()),
            );
            findings.push((index, Finding::DangerSigns { signs, weeks }));
        }
        values
    }
}

/// WHO median weight (kg) and length (cm) at `months`, interpolated.
fn growth_median(months: u32) -> (f64, f64) {
    let upper = GROWTH
        .iter()
        .position(|(m, _, _)| *m >= months)
        .unwrap_or(GROWTH.len() - 1);
    if upper == 0 {
        return (GROWTH[0].1, GROWTH[0].2);
    }
    let (m0, w0, l0) = GROWTH[upper - 1];
    let (m1, w1, l1) = GROWTH[upper];
    let t = (f64::from(months.min(m1)) - f64::from(m0)) / f64::from(m1 - m0);
    (w0 + t * (w1 - w0), l0 + t * (l1 - l0))
}

/// A decimal with one place as JSON (`365` is `36.5`).
fn dec(tenths: i64) -> Json {
    Json::from(tenths as f64 / 10.0)
}
