//! The office under attack: a server over a seeded store, and the store's fingerprint.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;

use cageur_e2e::device::{enroll, enrollment_code, register};
use cageur_e2e::pg::TestDatabase;
use cageur_e2e::{Server, admin};
use cageur_model::{FieldKey, Role, Value, household};
use cageur_protocol::sync::{
    ChangeGroup, Cursor, EnrollRequest, EnrollResponse, HelloRequest, HelloRequestV2,
    MAX_DECODED_BODY_BYTES, PROTOCOL_HEADER, PullRequest, PushRequest, RECORD_SCHEMA,
    ResyncedRequest, SyncSummary, WipedRequest, WireRecord, decode_body, encode_body,
};
use cageur_protocol::{Author, RecordState};
use proptest::prop_assert_eq;
use proptest::test_runner::TestCaseError;
use uuid::Uuid;

use crate::bodies::Endpoint;
use crate::http::{Answer, Request, exchange};
use crate::{PUSKESMAS, TEAM};

#[derive(Debug, Clone, Copy)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

/// A running server over a seeded store, the credentials of its callers, and what its store
/// held when the attack began.
pub(super) struct Office {
    pub(super) backend: Backend,
    server: Server,
    pub(super) admin: String,
    /// An enrolled, active device (it pushes and pulls).
    pub(super) device: EnrollResponse,
    /// A device revoked after it enrolled: its credential replayed must be refused.
    pub(super) revoked: String,
    /// An enrollment code not used yet: an enroll request carrying it would succeed.
    spare_code: String,
    store: RefCell<StoreReader>,
    seq: u64,
    fingerprint: Fingerprint,
    /// Postcard of one real message of each type, to truncate and garble.
    pub(super) messages: Vec<Vec<u8>>,
    _files: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

impl Office {
    pub(super) fn open(backend: Backend) -> Office {
        let files = tempfile::tempdir().unwrap();
        let sqlite = files.path().join("server.db");
        let (url, database) = match backend {
            Backend::Sqlite => (format!("sqlite:{}", sqlite.display()), None),
            Backend::Postgres => {
                let database = TestDatabase::create("hostile");
                (database.url.clone(), Some(database))
            }
        };
        let server = Server::start(&url);
        let token = server.admin_token();
        register(&server, &token, PUSKESMAS, &[TEAM]);
        let tablet = enroll(&server, &token, files.path(), TEAM, 21);
        tablet.run(&["seed", "--households", "5", "--today", "2026-11-20"]);
        tablet.sync();
        let device = enroll_raw(server.addr(), &enrollment_code(&server, &token, TEAM));
        let revoked = enroll_raw(server.addr(), &enrollment_code(&server, &token, TEAM));
        admin(
            &server,
            &token,
            &["device", "revoke", &revoked.device.to_string()],
        )
        .unwrap();
        let spare_code = enrollment_code(&server, &token, TEAM);
        let store = match backend {
            Backend::Sqlite => StoreReader::Sqlite(sqlite),
            Backend::Postgres => StoreReader::Postgres(Box::new(
                postgres::Client::connect(&url, postgres::NoTls).expect("PostgreSQL answers"),
            )),
        };
        let mut office = Office {
            backend,
            admin: token,
            messages: Vec::new(),
            seq: 0,
            fingerprint: Fingerprint::default(),
            device,
            revoked: revoked.credential,
            spare_code,
            store: RefCell::new(store),
            server,
            _files: files,
            _database: database,
        };
        office.messages = office.real_messages();
        office.seq = office.health().expect("the server is healthy");
        assert!(office.seq > 0, "the seeded households reached the server");
        office.fingerprint = office.store.borrow_mut().fingerprint();
        assert!(
            office
                .fingerprint
                .get("records")
                .is_some_and(|r| r.len() >= 5),
            "the store holds the seeded records: {:?}",
            office.fingerprint.keys().collect::<Vec<_>>()
        );
        office
    }

    pub(super) fn addr(&self) -> &str {
        self.server.addr()
    }

    /// `/health` is ok; the sequence it reports.
    fn health(&self) -> Result<u64, TestCaseError> {
        let answer = exchange(self.addr(), "GET", "/health", &[], &[]);
        prop_assert_eq!(answer.status, 200, "/health: {}", answer.text());
        let health: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| TestCaseError::fail(format!("/health is not JSON: {e}")))?;
        prop_assert_eq!(&health["status"], "ok");
        health["seq"]
            .as_u64()
            .ok_or_else(|| TestCaseError::fail(format!("/health has no seq: {health}")))
    }

    /// The server still serves, and its store is exactly as it was when the attack began.
    pub(super) fn unchanged(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.health()?, self.seq, "the sequence moved");
        let now = self.store.borrow_mut().fingerprint();
        if now != self.fingerprint {
            let changed: Vec<&String> = now
                .keys()
                .chain(self.fingerprint.keys())
                .filter(|t| now.get(*t) != self.fingerprint.get(*t))
                .collect();
            return Err(TestCaseError::fail(format!(
                "the store changed: tables {changed:?}"
            )));
        }
        Ok(())
    }

    /// The control: one push the server accepts moves the sequence and the fingerprint, so
    /// `unchanged` can tell a write from none.
    pub(super) fn an_accepted_push_changes_the_fingerprint(&self) {
        let answer = self.send(&Request::device(
            self,
            Endpoint::Push,
            self.accepted_body(Endpoint::Push, 2),
        ));
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert!(self.health().unwrap() > self.seq);
        assert_ne!(self.store.borrow_mut().fingerprint(), self.fingerprint);
    }

    pub(super) fn send(&self, request: &Request) -> Answer {
        let headers: Vec<(&str, &[u8])> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        exchange(
            self.addr(),
            &request.method,
            &request.target,
            &headers,
            &request.body,
        )
    }

    /// A body the endpoint would accept (and, for most, write): what a refusal of the
    /// request's header or credential keeps out of the store.
    pub(super) fn accepted_body(&self, endpoint: Endpoint, protocol: u16) -> Vec<u8> {
        match endpoint {
            Endpoint::Enroll => encode_body(&EnrollRequest {
                code: self.spare_code.clone(),
                app_version: "hostile-test".into(),
                schema: RECORD_SCHEMA,
            }),
            Endpoint::Hello if protocol >= 2 => encode_body(&HelloRequestV2 {
                app_version: "hostile-test".into(),
                schema: RECORD_SCHEMA,
                pending: 3,
                pending_urgent: 1,
                pending_referrals: 1,
                forms_seen: 0,
                previous: None,
                acknowledged: Cursor::default(),
            }),
            Endpoint::Hello => encode_body(&HelloRequest {
                app_version: "hostile-test".into(),
                schema: RECORD_SCHEMA,
                pending: 3,
                pending_urgent: 1,
            }),
            Endpoint::Push | Endpoint::Offer | Endpoint::Salvage => {
                encode_body(&push_of(self.device.device))
            }
            Endpoint::Pull => encode_body(&PullRequest {
                cursor: Cursor::default(),
                max_bytes: None,
            }),
            Endpoint::Resynced => encode_body(&ResyncedRequest {
                records: 5,
                set_aside: 0,
            }),
            Endpoint::Wiped => encode_body(&WipedRequest { pushed: 0 }),
        }
    }

    /// Postcard of a real message of every type a device endpoint takes.
    fn real_messages(&self) -> Vec<Vec<u8>> {
        let summary = SyncSummary {
            pushed: 4,
            pulled: 9,
            bytes_up: 1000,
            bytes_down: 5000,
            finished: false,
            error: Some("connection reset".into()),
        };
        let hello = HelloRequestV2 {
            app_version: "hostile-test".into(),
            schema: RECORD_SCHEMA,
            pending: 3,
            pending_urgent: 1,
            pending_referrals: 1,
            forms_seen: 2,
            previous: Some(summary),
            acknowledged: Cursor { seq: 4, token: 77 },
        };
        [
            self.accepted_body(Endpoint::Enroll, 2),
            self.accepted_body(Endpoint::Hello, 1),
            encode_body(&hello),
            self.accepted_body(Endpoint::Push, 2),
            encode_body(&PullRequest {
                cursor: Cursor { seq: 3, token: 99 },
                max_bytes: Some(4096),
            }),
            self.accepted_body(Endpoint::Resynced, 2),
            self.accepted_body(Endpoint::Wiped, 2),
        ]
        .iter()
        .map(|body| zstd::bulk::decompress(body, MAX_DECODED_BODY_BYTES).unwrap())
        .collect()
    }
}

fn enroll_raw(addr: &str, code: &str) -> EnrollResponse {
    let body = encode_body(&EnrollRequest {
        code: code.into(),
        app_version: "hostile-test".into(),
        schema: RECORD_SCHEMA,
    });
    let answer = exchange(
        addr,
        "POST",
        "/v1/enroll",
        &[(PROTOCOL_HEADER, b"2")],
        &body,
    );
    assert_eq!(answer.status, 200, "{}", answer.text());
    decode_body(&answer.body).unwrap()
}

/// A push of one new household of the puskesmas, as `device` wrote it.
fn push_of(device: u32) -> PushRequest {
    let mut state = RecordState::new();
    state.write(
        Author {
            device,
            worker: 1,
            role: Role::Nurse,
        },
        [(
            FieldKey(household::field::PUSKESMAS),
            Value::Text(PUSKESMAS.into()),
        )],
    );
    PushRequest {
        schema: RECORD_SCHEMA,
        cursor: Cursor::default(),
        groups: vec![ChangeGroup {
            change_seq: 1,
            records: vec![WireRecord {
                kind: 1,
                id: Uuid::now_v7(),
                state: state.encode(),
            }],
        }],
    }
}

// ---------------------------------------------------------------------------------------
// What the store holds, straight from the database.

/// Every row of every table, as text, sorted, by table.
type Fingerprint = BTreeMap<String, Vec<String>>;

enum StoreReader {
    Sqlite(PathBuf),
    Postgres(Box<postgres::Client>),
}

impl StoreReader {
    fn fingerprint(&mut self) -> Fingerprint {
        match self {
            StoreReader::Sqlite(path) => sqlite_fingerprint(path),
            StoreReader::Postgres(client) => postgres_fingerprint(client),
        }
    }
}

fn sqlite_fingerprint(path: &std::path::Path) -> Fingerprint {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    let tables: Vec<String> = tx
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Fingerprint::new();
    for table in tables {
        let mut stmt = tx.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        let mut texts = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            texts.push(values.join("|"));
        }
        texts.sort();
        out.insert(table, texts);
    }
    out
}

fn postgres_fingerprint(client: &mut postgres::Client) -> Fingerprint {
    let mut tx = client.transaction().unwrap();
    let tables: Vec<String> = tx
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut out = Fingerprint::new();
    for table in tables {
        let rows = tx
            .query(
                &format!("SELECT t::text FROM \"{table}\" t ORDER BY 1"),
                &[],
            )
            .unwrap();
        out.insert(table, rows.iter().map(|r| r.get(0)).collect());
    }
    tx.commit().unwrap();
    out
}
