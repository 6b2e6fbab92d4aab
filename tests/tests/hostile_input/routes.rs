//! 6. Random paths and wrong methods: `404 not_found` / `405`, and hyper's bare `414`.

use cageur_protocol::sync::{ErrorBody, ErrorCode, PROTOCOL_HEADER};
use proptest::prelude::{Strategy, prop};
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use proptest::{prop_assert, prop_assert_eq, prop_assume, prop_oneof};

use crate::http::Request;
use crate::office::Office;

/// Every route: its path (`{id}` any one segment) and the methods it takes.
const ROUTES: [(&str, &[&str]); 26] = [
    ("/health", &["GET"]),
    ("/v1/enroll", &["POST"]),
    ("/v1/hello", &["POST"]),
    ("/v1/push", &["POST"]),
    ("/v1/offer", &["POST"]),
    ("/v1/pull", &["POST"]),
    ("/v1/resynced", &["POST"]),
    ("/v1/wiped", &["POST"]),
    ("/admin/v1/puskesmas", &["POST"]),
    ("/admin/v1/teams", &["POST"]),
    ("/admin/v1/devices", &["GET"]),
    ("/admin/v1/devices/enroll", &["POST"]),
    ("/admin/v1/devices/{id}", &["GET"]),
    ("/admin/v1/devices/{id}/revoke", &["POST"]),
    ("/admin/v1/devices/{id}/resync", &["POST"]),
    ("/admin/v1/devices/{id}/replace", &["POST"]),
    ("/admin/v1/devices/{id}/salvage", &["POST"]),
    ("/admin/v1/devices/{id}/held", &["GET"]),
    ("/admin/v1/devices/{id}/held/accept", &["POST"]),
    ("/admin/v1/status", &["GET"]),
    ("/admin/v1/audit", &["GET"]),
    ("/admin/v1/forms", &["GET", "POST"]),
    ("/admin/v1/digests", &["GET"]),
    ("/admin/v1/records", &["POST"]),
    ("/admin/v1/conflicts", &["GET"]),
    ("/admin/v1/export", &["GET"]),
];

/// Whether `path` is one of the routes.
fn routed(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    ROUTES.iter().any(|(route, _)| {
        let pattern: Vec<&str> = route.split('/').collect();
        pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| *p == *s || (*p == "{id}" && !s.is_empty()))
    })
}

#[derive(Debug, Clone)]
pub(super) enum Probe {
    /// A path no route has, with any method.
    Nowhere(String, String),
    /// A route, with a method it does not take.
    WrongMethod(usize, String),
    /// A path of this many bytes, past the 64 KiB hyper reads of a request target.
    TooLong(usize),
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"];

pub(super) fn route_cases() -> impl Strategy<Value = Probe> {
    let method = prop_oneof![
        select(METHODS.to_vec()).prop_map(str::to_owned),
        "[A-Z]{3,12}",
    ];
    let segment = prop_oneof![
        "[A-Za-z0-9._~-]{0,16}",
        select(vec![
            "v1", "admin", "devices", "health", "push", "7", "%2e%2e", "%00", "%FF"
        ])
        .prop_map(str::to_owned),
    ];
    let path = prop_oneof![
        prop::collection::vec(segment, 1..7).prop_map(|s| format!("/{}", s.join("/"))),
        (1_000usize..8_000).prop_map(|n| format!("/{}", "a".repeat(n))),
        select(vec![
            "/health/",
            "/v1",
            "/v1/",
            "/v2/push",
            "/admin/v1",
            "/admin/v2/devices"
        ])
        .prop_map(str::to_owned),
    ];
    prop_oneof![
        (method.clone(), path).prop_map(|(m, p)| Probe::Nowhere(m, p)),
        (0..ROUTES.len(), method).prop_map(|(r, m)| Probe::WrongMethod(r, m)),
        (65_535usize..200_000).prop_map(Probe::TooLong),
    ]
}

pub(super) fn route(office: &Office, probe: Probe) -> Result<(), TestCaseError> {
    let method = match &probe {
        Probe::Nowhere(m, _) | Probe::WrongMethod(_, m) => m.clone(),
        Probe::TooLong(_) => "GET".to_owned(),
    };
    // HEAD answers carry no body; CONNECT takes no path.
    prop_assume!(method != "HEAD" && method != "CONNECT");
    let mut request = Request {
        method: method.clone(),
        target: String::new(),
        headers: vec![(PROTOCOL_HEADER.into(), b"2".to_vec())],
        body: Vec::new(),
    };
    match probe {
        Probe::TooLong(n) => {
            // hyper refuses the request line before any router sees it: a bare 414, the one
            // refusal here that cannot carry a JSON body (its limit is not configurable).
            request.target = format!("/{}", "a".repeat(n));
            let answer = office.send(&request);
            prop_assert_eq!(answer.status, 414, "{}", answer.text());
        }
        Probe::Nowhere(_, path) => {
            prop_assume!(!routed(&path));
            request.target = path;
            let error = office.send(&request).refused(404, ErrorCode::NotFound)?;
            prop_assert!(error.message.contains("no endpoint"), "{}", error);
        }
        Probe::WrongMethod(r, _) => {
            let (path, methods) = ROUTES[r];
            // GET routes answer HEAD as well.
            prop_assume!(!methods.contains(&method.as_str()));
            request.target = path.replace("{id}", &office.device.device.to_string());
            let answer = office.send(&request);
            prop_assert_eq!(answer.status, 405, "{}", answer.text());
            prop_assert!(answer.header("allow").is_some(), "no Allow header");
            let error: ErrorBody = serde_json::from_slice(&answer.body)
                .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {}", answer.text())))?;
            prop_assert_eq!(error.code, ErrorCode::BadRequest, "{}", error);
            prop_assert!(
                answer
                    .header("content-type")
                    .is_some_and(|t| t.starts_with("application/json"))
            );
        }
    }
    Ok(())
}
