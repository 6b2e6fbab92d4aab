//! Who lives in a household: its make-up and everyone's sex, birth date and relation.

use cageur_model::person::age_months;
use cageur_model::{Relation, Sex};
use chrono::{Duration, NaiveDate};

use super::{Generator, months_after, years_after, years_before};

/// A member before names and numbers: who they are in the family.
#[derive(Debug, Clone, Copy)]
pub(super) struct Draft {
    pub(super) sex: Sex,
    pub(super) birth: NaiveDate,
    pub(super) relation: Relation,
    /// The member's mother, if she lives in the household (always an earlier member).
    pub(super) mother: Option<usize>,
}

impl Generator {
    /// Who lives in the household: 1 to 8 people, about 4 on average.
    pub(super) fn family(&mut self) -> Vec<Draft> {
        let mut family = Vec::new();
        match self.weighted(&[(0u8, 5), (1, 8), (2, 72), (3, 8), (4, 7)]) {
            // An elder living alone, most often a widow.
            0 => {
                let sex = if self.chance(0.6) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let birth = self.birth_for_age(62, 85);
                family.push(draft(sex, birth, Relation::Head, None));
            }
            // A couple: newly married, or whose children have left.
            1 => {
                let (min, max) = if self.chance(0.5) { (22, 32) } else { (55, 78) };
                self.couple(&mut family, min, max);
            }
            // Parents with children, sometimes a grandparent or a nephew.
            2 => {
                self.couple(&mut family, 25, 58);
                let count = self.weighted(&[(1, 20), (2, 35), (3, 27), (4, 12), (5, 6)]);
                self.children(&mut family, 0, 1, count, Relation::Child);
                if self.chance(0.15) {
                    self.grandparents(&mut family);
                }
                if self.chance(0.04) {
                    let sex = self.sex();
                    let birth = self.birth_for_age(8, 24);
                    family.push(draft(sex, birth, Relation::OtherFamily, None));
                }
            }
            // Three generations: grandparents, a married child and their children.
            3 => self.three_generations(&mut family),
            // A single parent, most often a mother.
            _ => {
                let sex = if self.chance(0.85) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let birth = self.birth_for_age(28, 55);
                family.push(draft(sex, birth, Relation::Head, None));
                let count = self.weighted(&[(1, 35), (2, 35), (3, 20), (4, 10)]);
                self.children(&mut family, 0, 0, count, Relation::Child);
            }
        }
        family.truncate(8);
        family
    }

    fn sex(&mut self) -> Sex {
        if self.chance(0.5) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// A head (most often the husband) and spouse aged `min..=max`.
    fn couple(&mut self, family: &mut Vec<Draft>, min: u32, max: u32) {
        let head_sex = if self.chance(0.95) {
            Sex::Male
        } else {
            Sex::Female
        };
        let head = self.birth_for_age(min, max);
        // The wife is up to 8 years younger, sometimes a little older.
        let gap_days = self.range(-3 * 365, 8 * 365);
        let gap = if head_sex == Sex::Male {
            gap_days
        } else {
            -gap_days
        };
        let latest = years_before(self.today, 19);
        let spouse = (head + Duration::days(gap)).min(latest);
        let spouse_sex = match head_sex {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        };
        family.push(draft(head_sex, head, Relation::Head, None));
        family.push(draft(spouse_sex, spouse, Relation::Spouse, None));
    }

    /// Up to `count` children of the members at `a` and `b` (the same index for one parent),
    /// born when their mother was 19 to 42, at least 15 months apart. Grown children have often
    /// left home.
    fn children(
        &mut self,
        family: &mut Vec<Draft>,
        a: usize,
        b: usize,
        count: usize,
        relation: Relation,
    ) {
        let (pa, pb) = (family[a], family[b]);
        let mother = [a, b].into_iter().find(|i| family[*i].sex == Sex::Female);
        let bearer = mother.map_or(pa.birth, |m| family[m].birth);
        let first_min = years_after(pa.birth.max(pb.birth), 20).max(years_after(bearer, 19));
        let first_max = years_after(bearer, 32).min(self.today);
        if first_min > first_max {
            return;
        }
        let last = years_after(bearer, 42);
        let mut birth = self.day_between(first_min, first_max);
        for _ in 0..count {
            if birth > self.today || birth > last {
                break;
            }
            let grown = age_months(birth, self.today) / 12 >= 23;
            if !(grown && self.chance(0.5)) {
                let sex = self.sex();
                family.push(draft(sex, birth, relation, mother));
            }
            let gap = self.range(15, 60);
            birth = months_after(birth, u32::try_from(gap).expect("small"));
        }
    }

    /// One or both parents of the head or of the spouse.
    fn grandparents(&mut self, family: &mut Vec<Draft>) {
        let of_head = self.chance(0.5);
        let anchor = if of_head {
            family[0].birth
        } else {
            family[1].birth
        };
        let relation = if of_head {
            Relation::Parent
        } else {
            Relation::ParentInLaw
        };
        let both = self.chance(0.3);
        for sex in [Sex::Female, Sex::Male] {
            if sex == Sex::Male && !both {
                break;
            }
            let birth = anchor - Duration::days(self.range(21 * 365, 35 * 365));
            if age_months(birth, self.today) / 12 <= 92 {
                family.push(draft(sex, birth, relation, None));
            }
        }
    }

    fn three_generations(&mut self, family: &mut Vec<Draft>) {
        if self.chance(0.8) {
            self.couple(family, 52, 72);
        } else {
            let birth = self.birth_for_age(52, 72);
            family.push(draft(Sex::Female, birth, Relation::Head, None));
        }
        let before = family.len();
        // One grown child who stayed, with their spouse: born when the mother was 20 to 30,
        // and at least 21 now.
        let bearer = family
            .iter()
            .find(|d| d.sex == Sex::Female)
            .map_or(family[0].birth, |d| d.birth);
        let youngest_parent = family.iter().map(|d| d.birth).max().unwrap_or(bearer);
        let from = years_after(bearer, 20).max(years_after(youngest_parent, 20));
        let to = years_after(bearer, 30).min(years_before(self.today, 21));
        if from > to {
            return;
        }
        let birth = self.day_between(from, to);
        let sex = self.sex();
        let mother = (0..before).find(|i| family[*i].sex == Sex::Female);
        family.push(draft(sex, birth, Relation::Child, mother));
        let child = family.len() - 1;
        let in_law_birth = (birth + Duration::days(self.range(-3 * 365, 3 * 365)))
            .min(years_before(self.today, 19));
        let in_law_sex = match sex {
            Sex::Male => Sex::Female,
            Sex::Female => Sex::Male,
        };
        family.push(draft(in_law_sex, in_law_birth, Relation::ChildInLaw, None));
        let in_law = family.len() - 1;
        let count = self.weighted(&[(1, 40), (2, 40), (3, 20)]);
        self.children(family, child, in_law, count, Relation::Grandchild);
    }
}

fn draft(sex: Sex, birth: NaiveDate, relation: Relation, mother: Option<usize>) -> Draft {
    Draft {
        sex,
        birth,
        relation,
        mother,
    }
}
