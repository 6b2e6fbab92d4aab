//! Every error answer is JSON with a stable code ([`ErrorBody`]); internal failures are
//! logged (without personal data: store errors name tables and rows, never field values) and
//! answered with a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cageur_protocol::sync::{ErrorBody, ErrorCode};

use crate::store::StoreError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }
}

impl From<ErrorBody> for ApiError {
    fn from(body: ErrorBody) -> Self {
        Self(body)
    }
}

/// Bad input (a form definition): the field and the rule it broke.
impl From<cageur_model::ValidationError> for ApiError {
    fn from(e: cageur_model::ValidationError) -> Self {
        Self(
            ErrorBody::new(
                ErrorCode::BadRequest,
                format!("{} ({:?})", e.message, e.rule),
            )
            .at(e.field),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(body) => Self(body),
            StoreError::Database(msg) => {
                tracing::error!(error = %msg, "store failed");
                Self::new(ErrorCode::Unavailable, "the store failed; try again later")
            }
            StoreError::Damaged(msg) => {
                tracing::error!(error = %msg, "stored data is damaged");
                Self::new(
                    ErrorCode::Internal,
                    "the server's stored data could not be read",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = self.0.code.as_str(), "request failed");
        } else {
            tracing::info!(code = self.0.code.as_str(), field = ?self.0.field, "request refused");
        }
        (status, Json(self.0)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
