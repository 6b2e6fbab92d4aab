//! What the storage suite runs on: a fresh store per test (a temp SQLite file, or a PostgreSQL
//! database of its own that is dropped afterwards), and real record states to push.

use std::time::Duration;

use cageur_e2e::pg::TestDatabase;
use cageur_model::{Entity, Household, Person, RecordKind, Role};
use cageur_protocol::sync::{
    ChangeGroup, Cursor, ErrorCode, PushRequest, RECORD_SCHEMA, WireRecord,
};
use cageur_protocol::{Author, RecordState};
use serde_json::json;
use sync_server::store::{
    DeviceReport, DeviceRow, PgStore, PreparedPush, PullPage, SqliteStore, Store, StoreError,
    StoreResult, prepare_push,
};
use uuid::Uuid;

/// Runs `test` on a new SQLite store in a temp dir.
pub fn with_sqlite(test: fn(&dyn Store)) {
    let dir = tempfile::tempdir().expect("a temp dir for the SQLite store");
    let store = SqliteStore::open(&dir.path().join("server.db")).expect("SQLite store opens");
    let harness = Harness {
        store: Box::new(store),
        _backing: Backing::Sqlite(dir),
    };
    test(harness.store.as_ref());
}

/// Runs `test` on a new PostgreSQL store in a database of its own.
pub fn with_postgres(test: fn(&dyn Store)) {
    let db = TestDatabase::create("store");
    let store = PgStore::open(&db.url).unwrap_or_else(|e| panic!("PgStore::open failed: {e}"));
    let harness = Harness {
        store: Box::new(store),
        _backing: Backing::Postgres(db),
    };
    test(harness.store.as_ref());
}

/// A store and what it lives in. Fields drop in order: the store (and its connections) goes
/// before its file or database is removed.
struct Harness {
    store: Box<dyn Store>,
    _backing: Backing,
}

enum Backing {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] TestDatabase),
}

/// The puskesmas and team most tests work in.
pub const P1: &str = "P3671050101";
pub const TEAM1: &str = "CPD-01";
/// Another puskesmas, whose devices must never see `P1`'s records.
pub const P2: &str = "P3671010201";
pub const TEAM2: &str = "TGR-01";

/// Registers both puskesmas, one team each.
pub fn two_puskesmas(store: &dyn Store) {
    store.add_puskesmas(P1, "Puskesmas Cipondoh").unwrap();
    store.add_team(TEAM1, P1, "Tim Cipondoh 1").unwrap();
    store.add_puskesmas(P2, "Puskesmas Tangerang").unwrap();
    store.add_team(TEAM2, P2, "Tim Tangerang 1").unwrap();
}

pub fn report() -> DeviceReport {
    DeviceReport {
        app_version: "0.1.0".into(),
        schema: RECORD_SCHEMA,
        pending: 0,
        pending_urgent: 0,
    }
}

/// Enrolls a new device of `team`, as the store keeps it.
pub fn device(store: &dyn Store, team: &str) -> DeviceRow {
    let enrollment = store
        .create_enrollment(team, Duration::from_secs(3600))
        .unwrap();
    let enrolled = store.enroll(&enrollment.code, &report()).unwrap();
    store
        .device_by_credential(&enrolled.credential)
        .unwrap()
        .expect("a new device is found by its credential")
}

/// The device's row as the store now holds it.
pub fn reload(store: &dyn Store, device: &DeviceRow) -> DeviceRow {
    store
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.id == device.id)
        .expect("the device is listed")
}

/// The error code of a refusal; panics on success or another kind of failure.
pub fn refusal<T: std::fmt::Debug>(result: StoreResult<T>) -> ErrorCode {
    match result {
        Err(StoreError::Refused(body)) => body.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A record as a device would push it: kind, id and encoded state.
#[derive(Debug, Clone)]
pub struct Rec {
    pub kind: RecordKind,
    pub id: Uuid,
    pub state: Vec<u8>,
}

impl Rec {
    fn wire(&self) -> WireRecord {
        WireRecord {
            kind: self.kind.code(),
            id: self.id,
            state: self.state.clone(),
        }
    }
}

fn written<E: Entity>(kind: RecordKind, device: u32, entity: &E) -> Rec {
    let mut state = RecordState::new();
    let author = Author {
        device,
        worker: device * 100 + 1,
        role: Role::Nurse,
    };
    assert!(state.write(author, entity.to_fields()) > 0);
    Rec {
        kind,
        id: Uuid::now_v7(),
        state: state.encode(),
    }
}

/// `rec` edited on device `device`, which holds `rec`'s state: its household's head renamed
/// (or, for any other kind, its tombstone set), as an edit on a tablet would.
pub fn edited(rec: &Rec, device: u32) -> Rec {
    let field = match rec.kind {
        // Field 11 is a household's head of household's name.
        RecordKind::Household => (
            cageur_model::FieldKey(11),
            cageur_model::Value::Text("Hj. Ahmad Suryadi".into()),
        ),
        _ => (
            cageur_model::FieldKey::DELETED,
            cageur_model::Value::Bool(true),
        ),
    };
    with_field(rec, device, field)
}

/// Household `rec` moved into `puskesmas`'s area, written on device `device`.
pub fn moved_to(rec: &Rec, device: u32, puskesmas: &str) -> Rec {
    let field = cageur_model::FieldKey(cageur_model::household::field::PUSKESMAS);
    with_field(
        rec,
        device,
        (field, cageur_model::Value::Text(puskesmas.into())),
    )
}

/// `rec` with `field` written on device `device`, which holds `rec`'s state.
pub fn with_field(
    rec: &Rec,
    device: u32,
    field: (cageur_model::FieldKey, cageur_model::Value),
) -> Rec {
    let mut state = RecordState::decode(&rec.state).expect("the test's state decodes");
    let author = Author {
        device,
        worker: device * 100 + 1,
        role: Role::Nurse,
    };
    assert_eq!(state.write(author, [field]), 1);
    Rec {
        kind: rec.kind,
        id: rec.id,
        state: state.encode(),
    }
}

/// A household in `puskesmas`, written on device `device`; `n` varies its KK number.
pub fn household(puskesmas: &str, device: u32, n: u32) -> Rec {
    let household: Household = cageur_model::json::from_value(json!({
        "kk": format!("367105120315{:04}", n % 9999 + 1),
        "head_name": "Ahmad Suryadi",
        "address": {"street": "Jl. Melati No. 12", "rt": 3, "rw": 5,
                    "kelurahan": "Cipondoh Indah", "kecamatan": "cipondoh"},
        "puskesmas": puskesmas,
        "pispk": {"family_planning": "yes", "clean_water": "yes"}
    }))
    .expect("the sample household is valid");
    written(RecordKind::Household, device, &household)
}

/// A person of `household`, written on device `device`.
pub fn person(household: Uuid, device: u32) -> Rec {
    let person: Person = cageur_model::json::from_value(json!({
        "household": household,
        "nik": "3671054702900001",
        "name": "Siti Aminah",
        "sex": "female",
        "birth_date": "1990-02-07",
        "relation": "spouse"
    }))
    .expect("the sample person is valid");
    written(RecordKind::Person, device, &person)
}

/// One user action: a new household in `puskesmas` with one person in it.
pub fn family(puskesmas: &str, device: u32, n: u32) -> Vec<Rec> {
    let household = household(puskesmas, device, n);
    let person = person(household.id, device);
    vec![household, person]
}

/// Groups as the server receives them: a push request of these groups (change numbers from
/// 1), passed through the same decoding as the push endpoint.
pub fn push_of<G: AsRef<[Rec]>>(groups: &[G]) -> PreparedPush {
    push_at(Cursor::default(), groups)
}

/// [`push_of`] by a device that has pulled up to `cursor`.
pub fn push_at<G: AsRef<[Rec]>>(cursor: Cursor, groups: &[G]) -> PreparedPush {
    let request = PushRequest {
        schema: RECORD_SCHEMA,
        cursor,
        groups: groups
            .iter()
            .enumerate()
            .map(|(i, records)| ChangeGroup {
                change_seq: i as i64 + 1,
                records: records.as_ref().iter().map(Rec::wire).collect(),
            })
            .collect(),
    };
    prepare_push(request).expect("the test's push decodes")
}

/// Pulls pages from `cursor` until none remain (at most `max_pages`), as a device does.
pub fn pull_pages(
    store: &dyn Store,
    device: &DeviceRow,
    cursor: Cursor,
    max_bytes: Option<u32>,
    max_pages: usize,
) -> Vec<PullPage> {
    let mut pages: Vec<PullPage> = Vec::new();
    let mut cursor = cursor;
    loop {
        assert!(
            pages.len() < max_pages,
            "still records remaining after {max_pages} pages"
        );
        let page = store.pull(device, cursor, max_bytes).unwrap();
        cursor = page.next;
        let last = page.remaining == 0;
        pages.push(page);
        if last {
            return pages;
        }
    }
}
