//! 1. Bodies that are not a message of the endpoint: `400 invalid_body`.

use cageur_protocol::sync::{
    EnrollRequest, ErrorCode, HelloRequest, HelloRequestV2, PROTOCOL_VERSION, PullRequest,
    PushRequest, ResyncedRequest, WipedRequest, decode_body,
};
use proptest::prelude::{Strategy, any, prop};
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use proptest::{prop_assert_eq, prop_assume, prop_oneof};

use crate::http::Request;
use crate::office::Office;

/// The endpoints that take a sync body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Enroll,
    Hello,
    Push,
    Offer,
    Pull,
    Resynced,
    Wiped,
    /// The admin tool's push on a dead tablet's behalf.
    Salvage,
}

pub(super) const BODY_ENDPOINTS: [Endpoint; 8] = [
    Endpoint::Enroll,
    Endpoint::Hello,
    Endpoint::Push,
    Endpoint::Offer,
    Endpoint::Pull,
    Endpoint::Resynced,
    Endpoint::Wiped,
    Endpoint::Salvage,
];

impl Endpoint {
    pub(super) fn path(self, device: u32) -> String {
        match self {
            Endpoint::Enroll => "/v1/enroll".into(),
            Endpoint::Hello => "/v1/hello".into(),
            Endpoint::Push => "/v1/push".into(),
            Endpoint::Offer => "/v1/offer".into(),
            Endpoint::Pull => "/v1/pull".into(),
            Endpoint::Resynced => "/v1/resynced".into(),
            Endpoint::Wiped => "/v1/wiped".into(),
            Endpoint::Salvage => format!("/admin/v1/devices/{device}/salvage"),
        }
    }

    pub(super) fn credential(self, office: &Office) -> Option<&str> {
        match self {
            Endpoint::Enroll => None,
            Endpoint::Salvage => Some(&office.admin),
            _ => Some(&office.device.credential),
        }
    }

    pub(super) fn is_device(self) -> bool {
        !matches!(self, Endpoint::Salvage | Endpoint::Enroll)
    }

    /// Whether `body` is a message this endpoint reads (by the protocol's own decoder).
    fn decodes(self, protocol: u16, body: &[u8]) -> bool {
        match self {
            Endpoint::Enroll => decode_body::<EnrollRequest>(body).is_ok(),
            Endpoint::Hello if protocol >= 2 => decode_body::<HelloRequestV2>(body).is_ok(),
            Endpoint::Hello => decode_body::<HelloRequest>(body).is_ok(),
            Endpoint::Push | Endpoint::Offer | Endpoint::Salvage => {
                decode_body::<PushRequest>(body).is_ok()
            }
            Endpoint::Pull => decode_body::<PullRequest>(body).is_ok(),
            Endpoint::Resynced => decode_body::<ResyncedRequest>(body).is_ok(),
            Endpoint::Wiped => decode_body::<WipedRequest>(body).is_ok(),
        }
    }
}

/// A body that should not be a message.
#[derive(Debug, Clone)]
pub(super) enum BadBody {
    /// Random bytes, as sent.
    Raw(Vec<u8>),
    /// A zstd frame of random bytes.
    Frame(Vec<u8>),
    /// A real message cut short (a strict prefix of its postcard), compressed.
    Truncated(Index, Index),
    /// A real message with bytes after it, compressed.
    Trailing(Index, Vec<u8>),
    /// A real message with bytes flipped, compressed.
    Garbled(Index, Vec<(Index, u8)>),
    /// A real message, whole, compressed: of another endpoint unless it decodes here.
    Whole(Index),
    /// A real message compressed, the compressed bytes cut short.
    CutFrame(Index, Index),
}

impl BadBody {
    fn bytes(&self, messages: &[Vec<u8>]) -> Vec<u8> {
        let pick = |i: &Index| messages[i.index(messages.len())].clone();
        let compress = |raw: &[u8]| zstd::bulk::compress(raw, 3).unwrap();
        match self {
            BadBody::Raw(bytes) => bytes.clone(),
            BadBody::Frame(bytes) => compress(bytes),
            BadBody::Truncated(m, at) => {
                let raw = pick(m);
                compress(&raw[..at.index(raw.len())])
            }
            BadBody::Trailing(m, extra) => {
                let mut raw = pick(m);
                raw.extend_from_slice(extra);
                compress(&raw)
            }
            BadBody::Garbled(m, flips) => {
                let mut raw = pick(m);
                let len = raw.len();
                for (at, xor) in flips {
                    raw[at.index(len)] ^= xor;
                }
                compress(&raw)
            }
            BadBody::Whole(m) => compress(&pick(m)),
            BadBody::CutFrame(m, at) => {
                let frame = compress(&pick(m));
                frame[..at.index(frame.len())].to_vec()
            }
        }
    }
}

fn bad_body() -> impl Strategy<Value = BadBody> {
    let bytes = || prop::collection::vec(any::<u8>(), 0..2048);
    prop_oneof![
        bytes().prop_map(BadBody::Raw),
        bytes().prop_map(BadBody::Frame),
        (any::<Index>(), any::<Index>()).prop_map(|(m, at)| BadBody::Truncated(m, at)),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(m, extra)| BadBody::Trailing(m, extra)),
        (
            any::<Index>(),
            prop::collection::vec((any::<Index>(), 1u8..=255), 1..6)
        )
            .prop_map(|(m, flips)| BadBody::Garbled(m, flips)),
        any::<Index>().prop_map(BadBody::Whole),
        (any::<Index>(), any::<Index>()).prop_map(|(m, at)| BadBody::CutFrame(m, at)),
    ]
}

pub(super) fn body_cases() -> impl Strategy<Value = (Endpoint, u16, BadBody)> {
    (
        select(BODY_ENDPOINTS.to_vec()),
        1..=PROTOCOL_VERSION,
        bad_body(),
    )
}

pub(super) fn device_body(
    office: &Office,
    (endpoint, protocol, body): (Endpoint, u16, BadBody),
) -> Result<(), TestCaseError> {
    let bytes = body.bytes(&office.messages);
    prop_assume!(!endpoint.decodes(protocol, &bytes));
    let request =
        Request::device(office, endpoint, bytes).protocol(Some(protocol.to_string().into_bytes()));
    let error = office.send(&request).refused(400, ErrorCode::InvalidBody)?;
    prop_assert_eq!(error.field.as_deref(), Some("body"), "{}", error);
    Ok(())
}
