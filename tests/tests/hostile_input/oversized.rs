//! 3. Oversized bodies, by length, chunked and as a compression bomb: `413 too_large`.

use std::sync::OnceLock;

use cageur_protocol::sync::{ErrorCode, MAX_BODY_BYTES, MAX_DECODED_BODY_BYTES};
use proptest::prelude::{Strategy, any};
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use proptest::{prop_assert_eq, prop_oneof};

use crate::admin_input::{JSON_ENDPOINTS, JsonEndpoint};
use crate::bodies::{BODY_ENDPOINTS, Endpoint};
use crate::http::{Request, exchange_large};
use crate::office::Office;

/// A body over the limit: to an endpoint of sync bodies or of admin JSON, declared by length
/// or chunked (`true`); or a compression bomb to an endpoint of sync bodies.
#[derive(Debug, Clone)]
pub(super) enum Oversized {
    Sync(Endpoint, bool),
    Json(JsonEndpoint, bool),
    Bomb(Endpoint),
}

pub(super) fn oversized_cases() -> impl Strategy<Value = Oversized> {
    prop_oneof![
        (select(BODY_ENDPOINTS.to_vec()), any::<bool>()).prop_map(|(e, c)| Oversized::Sync(e, c)),
        (select(JSON_ENDPOINTS.to_vec()), any::<bool>()).prop_map(|(e, c)| Oversized::Json(e, c)),
        select(BODY_ENDPOINTS.to_vec()).prop_map(Oversized::Bomb),
    ]
}

/// Zeros that decompress to more than [`MAX_DECODED_BODY_BYTES`], compressed once.
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let body = zstd::bulk::compress(&vec![0u8; MAX_DECODED_BODY_BYTES + 4096], 1).unwrap();
        assert!(body.len() < MAX_BODY_BYTES);
        body
    })
}

pub(super) fn oversized(office: &Office, case: Oversized) -> Result<(), TestCaseError> {
    let size = MAX_BODY_BYTES + MAX_BODY_BYTES / 8;
    let (answer, field) = match case {
        Oversized::Sync(endpoint, chunked) => {
            let request = Request::device(office, endpoint, Vec::new());
            let headers: Vec<(&str, &[u8])> = request
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_slice()))
                .collect();
            let answer = exchange_large(
                office.addr(),
                "POST",
                &request.target,
                &headers,
                size,
                chunked,
            );
            (answer, None)
        }
        Oversized::Json(endpoint, chunked) => {
            let auth = format!("Bearer {}", office.admin).into_bytes();
            let headers: Vec<(&str, &[u8])> = vec![
                ("authorization", &auth),
                ("content-type", b"application/json"),
            ];
            let target = endpoint.path(office.device.device);
            let answer = exchange_large(office.addr(), "POST", &target, &headers, size, chunked);
            (answer, Some("body"))
        }
        Oversized::Bomb(endpoint) => {
            let answer = office.send(&Request::device(office, endpoint, bomb().to_vec()));
            (answer, Some("body"))
        }
    };
    let error = answer.refused(413, ErrorCode::TooLarge)?;
    if let Some(field) = field {
        prop_assert_eq!(error.field.as_deref(), Some(field), "{}", error);
    }
    Ok(())
}
