//! The admin API used by `cageur-admin`: JSON in and out, admin credential required.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use cageur_model::area::PuskesmasCode;
use cageur_protocol::sync::{ErrorBody, ErrorCode};
use serde::Deserialize;

use crate::auth::AdminCaller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{DeviceRow, Enrollment, Unit};

/// Longest an enrollment code may stay valid.
const MAX_ENROLLMENT_HOURS: u64 = 24 * 14;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPuskesmas {
    code: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    code: String,
    puskesmas: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollment {
    team: String,
    #[serde(default = "default_hours")]
    valid_hours: u64,
}

fn default_hours() -> u64 {
    72
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    #[serde(default)]
    wipe: bool,
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    puskesmas: String,
}

fn code(field: &str, text: &str) -> Result<String, ApiError> {
    PuskesmasCode::parse(text)
        .map(|c| c.as_str().to_owned())
        .map_err(|e| ApiError(ErrorBody::new(ErrorCode::BadRequest, e.message).at(field)))
}

fn name(field: &str, text: &str) -> Result<String, ApiError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        return Err(ApiError(
            ErrorBody::new(ErrorCode::BadRequest, "must be 1 to 100 characters").at(field),
        ));
    }
    Ok(trimmed.to_owned())
}

pub async fn add_puskesmas(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Json(req): Json<NewPuskesmas>,
) -> ApiResult<Json<Unit>> {
    let (code, name) = (code("code", &req.code)?, name("name", &req.name)?);
    Ok(Json(
        state
            .blocking(move |s| s.add_puskesmas(&code, &name))
            .await?,
    ))
}

pub async fn add_team(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Json(req): Json<NewTeam>,
) -> ApiResult<Json<Unit>> {
    let team = code("code", &req.code)?;
    let puskesmas = code("puskesmas", &req.puskesmas)?;
    let name = name("name", &req.name)?;
    Ok(Json(
        state
            .blocking(move |s| s.add_team(&team, &puskesmas, &name))
            .await?,
    ))
}

pub async fn enroll_device(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Json(req): Json<NewEnrollment>,
) -> ApiResult<Json<Enrollment>> {
    let team = code("team", &req.team)?;
    if !(1..=MAX_ENROLLMENT_HOURS).contains(&req.valid_hours) {
        return Err(ApiError(
            ErrorBody::new(
                ErrorCode::BadRequest,
                format!("must be 1 to {MAX_ENROLLMENT_HOURS} hours"),
            )
            .at("valid_hours"),
        ));
    }
    let ttl = Duration::from_secs(req.valid_hours * 3600);
    Ok(Json(
        state
            .blocking(move |s| s.create_enrollment(&team, ttl))
            .await?,
    ))
}

pub async fn list_devices(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
) -> ApiResult<Json<Vec<DeviceRow>>> {
    Ok(Json(state.blocking(|s| s.devices()).await?))
}

pub async fn revoke_device(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Path(id): Path<u32>,
    Json(req): Json<Revocation>,
) -> ApiResult<Json<DeviceRow>> {
    let row = state.blocking(move |s| s.revoke(id, req.wipe)).await?;
    tracing::info!(device = id, wipe = req.wipe, "device revoked");
    Ok(Json(row))
}

pub async fn export(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Query(q): Query<ExportQuery>,
) -> ApiResult<impl IntoResponse> {
    let puskesmas = code("puskesmas", &q.puskesmas)?;
    let bytes = state
        .blocking(move |s| {
            let mut out = Vec::new();
            s.export(&puskesmas, &mut out)?;
            Ok(out)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes))
}
