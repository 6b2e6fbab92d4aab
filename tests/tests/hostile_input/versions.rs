//! 4. Protocol versions missing, garbage or not served: `426 unsupported_protocol`.

use cageur_protocol::sync::{ErrorCode, PROTOCOL_VERSION};
use proptest::prelude::{Strategy, any, prop};
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use proptest::{prop_assert, prop_assume, prop_oneof};

use crate::bodies::{BODY_ENDPOINTS, Endpoint};
use crate::http::Request;
use crate::office::Office;

const VERSIONS: [&str; 16] = [
    "99",
    "2.0",
    "1.0",
    "-1",
    "0",
    "3",
    "65535",
    "65536",
    "99999999999999999999999999",
    "v2",
    "1,2",
    "\u{ff12}",
    "0x2",
    "2 2",
    "",
    "NaN",
];

pub(super) fn protocol_cases() -> impl Strategy<Value = (Endpoint, Option<Vec<u8>>)> {
    let value = prop_oneof![
        select(VERSIONS.to_vec()).prop_map(|v| v.as_bytes().to_vec()),
        (3u32..=u32::MAX).prop_map(|v| v.to_string().into_bytes()),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        "[ -~]{0,40}".prop_map(String::into_bytes),
        prop::collection::vec(0x80u8..=0xff, 1..12),
    ];
    let endpoints: Vec<Endpoint> = BODY_ENDPOINTS
        .into_iter()
        .filter(|e| *e != Endpoint::Salvage)
        .collect();
    (select(endpoints), prop::option::of(value))
}

/// Whether the server serves this header value: a whole number, after trimming, from 1 to
/// [`PROTOCOL_VERSION`] (the documented rule).
fn served(value: &[u8]) -> bool {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().parse::<u16>().ok())
        .is_some_and(|v| (1..=PROTOCOL_VERSION).contains(&v))
}

pub(super) fn protocol_header(
    office: &Office,
    (endpoint, version): (Endpoint, Option<Vec<u8>>),
) -> Result<(), TestCaseError> {
    prop_assume!(!version.as_deref().is_some_and(served));
    // What the request carries would be accepted, and most of it written, under protocol 2.
    let body = office.accepted_body(endpoint, PROTOCOL_VERSION);
    let request = Request::device(office, endpoint, body).protocol(version.clone());
    let error = office
        .send(&request)
        .refused(426, ErrorCode::UnsupportedProtocol)?;
    // docs/protocol.md: "a missing or unserved version is 426 unsupported_protocol with a
    // message telling the user to update the app".
    prop_assert!(
        error.message.contains("update the app"),
        "the message does not say to update the app: {}",
        error
    );
    Ok(())
}
