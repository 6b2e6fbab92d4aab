//! The admin API used by `cageur-admin`: JSON in and out (a salvaged push comes in the sync
//! codec), admin credential required. Every action is written to the audit log: in the
//! transaction that carries it out where the store allows (revocations, resync requests,
//! replacements' revocations, published forms), else just after it succeeds (registering
//! units and enrollment codes, merges of salvaged and held pushes), a failure to write it
//! then being an error the admin sees. Reads of personal data (exports, digests, records,
//! conflicts) are written there too; lists of devices and the service status are not.

mod devices;
mod records;

use std::sync::Arc;
use std::time::Duration;

use axum::Json as JsonReply;
use axum::extract::State;
use cageur_model::area::PuskesmasCode;
use cageur_protocol::sync::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};

pub use devices::{
    device_held, device_show, list_devices, replace_device, request_resync, revoke_device, status,
};
pub use records::{
    accept_held, conflicts, digests, export, list_forms, publish_form, records, salvage,
};

use crate::auth::AdminCaller;
use crate::body::{Json, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::admin::{self, AuditEntry};
use crate::store::{Enrollment, Unit, now_secs};

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

/// A puskesmas or team code, checked.
pub(super) fn code(field: &str, text: &str) -> Result<String, ApiError> {
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

/// An enrollment code's validity, checked.
pub(super) fn validity(hours: u64) -> Result<Duration, ApiError> {
    if !(1..=MAX_ENROLLMENT_HOURS).contains(&hours) {
        return Err(ApiError(
            ErrorBody::new(
                ErrorCode::BadRequest,
                format!("must be 1 to {MAX_ENROLLMENT_HOURS} hours"),
            )
            .at("valid_hours"),
        ));
    }
    Ok(Duration::from_secs(hours * 3600))
}

pub async fn add_puskesmas(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Json(req): Json<NewPuskesmas>,
) -> ApiResult<JsonReply<Unit>> {
    let (code, name) = (code("code", &req.code)?, name("name", &req.name)?);
    Ok(JsonReply(
        state
            .blocking(move |s| {
                let unit = s.add_puskesmas(&code, &name)?;
                admin::write(s, |tx| {
                    let detail = format!("puskesmas {code} registered");
                    admin::audit(
                        tx,
                        &actor,
                        "puskesmas_add",
                        None,
                        Some(&code),
                        &detail,
                        now_secs(),
                    )
                })?;
                Ok(unit)
            })
            .await?,
    ))
}

pub async fn add_team(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Json(req): Json<NewTeam>,
) -> ApiResult<JsonReply<Unit>> {
    let team = code("code", &req.code)?;
    let puskesmas = code("puskesmas", &req.puskesmas)?;
    let name = name("name", &req.name)?;
    Ok(JsonReply(
        state
            .blocking(move |s| {
                let unit = s.add_team(&team, &puskesmas, &name)?;
                admin::write(s, |tx| {
                    let detail = format!("team {team} registered");
                    admin::audit(
                        tx,
                        &actor,
                        "team_add",
                        None,
                        Some(&puskesmas),
                        &detail,
                        now_secs(),
                    )
                })?;
                Ok(unit)
            })
            .await?,
    ))
}

pub async fn enroll_device(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Json(req): Json<NewEnrollment>,
) -> ApiResult<JsonReply<Enrollment>> {
    let team = code("team", &req.team)?;
    let ttl = validity(req.valid_hours)?;
    Ok(JsonReply(
        state
            .blocking(move |s| {
                let enrollment = s.create_enrollment(&team, ttl)?;
                admin::write(s, |tx| {
                    let detail = format!(
                        "enrollment code for team {team}, valid {} hours",
                        req.valid_hours
                    );
                    let p = Some(enrollment.puskesmas.as_str());
                    admin::audit(tx, &actor, "device_enroll", None, p, &detail, now_secs())
                })?;
                Ok(enrollment)
            })
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    device: Option<u32>,
    #[serde(default = "default_audit_limit")]
    limit: u32,
}

fn default_audit_limit() -> u32 {
    100
}

/// The audit log, newest first.
#[derive(Debug, Serialize)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
}

pub async fn audit(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<JsonReply<AuditLog>> {
    let limit = q.limit.clamp(1, 10_000);
    let entries = state
        .blocking(move |s| admin::read(s, |tx| admin::audit_log(tx, q.device, limit)))
        .await?;
    Ok(JsonReply(AuditLog { entries }))
}
