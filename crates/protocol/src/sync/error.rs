//! Error bodies: every 4xx and 5xx answer of the server is JSON with a stable code, so that
//! clients act on the code and people read the message.

use serde::{Deserialize, Serialize};

/// What went wrong, stable across releases (clients match on it; never renamed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed in a way no other code names (400).
    BadRequest,
    /// The body is not a valid message of the endpoint (400).
    InvalidBody,
    /// A record in the body is invalid: bad kind, damaged state, a group too large (422).
    InvalidRecord,
    /// The body or a part of it exceeds a limit (413).
    TooLarge,
    /// The client's protocol version is not served; the app must be updated (426).
    UnsupportedProtocol,
    /// The client's schema version is too old (or too new) to accept; update the app (426).
    UnsupportedSchema,
    /// No credential, or one the server does not know (401).
    Unauthorized,
    /// The device's credential was revoked (401).
    DeviceRevoked,
    /// The credential is valid but not for this (admin vs device) (403).
    Forbidden,
    /// A record outside the device's puskesmas (403).
    OutOfScope,
    /// The enrollment code is unknown, used or expired (401).
    EnrollmentCodeInvalid,
    /// The thing named does not exist (404).
    NotFound,
    /// The thing already exists, or the request contradicts the stored state (409).
    Conflict,
    /// The device's cursor is not in this server's history (another database, or one
    /// restored from an older backup): start from the beginning and push everything (409).
    TimelineChanged,
    /// The server failed; the request may be retried (500).
    Internal,
    /// The server cannot serve now (its store is unreachable); retry later (503).
    Unavailable,
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::BadRequest | Self::InvalidBody => 400,
            Self::Unauthorized | Self::DeviceRevoked | Self::EnrollmentCodeInvalid => 401,
            Self::Forbidden | Self::OutOfScope => 403,
            Self::NotFound => 404,
            Self::Conflict | Self::TimelineChanged => 409,
            Self::TooLarge => 413,
            Self::InvalidRecord => 422,
            Self::UnsupportedProtocol | Self::UnsupportedSchema => 426,
            Self::Internal => 500,
            Self::Unavailable => 503,
        }
    }

    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidBody => "invalid_body",
            Self::InvalidRecord => "invalid_record",
            Self::TooLarge => "too_large",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::UnsupportedSchema => "unsupported_schema",
            Self::Unauthorized => "unauthorized",
            Self::DeviceRevoked => "device_revoked",
            Self::Forbidden => "forbidden",
            Self::OutOfScope => "out_of_scope",
            Self::EnrollmentCodeInvalid => "enrollment_code_invalid",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::TimelineChanged => "timeline_changed",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
        }
    }

    /// Whether the same request may succeed later (the client retries with backoff).
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Internal | Self::Unavailable)
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable code.
    pub code: ErrorCode,
    /// For people: what is wrong and what to do. Never holds personal data.
    pub message: String,
    /// The part of the request at fault (`groups[3].records[0].state`), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error with no particular field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// The same error, naming the field at fault.
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())?;
        if let Some(field) = &self.field {
            write!(f, " at {field}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_is_the_json_name() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::InvalidBody,
            ErrorCode::InvalidRecord,
            ErrorCode::TooLarge,
            ErrorCode::UnsupportedProtocol,
            ErrorCode::UnsupportedSchema,
            ErrorCode::Unauthorized,
            ErrorCode::DeviceRevoked,
            ErrorCode::Forbidden,
            ErrorCode::OutOfScope,
            ErrorCode::EnrollmentCodeInvalid,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::TimelineChanged,
            ErrorCode::Internal,
            ErrorCode::Unavailable,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!((400..600).contains(&code.status()));
        }
    }
}
