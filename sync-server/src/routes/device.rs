//! The device endpoints: enroll, hello, push, pull, and the reports of commands carried out
//! (resynced, wiped).

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use cageur_protocol::sync::{
    Ack, Cursor, EnrollRequest, EnrollResponse, ErrorCode, HelloRequest, HelloRequestV2,
    HelloResponse, HelloResponseV2, MAX_FORMS_PER_HELLO, PullRequest, PullResponse, PullResponseV2,
    PushRequest, PushResponse, PushResponseV2, ResyncedRequest, WipedRequest, WireRecord,
};

use super::Protocol;
use crate::auth::DeviceCaller;
use crate::body::{RawSyncBody, SyncBody, SyncReply, decode};
use crate::error::{ApiError, ApiResult};
use crate::schema_support::{check_can_read, check_schema};
use crate::state::AppState;
use crate::store::admin::{self, HelloExtras};
use crate::store::{DeviceReport, PushOrigin, PushOutcome, now_secs, prepare_push};

pub async fn enroll(
    State(state): State<Arc<AppState>>,
    SyncBody(req, _): SyncBody<EnrollRequest>,
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

/// The hello, answered in the protocol it was asked in: a protocol-1 app gets the first
/// hello's answer, a protocol-2 app also reports its previous sync and receives new forms.
pub async fn hello(
    State(state): State<Arc<AppState>>,
    Extension(Protocol(protocol)): Extension<Protocol>,
    DeviceCaller(device): DeviceCaller,
    RawSyncBody(body): RawSyncBody,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (report, extras, forms_seen, acknowledged) = if protocol >= 2 {
        let req: HelloRequestV2 = decode(&body)?;
        let acknowledged = req.acknowledged;
        let extras = HelloExtras {
            protocol,
            pending_referrals: Some(req.pending_referrals),
            previous: req.previous,
        };
        (
            report_of(req.app_version, req.schema, req.pending, req.pending_urgent)?,
            Some(extras),
            Some(req.forms_seen),
            acknowledged,
        )
    } else {
        let req: HelloRequest = decode(&body)?;
        let extras = HelloExtras {
            protocol,
            ..HelloExtras::default()
        };
        (
            report_of(req.app_version, req.schema, req.pending, req.pending_urgent)?,
            Some(extras),
            None,
            Cursor::default(),
        )
    };
    let id = device.id;
    let (seq, forms, timeline_changed) = state
        .blocking(move |s| {
            let seq = s.hello(id, &report, extras.as_ref())?;
            let (forms, changed) = match forms_seen {
                Some(seen) => admin::read(s, |tx| {
                    let forms = admin::forms_after(tx, seen, MAX_FORMS_PER_HELLO)?;
                    // A point of history the device was acknowledged at, which this store
                    // does not have: it lost that push (a restored backup).
                    let changed = acknowledged.seq > 0
                        && admin::token_of(tx, acknowledged.seq)? != Some(acknowledged.token);
                    Ok((forms, changed))
                })?,
                None => (Vec::new(), false),
            };
            Ok((seq, forms, changed))
        })
        .await?;
    let (epoch, commands) = (state.store.epoch(), device.commands());
    Ok(match forms_seen {
        Some(_) => SyncReply(HelloResponseV2 {
            epoch,
            seq,
            commands,
            forms,
            timeline_changed,
        })
        .into_response(),
        None => SyncReply(HelloResponse {
            epoch,
            seq,
            commands,
        })
        .into_response(),
    })
}

fn report_of(
    app_version: String,
    schema: u32,
    pending: u64,
    pending_urgent: u64,
) -> ApiResult<DeviceReport> {
    if app_version.len() > 64 {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "app_version is at most 64 characters",
        ));
    }
    Ok(DeviceReport {
        app_version,
        schema,
        pending,
        pending_urgent,
    })
}

/// A push. A device revoked as stolen has its push held for review, not merged (and never
/// pulled by anyone): it is acknowledged all the same, so that the tablet wipes. Answered in
/// the protocol it was asked in.
pub async fn push(
    State(state): State<Arc<AppState>>,
    Extension(Protocol(protocol)): Extension<Protocol>,
    DeviceCaller(device): DeviceCaller,
    SyncBody(req, body): SyncBody<PushRequest>,
) -> ApiResult<axum::response::Response> {
    check_schema(req.schema)?;
    let accepted: Vec<i64> = req.groups.iter().map(|g| g.change_seq).collect();
    // Checked whole like any push, so that what is held can be merged once accepted.
    let push = prepare_push(req)?;
    let records = push.records();
    let outcome = if device.stolen {
        hold(&state, &device, &accepted, records, body).await?
    } else {
        let pushed = {
            let device = device.clone();
            state.blocking(move |s| s.push(&device, push)).await
        };
        match pushed {
            // Revoked as stolen while this push was on its way: held, like those after it.
            Err(ApiError(e)) if e.code == ErrorCode::DeviceRevoked => {
                hold(&state, &device, &accepted, records, body).await?
            }
            other => other?,
        }
    };
    tracing::info!(
        device = device.id,
        records,
        groups = outcome.accepted.len(),
        unchanged = outcome.unchanged,
        seq = outcome.seq,
        "push"
    );
    Ok(push_reply(state.store.epoch(), protocol, outcome))
}

/// Copies of departed records that a device offers after the server's history changed (a
/// restore from a backup older than a household's move may have lost them everywhere else):
/// merged like a push, except that what the store cannot take from this device is passed
/// over rather than refused. Protocol 2; a device revoked in any way offers nothing.
pub async fn offer(
    State(state): State<Arc<AppState>>,
    Extension(Protocol(protocol)): Extension<Protocol>,
    caller: DeviceCaller,
    SyncBody(req, _): SyncBody<PushRequest>,
) -> ApiResult<axum::response::Response> {
    let device = caller.active()?;
    check_schema(req.schema)?;
    let mut push = prepare_push(req)?;
    push.origin = PushOrigin::Copies;
    let records = push.records();
    let outcome = {
        let device = device.clone();
        state.blocking(move |s| s.push(&device, push)).await?
    };
    tracing::info!(
        device = device.id,
        records,
        unchanged = outcome.unchanged,
        seq = outcome.seq,
        "offer of departed copies"
    );
    Ok(push_reply(state.store.epoch(), protocol, outcome))
}

/// A push's answer in the protocol it was asked in.
fn push_reply(epoch: uuid::Uuid, protocol: u16, outcome: PushOutcome) -> axum::response::Response {
    use axum::response::IntoResponse;
    if protocol >= 2 {
        SyncReply(PushResponseV2 {
            epoch,
            accepted: outcome.accepted,
            unchanged: outcome.unchanged,
            acknowledged: Cursor {
                seq: outcome.seq,
                token: outcome.token,
            },
        })
        .into_response()
    } else {
        SyncReply(PushResponse {
            epoch,
            accepted: outcome.accepted,
            unchanged: outcome.unchanged,
            seq: outcome.seq,
        })
        .into_response()
    }
}

/// Most pushes held of one stolen device: far more than a genuine backlog of unsynced work
/// needs, and a bound on what a stolen credential can make the server store.
const MAX_HELD_PUSHES: u64 = 500;

/// Holds the push of a device revoked as stolen, and acknowledges it so that the tablet
/// wipes.
async fn hold(
    state: &Arc<AppState>,
    device: &crate::store::DeviceRow,
    accepted: &[i64],
    records: u64,
    body: axum::body::Bytes,
) -> ApiResult<PushOutcome> {
    let accepted = accepted.to_vec();
    let id = device.id;
    let (seq, token) = state
        .blocking(move |s| {
            admin::write(s, |tx| {
                let now = now_secs();
                if admin::held_pushes(tx, id)?.len() as u64 >= MAX_HELD_PUSHES {
                    return Err(crate::store::StoreError::refused(
                        ErrorCode::TooLarge,
                        "this device's held pushes are at their limit",
                    ));
                }
                admin::hold_push(tx, id, records, body.to_vec(), now)?;
                admin::audit(
                    tx,
                    &format!("device {id}"),
                    "held_push",
                    Some(id),
                    None,
                    &format!("{records} records held for review (revoked as stolen)"),
                    now,
                )?;
                let seq = tx.query_int("SELECT coalesce(max(seq), 0) FROM sequence", &[])? as u64;
                Ok((seq, admin::token_of(tx, seq)?.unwrap_or(0)))
            })
        })
        .await?;
    tracing::warn!(device = id, records, "push of a stolen device held");
    Ok(PushOutcome {
        accepted,
        unchanged: 0,
        seq,
        token,
    })
}

pub async fn pull(
    State(state): State<Arc<AppState>>,
    Extension(Protocol(protocol)): Extension<Protocol>,
    caller: DeviceCaller,
    SyncBody(req, _): SyncBody<PullRequest>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let device = caller.active()?;
    check_can_read(device.schema)?;
    let id = device.id;
    let page = state
        .blocking(move |s| s.pull(&device, req.cursor, req.max_bytes))
        .await?;
    tracing::debug!(
        device = id,
        records = page.records.len(),
        departed = page.departed.len(),
        remaining = page.remaining,
        "pull"
    );
    let epoch = state.store.epoch();
    let records = page
        .records
        .into_iter()
        .map(|r| WireRecord {
            kind: r.kind.code(),
            id: r.id,
            state: r.state,
        })
        .collect();
    Ok(if protocol >= 2 {
        SyncReply(PullResponseV2 {
            epoch,
            records,
            departed: page.departed,
            next: page.next,
            remaining: page.remaining,
        })
        .into_response()
    } else {
        // An app of protocol 1 is not told of departures: it keeps its copies.
        SyncReply(PullResponse {
            epoch,
            records,
            next: page.next,
            remaining: page.remaining,
        })
        .into_response()
    })
}

/// The device rebuilt its replica from the server, as a resync asked.
pub async fn resynced(
    State(state): State<Arc<AppState>>,
    caller: DeviceCaller,
    SyncBody(req, _): SyncBody<ResyncedRequest>,
) -> ApiResult<SyncReply<Ack>> {
    let device = caller.active()?;
    let id = device.id;
    state
        .blocking(move |s| {
            admin::write(s, |tx| {
                let now = now_secs();
                if admin::resync_done(tx, id, now)? {
                    admin::audit(
                        tx,
                        &format!("device {id}"),
                        "resync_done",
                        Some(id),
                        Some(&device.puskesmas),
                        &format!(
                            "replica rebuilt: {} records; {} set aside on the tablet",
                            req.records, req.set_aside
                        ),
                        now,
                    )?;
                }
                Ok(())
            })
        })
        .await?;
    tracing::info!(device = id, "resync done");
    Ok(SyncReply(Ack {}))
}

/// The device deleted its local data, as its revocation asked.
pub async fn wiped(
    State(state): State<Arc<AppState>>,
    DeviceCaller(device): DeviceCaller,
    SyncBody(req, _): SyncBody<WipedRequest>,
) -> ApiResult<SyncReply<Ack>> {
    if !device.wipe_pending() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this device was not asked to wipe its data",
        ));
    }
    let id = device.id;
    state
        .blocking(move |s| {
            admin::write(s, |tx| {
                let now = now_secs();
                admin::wiped(tx, id, now)?;
                admin::audit(
                    tx,
                    &format!("device {id}"),
                    "wiped",
                    Some(id),
                    Some(&device.puskesmas),
                    &format!("local data deleted after pushing {} records", req.pushed),
                    now,
                )
            })
        })
        .await?;
    tracing::info!(device = id, "device wiped");
    Ok(SyncReply(Ack {}))
}
