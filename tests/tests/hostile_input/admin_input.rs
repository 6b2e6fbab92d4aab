//! 2. Bad admin JSON and query strings: `400 bad_request`, naming the field at fault.

use cageur_model::area::PuskesmasCode;
use cageur_protocol::sync::ErrorCode;
use proptest::prelude::{Strategy, any, prop};
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use proptest::{prop_assert, prop_assume, prop_oneof};
use uuid::Uuid;

use crate::http::Request;
use crate::office::Office;
use crate::{PUSKESMAS, TEAM};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string the server checks (a code, a name).
    Text,
    /// A string taken as it is (a form's).
    FreeText,
    Hours,
    Number,
    Bool,
    Ids,
    List,
}

/// An admin endpoint that takes JSON: its path and a body it would accept, by field.
#[derive(Debug, Clone, Copy)]
pub(super) enum JsonEndpoint {
    Puskesmas,
    Team,
    Enroll,
    Revoke,
    Replace,
    Records,
    Forms,
}

pub(super) const JSON_ENDPOINTS: [JsonEndpoint; 7] = [
    JsonEndpoint::Puskesmas,
    JsonEndpoint::Team,
    JsonEndpoint::Enroll,
    JsonEndpoint::Revoke,
    JsonEndpoint::Replace,
    JsonEndpoint::Records,
    JsonEndpoint::Forms,
];

impl JsonEndpoint {
    pub(super) fn path(self, device: u32) -> String {
        match self {
            JsonEndpoint::Puskesmas => "/admin/v1/puskesmas".into(),
            JsonEndpoint::Team => "/admin/v1/teams".into(),
            JsonEndpoint::Enroll => "/admin/v1/devices/enroll".into(),
            JsonEndpoint::Revoke => format!("/admin/v1/devices/{device}/revoke"),
            JsonEndpoint::Replace => format!("/admin/v1/devices/{device}/replace"),
            JsonEndpoint::Records => "/admin/v1/records".into(),
            JsonEndpoint::Forms => "/admin/v1/forms".into(),
        }
    }

    /// The fields of a body the endpoint accepts, in order.
    fn fields(self) -> Vec<(&'static str, Kind, serde_json::Value)> {
        use serde_json::json;
        match self {
            JsonEndpoint::Puskesmas => vec![
                ("code", Kind::Text, json!("P-HOSTILE")),
                ("name", Kind::Text, json!("Puskesmas Baru")),
            ],
            JsonEndpoint::Team => vec![
                ("code", Kind::Text, json!("TEAM-HOSTILE")),
                ("puskesmas", Kind::Text, json!(PUSKESMAS)),
                ("name", Kind::Text, json!("Tim Baru")),
            ],
            JsonEndpoint::Enroll => vec![
                ("team", Kind::Text, json!(TEAM)),
                ("valid_hours", Kind::Hours, json!(24)),
            ],
            JsonEndpoint::Revoke => vec![
                ("wipe", Kind::Bool, json!(false)),
                ("stolen", Kind::Bool, json!(false)),
            ],
            JsonEndpoint::Replace => vec![
                ("team", Kind::Text, json!(TEAM)),
                ("valid_hours", Kind::Hours, json!(24)),
                ("wipe", Kind::Bool, json!(false)),
            ],
            JsonEndpoint::Records => vec![("ids", Kind::Ids, json!([Uuid::nil()]))],
            JsonEndpoint::Forms => vec![
                ("id", Kind::FreeText, json!("hostile-form")),
                ("version", Kind::Number, json!(3)),
                ("title", Kind::FreeText, json!("Hostile")),
                ("fields", Kind::List, json!([])),
            ],
        }
    }

    /// Whether the server decodes the body as typed fields (so that its errors can name a
    /// field); publishing a form reads any JSON first.
    fn typed(self) -> bool {
        !matches!(self, JsonEndpoint::Forms)
    }

    fn text(self, fields: &[(&'static str, Kind, serde_json::Value)]) -> String {
        let members: Vec<String> = fields
            .iter()
            .map(|(name, _, value)| format!("{}:{value}", serde_json::json!(name)))
            .collect();
        format!("{{{}}}", members.join(","))
    }
}

/// What is wrong with the JSON.
#[derive(Debug, Clone)]
pub(super) enum BadJson {
    /// One field's value is of another type.
    WrongType(Index, Index),
    /// A field the body does not have.
    Unknown(String),
    /// The text cut short.
    Truncated(Index),
    /// Bytes that are not UTF-8 inside a string field.
    InvalidUtf8(Index, Vec<u8>),
    /// A number out of the field's range (or of any range).
    Number(Index, &'static str),
    /// Nesting this deep, as the whole body or as a field's value.
    Deep(usize, bool, Option<Index>),
    /// A string field of this many characters.
    Long(Index, usize),
    /// Random bytes.
    NotJson(Vec<u8>),
    /// A body it would accept, with this content type (none: `None`).
    ContentType(Option<String>),
}

const WRONG_VALUES: [&str; 7] = [
    "7",
    "-3.5",
    "\"text\"",
    "true",
    "null",
    "[1,2]",
    "{\"a\":1}",
];

const NUMBERS: [&str; 8] = [
    "1e400",
    "-1e400",
    "18446744073709551617",
    "-1",
    "1.5",
    "340282366920938463463374607431768211457",
    "0",
    "100000",
];

fn bad_json() -> impl Strategy<Value = BadJson> {
    prop_oneof![
        (any::<Index>(), any::<Index>()).prop_map(|(f, v)| BadJson::WrongType(f, v)),
        "[a-z_]{1,12}".prop_map(|n| BadJson::Unknown(format!("x_{n}"))),
        any::<Index>().prop_map(BadJson::Truncated),
        (any::<Index>(), prop::collection::vec(0x80u8..=0xff, 1..8))
            .prop_map(|(f, b)| BadJson::InvalidUtf8(f, b)),
        (any::<Index>(), select(NUMBERS.to_vec())).prop_map(|(f, n)| BadJson::Number(f, n)),
        (
            prop_oneof![200usize..1000, 9_000usize..=10_000],
            any::<bool>(),
            prop::option::of(any::<Index>())
        )
            .prop_map(|(d, o, f)| BadJson::Deep(d, o, f)),
        (any::<Index>(), 100_000usize..=120_000).prop_map(|(f, n)| BadJson::Long(f, n)),
        prop::collection::vec(any::<u8>(), 0..512).prop_map(BadJson::NotJson),
        prop::option::of("[a-z]{1,10}/[a-z+.-]{1,16}").prop_map(BadJson::ContentType),
    ]
}

pub(super) fn json_cases() -> impl Strategy<Value = (JsonEndpoint, BadJson)> {
    (select(JSON_ENDPOINTS.to_vec()), bad_json())
}

/// What a case must be told about: the field to name, if any.
struct JsonCase {
    body: Vec<u8>,
    content_type: Option<String>,
    names: Option<String>,
}

fn json_case(endpoint: JsonEndpoint, bad: &BadJson) -> Option<JsonCase> {
    let mut fields = endpoint.fields();
    let valid = endpoint.text(&fields);
    let json = Some("application/json".to_owned());
    let case = |text: String, names: Option<&str>| JsonCase {
        body: text.into_bytes(),
        content_type: Some("application/json".into()),
        names: names.filter(|_| endpoint.typed()).map(str::to_owned),
    };
    let strings: Vec<usize> = (0..fields.len())
        .filter(|&i| matches!(fields[i].1, Kind::Text | Kind::FreeText))
        .collect();
    Some(match bad {
        BadJson::WrongType(f, v) => {
            let i = f.index(fields.len());
            let kind = fields[i].1;
            let fits = |v: &str| match kind {
                Kind::Text | Kind::FreeText => v.starts_with('"'),
                Kind::Hours | Kind::Number => v == "7",
                Kind::Bool => v == "true",
                Kind::Ids | Kind::List => v.starts_with('['),
            };
            let wrong: Vec<&str> = WRONG_VALUES.into_iter().filter(|v| !fits(v)).collect();
            let value = wrong[v.index(wrong.len())];
            fields[i].2 = serde_json::from_str(value).unwrap();
            let name = fields[i].0;
            case(endpoint.text(&fields), Some(name))
        }
        BadJson::Unknown(name) => {
            let mut text = valid;
            text.insert_str(1, &format!("\"{name}\":1,"));
            case(text, Some(name))
        }
        BadJson::Truncated(at) => case(valid[..at.index(valid.len())].to_owned(), None),
        BadJson::InvalidUtf8(f, bytes) => {
            if strings.is_empty() {
                return None;
            }
            let i = strings[f.index(strings.len())];
            fields[i].2 = serde_json::json!("@@");
            let text = endpoint.text(&fields);
            let at = text.find("@@").unwrap();
            let mut body = text.as_bytes()[..at].to_vec();
            body.extend_from_slice(bytes);
            body.extend_from_slice(&text.as_bytes()[at + 2..]);
            if std::str::from_utf8(&body).is_ok() {
                return None;
            }
            JsonCase {
                body,
                content_type: json,
                names: Some(fields[i].0.to_owned()).filter(|_| endpoint.typed()),
            }
        }
        BadJson::Number(f, number) => {
            let i = f.index(fields.len());
            let (name, kind, _) = fields[i];
            // 0 and 100 000 hours are numbers of the right type, out of the range allowed;
            // for any other field they are of the wrong type, except a form's version.
            if matches!(*number, "0" | "100000") && kind == Kind::Number {
                return None;
            }
            let text = endpoint.text(&fields);
            let value = fields[i].2.to_string();
            let member = format!("\"{name}\":{value}");
            let text = text.replacen(&member, &format!("\"{name}\":{number}"), 1);
            case(text, Some(name))
        }
        BadJson::Deep(depth, object, field) => {
            let (open, close) = if *object {
                ("{\"a\":", "}")
            } else {
                ("[", "]")
            };
            let nest = format!("{}1{}", open.repeat(*depth), close.repeat(*depth));
            match field {
                None => case(nest, None),
                Some(f) => {
                    let i = f.index(fields.len());
                    let name = fields[i].0;
                    let value = fields[i].2.to_string();
                    let text = endpoint.text(&fields).replacen(
                        &format!("\"{name}\":{value}"),
                        &format!("\"{name}\":{nest}"),
                        1,
                    );
                    case(text, Some(name))
                }
            }
        }
        BadJson::Long(f, n) => {
            // A form's title is free text: a long one is the form's business, not an attack.
            let checked: Vec<usize> = (0..fields.len())
                .filter(|&i| fields[i].1 == Kind::Text)
                .collect();
            if checked.is_empty() {
                return None;
            }
            let i = checked[f.index(checked.len())];
            fields[i].2 = serde_json::json!("A".repeat(*n));
            case(endpoint.text(&fields), Some(fields[i].0))
        }
        BadJson::NotJson(bytes) => {
            if serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|v| v.is_object()) {
                return None;
            }
            JsonCase {
                body: bytes.clone(),
                content_type: json,
                names: None,
            }
        }
        BadJson::ContentType(kind) => {
            if kind.as_deref().is_some_and(|k| k.ends_with("json")) {
                return None;
            }
            JsonCase {
                body: valid.into_bytes(),
                content_type: kind.clone(),
                names: None,
            }
        }
    })
}

pub(super) fn admin_json(
    office: &Office,
    (endpoint, bad): (JsonEndpoint, BadJson),
) -> Result<(), TestCaseError> {
    let Some(case) = json_case(endpoint, &bad) else {
        return Err(TestCaseError::reject("not a hostile body of this endpoint"));
    };
    let mut request = Request {
        method: "POST".into(),
        target: endpoint.path(office.device.device),
        headers: Vec::new(),
        body: case.body,
    };
    request.bearer(&office.admin);
    if let Some(t) = case.content_type {
        request
            .headers
            .push(("content-type".into(), t.into_bytes()));
    }
    let error = office.send(&request).refused(400, ErrorCode::BadRequest)?;
    if let Some(name) = case.names {
        prop_assert!(
            error.field.as_deref() == Some(name.as_str()) || error.message.contains(&name),
            "the error does not name {}: {}",
            name,
            error
        );
    }
    Ok(())
}

/// An admin read and the parameter of its query string made bad.
const QUERY_PARAMS: [(&str, &str); 14] = [
    ("/admin/v1/devices", "as_of"),
    ("/admin/v1/devices", "stale_days"),
    ("/admin/v1/devices", "state"),
    ("/admin/v1/devices", "puskesmas"),
    ("/admin/v1/status", "top"),
    ("/admin/v1/status", "as_of"),
    ("/admin/v1/audit", "limit"),
    ("/admin/v1/audit", "device"),
    ("/admin/v1/export", "puskesmas"),
    ("/admin/v1/digests", "puskesmas"),
    ("/admin/v1/conflicts", "puskesmas"),
    ("/admin/v1/devices/{id}", "history"),
    ("/admin/v1/devices/{id}", "stale_days"),
    ("/admin/v1/audit", "x_unknown"),
];

const BAD_NUMBERS: [&str; 8] = [
    "1e400",
    "18446744073709551617",
    "-1",
    "abc",
    "1.5",
    "%FF%FE",
    "99999999999999999999999",
    "0x10",
];

/// A query value: text, or that many `A`s (longer than a code may be; a URI stops at
/// hyper's 64 KiB, see [`route`](crate::routes::route)).
#[derive(Debug, Clone)]
pub(super) enum QueryValue {
    Text(String),
    Long(usize),
}

pub(super) fn query_cases() -> impl Strategy<Value = (usize, QueryValue)> {
    (
        0..QUERY_PARAMS.len(),
        prop_oneof![
            select(BAD_NUMBERS.to_vec()).prop_map(|s| QueryValue::Text(s.to_owned())),
            "[a-z!*@ ]{1,30}".prop_map(|s| QueryValue::Text(format!("x{}", s.replace(' ', "%20")))),
            (21usize..60_000).prop_map(QueryValue::Long),
        ],
    )
}

pub(super) fn admin_query(
    office: &Office,
    (param, value): (usize, QueryValue),
) -> Result<(), TestCaseError> {
    let value = match value {
        QueryValue::Text(text) => text,
        QueryValue::Long(n) => "A".repeat(n),
    };
    let (path, name) = QUERY_PARAMS[param];
    let path = path.replace("{id}", &office.device.device.to_string());
    // An unknown parameter refused by name, or a value outside what the parameter takes
    // (numbers as text, out of range; codes of wrong characters or length; states unknown).
    if matches!(name, "state" | "puskesmas") {
        // Text the server would take as a code (or a state) is no attack: keep it out.
        let text = value.replace("%20", " ");
        prop_assume!(text.contains('%') || PuskesmasCode::parse(&text).is_err());
        // (No value generated is a state's name: those are lower case words with `_`.)
        prop_assume!(
            name != "state" || text.contains(|c: char| c != '_' && !c.is_ascii_lowercase())
        );
    }
    let mut request = Request {
        method: "GET".into(),
        target: format!("{path}?{name}={value}"),
        headers: Vec::new(),
        body: Vec::new(),
    };
    request.bearer(&office.admin);
    let error = office.send(&request).refused(400, ErrorCode::BadRequest)?;
    // The parameter at fault is named: as the field when the server checks the value, in
    // the message (with the field `query`) when the query string does not decode.
    prop_assert!(
        error.field.as_deref() == Some(name)
            || (error.field.as_deref() == Some("query") && error.message.contains(name)),
        "the error does not name {}: {}",
        name,
        error
    );
    Ok(())
}
