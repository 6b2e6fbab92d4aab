//! The household record: KK number, address, map point and PIS-PK answers fitting its members.

use cageur_model::area::{Address, GeoPoint, Kecamatan, Kelurahan, Rt, Rw, Street};
use cageur_model::person::age_months;
use cageur_model::pispk::{Answer, Indicator, PisPk};
use cageur_model::{Household, Relation, Sex};
use chrono::NaiveDate;
use rand::Rng;

use super::members::{Member, Mental};
use super::places::{CENTRES, KELURAHAN, LAT_BOX, LON_BOX, STREETS};
use super::{Generator, valid, years_after};

impl Generator {
    pub(super) fn household_entity(
        &mut self,
        kecamatan: Kecamatan,
        k: usize,
        members: &[Member],
        registered: NaiveDate,
    ) -> Household {
        let head = &members[0].person;
        let issued_from = years_after(head.birth_date, 20)
            .max(NaiveDate::from_ymd_opt(2008, 1, 1).expect("valid date"));
        let issued = self.day_between(issued_from.min(registered), registered);
        let kk = self.kk(kecamatan, issued);
        let street = self.street();
        let address = Address {
            street: valid("street", Street::parse(&street)),
            rt: valid("RT", Rt::new(self.range(1, 15))),
            rw: valid("RW", Rw::new(self.range(1, 12))),
            kelurahan: valid("kelurahan", Kelurahan::parse(self.pick(KELURAHAN[k]))),
            kecamatan,
        };
        let location = self.chance(0.8).then(|| {
            let (lat, lon) = CENTRES[k];
            let lat = (lat + self.rng.random_range(-18_000..=18_000)).clamp(LAT_BOX.0, LAT_BOX.1);
            let lon = (lon + self.rng.random_range(-18_000..=18_000)).clamp(LON_BOX.0, LON_BOX.1);
            valid("location", GeoPoint::new(lat, lon))
        });
        Household {
            kk,
            head_name: head.name.clone(),
            address,
            location,
            puskesmas: self.puskesmas.clone(),
            pispk: self.pispk(members),
        }
    }

    fn street(&mut self) -> String {
        let number = self.range(1, 120);
        let name = self.pick(STREETS);
        match self.weighted(&[(0u8, 60), (1, 25), (2, 15)]) {
            0 => format!("Jl. {name} No. {number}"),
            1 => {
                let lane = self.pick(STREETS);
                format!("Jl. {name} Gg. {lane} No. {number}")
            }
            _ => {
                let block = self.pick(&['A', 'B', 'C', 'D', 'E', 'F']);
                let row = self.range(1, 12);
                format!("Perum Taman {name} Blok {block}{row} No. {number}")
            }
        }
    }

    /// The family's PIS-PK answers, consistent with who lives there: all 12 for 70% of
    /// families, some for the rest.
    fn pispk(&mut self, members: &[Member]) -> PisPk {
        let months: Vec<u32> = members
            .iter()
            .map(|m| age_months(m.person.birth_date, self.today))
            .collect();
        let has = |lo: u32, hi: u32| months.iter().any(|m| (lo..=hi).contains(m));
        let couple_of_fertile_age = members.iter().any(|m| {
            m.person.sex == Sex::Female
                && matches!(m.person.relation, Relation::Spouse | Relation::ChildInLaw)
                && (15..=49).contains(&(age_months(m.person.birth_date, self.today) / 12))
        });
        let mut answer = |applies: bool, p_yes: f64| {
            if !applies {
                Answer::NotApplicable
            } else if self.rng.random_bool(p_yes) {
                Answer::Yes
            } else {
                Answer::No
            }
        };
        let all_insured = members.iter().all(|m| m.person.jkn.is_some());
        let answers = [
            (
                Indicator::FamilyPlanning,
                answer(couple_of_fertile_age, 0.65),
            ),
            (Indicator::FacilityDelivery, answer(has(0, 11), 0.9)),
            (Indicator::CompleteImmunisation, answer(has(12, 23), 0.8)),
            (Indicator::ExclusiveBreastfeeding, answer(has(7, 23), 0.6)),
            (Indicator::GrowthMonitoring, answer(has(2, 59), 0.75)),
            (Indicator::TbTreated, Answer::NotApplicable),
            (
                Indicator::HypertensionTreated,
                answer(
                    members.iter().any(|m| m.hypertension_known),
                    if members.iter().any(|m| m.hypertension_treated) {
                        0.8
                    } else {
                        0.1
                    },
                ),
            ),
            (
                Indicator::MentalDisorderTreated,
                answer(members.iter().any(|m| m.mental == Mental::Odgj), 0.5),
            ),
            (
                Indicator::NoSmoker,
                if members.iter().any(|m| m.smoker) {
                    Answer::No
                } else {
                    Answer::Yes
                },
            ),
            (
                Indicator::JknMember,
                if all_insured { Answer::Yes } else { Answer::No },
            ),
            (Indicator::CleanWater, answer(true, 0.92)),
            (Indicator::HealthyLatrine, answer(true, 0.88)),
        ];
        let complete = self.chance(0.7);
        let mut pispk = PisPk::default();
        for (indicator, answer) in answers {
            if complete || self.chance(0.5) {
                pispk.set(indicator, Some(answer));
            }
        }
        pispk
    }
}
