//! The fleet: devices with their state, one device in detail, the service at a glance, and
//! what the health office does to a device (resync, revoke, replace).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json as JsonReply;
use axum::extract::State;
use cageur_protocol::sync::{ErrorBody, ErrorCode};
use serde::{Deserialize, Serialize};

use super::{code, validity};
use crate::auth::AdminCaller;
use crate::body::{Json, Path, Query};
use crate::error::{ApiError, ApiResult};
use crate::fleet::{self, DeviceState, DeviceView, STALE_AFTER_DAYS};
use crate::state::AppState;
use crate::store::admin::{self, AuditEntry, HeldPush, Revocation, SyncLogEntry};
use crate::store::sql::SqlTx;
use crate::store::{Enrollment, StoreResult, now_secs};

/// When to look at the fleet (seconds since 1970, default now: `--as-of` looks at another
/// day), and after how many days a tablet is stale. Each query below carries both (a
/// flattened struct would not read numbers from a query string).
fn lens(as_of: Option<i64>, stale_days: Option<i64>) -> Result<(i64, i64), ApiError> {
    Ok((checked_as_of(as_of)?, checked_stale_days(stale_days)?))
}

/// The last second of the year 9999: a later `as_of` is a mistake, not a day to look at.
const LATEST_AS_OF: i64 = 253_402_300_799;

/// `as_of` within 1970 to 9999, so that the days counted from it (`now - since`, the status's
/// last 14 days) cannot overflow whatever the query string says.
fn checked_as_of(as_of: Option<i64>) -> Result<i64, ApiError> {
    match as_of {
        None => Ok(now_secs()),
        Some(t) if (0..=LATEST_AS_OF).contains(&t) => Ok(t),
        Some(_) => Err(ApiError(
            ErrorBody::new(
                ErrorCode::BadRequest,
                format!("must be 0 to {LATEST_AS_OF} seconds since 1970 (the years 1970 to 9999)"),
            )
            .at("as_of"),
        )),
    }
}

fn checked_stale_days(days: Option<i64>) -> Result<i64, ApiError> {
    let days = days.unwrap_or(STALE_AFTER_DAYS);
    if !(1..=365).contains(&days) {
        return Err(ApiError(
            ErrorBody::new(ErrorCode::BadRequest, "must be 1 to 365 days").at("stale_days"),
        ));
    }
    Ok(days)
}

/// Every device seen through `lens`, with its lag.
fn views(tx: &mut dyn SqlTx, now: i64, stale_days: i64) -> StoreResult<Vec<DeviceView>> {
    admin::devices(tx)?
        .into_iter()
        .map(|facts| {
            let lag = admin::lag(tx, &facts)?;
            Ok(fleet::view(facts, lag, now, stale_days))
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    puskesmas: Option<String>,
    state: Option<String>,
    as_of: Option<i64>,
    stale_days: Option<i64>,
}

pub async fn list_devices(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Query(q): Query<ListQuery>,
) -> ApiResult<JsonReply<Vec<DeviceView>>> {
    let wanted = q
        .state
        .as_deref()
        .map(|name| {
            DeviceState::parse(name).ok_or_else(|| {
                let names: Vec<&str> = DeviceState::ALL.iter().map(|s| s.name()).collect();
                ApiError(
                    ErrorBody::new(
                        ErrorCode::BadRequest,
                        format!("no state {name:?}: one of {}", names.join(", ")),
                    )
                    .at("state"),
                )
            })
        })
        .transpose()?;
    let puskesmas = q
        .puskesmas
        .as_deref()
        .map(|p| code("puskesmas", p))
        .transpose()?;
    let (now, stale) = lens(q.as_of, q.stale_days)?;
    let all = state
        .blocking(move |s| admin::read(s, |tx| views(tx, now, stale)))
        .await?;
    Ok(JsonReply(
        all.into_iter()
            .filter(|v| wanted.is_none_or(|w| v.state == w))
            .filter(|v| puskesmas.as_ref().is_none_or(|p| v.facts.puskesmas == *p))
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    #[serde(default = "default_history")]
    history: u32,
    as_of: Option<i64>,
    stale_days: Option<i64>,
}

fn default_history() -> u32 {
    20
}

/// One device in detail.
#[derive(Debug, Serialize)]
pub struct DeviceDetail {
    device: DeviceView,
    /// Its syncs as it reported them, newest first.
    history: Vec<SyncLogEntry>,
    /// What was done to it and what it reported, newest first.
    audit: Vec<AuditEntry>,
    /// Pushes held for review (a device revoked as stolen).
    held: Vec<HeldPush>,
}

pub async fn device_show(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Path(id): Path<u32>,
    Query(q): Query<ShowQuery>,
) -> ApiResult<JsonReply<DeviceDetail>> {
    let (now, stale) = lens(q.as_of, q.stale_days)?;
    let history = q.history.clamp(1, 1000);
    let detail = state
        .blocking(move |s| {
            admin::read(s, |tx| {
                let facts = admin::device(tx, id)?;
                let lag = admin::lag(tx, &facts)?;
                Ok(DeviceDetail {
                    device: fleet::view(facts, lag, now, stale),
                    history: admin::history(tx, id, history)?,
                    audit: admin::audit_log(tx, Some(id), 50)?,
                    held: admin::held_pushes(tx, id)?,
                })
            })
        })
        .await?;
    Ok(JsonReply(detail))
}

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    #[serde(default = "default_top")]
    top: usize,
    as_of: Option<i64>,
    stale_days: Option<i64>,
}

fn default_top() -> usize {
    10
}

/// Change groups accepted on one day.
#[derive(Debug, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD` (UTC).
    day: String,
    changes: u64,
}

/// The whole service at a glance.
#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    at: i64,
    store: &'static str,
    store_bytes: u64,
    records: u64,
    devices: usize,
    /// Devices per state (every state, zeros included).
    by_state: BTreeMap<&'static str, usize>,
    /// Change groups accepted per day, the last 14 days.
    changes_per_day: Vec<DayCount>,
    /// The devices whose data is most at risk: an unsent referral first, then days unsynced
    /// times pending changes.
    at_risk: Vec<DeviceView>,
}

pub async fn status(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Query(q): Query<StatusQuery>,
) -> ApiResult<JsonReply<ServiceStatus>> {
    let (now, stale) = lens(q.as_of, q.stale_days)?;
    let top = q.top.clamp(1, 1000);
    let since = now - 14 * 86_400;
    let (views, days, records, bytes, kind) = state
        .blocking(move |s| {
            let (views, days, records) = admin::read(s, |tx| {
                Ok((
                    views(tx, now, stale)?,
                    admin::changes_per_day(tx, since)?,
                    admin::record_count(tx)?,
                ))
            })?;
            Ok((views, days, records, s.size_bytes()?, s.kind()))
        })
        .await?;
    let mut by_state: BTreeMap<&'static str, usize> =
        DeviceState::ALL.iter().map(|s| (s.name(), 0)).collect();
    for v in &views {
        *by_state.entry(v.state.name()).or_default() += 1;
    }
    let changes_per_day = days
        .into_iter()
        .map(|(day, changes)| DayCount {
            day: chrono::DateTime::from_timestamp(day * 86_400, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            changes,
        })
        .collect();
    Ok(JsonReply(ServiceStatus {
        at: now,
        store: kind,
        store_bytes: bytes,
        records,
        devices: views.len(),
        by_state,
        changes_per_day,
        at_risk: fleet::most_at_risk(&views, top),
    }))
}

pub async fn request_resync(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<u32>,
) -> ApiResult<JsonReply<DeviceView>> {
    let view = state
        .blocking(move |s| {
            admin::write(s, |tx| {
                let now = now_secs();
                admin::request_resync(tx, id, now)?;
                let facts = admin::device(tx, id)?;
                let detail = "rebuild the replica from the server on the next sync, \
                              after pushing every change not yet acknowledged";
                admin::audit(
                    tx,
                    &actor,
                    "resync",
                    Some(id),
                    Some(&facts.puskesmas),
                    detail,
                    now,
                )?;
                let lag = admin::lag(tx, &facts)?;
                Ok(fleet::view(facts, lag, now, STALE_AFTER_DAYS))
            })
        })
        .await?;
    tracing::info!(device = id, "resync requested");
    Ok(JsonReply(view))
}

pub async fn revoke_device(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<u32>,
    Json(how): Json<Revocation>,
) -> ApiResult<JsonReply<DeviceView>> {
    if how.stolen && !how.wipe {
        return Err(ApiError(
            ErrorBody::new(
                ErrorCode::BadRequest,
                "a stolen tablet is revoked with --wipe: it must delete what it holds",
            )
            .at("stolen"),
        ));
    }
    let view = state
        .blocking(move |s| {
            admin::write(s, |tx| {
                let now = now_secs();
                let facts = admin::revoke(tx, id, how, now)?;
                let detail = match (how.wipe, how.stolen) {
                    (true, true) => "revoked as stolen: its pushes are held for review; wipe",
                    (true, false) => "revoked: push what it holds, then wipe",
                    _ => "revoked",
                };
                admin::audit(
                    tx,
                    &actor,
                    "revoke",
                    Some(id),
                    Some(&facts.puskesmas),
                    detail,
                    now,
                )?;
                let lag = admin::lag(tx, &facts)?;
                Ok(fleet::view(facts, lag, now, STALE_AFTER_DAYS))
            })
        })
        .await?;
    tracing::info!(
        device = id,
        wipe = how.wipe,
        stolen = how.stolen,
        "device revoked"
    );
    Ok(JsonReply(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replacement {
    team: String,
    #[serde(default = "super::default_hours")]
    valid_hours: u64,
    /// The old tablet is still out there: tell it to wipe.
    #[serde(default)]
    wipe: bool,
}

/// A replacement's enrollment code and the old device, revoked.
#[derive(Debug, Serialize)]
pub struct Replaced {
    enrollment: Enrollment,
    old: DeviceView,
}

/// Enrolls a replacement tablet for a team and revokes the old one, in one step: the code is
/// made and the old device revoked in one transaction each, the code first, so that a failure
/// never leaves the team without a tablet it can enroll.
pub async fn replace_device(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<u32>,
    Json(req): Json<Replacement>,
) -> ApiResult<JsonReply<Replaced>> {
    let team = code("team", &req.team)?;
    let ttl = validity(req.valid_hours)?;
    let replaced = state
        .blocking(move |s| {
            let (old, team_of) = admin::read(s, |tx| {
                Ok((admin::device(tx, id)?, admin::team_puskesmas(tx, &team)?))
            })?;
            if let Some(p) = team_of.filter(|p| *p != old.puskesmas) {
                return Err(crate::store::StoreError::refused(
                    ErrorCode::Conflict,
                    format!(
                        "team {team} is of puskesmas {p}, device {id} of {}: a replacement \
                         serves the same puskesmas",
                        old.puskesmas
                    ),
                ));
            }
            let enrollment = s.create_enrollment(&team, ttl)?;
            admin::write(s, |tx| {
                let now = now_secs();
                admin::mark_replacement(tx, crate::store::hash_secret(&enrollment.code), id)?;
                let how = Revocation {
                    wipe: req.wipe,
                    stolen: false,
                };
                let facts = admin::revoke(tx, id, how, now)?;
                let detail = format!(
                    "replaced by a new tablet of team {team} (code valid {} hours){}",
                    req.valid_hours,
                    if req.wipe { "; old one to wipe" } else { "" }
                );
                admin::audit(
                    tx,
                    &actor,
                    "replace",
                    Some(id),
                    Some(&facts.puskesmas),
                    &detail,
                    now,
                )?;
                let lag = admin::lag(tx, &facts)?;
                Ok(Replaced {
                    enrollment: enrollment.clone(),
                    old: fleet::view(facts, lag, now, STALE_AFTER_DAYS),
                })
            })
        })
        .await?;
    tracing::info!(device = id, "device replaced");
    Ok(JsonReply(replaced))
}

pub async fn device_held(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
    Path(id): Path<u32>,
) -> ApiResult<JsonReply<Vec<HeldPush>>> {
    Ok(JsonReply(
        state
            .blocking(move |s| {
                admin::read(s, |tx| {
                    admin::device(tx, id)?;
                    admin::held_pushes(tx, id)
                })
            })
            .await?,
    ))
}
