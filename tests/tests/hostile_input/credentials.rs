//! 5. Credentials forged, tampered, swapped, revoked and malformed: `401`/`403`.

use cageur_protocol::sync::ErrorCode;
use proptest::prelude::{Just, Strategy, any, prop};
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use proptest::{prop_assume, prop_oneof};

use crate::bodies::{BODY_ENDPOINTS, Endpoint};
use crate::http::Request;
use crate::office::Office;
use crate::{PUSKESMAS, TEAM};

/// A request that would succeed (and write, for most) with the right credential.
#[derive(Debug, Clone, Copy)]
pub(super) enum Guarded {
    Device(Endpoint),
    /// Registers a new puskesmas.
    AddPuskesmas,
    /// Revokes the active device.
    Revoke,
    /// Makes an enrollment code.
    EnrollCode,
    /// Exports the puskesmas (written to the audit log).
    Export,
    /// Lists devices (a read).
    Devices,
}

impl Guarded {
    fn is_admin(self) -> bool {
        !matches!(self, Guarded::Device(_))
    }

    fn request(self, office: &Office) -> Request {
        let json = |target: String, body: serde_json::Value| Request {
            method: "POST".into(),
            target,
            headers: vec![("content-type".into(), b"application/json".to_vec())],
            body: body.to_string().into_bytes(),
        };
        let get = |target: &str| Request {
            method: "GET".into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        match self {
            Guarded::Device(e) => {
                let mut request = Request::device(office, e, office.accepted_body(e, 2));
                request.headers.retain(|(n, _)| n != "authorization");
                request
            }
            Guarded::AddPuskesmas => json(
                "/admin/v1/puskesmas".into(),
                serde_json::json!({"code": "P-FORGED", "name": "Forged"}),
            ),
            Guarded::Revoke => json(
                format!("/admin/v1/devices/{}/revoke", office.device.device),
                serde_json::json!({"wipe": true}),
            ),
            Guarded::EnrollCode => json(
                "/admin/v1/devices/enroll".into(),
                serde_json::json!({"team": TEAM}),
            ),
            Guarded::Export => get(&format!("/admin/v1/export?puskesmas={PUSKESMAS}")),
            Guarded::Devices => get("/admin/v1/devices"),
        }
    }
}

/// The Authorization header sent.
#[derive(Debug, Clone)]
pub(super) enum Credential {
    Missing,
    /// `Bearer` and a token made up: of the device kind, the admin kind, or neither.
    Forged(&'static str, String),
    /// A real credential (the device's: `true`, the admin's) with one character changed.
    Tampered(bool, Index, char),
    /// The revoked device's credential, replayed.
    Revoked,
    /// The other kind's real credential: the admin's for a device endpoint and back.
    Swapped,
    /// A header that is not `Bearer <token>` around a real credential.
    Malformed(&'static str),
    /// Bytes that are not text.
    Binary(Vec<u8>),
}

const MALFORMED: [&str; 9] = [
    "bearer {}",
    "BEARER {}",
    "Basic {}",
    "Token {}",
    "{}",
    "Bearer",
    "Bearer{}",
    "Bearer {}{}{}{}{}{}{}{}{}{}",
    "Bearer {} {}",
];

pub(super) fn credential_cases() -> impl Strategy<Value = (Guarded, Credential)> {
    let guarded = prop_oneof![
        select(
            BODY_ENDPOINTS
                .into_iter()
                .filter(|e| e.is_device())
                .collect::<Vec<_>>()
        )
        .prop_map(Guarded::Device),
        select(vec![
            Guarded::AddPuskesmas,
            Guarded::Revoke,
            Guarded::EnrollCode,
            Guarded::Export,
            Guarded::Devices,
        ]),
    ];
    let credential = prop_oneof![
        Just(Credential::Missing),
        (
            select(vec!["cjd_", "cja_", "", "cjd", "CJD_"]),
            "[A-Za-z0-9_-]{0,120}"
        )
            .prop_map(|(p, rest)| Credential::Forged(p, rest)),
        (
            any::<bool>(),
            any::<Index>(),
            proptest::char::range('-', 'z')
        )
            .prop_map(|(d, at, c)| Credential::Tampered(d, at, c)),
        Just(Credential::Revoked),
        Just(Credential::Swapped),
        select(MALFORMED.to_vec()).prop_map(Credential::Malformed),
        prop::collection::vec(0x80u8..=0xff, 1..32).prop_map(Credential::Binary),
    ];
    (guarded, credential)
}

pub(super) fn credential(
    office: &Office,
    (guarded, credential): (Guarded, Credential),
) -> Result<(), TestCaseError> {
    let own = if guarded.is_admin() {
        office.admin.as_str()
    } else {
        office.device.credential.as_str()
    };
    let other = if guarded.is_admin() {
        office.device.credential.as_str()
    } else {
        office.admin.as_str()
    };
    let header: Option<Vec<u8>> = match &credential {
        Credential::Missing => None,
        Credential::Forged(prefix, rest) => Some(format!("Bearer {prefix}{rest}").into_bytes()),
        Credential::Tampered(device, at, c) => {
            let real = if *device {
                &office.device.credential
            } else {
                &office.admin
            };
            let mut chars: Vec<char> = real.chars().collect();
            let i = at.index(chars.len());
            prop_assume!(chars[i] != *c && !c.is_whitespace());
            chars[i] = *c;
            Some(format!("Bearer {}", chars.iter().collect::<String>()).into_bytes())
        }
        Credential::Revoked => Some(format!("Bearer {}", office.revoked).into_bytes()),
        Credential::Swapped => Some(format!("Bearer {other}").into_bytes()),
        Credential::Malformed(form) => Some(form.replace("{}", own).into_bytes()),
        Credential::Binary(bytes) => {
            let mut header = b"Bearer ".to_vec();
            header.extend_from_slice(bytes);
            Some(header)
        }
    };
    let expected = expected_refusal(office, guarded.is_admin(), header.as_deref());
    let mut request = guarded.request(office);
    if let Some(h) = header {
        request.headers.push(("authorization".into(), h));
    }
    office.send(&request).refused(expected.0, expected.1)?;
    Ok(())
}

/// The refusal a credential earns, as the error codes document it: none, or not a bearer
/// token, is `unauthorized`; a token of the other kind is `forbidden`; the revoked device's
/// is `device_revoked`; any other of the right kind is unknown, `unauthorized`.
fn expected_refusal(office: &Office, admin: bool, header: Option<&[u8]>) -> (u16, ErrorCode) {
    // A header value of other than visible ASCII is not text to the server.
    let token = header
        .filter(|h| h.iter().all(|b| (0x20..0x7f).contains(b) || *b == b'\t'))
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| h.trim().strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200);
    let Some(token) = token else {
        return (401, ErrorCode::Unauthorized);
    };
    let prefix = if admin { "cja_" } else { "cjd_" };
    if !token.starts_with(prefix) {
        (403, ErrorCode::Forbidden)
    } else if token == office.revoked {
        (401, ErrorCode::DeviceRevoked)
    } else {
        assert_ne!(token, office.admin);
        assert_ne!(token, office.device.credential);
        (401, ErrorCode::Unauthorized)
    }
}
