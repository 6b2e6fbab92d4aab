//! A household's visits: the visit record, who is screened, and the referrals that follow.

use cageur_model::person::age_months;
use cageur_model::{FollowUpId, HouseholdId, RecordKind, ReferralId, Visit, VisitId, VisitOutcome};
use chrono::NaiveDate;
use rand::Rng;

use super::members::{Member, pregnancy_week};
use super::{Generator, Records, SeedReport, checked};

impl Generator {
    pub(super) fn visit(
        &mut self,
        household: HouseholdId,
        k: usize,
        members: &[Member],
        day: NaiveDate,
        records: &mut Records,
        report: &mut SeedReport,
    ) {
        let visited_at = self.daytime(day);
        let visit_id = VisitId(self.id());
        let outcome = self.weighted(&[
            (VisitOutcome::Visited, 85),
            (VisitOutcome::NobodyHome, 10),
            (VisitOutcome::Refused, 5),
        ]);
        let mut screenings = Vec::new();
        let mut findings = Vec::new();
        if outcome == VisitOutcome::Visited {
            for m in self.screened(members, day) {
                self.screen(&members[m], m, day, &mut screenings, &mut findings);
            }
        }
        let mut visit = Visit {
            household,
            visited_at,
            team: self.team.clone(),
            device: self.device,
            outcome,
            screenings,
        };
        let stored = match visit.validate_screenings(&self.forms) {
            Ok(stored) => stored,
            Err(err) => panic!("seed generated an invalid visit: {err}"),
        };
        // Stored apart from the visit's own fields; no need to serialize them again.
        visit.screenings.clear();
        let mut fields = checked(&visit, &self.ctx);
        fields.extend(Visit::screening_fields(&stored));
        records.push((RecordKind::Visit, visit_id.0, fields));
        report.visits += 1;

        let mut referred = 0;
        for (m, finding) in findings {
            if referred == 2 {
                break;
            }
            if let Some(referral) =
                self.referral(&members[m], household, visit_id, k, &finding, day)
            {
                referred += 1;
                let referral_id = ReferralId(self.id());
                records.push((
                    RecordKind::Referral,
                    referral_id.0,
                    checked(&referral, &self.ctx),
                ));
                report.referrals += 1;
                if self.chance(0.85) {
                    let followup = self.followup(&members[m], household, referral_id, day);
                    let followup_id = FollowUpId(self.id());
                    records.push((
                        RecordKind::FollowUp,
                        followup_id.0,
                        checked(&followup, &self.ctx),
                    ));
                    report.followups += 1;
                }
            }
        }
    }

    /// The members screened at a visit: 1 to 3 of those born by then, favouring pregnant women
    /// and under-fives.
    fn screened(&mut self, members: &[Member], day: NaiveDate) -> Vec<usize> {
        let mut candidates: Vec<(usize, u32)> = members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.person.birth_date <= day)
            .map(|(i, m)| {
                let months = age_months(m.person.birth_date, day);
                let weight = if months < 60 || pregnancy_week(m, day).is_some() {
                    3
                } else {
                    1
                };
                (i, weight)
            })
            .collect();
        let want = self.range(1, 3);
        let mut chosen = Vec::new();
        while i64::try_from(chosen.len()).expect("small") < want && !candidates.is_empty() {
            let total: u32 = candidates.iter().map(|(_, w)| w).sum();
            let mut roll = self.rng.random_range(0..total);
            let at = candidates
                .iter()
                .position(|(_, w)| {
                    if roll < *w {
                        true
                    } else {
                        roll -= w;
                        false
                    }
                })
                .expect("the roll is below the total weight");
            chosen.push(candidates.remove(at).0);
        }
        chosen.sort_unstable();
        chosen
    }
}
