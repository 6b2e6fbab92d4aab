//! Who is calling: every request but enrollment and health carries a bearer credential; the
//! server looks its hash up and derives the caller's scope itself.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use cageur_protocol::sync::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::DeviceRow;
use crate::store::admin;

/// The request's bearer credential, which must be of the kind `prefix` marks (`what` names
/// that kind in the refusal: "a device", "an admin").
fn bearer(parts: &Parts, prefix: &str, what: &str) -> Result<String, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "no credential: send Authorization: Bearer ...",
            )
        })?;
    let token = value
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 200)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "the Authorization header is not a bearer credential",
            )
        })?;
    if !token.starts_with(prefix) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("this is not {what} credential"),
        ));
    }
    Ok(token)
}

/// An enrolled device that may sync: not revoked, or revoked with a wipe it has not carried
/// out yet (it may then say hello and push what it holds, and nothing else: handlers other
/// than those call [`DeviceCaller::active`]).
#[derive(Debug, Clone)]
pub struct DeviceCaller(pub DeviceRow);

impl DeviceCaller {
    /// The device, unless it is revoked.
    pub fn active(self) -> Result<DeviceRow, ApiError> {
        if self.0.revoked_at.is_some() {
            return Err(revoked());
        }
        Ok(self.0)
    }
}

fn revoked() -> ApiError {
    ApiError::new(
        ErrorCode::DeviceRevoked,
        "this device was revoked by the health office",
    )
}

impl FromRequestParts<Arc<AppState>> for DeviceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let token = bearer(parts, "cjd_", "a device")?;
        let device = state
            .blocking(move |store| store.device_by_credential(&token))
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown device credential"))?;
        if device.revoked_at.is_some() && !device.wipe_pending() {
            return Err(revoked());
        }
        Ok(DeviceCaller(device))
    }
}

/// A holder of an admin credential, by the name it was made for (the audit log's "who").
#[derive(Debug, Clone)]
pub struct AdminCaller(pub String);

impl FromRequestParts<Arc<AppState>> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let token = bearer(parts, "cja_", "an admin")?;
        let name = state
            .blocking(move |store| admin::admin_of(store, &token))
            .await?;
        name.map(AdminCaller)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "unknown admin credential"))
    }
}
