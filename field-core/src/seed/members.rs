//! Household members: their person records and the traits that keep screenings consistent.

use cageur_model::area::Kecamatan;
use cageur_model::person::age_months;
use cageur_model::{HouseholdId, Person, PersonId, Relation, Sex};
use chrono::{Duration, NaiveDate};
use rand::Rng;

use super::Generator;
use super::family::Draft;

/// A member's mental health: well, ODMK (a mental health problem) or ODGJ (a mental disorder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mental {
    None,
    Odmk,
    Odgj,
}

/// A generated member, with the traits that keep their screenings consistent over the years.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) id: PersonId,
    pub(super) person: Person,
    pub(super) hypertensive: bool,
    /// Knows of their hypertension, and is treated for it.
    pub(super) hypertension_known: bool,
    pub(super) hypertension_treated: bool,
    pub(super) diabetic: bool,
    pub(super) mental: Mental,
    pub(super) mental_treated: bool,
    pub(super) smoker: bool,
    pub(super) stunted: bool,
    /// Adult height in mm and usual weight in units of 100 g.
    pub(super) height_mm: i64,
    pub(super) weight_hg: i64,
    /// Pregnancies as (conception, end), end exclusive.
    pub(super) pregnancies: Vec<(NaiveDate, NaiveDate)>,
}

impl Generator {
    pub(super) fn members(
        &mut self,
        drafts: &[Draft],
        household: HouseholdId,
        kecamatan: Kecamatan,
    ) -> Vec<Member> {
        let insured = self.chance(0.78);
        let mut members: Vec<Member> = Vec::with_capacity(drafts.len());
        for d in drafts {
            let id = PersonId(self.id());
            let age = age_months(d.birth, self.today);
            let nik = if age < 12 && self.chance(0.05) {
                None
            } else {
                Some(self.nik(kecamatan, d.sex, d.birth))
            };
            let jkn = (insured && self.chance(0.9)).then(|| self.jkn());
            let name = self.name(d.sex, d.birth);
            let person = Person {
                household,
                nik,
                name,
                sex: d.sex,
                birth_date: d.birth,
                relation: d.relation,
                jkn,
                pregnant: false,
            };
            members.push(self.traits(id, person));
        }
        // Past pregnancies, from the children born in the household.
        for d in drafts {
            if let Some(m) = d.mother {
                let weeks = self.range(37, 41);
                let conception = d.birth - Duration::weeks(weeks);
                members[m].pregnancies.push((conception, d.birth));
            }
        }
        // A current pregnancy for about 5% of women aged 18 to 42 (married ones: a little more
        // often), not within ten months of a birth.
        for m in &mut members {
            let p = &m.person;
            let years = age_months(p.birth_date, self.today) / 12;
            let married = matches!(
                p.relation,
                Relation::Head | Relation::Spouse | Relation::ChildInLaw
            );
            let recent_birth = m
                .pregnancies
                .iter()
                .any(|(_, end)| (self.today - *end).num_days() < 300);
            if p.sex == Sex::Female
                && married
                && (18..=42).contains(&years)
                && !recent_birth
                && self.rng.random_bool(0.088)
            {
                let weeks = self.rng.random_range(4..=40);
                let conception = self.today - Duration::weeks(weeks);
                m.pregnancies
                    .push((conception, conception + Duration::weeks(40)));
                m.person.pregnant = true;
            }
        }
        members
    }

    fn traits(&mut self, id: PersonId, person: Person) -> Member {
        let years = age_months(person.birth_date, self.today) / 12;
        let adult = years >= 15;
        let p_hypertension = match years {
            0..=14 => 0.0,
            15..=29 => 0.05,
            30..=44 => 0.18,
            45..=59 => 0.38,
            _ => 0.58,
        };
        let hypertensive = self.chance(p_hypertension);
        let hypertension_known = hypertensive && self.chance(0.6);
        let hypertension_treated = hypertension_known && self.chance(0.55);
        let diabetic = years >= 35 && self.chance(0.08);
        let mental = if !adult {
            Mental::None
        } else {
            self.weighted(&[(Mental::None, 989), (Mental::Odmk, 7), (Mental::Odgj, 4)])
        };
        let mental_treated = mental != Mental::None && self.chance(0.5);
        let smoker = adult
            && match person.sex {
                Sex::Male => self.chance(0.6),
                Sex::Female => self.chance(0.03),
            };
        let stunted = self.chance(0.2);
        let (height_mm, weight_hg) = match person.sex {
            Sex::Male => (self.range(1550, 1780), self.range(500, 900)),
            Sex::Female => (self.range(1450, 1650), self.range(420, 800)),
        };
        Member {
            id,
            person,
            hypertensive,
            hypertension_known,
            hypertension_treated,
            diabetic,
            mental,
            mental_treated,
            smoker,
            stunted,
            height_mm,
            weight_hg,
            pregnancies: Vec::new(),
        }
    }
}

/// The week of pregnancy a member is in on `day` (4 weeks on, when it shows), if any.
pub(super) fn pregnancy_week(member: &Member, day: NaiveDate) -> Option<i64> {
    if member.person.sex != Sex::Female {
        return None;
    }
    let months = age_months(member.person.birth_date, day);
    if !(120..=720).contains(&months) {
        return None;
    }
    member
        .pregnancies
        .iter()
        .filter(|(start, end)| *start <= day && day < *end)
        .map(|(start, _)| (day - *start).num_days() / 7)
        .find(|weeks| (4..=42).contains(weeks))
}
