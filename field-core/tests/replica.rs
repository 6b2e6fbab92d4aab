//! The app-facing API on real encrypted device files: atomic actions, validation that writes
//! nothing, convergence of several devices, conflicts, duplicates, tombstones, the worklist.

mod support;

use field_core::model::{Household, Person, ReferralStatus, Rule};
use field_core::{FieldError, NewVisit, RemoteRecord, Resolution, SearchQuery, WorklistFilter};
use serde_json::json;
use support::{Device, household_json, parse, person_json};
use uuid::Uuid;

fn add_family(device: &mut Device) -> (Uuid, Uuid) {
    let hh = device
        .replica
        .add_household(&parse::<Household>(household_json()))
        .unwrap();
    let person = device
        .replica
        .add_person(&parse::<Person>(person_json(hh.0)))
        .unwrap();
    (hh.0, person.0)
}

fn visit_json(household: Uuid, person: Uuid, referral_person: Uuid) -> serde_json::Value {
    json!({
        "visit": {
            "household": household, "visited_at": "2026-11-23T09:30:00+07:00", "team": "CPD-01",
            "outcome": "visited",
            "screenings": [
                {"person": person, "form": {"id": "vital-signs", "version": 1},
                 "values": {"systolic": 162, "diastolic": 101, "temperature": 36.8}},
                {"person": person, "form": {"id": "maternal", "version": 1},
                 "values": {"pregnant": true, "gestational_age_weeks": 30, "danger_signs": ["bleeding"]}}
            ]
        },
        "referrals": [{
            "person": referral_person, "category": "maternal",
            "reason": "Perdarahan pada kehamilan 30 minggu",
            "destination": {"kind": "hospital", "name": "RSUD Kota Tangerang"},
            "urgency": "emergency", "ambulance_119": true
        }]
    })
}

#[test]
fn a_visit_with_its_referral_is_recorded_atomically() {
    let mut d = Device::new(1);
    let (hh, person) = add_family(&mut d);
    let before_pending = d.replica.pending_changes().unwrap();
    let before_export = d.replica.export().unwrap();

    // The referral names a person this device does not know: nothing of the visit is written.
    let bad: NewVisit = parse(visit_json(hh, person, Uuid::now_v7()));
    let err = d.replica.record_visit(bad).unwrap_err();
    match err {
        FieldError::Invalid(v) => assert_eq!(
            (v.field.as_str(), v.rule),
            ("referrals[0].person", Rule::Unknown)
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(d.replica.pending_changes().unwrap(), before_pending);
    assert_eq!(d.replica.export().unwrap(), before_export);

    let good: NewVisit = parse(visit_json(hh, person, person));
    let recorded = d.replica.record_visit(good).unwrap();
    assert_eq!(d.replica.pending_changes().unwrap(), before_pending + 2);
    // The danger sign and the referral go out first.
    assert_eq!(d.replica.pending_by_priority().unwrap()[0], 2);
    let visit = d.replica.get(recorded.visit.0).unwrap();
    assert_eq!(visit.record["device"], json!(1));
    assert_eq!(visit.record["screenings"][0]["flags"], json!(["raised_bp"]));
    assert_eq!(
        visit.record["screenings"][1]["flags"],
        json!(["maternal_danger_sign"])
    );
    let referral = d.replica.get(recorded.referrals[0].0).unwrap();
    assert_eq!(referral.record["visit"], json!(recorded.visit.0));
    assert_eq!(referral.record["household"], json!(hh));
}

#[test]
fn invalid_input_names_the_field_and_writes_nothing() {
    let mut d = Device::new(1);
    let (hh, _) = add_family(&mut d);
    let before = d.replica.export().unwrap();
    let pending = d.replica.pending_changes().unwrap();

    let mut wrong_sex = person_json(hh);
    wrong_sex["sex"] = json!("male");
    let err = d
        .replica
        .add_person(&parse::<Person>(wrong_sex))
        .unwrap_err();
    assert!(
        matches!(&err, FieldError::Invalid(v) if v.field == "nik" && v.rule == Rule::Consistency),
        "{err:?}"
    );

    let mut future = visit_json(hh, Uuid::now_v7(), Uuid::now_v7());
    future["visit"]["visited_at"] = json!("2027-01-01T09:00:00+07:00");
    let err = d.replica.record_visit(parse(future)).unwrap_err();
    assert!(
        matches!(&err, FieldError::Invalid(v) if v.field == "visit.visited_at"),
        "{err:?}"
    );

    let mut implausible = visit_json(hh, Uuid::now_v7(), Uuid::now_v7());
    implausible["visit"]["screenings"][0]["values"]["systolic"] = json!(20);
    let err = d.replica.record_visit(parse(implausible)).unwrap_err();
    assert!(
        matches!(&err, FieldError::Invalid(v) if v.field == "visit.screenings[0].values.systolic" && v.rule == Rule::Range),
        "{err:?}"
    );

    let err = d
        .replica
        .update_json(hh, &json!({"address": {"rt": 0}}))
        .unwrap_err();
    assert!(
        matches!(&err, FieldError::Invalid(v) if v.field == "address.rt"),
        "{err:?}"
    );

    assert_eq!(d.replica.export().unwrap(), before);
    assert_eq!(d.replica.pending_changes().unwrap(), pending);
}

#[test]
fn an_update_writes_only_what_changed() {
    let mut d = Device::new(1);
    let (hh, _) = add_family(&mut d);
    let seq_before = d.replica.pending_changes().unwrap();
    let unchanged = d.replica.all_states().unwrap();
    d.replica
        .update_json(hh, &json!({"head_name": "Ahmad Suryadi"}))
        .unwrap();
    assert_eq!(
        d.replica.all_states().unwrap(),
        unchanged,
        "an unchanged value writes nothing"
    );
    d.replica
        .update_json(hh, &json!({"address": {"street": "Jl. Mawar No. 3"}}))
        .unwrap();
    let view = d.replica.get(hh).unwrap();
    assert_eq!(view.record["address"]["street"], json!("Jl. Mawar No. 3"));
    assert_eq!(view.record["address"]["rt"], json!(3));
    assert_eq!(d.replica.pending_changes().unwrap(), seq_before);
}

#[test]
fn three_devices_converge_and_a_same_field_conflict_shows_until_resolved() {
    let (mut a, mut b, mut c) = (Device::new(1), Device::new(2), Device::new(3));
    let (hh, _) = add_family(&mut a);
    a.send_to(&mut b);
    a.send_to(&mut c);

    // Offline: different fields on a and b, the same field on a and c.
    a.replica
        .update_json(hh, &json!({"address": {"street": "Jl. Mawar No. 3"}}))
        .unwrap();
    b.replica
        .update_json(hh, &json!({"address": {"rt": 4}}))
        .unwrap();
    a.replica
        .update_json(hh, &json!({"head_name": "Ahmad Suryadi Putra"}))
        .unwrap();
    c.replica
        .update_json(hh, &json!({"head_name": "Achmad Suryadi"}))
        .unwrap();

    // Sync in different orders.
    c.send_to(&mut b);
    a.send_to(&mut b);
    b.send_to(&mut a);
    b.send_to(&mut c);
    let exports: Vec<String> = [&a, &b, &c]
        .iter()
        .map(|d| d.replica.export().unwrap())
        .collect();
    assert_eq!(exports[0], exports[1]);
    assert_eq!(exports[1], exports[2]);

    let view = a.replica.get(hh).unwrap();
    assert_eq!(view.record["address"]["street"], json!("Jl. Mawar No. 3"));
    assert_eq!(view.record["address"]["rt"], json!(4));
    for d in [&a, &b, &c] {
        let conflicts = d.replica.conflicts().unwrap();
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].field, "head_name");
        let values: Vec<_> = conflicts[0]
            .candidates
            .iter()
            .map(|c| c.value.clone())
            .collect();
        assert!(
            values.contains(&json!("Ahmad Suryadi Putra"))
                && values.contains(&json!("Achmad Suryadi"))
        );
        assert!(conflicts[0].candidates.iter().all(|c| c.role.is_some()));
    }

    b.replica
        .resolve(hh, "head_name", Resolution::Value(json!("Ahmad Suryadi")))
        .unwrap();
    b.send_to(&mut a);
    b.send_to(&mut c);
    for d in [&a, &b, &c] {
        assert!(d.replica.conflicts().unwrap().is_empty());
        assert_eq!(
            d.replica.get(hh).unwrap().record["head_name"],
            json!("Ahmad Suryadi")
        );
    }
    assert_eq!(a.replica.export().unwrap(), c.replica.export().unwrap());
}

#[test]
fn resolving_by_picking_a_candidate_syncs() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let (hh, _) = add_family(&mut a);
    a.send_to(&mut b);
    a.replica
        .update_json(hh, &json!({"address": {"rw": 6}}))
        .unwrap();
    b.replica
        .update_json(hh, &json!({"address": {"rw": 7}}))
        .unwrap();
    a.send_to(&mut b);
    let shown = b.replica.conflicts().unwrap()[0].candidates[1]
        .value
        .clone();
    b.replica
        .resolve(hh, "address.rw", Resolution::Pick(1))
        .unwrap();
    b.send_to(&mut a);
    assert!(a.replica.conflicts().unwrap().is_empty());
    assert_eq!(a.replica.get(hh).unwrap().record["address"]["rw"], shown);
    let err = a
        .replica
        .resolve(hh, "address.rw", Resolution::Pick(0))
        .unwrap_err();
    assert!(matches!(err, FieldError::Invalid(v) if v.field == "field"));
}

#[test]
fn a_duplicate_household_from_two_devices_is_flagged_and_merged_without_loss() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let (hh_a, _) = add_family(&mut a);
    // The same family registered on another tablet, with another member and a visit.
    let hh_b = b
        .replica
        .add_household(&parse::<Household>(household_json()))
        .unwrap()
        .0;
    let mut child = person_json(hh_b);
    child["nik"] = json!("3671051505180002");
    child["name"] = json!("Budi Santoso");
    child["sex"] = json!("male");
    child["birth_date"] = json!("2018-05-15");
    child["relation"] = json!("child");
    let child = b.replica.add_person(&parse::<Person>(child)).unwrap().0;
    b.replica
        .record_visit(parse(
            json!({"visit": {"household": hh_b, "visited_at": "2026-11-20T09:00:00+07:00",
            "team": "CPD-02", "outcome": "visited"}}),
        ))
        .unwrap();

    a.send_to(&mut b);
    b.send_to(&mut a);
    for d in [&a, &b] {
        let groups = d.replica.duplicates().unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].shared, "kk");
        let mut expected = vec![hh_a, hh_b];
        expected.sort();
        assert_eq!(groups[0].ids, expected);
    }

    a.replica.merge_duplicates(hh_a, hh_b).unwrap();
    a.send_to(&mut b);
    for d in [&a, &b] {
        assert!(d.replica.duplicates().unwrap().is_empty());
        let members: Vec<Uuid> = d
            .replica
            .members(hh_a)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect();
        assert!(
            members.contains(&child),
            "the other tablet's member is still there"
        );
        assert_eq!(members.len(), 2);
        let dropped = d.replica.get(hh_b).unwrap();
        assert_eq!(dropped.merged_into, Some(hh_a));
        // The visit recorded under the merged household counts for the kept one.
        let list = d
            .replica
            .worklist(support::now().date_naive(), &WorklistFilter::default())
            .unwrap();
        assert_eq!(list.never_visited_total, 0);
    }
    assert_eq!(a.replica.export().unwrap(), b.replica.export().unwrap());
}

#[test]
fn a_removal_is_a_tombstone_that_syncs() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let (hh, person) = add_family(&mut a);
    a.send_to(&mut b);
    b.replica.remove(person).unwrap();
    // Concurrently, a edits the person: the edit is kept, the person stays removed.
    a.replica
        .update_json(person, &json!({"jkn": "0001234567890"}))
        .unwrap();
    b.send_to(&mut a);
    a.send_to(&mut b);
    for d in [&a, &b] {
        let view = d.replica.get(person).unwrap();
        assert!(view.deleted);
        assert_eq!(view.record["jkn"], json!("0001234567890"));
        assert!(d.replica.members(hh).unwrap().is_empty());
    }
}

#[test]
fn referral_status_moves_forward_and_concurrent_steps_settle() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let (_, person) = add_family(&mut a);
    let referral = a
        .replica
        .add_referral(parse(json!({"person": person, "category": "hypertension", "reason": "TD 180/110",
            "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"}, "urgency": "urgent"})))
        .unwrap();
    a.send_to(&mut b);
    a.replica
        .update_json(referral.0, &json!({"status": "sent"}))
        .unwrap();
    b.replica
        .update_json(referral.0, &json!({"status": "arrived"}))
        .unwrap();
    a.send_to(&mut b);
    b.send_to(&mut a);
    for d in [&a, &b] {
        assert_eq!(
            d.replica.get(referral.0).unwrap().record["status"],
            json!("arrived")
        );
        assert!(d.replica.conflicts().unwrap().is_empty());
    }
    let err = a
        .replica
        .update_json(referral.0, &json!({"status": "created"}))
        .unwrap_err();
    assert!(
        matches!(&err, FieldError::Invalid(v) if v.rule == Rule::Transition),
        "{err:?}"
    );
    a.replica
        .update_referral(referral, |r| {
            r.status = ReferralStatus::Completed;
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_bad_remote_batch_is_refused_whole() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    add_family(&mut a);
    let mut states = a.replica.all_states().unwrap();
    let before = b.replica.export().unwrap();
    states.push(RemoteRecord {
        kind: field_core::model::RecordKind::Visit,
        id: Uuid::now_v7(),
        state: vec![1, 255, 255],
    });
    assert!(matches!(
        b.replica.merge_remote(states),
        Err(FieldError::Damaged { .. })
    ));
    assert_eq!(b.replica.export().unwrap(), before);
}

#[test]
fn merging_the_same_states_twice_changes_nothing() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    add_family(&mut a);
    let first = b
        .replica
        .merge_remote(a.replica.all_states().unwrap())
        .unwrap();
    assert_eq!(first.changed, 2);
    let export = b.replica.export().unwrap();
    let second = b
        .replica
        .merge_remote(a.replica.all_states().unwrap())
        .unwrap();
    assert_eq!((second.changed, second.unchanged), (0, 2));
    assert_eq!(b.replica.export().unwrap(), export);
    // Remote records do not enter the receiver's outbox.
    assert_eq!(b.replica.pending_changes().unwrap(), 0);
}

#[test]
fn search_finds_by_kk_nik_name_and_area() {
    let mut d = Device::new(1);
    let (hh, person) = add_family(&mut d);
    let ids = |q: SearchQuery| {
        d.replica
            .search(&q)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(SearchQuery::Kk("3671051203150007".into())), vec![hh]);
    assert_eq!(
        ids(SearchQuery::Nik("3671054702900001".into())),
        vec![person]
    );
    assert_eq!(ids(SearchQuery::Name("aminah".into())), vec![person]);
    assert_eq!(ids(SearchQuery::Name("SITI".into())), vec![person]);
    assert!(ids(SearchQuery::Name("budi".into())).is_empty());
    assert_eq!(
        ids(SearchQuery::Area {
            kelurahan: "cipondoh indah".into(),
            rw: Some(5),
            rt: None
        }),
        vec![hh]
    );
    assert!(
        ids(SearchQuery::Area {
            kelurahan: "Cipondoh Indah".into(),
            rw: Some(6),
            rt: None
        })
        .is_empty()
    );
    let err = d
        .replica
        .search(&SearchQuery::Nik("12".into()))
        .unwrap_err();
    assert!(matches!(err, FieldError::Invalid(v) if v.field == "nik"));
}

#[test]
fn the_worklist_shows_what_is_due_today() {
    let mut d = Device::new(1);
    let (hh, person) = add_family(&mut d);
    let other = d
        .replica
        .add_household(&parse::<Household>({
            let mut h = household_json();
            h["kk"] = json!("3671050101100003");
            h
        }))
        .unwrap();
    let today = support::now().date_naive();
    let list = d
        .replica
        .worklist(today, &WorklistFilter::default())
        .unwrap();
    assert_eq!(list.never_visited_total, 2);

    // A visit with raised blood pressure long ago makes the household due again.
    d.replica
        .record_visit(parse(json!({"visit": {"household": hh, "visited_at": "2026-09-01T09:00:00+07:00",
            "team": "CPD-01", "outcome": "visited", "screenings": [{"person": person,
            "form": {"id": "vital-signs", "version": 1}, "values": {"systolic": 150, "diastolic": 85}}]},
            "followups": [{"person": person, "due": "2026-11-20"}],
            "referrals": [{"person": person, "category": "hypertension", "reason": "TD 150/85",
              "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"}, "urgency": "routine"}]})))
        .unwrap();
    let list = d
        .replica
        .worklist(today, &WorklistFilter::default())
        .unwrap();
    assert_eq!(
        list.never_visited.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![other.0]
    );
    assert_eq!(list.due_again.len(), 1);
    assert_eq!(list.due_again[0].id, hh);
    assert_eq!(list.due_again[0].due.unwrap().to_string(), "2026-10-01");
    assert_eq!(list.followups_due.len(), 1);
    assert_eq!(
        list.followups_due[0].person_name.as_deref(),
        Some("Siti Aminah")
    );
    assert_eq!(list.open_referrals.len(), 1);

    let filtered = WorklistFilter {
        kelurahan: Some("Cipondoh Indah".into()),
        rw: Some(9),
        ..Default::default()
    };
    let list = d.replica.worklist(today, &filtered).unwrap();
    assert_eq!(
        (
            list.never_visited_total,
            list.due_again_total,
            list.open_referrals.len()
        ),
        (0, 0, 0)
    );
}

#[test]
fn a_change_needs_a_health_worker() {
    let dir = tempfile::TempDir::new().unwrap();
    let info = field_core::DeviceInfo {
        number: 9,
        puskesmas: None,
        team: None,
    };
    let mut replica = field_core::Replica::init(
        &dir.path().join("d.db"),
        &support::key(),
        info,
        support::options(),
    )
    .unwrap();
    let err = replica
        .add_household(&parse::<Household>(household_json()))
        .unwrap_err();
    assert!(matches!(err, FieldError::NoWorker));
    assert_eq!(replica.pending_changes().unwrap(), 0);
}

/// A visit screens the visited household's members, each with a form made for their sex and
/// age; anything else names the screening and writes nothing.
#[test]
fn a_screening_of_another_household_or_with_a_form_that_does_not_fit_is_refused() {
    let mut d = Device::new(1);
    let (hh, woman) = add_family(&mut d);
    let husband = d
        .replica
        .add_person(&parse::<Person>(
            json!({"household": hh, "nik": "3671050502880003",
            "name": "Budi Santoso", "sex": "male", "birth_date": "1988-02-05",
            "relation": "head"}),
        ))
        .unwrap();
    let next_door = d
        .replica
        .add_household(&parse::<Household>({
            let mut h = household_json();
            h["kk"] = json!("3671050101100003");
            h
        }))
        .unwrap();
    let neighbour = d
        .replica
        .add_person(&parse::<Person>(person_json(next_door.0)))
        .unwrap();
    let before = d.replica.export().unwrap();

    let refused = |d: &mut Device, visit: serde_json::Value| match d
        .replica
        .record_visit(parse::<NewVisit>(visit))
        .unwrap_err()
    {
        FieldError::Invalid(e) => (e.field, e.rule),
        other => panic!("expected an input error, got {other:?}"),
    };
    let mut visit = visit_json(hh, woman, woman);
    visit["visit"]["screenings"][1]["person"] = json!(neighbour);
    assert_eq!(
        refused(&mut d, visit),
        ("visit.screenings[1].person".into(), Rule::Consistency)
    );
    let mut visit = visit_json(hh, woman, woman);
    visit["visit"]["screenings"][1]["person"] = json!(husband);
    assert_eq!(
        refused(&mut d, visit),
        ("visit.screenings[1].form".into(), Rule::Consistency)
    );
    assert_eq!(d.replica.export().unwrap(), before, "nothing was written");

    // The same visit with each screening where it belongs is recorded.
    d.replica
        .record_visit(parse(visit_json(hh, woman, woman)))
        .unwrap();
}

#[test]
fn a_removed_person_cannot_be_screened_or_referred() {
    let mut d = Device::new(1);
    let (hh, person) = add_family(&mut d);
    let other = d
        .replica
        .add_person(&parse::<Person>(
            json!({"household": hh, "nik": "3671054107900002", "name": "Sari Lestari", "sex": "female",
                   "birth_date": "1990-07-01", "relation": "spouse"}),
        ))
        .unwrap();
    d.replica.remove(person).unwrap();
    let before = d.replica.export().unwrap();

    let err = d
        .replica
        .record_visit(parse::<NewVisit>(visit_json(hh, person, other.0)))
        .unwrap_err();
    let FieldError::Invalid(e) = err else {
        panic!("expected an input error, got {err:?}")
    };
    assert_eq!(
        (e.field.as_str(), e.rule),
        ("visit.screenings[0].person", Rule::Unknown)
    );
    let err = d
        .replica
        .add_referral(parse(json!({"person": person, "category": "hypertension",
            "reason": "TD 180/110", "destination": {"kind": "puskesmas", "name": "Puskesmas Cipondoh"},
            "urgency": "urgent"})))
        .unwrap_err();
    assert!(
        matches!(&err, FieldError::Invalid(e) if e.field == "person" && e.rule == Rule::Unknown),
        "{err:?}"
    );
    assert_eq!(d.replica.export().unwrap(), before, "nothing was written");
}
