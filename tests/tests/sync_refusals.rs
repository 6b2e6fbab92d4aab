//! Bad requests to a real `cageur-server`: each is a clear 4xx with a stable code, and the
//! store is unchanged afterwards. A device never reads or writes another puskesmas's records.

use cageur_e2e::device::enrollment_code;
use cageur_e2e::{Server, admin};
use cageur_model::Value;
use cageur_model::{FieldKey, Role, household};
use cageur_protocol::sync::{
    ChangeGroup, Cursor, EnrollRequest, EnrollResponse, ErrorBody, ErrorCode, PROTOCOL_HEADER,
    PullRequest, PullResponse, PushRequest, RECORD_SCHEMA, WireRecord, decode_body, encode_body,
};
use cageur_protocol::{Author, RecordState};
use uuid::Uuid;

/// What is sent and what must come back: (what, protocol header, credential, body, status,
/// error code).
type Case<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Vec<u8>,
    u16,
    ErrorCode,
);

struct Http {
    agent: ureq::Agent,
    url: String,
}

impl Http {
    fn new(server: &Server) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            url: server.url.clone(),
        }
    }

    /// Posts raw bytes; returns the status and the body.
    fn raw(
        &self,
        path: &str,
        protocol: Option<&str>,
        credential: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut req = self.agent.post(&format!("{}{path}", self.url));
        if let Some(p) = protocol {
            req = req.header(PROTOCOL_HEADER, p);
        }
        if let Some(c) = credential {
            req = req.header("authorization", format!("Bearer {c}"));
        }
        let mut resp = req.send(body).unwrap();
        let status = resp.status().as_u16();
        (
            status,
            resp.body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_vec()
                .unwrap(),
        )
    }

    fn refused(
        &self,
        path: &str,
        protocol: Option<&str>,
        credential: Option<&str>,
        body: &[u8],
    ) -> (u16, ErrorBody) {
        let (status, bytes) = self.raw(path, protocol, credential, body);
        let error: ErrorBody = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("HTTP {status} without an error body"));
        (status, error)
    }

    fn enroll(&self, code: &str) -> EnrollResponse {
        self.enroll_as(code, RECORD_SCHEMA)
    }

    /// Enrolls as an app of record schema `schema`.
    fn enroll_as(&self, code: &str, schema: u32) -> EnrollResponse {
        let body = encode_body(&EnrollRequest {
            code: code.into(),
            app_version: "test".into(),
            schema,
        });
        let (status, bytes) = self.raw("/v1/enroll", Some("1"), None, &body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        decode_body(&bytes).unwrap()
    }

    fn seq(&self) -> u64 {
        let mut resp = self
            .agent
            .get(&format!("{}/health", self.url))
            .call()
            .unwrap();
        let health: serde_json::Value =
            serde_json::from_slice(&resp.body_mut().read_to_vec().unwrap()).unwrap();
        health["seq"].as_u64().unwrap()
    }
}

/// Pushes a body larger than the server accepts over a bare socket. The server may answer
/// 413 and close before it has read the whole body, so a client's write can fail: the write
/// errors are ignored here and the answer is read all the same.
fn oversized_push(url: &str, credential: &str) -> (u16, ErrorBody) {
    use std::io::{Read, Write};
    let addr = url.strip_prefix("http://").unwrap();
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    let size = 9 << 20;
    let head = format!(
        "POST /v1/push HTTP/1.1\r\nhost: {addr}\r\n{PROTOCOL_HEADER}: 1\r\n\
         authorization: Bearer {credential}\r\ncontent-length: {size}\r\n\
         connection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    for _ in 0..size / chunk.len() {
        if socket.write_all(&chunk).is_err() {
            break;
        }
    }
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = &text[text.find("\r\n\r\n").expect("an answer head") + 4..];
    let error =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not an error body: {body:?}"));
    (status, error)
}

fn household_in(puskesmas: &str, device: u32) -> WireRecord {
    let state = household_state(puskesmas, device);
    WireRecord {
        kind: 1,
        id: Uuid::now_v7(),
        state: state.encode(),
    }
}

fn household_state(puskesmas: &str, device: u32) -> RecordState {
    let mut state = RecordState::new();
    state.write(
        Author {
            device,
            worker: 1,
            role: Role::Nurse,
        },
        [(
            FieldKey(household::field::PUSKESMAS),
            Value::Text(puskesmas.into()),
        )],
    );
    state
}

fn push(records: Vec<WireRecord>) -> Vec<u8> {
    push_as(RECORD_SCHEMA, records)
}

fn push_as(schema: u32, records: Vec<WireRecord>) -> Vec<u8> {
    encode_body(&PushRequest {
        schema,
        cursor: Cursor::default(),
        groups: vec![ChangeGroup {
            change_seq: 1,
            records,
        }],
    })
}

/// A server with puskesmas P-ONE and P-TWO, a team each (TEAM-ONE, TEAM-TWO), its admin
/// token, and a function that makes an enrollment code for a team.
fn office(dir: &std::path::Path) -> (Server, String) {
    let server = Server::start(&format!("sqlite:{}", dir.join("server.db").display()));
    let token = server.admin_token();
    for (p, t) in [("P-ONE", "TEAM-ONE"), ("P-TWO", "TEAM-TWO")] {
        admin(
            &server,
            &token,
            &["puskesmas", "add", "--code", p, "--name", p],
        )
        .unwrap();
        admin(
            &server,
            &token,
            &["team", "add", "--code", t, "--puskesmas", p, "--name", t],
        )
        .unwrap();
    }
    (server, token)
}

#[test]
fn bad_requests_are_clear_refusals_that_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let code = |team: &str| enrollment_code(&server, &token, team);
    let http = Http::new(&server);
    let one = http.enroll(&code("TEAM-ONE"));
    let two = http.enroll(&code("TEAM-TWO"));
    let (one_cred, two_cred) = (one.credential.as_str(), two.credential.as_str());

    // Device one writes a household of its own puskesmas.
    let ones = household_in("P-ONE", one.device);
    let (status, _) = http.raw(
        "/v1/push",
        Some("1"),
        Some(one_cred),
        &push(vec![ones.clone()]),
    );
    assert_eq!(status, 200);
    let before = http.seq();
    let export_before = admin(&server, &token, &["export", "--puskesmas", "P-ONE"]).unwrap();

    let cases: Vec<Case<'_>> = vec![
        (
            "no protocol header",
            None,
            Some(one_cred),
            push(vec![]),
            426,
            ErrorCode::UnsupportedProtocol,
        ),
        (
            "a future protocol",
            Some("99"),
            Some(one_cred),
            push(vec![]),
            426,
            ErrorCode::UnsupportedProtocol,
        ),
        (
            "no credential",
            Some("1"),
            None,
            push(vec![household_in("P-ONE", 1)]),
            401,
            ErrorCode::Unauthorized,
        ),
        (
            "a wrong credential",
            Some("1"),
            Some("cjd_0000"),
            push(vec![household_in("P-ONE", 1)]),
            401,
            ErrorCode::Unauthorized,
        ),
        (
            "an admin credential",
            Some("1"),
            Some(&token),
            push(vec![household_in("P-ONE", 1)]),
            403,
            ErrorCode::Forbidden,
        ),
        (
            "a garbage body",
            Some("1"),
            Some(one_cred),
            b"garbage".to_vec(),
            400,
            ErrorCode::InvalidBody,
        ),
        (
            "a damaged state",
            Some("1"),
            Some(one_cred),
            push(vec![WireRecord {
                kind: 1,
                id: Uuid::now_v7(),
                state: vec![1, 255, 255],
            }]),
            422,
            ErrorCode::InvalidRecord,
        ),
        (
            "an unknown kind",
            Some("1"),
            Some(one_cred),
            push(vec![WireRecord {
                kind: 9,
                id: Uuid::now_v7(),
                state: vec![1],
            }]),
            422,
            ErrorCode::InvalidRecord,
        ),
        (
            "another puskesmas's household",
            Some("1"),
            Some(two_cred),
            push(vec![
                household_in("P-TWO", two.device),
                WireRecord {
                    state: household_state("P-TWO", two.device).encode(),
                    ..ones.clone()
                },
            ]),
            403,
            ErrorCode::OutOfScope,
        ),
        (
            "a future record schema",
            Some("1"),
            Some(one_cred),
            encode_body(&PushRequest {
                schema: RECORD_SCHEMA + 1,
                cursor: Cursor::default(),
                groups: vec![],
            }),
            426,
            ErrorCode::UnsupportedSchema,
        ),
    ];
    for (what, protocol, credential, body, status, code) in cases {
        let (got, error) = http.refused("/v1/push", protocol, credential, &body);
        assert_eq!((got, error.code), (status, code), "{what}: {error}");
        assert!(!error.message.is_empty(), "{what}");
    }
    let (got, error) = oversized_push(&server.url, one_cred);
    assert_eq!((got, error.code), (413, ErrorCode::TooLarge), "{error}");
    // The out-of-scope push was refused whole: its valid first record was not written either.
    assert_eq!(http.seq(), before, "a refused push changed the sequence");
    assert_eq!(
        admin(&server, &token, &["export", "--puskesmas", "P-ONE"]).unwrap(),
        export_before
    );
    assert!(
        !admin(&server, &token, &["export", "--puskesmas", "P-TWO"])
            .unwrap()
            .contains("\"id\"")
    );

    // Device two's pull never returns device one's household.
    let (status, bytes) = http.raw(
        "/v1/pull",
        Some("1"),
        Some(two_cred),
        &encode_body(&PullRequest {
            cursor: Cursor::default(),
            max_bytes: None,
        }),
    );
    assert_eq!(status, 200);
    let page: PullResponse = decode_body(&bytes).unwrap();
    assert!(
        page.records.is_empty(),
        "another puskesmas's records leaked"
    );

    // A cursor from another history is refused, so the device starts over.
    let (status, error) = http.refused(
        "/v1/pull",
        Some("1"),
        Some(one_cred),
        &encode_body(&PullRequest {
            cursor: Cursor {
                seq: 1,
                token: 12345,
            },
            max_bytes: None,
        }),
    );
    assert_eq!((status, error.code), (409, ErrorCode::TimelineChanged));

    // A used enrollment code and a revoked device are refused.
    let body = encode_body(&EnrollRequest {
        code: "AAAA-BBBB-CCCC".into(),
        app_version: "t".into(),
        schema: RECORD_SCHEMA,
    });
    let (status, error) = http.refused("/v1/enroll", Some("1"), None, &body);
    assert_eq!(
        (status, error.code),
        (401, ErrorCode::EnrollmentCodeInvalid)
    );
    admin(
        &server,
        &token,
        &["device", "revoke", &one.device.to_string()],
    )
    .unwrap();
    let (status, error) = http.refused(
        "/v1/pull",
        Some("1"),
        Some(one_cred),
        &encode_body(&PullRequest {
            cursor: Cursor::default(),
            max_bytes: None,
        }),
    );
    assert_eq!((status, error.code), (401, ErrorCode::DeviceRevoked));
}

/// Record schema 2 changed how states are encoded. A tablet that has not been updated still
/// speaks schema 1: its pushes (format-1 states) are accepted and stored upgraded, so updated
/// tablets receive them in the current format; its pulls are refused with "update the app",
/// never left to fail on the first record it cannot read.
#[test]
fn a_tablet_one_record_schema_behind_still_pushes_and_is_told_to_update_to_pull() {
    use cageur_protocol::envelope::{FORMAT_V1, FORMAT_V2};
    use cageur_protocol::{DecodedState, NoSettling};

    let dir = tempfile::tempdir().unwrap();
    let (server, token) = office(dir.path());
    let http = Http::new(&server);
    let old = http.enroll_as(
        &enrollment_code(&server, &token, "TEAM-ONE"),
        RECORD_SCHEMA - 1,
    );
    let current = http.enroll(&enrollment_code(&server, &token, "TEAM-ONE"));

    let state = household_state("P-ONE", old.device);
    let sent = WireRecord {
        kind: 1,
        id: Uuid::now_v7(),
        state: state.encode_v1(),
    };
    assert_eq!(sent.state[0], FORMAT_V1);
    let (status, bytes) = http.raw(
        "/v1/push",
        Some("1"),
        Some(&old.credential),
        &push_as(RECORD_SCHEMA - 1, vec![sent.clone()]),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));

    let pull = encode_body(&PullRequest {
        cursor: Cursor::default(),
        max_bytes: None,
    });
    let (status, error) = http.refused("/v1/pull", Some("1"), Some(&old.credential), &pull);
    assert_eq!((status, error.code), (426, ErrorCode::UnsupportedSchema));
    assert!(error.message.contains("update the app"), "{error}");

    // An updated tablet receives the record in the current format, showing what was pushed.
    let (status, bytes) = http.raw("/v1/pull", Some("1"), Some(&current.credential), &pull);
    assert_eq!(status, 200);
    let page: PullResponse = decode_body(&bytes).unwrap();
    let received = page
        .records
        .iter()
        .find(|r| r.id == sent.id)
        .expect("the old tablet's household reaches the updated one");
    assert_eq!(received.state[0], FORMAT_V2);
    let read = DecodedState::read(&received.state).unwrap();
    assert!(read.is_canonical());
    assert_eq!(read.into_summary(&NoSettling), state.summary(&NoSettling));
    assert_eq!(received.state, state.encode());
}
