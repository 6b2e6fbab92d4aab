//! Referrals for findings, and their follow-ups, in the state they have reached by today.

use cageur_model::referral::Destination;
use cageur_model::{
    DestinationKind, FollowUp, FollowUpOutcome, HouseholdId, Referral, ReferralCategory,
    ReferralId, ReferralStatus, Urgency, VisitId,
};
use chrono::{Duration, NaiveDate};

use super::Generator;
use super::members::Member;
use super::places::{HOSPITALS, PUSKESMAS};
use super::screenings::{DANGER_SIGNS, Finding};

/// Danger signs that call for the ambulance at once.
const EMERGENCY_SIGNS: &[&str] = &[
    "bleeding",
    "convulsions",
    "waters_broke_early",
    "severe_abdominal_pain",
];

impl Generator {
    /// A referral for a finding, or `None` when the team did not refer (most findings are
    /// counselled at home). About 3% of visits lead to one.
    pub(super) fn referral(
        &mut self,
        member: &Member,
        household: HouseholdId,
        visit: VisitId,
        k: usize,
        finding: &Finding,
        day: NaiveDate,
    ) -> Option<Referral> {
        let local = self.pick(PUSKESMAS[k]);
        let (category, reason, hospital, urgency) = match finding {
            Finding::RaisedBp {
                systolic,
                diastolic,
            } => {
                let severe = *systolic >= 180 || *diastolic >= 110;
                if !self.chance(if severe { 0.2 } else { 0.015 }) {
                    return None;
                }
                let reason = format!(
                    "Tekanan darah {systolic}/{diastolic} mmHg, perlu pemeriksaan dan pengobatan hipertensi"
                );
                let urgency = if severe && self.chance(0.4) {
                    Urgency::Urgent
                } else {
                    Urgency::Routine
                };
                let hospital = urgency == Urgency::Urgent;
                (ReferralCategory::Hypertension, reason, hospital, urgency)
            }
            Finding::PresumptiveTb { blood } => {
                if !self.chance(0.3) {
                    return None;
                }
                let reason = if *blood {
                    "Terduga TBC dengan batuk berdarah, perlu pemeriksaan dahak (TCM) dan rontgen"
                } else {
                    "Terduga TBC, perlu pemeriksaan dahak (TCM) di puskesmas"
                };
                let urgency = if *blood && self.chance(0.5) {
                    Urgency::Urgent
                } else {
                    Urgency::Routine
                };
                let hospital = urgency == Urgency::Urgent;
                (
                    ReferralCategory::Tuberculosis,
                    reason.to_owned(),
                    hospital,
                    urgency,
                )
            }
            Finding::Mental { odgj, treated } => {
                if *treated || !self.chance(if *odgj { 0.5 } else { 0.15 }) {
                    return None;
                }
                let reason = if *odgj {
                    "ODGJ belum diobati, perlu penilaian dan pengobatan di poli jiwa"
                } else {
                    "ODMK, perlu konseling kesehatan jiwa di puskesmas"
                };
                let urgency = if *odgj && self.chance(0.2) {
                    Urgency::Urgent
                } else {
                    Urgency::Routine
                };
                (
                    ReferralCategory::MentalHealth,
                    reason.to_owned(),
                    *odgj,
                    urgency,
                )
            }
            Finding::DangerSigns { signs, weeks } => {
                let described: Vec<&str> = signs
                    .iter()
                    .filter_map(|s| DANGER_SIGNS.iter().find(|(n, _)| n == s).map(|(_, t)| *t))
                    .collect();
                let reason = format!(
                    "Tanda bahaya kehamilan ({}) pada usia kehamilan {weeks} minggu",
                    described.join(", ")
                );
                let emergency = signs.iter().any(|s| EMERGENCY_SIGNS.contains(s));
                let urgency = if emergency {
                    Urgency::Emergency
                } else {
                    Urgency::Urgent
                };
                (ReferralCategory::Maternal, reason, true, urgency)
            }
            Finding::Stunting { length_mm, months } => {
                if !self.chance(0.05) {
                    return None;
                }
                let reason = format!(
                    "Balita pendek (panjang/tinggi {}.{} cm pada usia {months} bulan), perlu penilaian gizi",
                    length_mm / 10,
                    length_mm % 10
                );
                (ReferralCategory::Child, reason, false, Urgency::Routine)
            }
            Finding::HighGlucose(glucose) => {
                if !self.chance(0.15) {
                    return None;
                }
                let reason =
                    format!("Gula darah sewaktu {glucose} mg/dL, perlu pemeriksaan diabetes");
                (ReferralCategory::Other, reason, false, Urgency::Routine)
            }
        };
        let destination = if hospital {
            Destination {
                kind: DestinationKind::Hospital,
                name: self.weighted(HOSPITALS).to_owned(),
            }
        } else {
            Destination {
                kind: DestinationKind::Puskesmas,
                name: local.to_owned(),
            }
        };
        let ambulance_119 = urgency == Urgency::Emergency && self.chance(0.7);
        let status = self.referral_status((self.today - day).num_days());
        let sisrute_ref = (status != ReferralStatus::Created
            && self.chance(if hospital { 0.85 } else { 0.15 }))
        .then(|| format!("SRT-{}-{:05}", day.format("%Y%m%d"), self.range(1, 99_999)));
        Some(Referral {
            person: member.id,
            household,
            visit: Some(visit),
            category,
            reason,
            destination,
            urgency,
            ambulance_119,
            sisrute_ref,
            status,
        })
    }

    /// Where a referral made `age` days ago has got to: recent ones are created or sent, old
    /// ones completed (a few never arrive, or are cancelled).
    fn referral_status(&mut self, age: i64) -> ReferralStatus {
        use ReferralStatus::*;
        match age {
            ..=2 => self.weighted(&[(Created, 60), (Sent, 40)]),
            3..=14 => self.weighted(&[(Sent, 45), (Arrived, 35), (Completed, 20)]),
            _ => self.weighted(&[(Completed, 80), (Arrived, 6), (Sent, 4), (Cancelled, 10)]),
        }
    }

    /// The follow-up of a referral, due 7 to 14 days after it: done with an outcome when due in
    /// the past, except a few recent ones that are overdue.
    pub(super) fn followup(
        &mut self,
        member: &Member,
        household: HouseholdId,
        referral: ReferralId,
        day: NaiveDate,
    ) -> FollowUp {
        let due = day + Duration::days(self.range(7, 14));
        let overdue = (self.today - due).num_days() <= 21 && self.chance(0.25);
        let (done_at, outcome) = if due < self.today && !overdue {
            let done_day = (due + Duration::days(self.range(-2, 3)))
                .clamp(day + Duration::days(1), self.today);
            let outcome = self.weighted(&[
                (FollowUpOutcome::Improved, 55),
                (FollowUpOutcome::Unchanged, 20),
                (FollowUpOutcome::Worse, 5),
                (FollowUpOutcome::ReferredAgain, 6),
                (FollowUpOutcome::Died, 1),
                (FollowUpOutcome::LostToFollowUp, 8),
            ]);
            (Some(self.daytime(done_day)), Some(outcome))
        } else {
            (None, None)
        };
        FollowUp {
            person: member.id,
            household,
            referral: Some(referral),
            due,
            done_at,
            outcome,
        }
    }
}
