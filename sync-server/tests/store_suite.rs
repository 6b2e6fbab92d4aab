//! The storage suite: what the server relies on from its store, run against every backend.
//!
//! Each test is a plain function of `&dyn Store`; `store_suite!` runs it as `sqlite::NAME` on a
//! temp SQLite file and as `postgres::NAME` on a PostgreSQL database made for it (see
//! `support`). The PostgreSQL tests need a server: 127.0.0.1:5432, user postgres, trust auth,
//! or `CAGEUR_TEST_PG`; they fail, never skip, when it cannot be reached.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cageur_model::forms::FormRegistry;
use cageur_protocol::sync::{Cursor, ErrorCode, SyncSummary};
use sync_server::store::admin::{self, HelloExtras, Revocation};
use sync_server::store::{PulledRecord, PushOrigin, Store};
use uuid::Uuid;

use support::{
    P1, P2, Rec, TEAM1, TEAM2, device, edited, family, household, moved_to, person, pull_pages,
    push_at, push_of, refusal, reload, report, two_puskesmas,
};

/// Instantiates every named test once per store.
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::support::with_sqlite(super::$name);
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::support::with_postgres(super::$name);
                }
            )*
        }
    };
}

store_suite!(
    created_admin_tokens_are_admin_and_others_are_not,
    duplicate_units_conflict_and_a_team_needs_its_puskesmas,
    an_enrollment_code_works_once,
    expired_and_unknown_enrollment_codes_are_refused,
    devices_get_increasing_numbers_and_are_found_by_credential,
    revoking_marks_the_device_and_unknown_devices_are_not_found,
    hello_records_the_report_and_returns_the_newest_sequence,
    a_push_reaches_its_puskesmas_and_no_other,
    pushing_the_same_records_again_changes_nothing,
    each_changed_group_takes_the_next_sequence,
    a_household_of_another_puskesmas_is_refused_and_nothing_is_written,
    a_member_of_another_puskesmas_household_is_refused,
    a_device_is_not_sent_its_own_changes_back,
    a_household_that_moves_reaches_the_new_puskesmas_with_its_members,
    a_household_first_seen_already_moved_is_taken_as_registered_then_moved,
    a_push_from_a_device_behind_the_store_is_sent_back_merged,
    an_edit_resends_the_record_alone_and_its_first_group_stays_whole,
    pages_end_between_groups_and_cover_everything,
    a_cursor_with_a_wrong_token_is_a_changed_timeline,
    export_holds_the_puskesmas_records,
    concurrent_pushes_get_unique_gap_free_sequences,
    a_hello_records_the_previous_sync_in_the_history,
    a_resync_pull_includes_the_devices_own_records_until_done,
    lag_counts_what_a_device_has_not_pulled,
    a_form_version_is_published_once_and_never_changed,
    held_pushes_are_kept_and_marked_when_accepted,
    an_audit_entry_is_written_only_with_its_transaction,
    scope_pages_cover_a_puskesmas_in_id_order,
    a_push_of_a_device_revoked_as_stolen_meanwhile_is_refused,
    a_rescued_member_whose_household_was_lost_is_taken_an_offered_copy_is_not,
    a_page_counts_exactly_what_the_pages_after_it_bring,
    a_change_to_a_departed_record_is_taken_in_a_push_of_hundreds,
);

/// A tablet that had not heard of a move yet pushes an edit of a member of the household that
/// moved away, among 600 records of its own: the departed member is found wherever it sits in
/// the push (departures are looked up a few hundred ids at a time), the edit is taken and
/// reaches the new puskesmas.
fn a_change_to_a_departed_record_is_taken_in_a_push_of_hundreds(store: &dyn Store) {
    two_puskesmas(store);
    let (writer, late) = (device(store, TEAM1), device(store, TEAM1));
    let there = device(store, TEAM2);
    let records = family(P1, writer.id, 1);
    store.push(&writer, push_of(&[&records])).unwrap();
    let held = pull_pages(store, &late, Cursor::default(), None, 5);
    let cursor = held.last().unwrap().next;
    let moved = moved_to(&records[0], writer.id, P2);
    store.push(&writer, push_of(&[vec![moved]])).unwrap();

    let mut groups: Vec<Vec<Rec>> = (0..600)
        .map(|n| vec![household(P1, late.id, n + 2)])
        .collect();
    let edit = edited(&records[1], late.id);
    groups.push(vec![edit.clone()]);
    store.push(&late, push_at(cursor, &groups)).unwrap();

    let got: BTreeMap<Uuid, (u8, Vec<u8>)> = pull_pages(store, &there, Cursor::default(), None, 5)
        .iter()
        .flat_map(|p| pulled_by_id(&p.records))
        .collect();
    assert_eq!(
        got.get(&edit.id),
        by_id(std::slice::from_ref(&edit)).get(&edit.id)
    );
}

/// `remaining` is counted from bands of 1,024 sequences kept by triggers (server schema 6):
/// across more sequences than a band holds, with echoes, edits that move records on, and a
/// household that moves out, every page's count is what the pages after it bring.
fn a_page_counts_exactly_what_the_pages_after_it_bring(store: &dyn Store) {
    two_puskesmas(store);
    let (writer, editor, reader) = (
        device(store, TEAM1),
        device(store, TEAM1),
        device(store, TEAM1),
    );
    let other = device(store, TEAM2);
    // 9,000 actions of one household each: more sequences than one band.
    let households: Vec<Rec> = (0..9_000).map(|n| household(P1, writer.id, n)).collect();
    for chunk in households.chunks(cageur_protocol::sync::MAX_PUSH_RECORDS) {
        let groups: Vec<Vec<Rec>> = chunk.iter().map(|h| vec![h.clone()]).collect();
        store.push(&writer, push_of(&groups)).unwrap();
    }
    store
        .push(&other, push_of(&[family(P2, other.id, 1)]))
        .unwrap();
    // Another tablet edits every hundredth household (they move on to its sequences) and
    // one household moves to P2.
    let edits: Vec<Vec<Rec>> = households
        .iter()
        .step_by(100)
        .map(|h| vec![edited(h, editor.id)])
        .collect();
    store.push(&editor, push_of(&edits)).unwrap();
    let moved = moved_to(&households[1], writer.id, P2);
    store.push(&writer, push_of(&[vec![moved]])).unwrap();

    // The writer's pages pass over its own echoes (8,909 of them) between the few records it
    // is sent, so its pages are small, to be many.
    for (who, page_bytes) in [
        (&reader, 40_000),
        (&editor, 40_000),
        (&writer, 2_000),
        (&other, 40_000),
    ] {
        let pages = pull_pages(store, who, Cursor::default(), Some(page_bytes), 500);
        let brought: Vec<u64> = pages.iter().map(|p| p.records.len() as u64).collect();
        for (k, page) in pages.iter().enumerate() {
            let after: u64 = brought[k + 1..].iter().sum();
            assert_eq!(page.remaining, after, "device {}, page {k}", who.id);
        }
        let total: u64 = brought.iter().sum();
        if who.id == reader.id {
            // P1's households but the one that moved.
            assert_eq!((total, pages.len() > 10), (8_999, true));
        }
        if who.id == writer.id {
            // The households the editor changed.
            assert_eq!((total, pages.len() > 3), (90, true));
        }
    }
}

fn a_push_of_a_device_revoked_as_stolen_meanwhile_is_refused(store: &dyn Store) {
    two_puskesmas(store);
    let tablet = device(store, TEAM1);
    // Authenticated before the revocation: the row the push carries says not stolen.
    let stolen = Revocation {
        wipe: true,
        stolen: true,
    };
    admin::write(store, |tx| admin::revoke(tx, tablet.id, stolen, 5)).unwrap();
    let before = store.newest_seq().unwrap();
    assert_eq!(
        refusal(store.push(&tablet, push_of(&[family(P1, tablet.id, 1)]))),
        ErrorCode::DeviceRevoked
    );
    assert_eq!(store.newest_seq().unwrap(), before, "nothing was merged");
    // Merging on purpose, as one that knows (an accepted held push), goes through.
    let knowing = reload(store, &tablet);
    assert!(knowing.stolen);
    store
        .push(&knowing, push_of(&[family(P1, tablet.id, 1)]))
        .unwrap();
    assert!(store.newest_seq().unwrap() > before);
}

fn builtins() -> FormRegistry {
    FormRegistry::with_builtins()
}

/// Every record a device pulls from `cursor`, and the cursor it ends at.
fn pull_everything(
    store: &dyn Store,
    device: &sync_server::store::DeviceRow,
    cursor: Cursor,
) -> (Vec<PulledRecord>, Cursor) {
    let pages = pull_pages(store, device, cursor, None, 100);
    let end = pages.last().map_or(cursor, |p| p.next);
    (pages.into_iter().flat_map(|p| p.records).collect(), end)
}

fn a_hello_records_the_previous_sync_in_the_history(store: &dyn Store) {
    two_puskesmas(store);
    let tablet = device(store, TEAM1);
    let first = HelloExtras {
        protocol: 2,
        pending_referrals: Some(1),
        previous: None,
    };
    store.hello(tablet.id, &report(), Some(&first)).unwrap();
    assert!(
        admin::read(store, |tx| admin::history(tx, tablet.id, 10))
            .unwrap()
            .is_empty()
    );
    let cut = SyncSummary {
        pushed: 3,
        pulled: 0,
        bytes_up: 900,
        bytes_down: 40,
        finished: false,
        error: Some("network: connection reset".into()),
    };
    let second = HelloExtras {
        previous: Some(cut),
        ..first.clone()
    };
    store.hello(tablet.id, &report(), Some(&second)).unwrap();
    let history = admin::read(store, |tx| admin::history(tx, tablet.id, 10)).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].pushed, history[0].bytes_up), (3, 900));
    assert!(!history[0].finished);
    assert_eq!(
        history[0].error.as_deref(),
        Some("network: connection reset")
    );
    let facts = admin::read(store, |tx| admin::device(tx, tablet.id)).unwrap();
    assert_eq!(
        (facts.protocol, facts.pending_referrals),
        (Some(2), Some(1))
    );
}

fn a_resync_pull_includes_the_devices_own_records_until_done(store: &dyn Store) {
    two_puskesmas(store);
    let tablet = device(store, TEAM1);
    let own = family(P1, tablet.id, 1);
    store
        .push(&tablet, push_of(std::slice::from_ref(&own)))
        .unwrap();
    // Normally a device is not sent back what it pushed.
    assert!(
        pull_everything(store, &tablet, Cursor::default())
            .0
            .is_empty()
    );
    admin::write(store, |tx| admin::request_resync(tx, tablet.id, 10)).unwrap();
    let resyncing = reload(store, &tablet);
    assert!(resyncing.resync_requested_at.is_some());
    let (pulled, _) = pull_everything(store, &resyncing, Cursor::default());
    assert_eq!(pulled_by_id(&pulled), by_id(&own));
    assert!(admin::write(store, |tx| admin::resync_done(tx, tablet.id, 20)).unwrap());
    assert!(!admin::write(store, |tx| admin::resync_done(tx, tablet.id, 30)).unwrap());
    let done = admin::read(store, |tx| admin::device(tx, tablet.id)).unwrap();
    assert_eq!(
        (done.resync_requested_at, done.resync_done_at),
        (None, Some(20))
    );
    assert!(
        pull_everything(store, &reload(store, &tablet), Cursor::default())
            .0
            .is_empty()
    );
    // A revoked device cannot be asked to resync.
    let how = Revocation::default();
    admin::write(store, |tx| admin::revoke(tx, tablet.id, how, 40)).unwrap();
    assert_eq!(
        refusal(admin::write(store, |tx| admin::request_resync(
            tx, tablet.id, 50
        ))),
        ErrorCode::Conflict
    );
}

fn lag_counts_what_a_device_has_not_pulled(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let lag = |d: &sync_server::store::DeviceRow| {
        admin::read(store, |tx| {
            let facts = admin::device(tx, d.id)?;
            admin::lag(tx, &facts)
        })
        .unwrap()
    };
    let records = family(P1, writer.id, 1);
    store
        .push(&writer, push_of(std::slice::from_ref(&records)))
        .unwrap();
    assert_eq!(lag(&reader), records.len() as u64);
    assert_eq!(lag(&writer), 0, "its own records are not counted");
    let (_, cursor) = pull_everything(store, &reader, Cursor::default());
    assert_eq!(lag(&reload(store, &reader)), 0, "pulled up to {cursor:?}");
}

fn a_form_version_is_published_once_and_never_changed(store: &dyn Store) {
    let publish = |def: &str| {
        admin::write(store, |tx| {
            admin::publish_form(tx, ("tb-recheck", 1), def, "Sri", 5)
        })
    };
    let (number, new) = publish("{\"a\":1}").unwrap();
    assert!(new);
    assert_eq!(publish("{\"a\":1}").unwrap(), (number, false));
    assert_eq!(refusal(publish("{\"a\":2}")), ErrorCode::Conflict);
    let (next, _) = admin::write(store, |tx| {
        admin::publish_form(tx, ("tb-recheck", 2), "{\"a\":2}", "Sri", 6)
    })
    .unwrap();
    assert!(next > number);
    let after = admin::read(store, |tx| admin::forms_after(tx, number, 10)).unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].number, next);
    assert_eq!(
        admin::read(store, |tx| admin::forms_after(tx, 0, 10))
            .unwrap()
            .len(),
        2
    );
}

fn held_pushes_are_kept_and_marked_when_accepted(store: &dyn Store) {
    two_puskesmas(store);
    let thief = device(store, TEAM1);
    admin::write(store, |tx| {
        admin::hold_push(tx, thief.id, 4, vec![1, 2, 3], 100)
    })
    .unwrap();
    let held = admin::read(store, |tx| admin::held_pushes(tx, thief.id)).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].records, held[0].accepted_at), (4, None));
    let bodies = admin::read(store, |tx| admin::held_bodies(tx, thief.id)).unwrap();
    assert_eq!(bodies, vec![(held[0].id, vec![1, 2, 3])]);
    admin::write(store, |tx| admin::accept_held(tx, held[0].id, 200)).unwrap();
    assert!(
        admin::read(store, |tx| admin::held_bodies(tx, thief.id))
            .unwrap()
            .is_empty()
    );
    let held = admin::read(store, |tx| admin::held_pushes(tx, thief.id)).unwrap();
    assert_eq!(held[0].accepted_at, Some(200));
    // Nothing held was merged: the scope is empty.
    assert!(
        admin::read(store, |tx| admin::scope_page(tx, P1, None, 10))
            .unwrap()
            .is_empty()
    );
}

fn an_audit_entry_is_written_only_with_its_transaction(store: &dyn Store) {
    two_puskesmas(store);
    let tablet = device(store, TEAM1);
    let failed: Result<(), _> = admin::write(store, |tx| {
        admin::audit(tx, "Sri", "resync", Some(tablet.id), Some(P1), "asked", 1)?;
        admin::request_resync(tx, tablet.id + 1000, 1)
    });
    assert_eq!(refusal(failed), ErrorCode::NotFound);
    assert!(
        admin::read(store, |tx| admin::audit_log(tx, None, 10))
            .unwrap()
            .is_empty()
    );
    admin::write(store, |tx| {
        admin::request_resync(tx, tablet.id, 2)?;
        admin::audit(tx, "Sri", "resync", Some(tablet.id), Some(P1), "asked", 2)
    })
    .unwrap();
    let log = admin::read(store, |tx| admin::audit_log(tx, Some(tablet.id), 10)).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].actor.as_str(), log[0].action.as_str()),
        ("Sri", "resync")
    );
    assert_eq!(
        (log[0].device, log[0].puskesmas.as_deref()),
        (Some(tablet.id), Some(P1))
    );
}

fn scope_pages_cover_a_puskesmas_in_id_order(store: &dyn Store) {
    two_puskesmas(store);
    let a = device(store, TEAM1);
    let b = device(store, TEAM2);
    let mine: Vec<_> = (0..4).flat_map(|n| family(P1, a.id, n)).collect();
    store
        .push(&a, push_of(std::slice::from_ref(&mine)))
        .unwrap();
    store.push(&b, push_of(&[family(P2, b.id, 9)])).unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = admin::read(store, |tx| admin::scope_page(tx, P1, after, 5)).unwrap();
        seen.extend(page.iter().map(|r| r.id));
        if page.len() < 5 {
            break;
        }
        after = page.last().map(|r| r.id);
    }
    let mut expected: Vec<Uuid> = mine.iter().map(|r| r.id).collect();
    expected.sort();
    assert_eq!(seen, expected);
    let one = admin::read(store, |tx| admin::record(tx, expected[0]))
        .unwrap()
        .unwrap();
    assert_eq!(one.puskesmas, P1);
}

/// Records by id, as kind code and state bytes, for comparing what was pushed and pulled.
fn by_id<'a>(records: impl IntoIterator<Item = &'a Rec>) -> BTreeMap<Uuid, (u8, Vec<u8>)> {
    records
        .into_iter()
        .map(|r| (r.id, (r.kind.code(), r.state.clone())))
        .collect()
}

fn pulled_by_id<'a>(
    records: impl IntoIterator<Item = &'a PulledRecord>,
) -> BTreeMap<Uuid, (u8, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for r in records {
        let earlier = out.insert(r.id, (r.kind.code(), r.state.clone()));
        assert!(earlier.is_none(), "record {} pulled twice", r.id);
    }
    out
}

fn created_admin_tokens_are_admin_and_others_are_not(store: &dyn Store) {
    let token = admin::create_admin_token(store, "Budi (Dinkes IT)").unwrap();
    assert_eq!(
        admin::admin_of(store, &token.0).unwrap().as_deref(),
        Some("Budi (Dinkes IT)")
    );
    let other = admin::create_admin_token(store, "Sri").unwrap();
    assert_ne!(token, other);
    assert_eq!(
        admin::admin_of(store, &other.0).unwrap().as_deref(),
        Some("Sri")
    );
    assert!(
        admin::admin_of(store, "cja_0123456789abcdef")
            .unwrap()
            .is_none()
    );
    assert!(admin::admin_of(store, "").unwrap().is_none());
    assert_eq!(
        refusal(admin::create_admin_token(store, " ")),
        ErrorCode::BadRequest
    );
    let log = admin::read(store, |tx| admin::audit_log(tx, None, 10)).unwrap();
    assert_eq!(log.len(), 2, "each credential made is in the audit log");
    assert_eq!(log[0].action, "admin_token");
}

fn duplicate_units_conflict_and_a_team_needs_its_puskesmas(store: &dyn Store) {
    let unit = store.add_puskesmas(P1, "Puskesmas Cipondoh").unwrap();
    assert_eq!((unit.code.as_str(), unit.puskesmas), (P1, None));
    assert_eq!(
        refusal(store.add_puskesmas(P1, "Puskesmas Cipondoh again")),
        ErrorCode::Conflict
    );

    let team = store.add_team(TEAM1, P1, "Tim Cipondoh 1").unwrap();
    assert_eq!(team.code, TEAM1);
    assert_eq!(team.puskesmas.as_deref(), Some(P1));
    assert_eq!(
        refusal(store.add_team(TEAM1, P1, "Tim Cipondoh 1 again")),
        ErrorCode::Conflict
    );
    assert_eq!(
        refusal(store.add_team(TEAM2, P2, "Tim Tangerang 1")),
        ErrorCode::NotFound
    );
    // The refused team was not registered on the side.
    store.add_puskesmas(P2, "Puskesmas Tangerang").unwrap();
    store.add_team(TEAM2, P2, "Tim Tangerang 1").unwrap();
}

fn an_enrollment_code_works_once(store: &dyn Store) {
    two_puskesmas(store);
    let enrollment = store
        .create_enrollment(TEAM1, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(
        (enrollment.team.as_str(), enrollment.puskesmas.as_str()),
        (TEAM1, P1)
    );
    let enrolled = store.enroll(&enrollment.code, &report()).unwrap();
    assert_eq!(
        (enrolled.team.as_str(), enrolled.puskesmas.as_str()),
        (TEAM1, P1)
    );
    assert_eq!(
        refusal(store.enroll(&enrollment.code, &report())),
        ErrorCode::EnrollmentCodeInvalid
    );
    assert_eq!(store.devices().unwrap().len(), 1);
    assert_eq!(
        refusal(store.create_enrollment("NO-SUCH-TEAM", Duration::from_secs(3600))),
        ErrorCode::NotFound
    );
}

fn expired_and_unknown_enrollment_codes_are_refused(store: &dyn Store) {
    two_puskesmas(store);
    let expired = store.create_enrollment(TEAM1, Duration::ZERO).unwrap();
    assert_eq!(
        refusal(store.enroll(&expired.code, &report())),
        ErrorCode::EnrollmentCodeInvalid
    );
    assert_eq!(
        refusal(store.enroll("ABCD-EFGH-JKMN", &report())),
        ErrorCode::EnrollmentCodeInvalid
    );
    assert!(store.devices().unwrap().is_empty());
}

fn devices_get_increasing_numbers_and_are_found_by_credential(store: &dyn Store) {
    two_puskesmas(store);
    let mut enrolled = Vec::new();
    for team in [TEAM1, TEAM2, TEAM1] {
        let code = store
            .create_enrollment(team, Duration::from_secs(3600))
            .unwrap()
            .code;
        enrolled.push(store.enroll(&code, &report()).unwrap());
    }
    let ids: Vec<u32> = enrolled.iter().map(|e| e.device).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "device numbers {ids:?} are not distinct and increasing"
    );
    assert_ne!(enrolled[0].credential, enrolled[2].credential);

    for e in &enrolled {
        let row = store
            .device_by_credential(&e.credential)
            .unwrap()
            .expect("the credential finds its device");
        assert_eq!(row.id, e.device);
        assert_eq!(
            (row.puskesmas.as_str(), row.team.as_str()),
            (e.puskesmas.as_str(), e.team.as_str())
        );
        assert_eq!(row.revoked_at, None);
        assert!(!row.wipe);
        assert_eq!(row.cursor, 0);
        assert_eq!(
            row.app_version.as_deref(),
            Some(report().app_version.as_str())
        );
    }
    assert_eq!(enrolled[1].puskesmas, P2);
    assert!(store.device_by_credential("cjd_unknown").unwrap().is_none());
    let listed: Vec<u32> = store.devices().unwrap().iter().map(|d| d.id).collect();
    assert_eq!(listed, ids);
}

fn revoking_marks_the_device_and_unknown_devices_are_not_found(store: &dyn Store) {
    two_puskesmas(store);
    let kept = device(store, TEAM1);
    let lost = device(store, TEAM1);
    let how = Revocation {
        wipe: true,
        stolen: false,
    };
    let facts = admin::write(store, |tx| admin::revoke(tx, lost.id, how, 1_000)).unwrap();
    assert_eq!(facts.id, lost.id);
    assert_eq!(facts.revoked_at, Some(1_000));
    assert!(facts.wipe && !facts.stolen);
    let row = reload(store, &lost);
    assert!(row.revoked_at.is_some() && row.wipe && row.wipe_pending());
    assert_eq!(reload(store, &kept).revoked_at, None);
    assert!(!reload(store, &kept).wipe);
    // Revoking again adds flags and keeps the first time.
    let stolen = Revocation {
        wipe: true,
        stolen: true,
    };
    let again = admin::write(store, |tx| admin::revoke(tx, lost.id, stolen, 2_000)).unwrap();
    assert_eq!((again.revoked_at, again.stolen), (Some(1_000), true));
    admin::write(store, |tx| admin::wiped(tx, lost.id, 3_000)).unwrap();
    assert!(!reload(store, &lost).wipe_pending());

    let unknown = kept.id.max(lost.id) + 1000;
    assert_eq!(
        refusal(admin::write(store, |tx| admin::revoke(tx, unknown, how, 1))),
        ErrorCode::NotFound
    );
}

fn hello_records_the_report_and_returns_the_newest_sequence(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let tablet = device(store, TEAM1);
    store
        .push(&writer, push_of(&[family(P1, writer.id, 1)]))
        .unwrap();
    let newest = store.newest_seq().unwrap();
    assert_eq!(newest, 1);

    let said = sync_server::store::DeviceReport {
        app_version: "1.4.2".into(),
        schema: 1,
        pending: 7,
        pending_urgent: 2,
    };
    assert_eq!(store.hello(tablet.id, &said, None).unwrap(), newest);
    let row = reload(store, &tablet);
    assert_eq!(row.app_version.as_deref(), Some("1.4.2"));
    assert_eq!(row.schema, Some(1));
    assert_eq!(row.pending, Some(7));
    assert_eq!(row.pending_urgent, Some(2));
    assert!(row.last_seen_at.is_some());
    // What a push makes durable no longer waits, as far as the server knows.
    let records = family(P1, tablet.id, 2);
    store
        .push(&tablet, push_of(std::slice::from_ref(&records)))
        .unwrap();
    assert_eq!(
        reload(store, &tablet).pending,
        Some(7 - records.len() as u64)
    );
    store
        .push(
            &tablet,
            push_of(&[
                family(P1, tablet.id, 3),
                family(P1, tablet.id, 4),
                family(P1, tablet.id, 5),
            ]),
        )
        .unwrap();
    assert_eq!(reload(store, &tablet).pending, Some(0), "never below zero");
}

fn a_push_reaches_its_puskesmas_and_no_other(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let other = device(store, TEAM2);
    let records = family(P1, writer.id, 1);

    let outcome = store.push(&writer, push_of(&[&records])).unwrap();
    assert_eq!(outcome.accepted, vec![1]);
    assert_eq!(outcome.unchanged, 0);
    assert_eq!(outcome.seq, 1);

    let page = store.pull(&reader, Cursor::default(), None).unwrap();
    assert_eq!(pulled_by_id(&page.records), by_id(&records));
    assert_eq!(page.next.seq, outcome.seq);
    assert_eq!(page.remaining, 0);

    let page = store.pull(&other, Cursor::default(), None).unwrap();
    assert!(
        page.records.is_empty(),
        "a device of {P2} pulled {:?}",
        pulled_by_id(&page.records).keys()
    );
    assert_eq!(page.remaining, 0);
}

fn pushing_the_same_records_again_changes_nothing(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let records = family(P1, writer.id, 1);
    let first = store.push(&writer, push_of(&[&records])).unwrap();
    let cursor = store.pull(&reader, Cursor::default(), None).unwrap().next;

    let again = store.push(&writer, push_of(&[&records])).unwrap();
    assert_eq!(again.accepted, vec![1]);
    assert_eq!(again.unchanged, 1);
    assert_eq!(again.seq, first.seq);
    assert_eq!(store.newest_seq().unwrap(), first.seq);

    // Each record alone, too.
    let again = store
        .push(&writer, push_of(&[&records[1..], &records[..1]]))
        .unwrap();
    assert_eq!(again.unchanged, 2);
    assert_eq!(store.newest_seq().unwrap(), first.seq);

    let page = store.pull(&reader, cursor, None).unwrap();
    assert!(page.records.is_empty());
    assert_eq!(page.next, cursor);
    let page = store.pull(&reader, Cursor::default(), None).unwrap();
    assert_eq!(pulled_by_id(&page.records), by_id(&records));
}

fn each_changed_group_takes_the_next_sequence(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let a = family(P1, writer.id, 1);
    let b = family(P1, writer.id, 2);
    let c = family(P1, writer.id, 3);
    store.push(&writer, push_of(&[&a])).unwrap();
    assert_eq!(store.newest_seq().unwrap(), 1);

    // One group unchanged, two new: two sequences.
    let outcome = store.push(&writer, push_of(&[&b, &a, &c])).unwrap();
    assert_eq!(outcome.accepted, vec![1, 2, 3]);
    assert_eq!(outcome.unchanged, 1);
    assert_eq!(outcome.seq, 3);
    assert_eq!(store.newest_seq().unwrap(), 3);

    // With the smallest budget a page holds one sequence: each group has its own.
    let pages = pull_pages(store, &reader, Cursor::default(), Some(1), 10);
    let seqs: Vec<u64> = pages.iter().map(|p| p.next.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    for (page, group) in pages.iter().zip([&a, &b, &c]) {
        assert_eq!(pulled_by_id(&page.records), by_id(group.iter()));
    }
}

fn a_household_of_another_puskesmas_is_refused_and_nothing_is_written(store: &dyn Store) {
    two_puskesmas(store);
    let theirs = device(store, TEAM2);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let foreign = household(P2, theirs.id, 2);
    store
        .push(&theirs, push_of(&[vec![foreign.clone()]]))
        .unwrap();
    let newest = store.newest_seq().unwrap();

    // The writer's own new family, then an edit of P2's household it never held: refused
    // whole, so its own family is not written either.
    let own = family(P1, writer.id, 1);
    let taken = edited(&foreign, writer.id);
    let result = store.push(&writer, push_of(&[own, vec![taken]]));
    assert_eq!(refusal(result), ErrorCode::OutOfScope);
    assert_eq!(store.newest_seq().unwrap(), newest);
    for device in [&reader, &writer] {
        let page = store.pull(device, Cursor::default(), None).unwrap();
        assert!(
            page.records.is_empty(),
            "device {} of {} pulled {:?} after a refused push",
            device.id,
            device.puskesmas,
            pulled_by_id(&page.records).keys()
        );
    }
    let there = device(store, TEAM2);
    let page = store.pull(&there, Cursor::default(), None).unwrap();
    assert_eq!(pulled_by_id(&page.records), by_id(&[foreign]));
}

fn a_household_first_seen_already_moved_is_taken_as_registered_then_moved(store: &dyn Store) {
    // Registered and moved on a tablet before any sync (or re-pushed whole after the server
    // was restored from a backup older than both): the server has never seen it in P1.
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let here = device(store, TEAM1);
    let there = device(store, TEAM2);
    let records = family(P1, writer.id, 1);
    let moved = moved_to(&records[0], writer.id, P2);
    // The person travels first, the household after it: both end in P2.
    store
        .push(&writer, push_of(&[vec![records[1].clone(), moved.clone()]]))
        .unwrap();

    let got: BTreeMap<Uuid, (u8, Vec<u8>)> = pull_pages(store, &there, Cursor::default(), None, 5)
        .iter()
        .flat_map(|p| pulled_by_id(&p.records))
        .collect();
    assert_eq!(got, by_id(&[moved, records[1].clone()]));
    // P1's tablets hold nothing of it, and the writer is told both left its puskesmas.
    let pages = pull_pages(store, &here, Cursor::default(), None, 5);
    assert!(pages.iter().all(|p| p.records.is_empty()));
    let mut departed: Vec<Uuid> = pull_pages(store, &writer, Cursor::default(), None, 5)
        .into_iter()
        .flat_map(|p| p.departed)
        .collect();
    departed.sort();
    let mut expected = vec![records[0].id, records[1].id];
    expected.sort();
    assert_eq!(departed, expected);
}

fn a_member_of_another_puskesmas_household_is_refused(store: &dyn Store) {
    two_puskesmas(store);
    let theirs = device(store, TEAM2);
    let ours = device(store, TEAM1);
    let records = family(P2, theirs.id, 1);
    store.push(&theirs, push_of(&[&records])).unwrap();
    let newest = store.newest_seq().unwrap();

    let intruder = person(records[0].id, ours.id);
    let result = store.push(&ours, push_of(&[vec![intruder]]));
    assert_eq!(refusal(result), ErrorCode::OutOfScope);
    assert_eq!(store.newest_seq().unwrap(), newest);
    // Another tablet of that puskesmas (the writer is not sent its own records back).
    let reader = device(store, TEAM2);
    let page = store.pull(&reader, Cursor::default(), None).unwrap();
    assert_eq!(pulled_by_id(&page.records), by_id(&records));
}

/// A salvage pushes what could be read of a damaged tablet file: a person whose household sat
/// on a damaged page is still that tablet's, and intact, so it is taken as in a push of the
/// tablet's changes. A copy offered after a timeline reset whose household is unknown has no
/// known scope, and is not.
fn a_rescued_member_whose_household_was_lost_is_taken_an_offered_copy_is_not(store: &dyn Store) {
    two_puskesmas(store);
    let tablet = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let lost_household = household(P1, tablet.id, 1).id;
    let rescued = person(lost_household, tablet.id);
    let copy = person(household(P1, tablet.id, 2).id, tablet.id);

    let mut offer = push_of(&[vec![copy.clone()]]);
    offer.origin = PushOrigin::Copies;
    store.push(&tablet, offer).unwrap();
    let mut salvage = push_of(&[vec![rescued.clone()]]);
    salvage.origin = PushOrigin::Rescued;
    store.push(&tablet, salvage).unwrap();

    let page = store.pull(&reader, Cursor::default(), None).unwrap();
    assert_eq!(pulled_by_id(&page.records), by_id(&[rescued]));
}

fn a_device_is_not_sent_its_own_changes_back(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let records = family(P1, writer.id, 1);
    store.push(&writer, push_of(&[&records])).unwrap();

    // The writer's pull passes its own group without receiving it.
    let page = store.pull(&writer, Cursor::default(), None).unwrap();
    assert!(page.records.is_empty(), "{:?}", page.records);
    assert_eq!(page.remaining, 0);
    assert_eq!(page.next.seq, store.newest_seq().unwrap());
    assert_eq!(reload(store, &writer).cursor, page.next.seq);

    // The reader receives it, then edits the household from where it has pulled to...
    let seen = store.pull(&reader, Cursor::default(), None).unwrap();
    assert_eq!(pulled_by_id(&seen.records), by_id(&records));
    let edit = edited(&records[0], reader.id);
    store
        .push(&reader, push_at(seen.next, &[vec![edit.clone()]]))
        .unwrap();
    // ...so the edit is the reader's own state, and only the writer receives it.
    let again = store.pull(&reader, seen.next, None).unwrap();
    assert!(again.records.is_empty(), "{:?}", again.records);
    let news = store.pull(&writer, page.next, None).unwrap();
    assert_eq!(pulled_by_id(&news.records), by_id(&[edit]));
}

fn a_push_from_a_device_behind_the_store_is_sent_back_merged(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let other = device(store, TEAM1);
    let records = family(P1, writer.id, 1);
    store.push(&writer, push_of(&[&records])).unwrap();
    // `other` edits the household without having pulled it (its cursor is 0): the merge may
    // hold what `other` lacks, so `other` must receive the merged state.
    let mut stale = edited(&records[0], other.id);
    stale.state = {
        let mut mine = state_of(&records[0]);
        mine.merge(state_of(&stale));
        mine.encode()
    };
    store.push(&other, push_of(&[vec![stale.clone()]])).unwrap();
    let page = store.pull(&other, Cursor::default(), None).unwrap();
    let got = pulled_by_id(&page.records);
    assert!(
        got.contains_key(&records[0].id),
        "the merged household comes back"
    );
    // A cursor the store did not give out (a restored backup, or forged) refuses the push
    // whole: its records may be deltas of states the store no longer holds.
    let newest = store.newest_seq().unwrap();
    let forged = Cursor {
        seq: newest,
        token: 7,
    };
    let edit = edited(&records[1], other.id);
    let result = store.push(&other, push_at(forged, &[vec![edit]]));
    assert_eq!(refusal(result), ErrorCode::TimelineChanged);
    assert_eq!(store.newest_seq().unwrap(), newest);
}

fn a_household_that_moves_reaches_the_new_puskesmas_with_its_members(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let there = device(store, TEAM2);
    let records = family(P1, writer.id, 1);
    store.push(&writer, push_of(&[&records])).unwrap();
    let before = store.pull(&there, Cursor::default(), None).unwrap();
    assert!(before.records.is_empty());

    // The family moves into P2's area: the writer sets the household's puskesmas.
    let moved = moved_to(&records[0], writer.id, P2);
    store
        .push(&writer, push_of(&[vec![moved.clone()]]))
        .unwrap();

    // P2's tablet receives the household and its person.
    let after = pull_pages(store, &there, before.next, None, 5);
    let got: BTreeMap<Uuid, (u8, Vec<u8>)> = after
        .iter()
        .flat_map(|p| pulled_by_id(&p.records))
        .collect();
    assert_eq!(got, by_id(&[moved, records[1].clone()]));
    // And P2's export holds them; P1's no longer does.
    let (mut p1, mut p2) = (Vec::new(), Vec::new());
    store.export(P1, &builtins(), &mut p1).unwrap();
    store.export(P2, &builtins(), &mut p2).unwrap();
    let id = records[0].id.to_string();
    assert!(String::from_utf8(p2).unwrap().contains(&id));
    assert!(!String::from_utf8(p1).unwrap().contains(&id));
}

fn state_of(rec: &Rec) -> cageur_protocol::RecordState {
    cageur_protocol::RecordState::decode(&rec.state).unwrap()
}

fn an_edit_resends_the_record_alone_and_its_first_group_stays_whole(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let editor = device(store, TEAM1);
    let fresh = device(store, TEAM1);
    let records = family(P1, writer.id, 1); // household and person: one action
    let others = family(P1, writer.id, 2);
    store.push(&writer, push_of(&[&records, &others])).unwrap();
    let seen = store.pull(&editor, Cursor::default(), None).unwrap();
    let edit = edited(&records[1], editor.id);
    store
        .push(&editor, push_at(seen.next, &[vec![edit.clone()]]))
        .unwrap();

    // The writer receives the edited person alone, not the rest of its first group.
    let news = store.pull(&writer, seen.next, None).unwrap();
    assert_eq!(
        pulled_by_id(&news.records),
        by_id(std::slice::from_ref(&edit))
    );

    // A new tablet pulling one sequence per page still gets the first group whole: the
    // household with its person (in the person's current state).
    let first = store.pull(&fresh, Cursor::default(), Some(1)).unwrap();
    assert_eq!(
        pulled_by_id(&first.records),
        by_id(&[records[0].clone(), edit.clone()])
    );
    let rest = pull_pages(store, &fresh, first.next, Some(1), 10);
    let later: BTreeSet<Uuid> = rest
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.id))
        .collect();
    assert!(later.contains(&others[0].id) && later.contains(&edit.id));
}

fn pages_end_between_groups_and_cover_everything(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    let groups: Vec<Vec<Rec>> = (0..24).map(|n| family(P1, writer.id, n)).collect();
    for chunk in groups.chunks(8) {
        store.push(&writer, push_of(chunk)).unwrap();
    }
    let newest = store.newest_seq().unwrap();
    assert_eq!(newest, 24);
    let group_of: BTreeMap<Uuid, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, records)| records.iter().map(move |r| (r.id, g)))
        .collect();
    let total = group_of.len() as u64;
    let group_bytes: usize = groups[0].iter().map(|r| r.state.len()).sum();
    let budget = group_bytes * 3;

    let pages = pull_pages(
        store,
        &reader,
        Cursor::default(),
        Some(budget as u32),
        groups.len() + 1,
    );
    assert!(
        pages.len() >= 3,
        "{} pages for 24 groups at 3 groups' worth of bytes",
        pages.len()
    );
    let (mut received, mut last_seq) = (BTreeMap::new(), 0);
    for (i, page) in pages.iter().enumerate() {
        assert!(!page.records.is_empty(), "page {i} is empty");
        assert!(
            page.next.seq > last_seq,
            "page {i}'s cursor did not advance"
        );
        last_seq = page.next.seq;

        // Whole groups only.
        let mut in_page: Vec<usize> = Vec::new();
        for r in &page.records {
            let g = group_of[&r.id];
            if in_page.last() != Some(&g) {
                assert!(!in_page.contains(&g), "page {i} interleaves group {g}");
                in_page.push(g);
            }
        }
        for g in &in_page {
            let ids: BTreeSet<Uuid> = groups[*g].iter().map(|r| r.id).collect();
            let got: BTreeSet<Uuid> = page
                .records
                .iter()
                .map(|r| r.id)
                .filter(|id| ids.contains(id))
                .collect();
            assert_eq!(got, ids, "page {i} splits group {g}");
        }
        // A page closes at the first group boundary past the budget.
        let last_group = *in_page.last().expect("a non-empty page has a group");
        let before_last: usize = page
            .records
            .iter()
            .filter(|r| group_of[&r.id] != last_group)
            .map(|r| r.state.len())
            .sum();
        assert!(
            before_last < budget,
            "page {i} went on past its budget ({before_last} of {budget} bytes before its last group)"
        );

        received.extend(pulled_by_id(&page.records));
        assert_eq!(
            page.remaining,
            total - received.len() as u64,
            "page {i}'s remaining count"
        );
    }
    assert_eq!(received.len() as u64, total, "a record came twice");
    assert_eq!(received, by_id(groups.iter().flatten()));
    assert_eq!(last_seq, newest);

    let row = reload(store, &reader);
    assert_eq!(row.cursor, newest);
    assert!(row.last_sync_at.is_some());
}

fn a_cursor_with_a_wrong_token_is_a_changed_timeline(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let reader = device(store, TEAM1);
    store
        .push(&writer, push_of(&[family(P1, writer.id, 1)]))
        .unwrap();
    let cursor = store.pull(&reader, Cursor::default(), None).unwrap().next;
    assert_eq!(cursor.seq, 1);

    let forged = Cursor {
        seq: cursor.seq,
        token: cursor.token.wrapping_add(1),
    };
    assert_eq!(
        refusal(store.pull(&reader, forged, None)),
        ErrorCode::TimelineChanged
    );
    let ahead = Cursor {
        seq: cursor.seq + 10,
        token: cursor.token,
    };
    assert_eq!(
        refusal(store.pull(&reader, ahead, None)),
        ErrorCode::TimelineChanged
    );
    let page = store.pull(&reader, cursor, None).unwrap();
    assert!(page.records.is_empty());
}

fn export_holds_the_puskesmas_records(store: &dyn Store) {
    two_puskesmas(store);
    let writer = device(store, TEAM1);
    let records = family(P1, writer.id, 1);
    store.push(&writer, push_of(&[&records])).unwrap();

    let mut out = Vec::new();
    store.export(P1, &builtins(), &mut out).unwrap();
    let text = String::from_utf8(out).expect("the export is UTF-8");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the export is JSON");
    assert!(json.is_object());
    for r in &records {
        assert!(
            text.contains(&r.id.to_string()),
            "the export of {P1} lacks {} {}",
            r.kind,
            r.id
        );
    }

    let mut out = Vec::new();
    store.export(P2, &builtins(), &mut out).unwrap();
    let text = String::from_utf8(out).expect("the export is UTF-8");
    serde_json::from_str::<serde_json::Value>(&text).expect("the export is JSON");
    assert!(!text.contains(&records[0].id.to_string()));
}

fn concurrent_pushes_get_unique_gap_free_sequences(store: &dyn Store) {
    const THREADS: u32 = 4;
    const PUSHES: u32 = 10;
    two_puskesmas(store);
    let writers: Vec<_> = (0..THREADS).map(|_| device(store, TEAM1)).collect();
    let reader = device(store, TEAM1);

    let pushed: Vec<Vec<Rec>> = std::thread::scope(|s| {
        let handles: Vec<_> = writers
            .iter()
            .enumerate()
            .map(|(t, writer)| {
                s.spawn(move || {
                    let mut pushed = Vec::new();
                    let mut last_seq = 0;
                    for n in 0..PUSHES {
                        let records = family(P1, writer.id, t as u32 * 100 + n);
                        let outcome = store
                            .push(writer, push_of(&[&records]))
                            .unwrap_or_else(|e| panic!("thread {t}, push {n}: {e}"));
                        assert_eq!(outcome.unchanged, 0);
                        assert!(outcome.seq > last_seq, "thread {t}: sequence went back");
                        last_seq = outcome.seq;
                        pushed.extend(records);
                    }
                    pushed
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a pushing thread panicked"))
            .collect()
    });
    let groups = u64::from(THREADS * PUSHES);
    assert_eq!(store.newest_seq().unwrap(), groups);

    let pages = pull_pages(store, &reader, Cursor::default(), None, 10);
    let mut received = BTreeMap::new();
    for page in &pages {
        for (id, record) in pulled_by_id(&page.records) {
            assert!(
                received.insert(id, record).is_none(),
                "record {id} pulled twice"
            );
        }
    }
    assert_eq!(received, by_id(pushed.iter().flatten()));

    // One sequence per page: every group sits at its own sequence, 1..=groups.
    let pages = pull_pages(
        store,
        &reader,
        Cursor::default(),
        Some(1),
        groups as usize + 1,
    );
    let seqs: Vec<u64> = pages.iter().map(|p| p.next.seq).collect();
    assert_eq!(seqs, (1..=groups).collect::<Vec<_>>());
    for page in &pages {
        assert_eq!(
            page.records.len(),
            2,
            "a sequence holds one household and its person"
        );
    }
}
