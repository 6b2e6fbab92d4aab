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

/// An enrolled, unrevoked device.
#[derive(Debug, Clone)]
pub struct DeviceCaller(pub DeviceRow);

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
        if device.revoked_at.is_some() {
            return Err(ApiError::new(
                ErrorCode::DeviceRevoked,
                "this device was revoked by the health office",
            ));
        }
        Ok(DeviceCaller(device))
    }
}

/// A holder of an admin credential.
#[derive(Debug, Clone, Copy)]
pub struct AdminCaller;

impl FromRequestParts<Arc<AppState>> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let token = bearer(parts, "cja_", "an admin")?;
        if state.blocking(move |store| store.is_admin(&token)).await? {
            Ok(AdminCaller)
        } else {
            Err(ApiError::new(
                ErrorCode::Unauthorized,
                "unknown admin credential",
            ))
        }
    }
}
