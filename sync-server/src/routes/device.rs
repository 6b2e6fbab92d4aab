//! The device endpoints: enroll, hello, push, pull.

use std::sync::Arc;

use axum::extract::State;
use cageur_protocol::sync::{
    EnrollRequest, EnrollResponse, ErrorCode, HelloRequest, HelloResponse, PullRequest,
    PullResponse, PushRequest, PushResponse, WireRecord,
};

use crate::auth::DeviceCaller;
use crate::body::{SyncBody, SyncReply};
use crate::error::{ApiError, ApiResult};
use crate::schema_support::{check_can_read, check_schema};
use crate::state::AppState;
use crate::store::{DeviceReport, prepare_push};

pub async fn enroll(
    State(state): State<Arc<AppState>>,
    SyncBody(req): SyncBody<EnrollRequest>,
) -> ApiResult<SyncReply<EnrollResponse>> {
    check_schema(req.schema)?;
    if req.code.len() > 64 || req.app_version.len() > 64 {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "code and app_version are at most 64 characters",
        ));
    }
    let report = DeviceReport {
        app_version: req.app_version,
        schema: req.schema,
        pending: 0,
        pending_urgent: 0,
    };
    let enrolled = state
        .blocking(move |s| s.enroll(&req.code, &report))
        .await?;
    tracing::info!(device = enrolled.device, puskesmas = %enrolled.puskesmas, "device enrolled");
    Ok(SyncReply(EnrollResponse {
        device: enrolled.device,
        credential: enrolled.credential,
        puskesmas: enrolled.puskesmas,
        team: enrolled.team,
        epoch: state.store.epoch(),
    }))
}

pub async fn hello(
    State(state): State<Arc<AppState>>,
    DeviceCaller(device): DeviceCaller,
    SyncBody(req): SyncBody<HelloRequest>,
) -> ApiResult<SyncReply<HelloResponse>> {
    if req.app_version.len() > 64 {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "app_version is at most 64 characters",
        ));
    }
    let report = DeviceReport {
        app_version: req.app_version,
        schema: req.schema,
        pending: req.pending,
        pending_urgent: req.pending_urgent,
    };
    let id = device.id;
    let seq = state.blocking(move |s| s.hello(id, &report)).await?;
    Ok(SyncReply(HelloResponse {
        epoch: state.store.epoch(),
        seq,
        commands: device.commands(),
    }))
}

pub async fn push(
    State(state): State<Arc<AppState>>,
    DeviceCaller(device): DeviceCaller,
    SyncBody(req): SyncBody<PushRequest>,
) -> ApiResult<SyncReply<PushResponse>> {
    check_schema(req.schema)?;
    let push = prepare_push(req)?;
    let records: usize = push.groups.iter().map(|g| g.records.len()).sum();
    let id = device.id;
    let outcome = state.blocking(move |s| s.push(&device, push)).await?;
    tracing::info!(
        device = id,
        records,
        groups = outcome.accepted.len(),
        unchanged = outcome.unchanged,
        seq = outcome.seq,
        "push"
    );
    Ok(SyncReply(PushResponse {
        epoch: state.store.epoch(),
        accepted: outcome.accepted,
        unchanged: outcome.unchanged,
        seq: outcome.seq,
    }))
}

pub async fn pull(
    State(state): State<Arc<AppState>>,
    DeviceCaller(device): DeviceCaller,
    SyncBody(req): SyncBody<PullRequest>,
) -> ApiResult<SyncReply<PullResponse>> {
    check_can_read(device.schema)?;
    let id = device.id;
    let page = state
        .blocking(move |s| s.pull(&device, req.cursor, req.max_bytes))
        .await?;
    tracing::debug!(
        device = id,
        records = page.records.len(),
        remaining = page.remaining,
        "pull"
    );
    Ok(SyncReply(PullResponse {
        epoch: state.store.epoch(),
        records: page
            .records
            .into_iter()
            .map(|r| WireRecord {
                kind: r.kind.code(),
                id: r.id,
                state: r.state,
            })
            .collect(),
        next: page.next,
        remaining: page.remaining,
    }))
}
