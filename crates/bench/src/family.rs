//! The family of the visit benchmark, and the visit the team records there: a father, his
//! pregnant wife, a boy of 8 and a girl of 2, each screened with the forms a real home visit
//! uses, and the wife referred. Numbered families differ in their KK and NIKs only.

use chrono::{DateTime, FixedOffset};
use field_core::NewVisit;
use field_core::model::json::from_value;
use field_core::model::{Household, HouseholdId, Person, PersonId, Referral, Visit};
use serde_json::{Value, json};

use crate::Result;

/// "Now" on the benchmark devices: every age and "not in the future" rule is judged by it.
pub fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00+07:00").expect("a valid timestamp")
}

pub const PUSKESMAS: &str = "P3671050101";
pub const TEAM: &str = "CPD-01";

/// Members as (name, sex, birth date, relation, pregnant).
const MEMBERS: [(&str, &str, &str, &str, bool); 4] = [
    ("Ahmad Suryadi", "male", "1988-04-12", "head", false),
    ("Siti Aminah", "female", "1992-08-19", "spouse", true),
    ("Budi Santoso", "male", "2018-06-03", "child", false),
    ("Dewi Lestari", "female", "2024-09-15", "child", false),
];

/// A 4-digit serial, never 0, that makes family `n`'s KK and NIKs its own.
fn serial(n: u32) -> String {
    format!("{:04}", n % 9999 + 1)
}

/// Family `n`'s household.
pub fn household(n: u32) -> Result<Household> {
    Ok(from_value(json!({
        "kk": format!("367105120315{}", serial(n)),
        "head_name": MEMBERS[0].0,
        "address": {"street": "Jl. Melati No. 12", "rt": 3, "rw": 5,
                    "kelurahan": "Cipondoh Indah", "kecamatan": "cipondoh"},
        "puskesmas": PUSKESMAS,
        "pispk": {"family_planning": "yes", "facility_delivery": "yes", "no_smoker": "no",
                  "jkn_member": "yes", "clean_water": "yes", "healthy_latrine": "yes"}
    }))?)
}

/// Family `n`'s members, in [`MEMBERS`] order, once `household` is registered.
pub fn members(n: u32, household: HouseholdId) -> Result<Vec<Person>> {
    MEMBERS
        .iter()
        .map(|&(name, sex, birth, relation, pregnant)| {
            // NIK: district, birth date as DDMMYY (day + 40 for women), serial.
            let day: u32 = birth[8..10].parse()?;
            let day = if sex == "female" { day + 40 } else { day };
            let nik = format!(
                "367105{day:02}{}{}{}",
                &birth[5..7],
                &birth[2..4],
                serial(n)
            );
            Ok(from_value(json!({
                "household": household, "nik": nik, "name": name, "sex": sex,
                "birth_date": birth, "relation": relation, "pregnant": pregnant
            }))?)
        })
        .collect()
}

/// The visit to a family whose members have ids `people` (in [`MEMBERS`] order): vital signs
/// of both adults, a TB symptom screen of all four, the wife's maternal check, the girl's
/// growth check and the father's mental-health screen; the wife is referred for a danger sign.
pub fn visit(household: HouseholdId, people: &[PersonId]) -> Result<NewVisit> {
    let [father, mother, boy, girl] = people else {
        return Err("a family visit needs four people".into());
    };
    let screening = |person: &PersonId, form: &str, values: Value| json!({"person": person, "form": {"id": form, "version": 1}, "values": values});
    let no_tb = json!({"cough_two_weeks": false, "cough_with_blood": false, "fever": false,
                       "night_sweats": false, "weight_loss": false, "tb_contact": false});
    Ok(from_value(json!({
        "visit": {
            "household": household, "visited_at": "2026-11-23T09:30:00+07:00", "team": TEAM,
            "outcome": "visited",
            "screenings": [
                screening(father, "vital-signs", json!({"systolic": 132, "diastolic": 86,
                    "pulse": 78, "temperature": 36.7, "blood_glucose": 112, "weight": 68.5,
                    "height": 167.0})),
                screening(mother, "vital-signs", json!({"systolic": 118, "diastolic": 76,
                    "pulse": 88, "temperature": 36.9, "weight": 61.2, "height": 154.0,
                    "muac": 25.5})),
                screening(father, "tb-symptoms", no_tb.clone()),
                screening(mother, "tb-symptoms", no_tb.clone()),
                screening(boy, "tb-symptoms", no_tb.clone()),
                screening(girl, "tb-symptoms", no_tb),
                screening(mother, "maternal", json!({"pregnant": true,
                    "gestational_age_weeks": 30, "antenatal_visits": 4,
                    "danger_signs": ["severe_headache"]})),
                screening(girl, "under-five", json!({"weight": 11.8, "length_height": 86.5,
                    "immunisation_complete": true})),
                screening(father, "mental-health", json!({"status": "none"})),
            ]
        },
        "referrals": [{
            "person": mother, "category": "maternal",
            "reason": "Sakit kepala hebat pada kehamilan 30 minggu",
            "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"},
            "urgency": "urgent"
        }]
    }))?)
}

/// The JSON rows a plain store writes for `visit`: the visit as the app passed it, and each
/// referral with its visit and household filled in (as field-core fills them).
pub fn plain_rows(visit: &Visit, referrals: &[Referral], visit_id: uuid::Uuid) -> Vec<String> {
    let mut rows = vec![serde_json::to_string(visit).expect("visits serialize")];
    for r in referrals {
        let mut r = r.clone();
        r.visit = Some(visit_id.into());
        r.household = visit.household;
        rows.push(serde_json::to_string(&r).expect("referrals serialize"));
    }
    rows
}
