//! The records of a scope, for the admin tool: the canonical export, digests and records by
//! id (for `verify`), conflicts; a dead tablet's salvaged push and a stolen one's held
//! pushes; published screening forms.

use std::sync::Arc;

use axum::Json as JsonReply;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use cageur_model::forms::{FormDefinition, FormRegistry};
use cageur_protocol::sync::{ErrorBody, ErrorCode, PushRequest};
use cageur_protocol::{DecodedState, RecordState, policy, state_digest};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::code;
use crate::auth::AdminCaller;
use crate::body::{Json, Path, Query};
use crate::body::{RawSyncBody, decode};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::admin::{self, StoredRecord};
use crate::store::{
    DeviceRow, PushOrigin, PushOutcome, Store, StoreError, StoreResult, now_secs, prepare_push,
};

#[derive(Debug, Deserialize)]
pub struct ScopeQuery {
    puskesmas: String,
}

pub async fn export(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<impl IntoResponse> {
    let puskesmas = code("puskesmas", &q.puskesmas)?;
    let bytes = state
        .blocking(move |s| {
            let forms = admin::form_registry(s)?;
            let mut out = Vec::new();
            s.export(&puskesmas, &forms, &mut out)?;
            admin::write(s, |tx| {
                let detail = format!("export of puskesmas {puskesmas}, {} bytes", out.len());
                admin::audit(
                    tx,
                    &actor,
                    "export",
                    None,
                    Some(&puskesmas),
                    &detail,
                    now_secs(),
                )
            })?;
            Ok(out)
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes))
}

/// Most records one page of digests or of records carries.
const MAX_PAGE: u32 = 20_000;

#[derive(Debug, Deserialize)]
pub struct DigestQuery {
    puskesmas: String,
    /// The last id of the page before (hex of its 16 bytes, or its UUID text).
    after: Option<Uuid>,
    limit: Option<u32>,
}

/// One record's digest.
#[derive(Debug, Serialize)]
pub struct Digest {
    id: Uuid,
    kind: u8,
    /// The sequence it was last written at: a device whose cursor is below it has not
    /// pulled that write yet.
    seq: u64,
    digest: String,
}

/// A page of a scope's digests, in id order.
#[derive(Debug, Serialize)]
pub struct DigestPage {
    records: Vec<Digest>,
    /// Where the next page starts (`None`: this was the last).
    next: Option<Uuid>,
}

fn damaged(r: &StoredRecord, e: impl std::fmt::Display) -> StoreError {
    StoreError::Damaged(format!("record {} ({}): {e}", r.id, r.kind))
}

pub async fn digests(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Query(q): Query<DigestQuery>,
) -> ApiResult<JsonReply<DigestPage>> {
    let puskesmas = code("puskesmas", &q.puskesmas)?;
    let limit = q.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let page = state
        .blocking(move |s| {
            let rows = admin::read(s, |tx| admin::scope_page(tx, &puskesmas, q.after, limit))?;
            let next = (rows.len() == limit as usize)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            let records = rows
                .iter()
                .map(|r| {
                    Ok(Digest {
                        id: r.id,
                        kind: r.kind.code(),
                        seq: r.seq,
                        digest: state_digest(&r.state).map_err(|e| damaged(r, e))?,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            if q.after.is_none() {
                admin::write(s, |tx| {
                    let detail = format!("digests of puskesmas {puskesmas} (verify)");
                    admin::audit(
                        tx,
                        &actor,
                        "verify",
                        None,
                        Some(&puskesmas),
                        &detail,
                        now_secs(),
                    )
                })?;
            }
            Ok(DigestPage { records, next })
        })
        .await?;
    Ok(JsonReply(page))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    ids: Vec<Uuid>,
}

/// A record as the server stores it, its state in hex.
#[derive(Debug, Serialize)]
pub struct ServerRecord {
    id: Uuid,
    kind: u8,
    puskesmas: String,
    seq: u64,
    state: String,
}

/// Records by id, whatever their scope (so that `verify` can say a record moved to another
/// puskesmas); ids the server does not hold are left out.
pub async fn records(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Json(q): Json<RecordsQuery>,
) -> ApiResult<JsonReply<Vec<ServerRecord>>> {
    if q.ids.len() > 1000 {
        return Err(ApiError(
            ErrorBody::new(ErrorCode::TooLarge, "at most 1000 ids per request").at("ids"),
        ));
    }
    let found = state
        .blocking(move |s| {
            admin::write(s, |tx| {
                let mut out = Vec::new();
                for id in &q.ids {
                    if let Some(r) = admin::record(tx, *id)? {
                        out.push(ServerRecord {
                            id: r.id,
                            kind: r.kind.code(),
                            puskesmas: r.puskesmas,
                            seq: r.seq,
                            state: hex::encode(&r.state),
                        });
                    }
                }
                let detail = format!("{} records read by id (verify)", out.len());
                admin::audit(tx, &actor, "records", None, None, &detail, now_secs())?;
                Ok(out)
            })
        })
        .await?;
    Ok(JsonReply(found))
}

/// A conflict of a record of the scope.
#[derive(Debug, Serialize)]
pub struct ScopeConflict {
    /// The sequence the record was last written at: conflicts come oldest first by it.
    seq: u64,
    #[serde(flatten)]
    view: field_core::ConflictView,
}

/// The scope's unresolved conflicts, the least recently written records first. Every state
/// is read (without building it) to count its conflicts; only those with one are built.
pub async fn conflicts(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<JsonReply<Vec<ScopeConflict>>> {
    let puskesmas = code("puskesmas", &q.puskesmas)?;
    let found = state
        .blocking(move |s| {
            let forms = admin::form_registry(s)?;
            let mut out = Vec::new();
            let mut after = None;
            loop {
                let rows = admin::read(s, |tx| admin::scope_page(tx, &puskesmas, after, MAX_PAGE))?;
                for r in &rows {
                    out.extend(conflicts_of(r, &forms)?);
                }
                if rows.len() < MAX_PAGE as usize {
                    break;
                }
                after = rows.last().map(|r| r.id);
            }
            out.sort_by_key(|c| (c.seq, c.view.id));
            admin::write(s, |tx| {
                let detail = format!("{} conflicts of puskesmas {puskesmas} listed", out.len());
                admin::audit(
                    tx,
                    &actor,
                    "conflicts",
                    None,
                    Some(&puskesmas),
                    &detail,
                    now_secs(),
                )
            })?;
            Ok(out)
        })
        .await?;
    Ok(JsonReply(found))
}

fn conflicts_of(r: &StoredRecord, forms: &FormRegistry) -> StoreResult<Vec<ScopeConflict>> {
    let read = DecodedState::read(&r.state).map_err(|e| damaged(r, e))?;
    if read.clone().into_summary(&policy(r.kind)).conflicts == 0 {
        return Ok(Vec::new());
    }
    let state: RecordState = read.into_state().map_err(|e| damaged(r, e))?;
    Ok(field_core::conflict_views(r.kind, r.id, &state, forms)
        .into_iter()
        .map(|view| ScopeConflict { seq: r.seq, view })
        .collect())
}

/// What a salvage or an accepted held push did.
#[derive(Debug, Serialize)]
pub struct Merged {
    /// Change groups sent.
    groups: usize,
    /// Records sent.
    records: usize,
    /// Groups that changed what the server held.
    changed: usize,
    /// Groups the server already held whole (a salvage run twice adds nothing).
    unchanged: u32,
    /// The server's newest sequence after.
    seq: u64,
}

impl Merged {
    fn of(groups: usize, records: usize, outcome: &PushOutcome) -> Merged {
        Merged {
            groups,
            records,
            changed: groups.saturating_sub(outcome.unchanged as usize),
            unchanged: outcome.unchanged,
            seq: outcome.seq,
        }
    }
}

/// The device row a push on a device's behalf is merged as: its number and scope, whether
/// it is revoked or not.
fn device_row(store: &dyn Store, id: u32) -> StoreResult<(DeviceRow, bool)> {
    let facts = admin::read(store, |tx| admin::device(tx, id))?;
    let stolen = facts.stolen;
    Ok((facts.row(), stolen))
}

#[derive(Debug, Deserialize)]
pub struct SalvageQuery {
    #[serde(default)]
    force: bool,
    /// The file's puskesmas and server epoch, as the tablet kept them.
    puskesmas: Option<String>,
    epoch: Option<Uuid>,
    /// Records rescued from a damaged file, every one whole: what the server cannot take
    /// from this device (another puskesmas's by now) is passed over, not refused with the rest.
    #[serde(default)]
    rescued: bool,
}

/// A broken or retired tablet's unsynced changes, read from its database file by
/// `cageur-admin salvage` and pushed here on its behalf (in the sync codec). Merged like any
/// push, so salvaging twice adds nothing; a tablet revoked as stolen is refused unless forced
/// (its file may have been tampered with).
pub async fn salvage(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<u32>,
    Query(q): Query<SalvageQuery>,
    RawSyncBody(body): RawSyncBody,
) -> ApiResult<JsonReply<Merged>> {
    let req: PushRequest = decode(&body)?;
    let epoch = state.store.epoch();
    if q.epoch.is_some_and(|e| e != epoch) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this tablet file follows another server database (another deployment, or a \
             database replaced since): its device number means another tablet here",
        ));
    }
    let merged = state
        .blocking(move |s| {
            let (row, stolen) = device_row(s, id)?;
            if q.puskesmas.as_ref().is_some_and(|p| *p != row.puskesmas) {
                return Err(StoreError::refused(
                    ErrorCode::Conflict,
                    format!(
                        "this tablet file is of puskesmas {}, device {id} of {}",
                        q.puskesmas.as_deref().unwrap_or("?"),
                        row.puskesmas
                    ),
                ));
            }
            if stolen && !q.force {
                return Err(StoreError::refused(
                    ErrorCode::Forbidden,
                    format!(
                        "device {id} was revoked as stolen: its file may have been altered; \
                         review it, then salvage with --force"
                    ),
                ));
            }
            let (groups, records) = (
                req.groups.len(),
                req.groups.iter().map(|g| g.records.len()).sum(),
            );
            let mut push = prepare_push(req).map_err(StoreError::Refused)?;
            if q.rescued {
                push.origin = PushOrigin::Rescued;
            }
            let outcome = s.push(&row, push)?;
            let merged = Merged::of(groups, records, &outcome);
            admin::write(s, |tx| {
                let detail = format!(
                    "salvaged {records} records in {groups} groups ({} changed the server){}",
                    merged.changed,
                    if stolen {
                        ", forced for a stolen device"
                    } else {
                        ""
                    }
                );
                admin::audit(
                    tx,
                    &actor,
                    "salvage",
                    Some(id),
                    Some(&row.puskesmas),
                    &detail,
                    now_secs(),
                )
            })?;
            Ok(merged)
        })
        .await?;
    tracing::info!(device = id, groups = merged.groups, "salvage");
    Ok(JsonReply(merged))
}

/// Merges the pushes held of a stolen device, after review. Each is merged like any push,
/// then marked: accepting twice adds nothing.
pub async fn accept_held(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Path(id): Path<u32>,
) -> ApiResult<JsonReply<Merged>> {
    let merged = state
        .blocking(move |s| {
            let (row, _) = device_row(s, id)?;
            let held = admin::read(s, |tx| admin::held_bodies(tx, id))?;
            let (mut groups, mut records, mut changed, mut unchanged, mut seq) = (0, 0, 0, 0, 0);
            let mut refused = Vec::new();
            for (held_id, body) in held {
                // One that cannot be merged (its household moved to another puskesmas since)
                // stays held, and is reported; the others are merged all the same.
                let merged = cageur_protocol::sync::decode_body::<PushRequest>(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|req| {
                        let (g, n) = (
                            req.groups.len(),
                            req.groups.iter().map(|g| g.records.len()).sum::<usize>(),
                        );
                        let push = prepare_push(req).map_err(|e| e.to_string())?;
                        let outcome = s.push(&row, push).map_err(|e| e.to_string())?;
                        Ok(Merged::of(g, n, &outcome))
                    });
                match merged {
                    Ok(m) => {
                        admin::write(s, |tx| admin::accept_held(tx, held_id, now_secs()))?;
                        (groups, records, changed, unchanged, seq) = (
                            groups + m.groups,
                            records + m.records,
                            changed + m.changed,
                            unchanged + m.unchanged,
                            m.seq,
                        );
                    }
                    Err(why) => refused.push(format!("held push {held_id}: {why}")),
                }
            }
            let merged = Merged {
                groups,
                records,
                changed,
                unchanged,
                seq,
            };
            admin::write(s, |tx| {
                let detail = format!(
                    "held pushes accepted: {records} records in {groups} groups; {} stay held",
                    refused.len()
                );
                admin::audit(
                    tx,
                    &actor,
                    "accept_held",
                    Some(id),
                    Some(&row.puskesmas),
                    &detail,
                    now_secs(),
                )
            })?;
            if !refused.is_empty() {
                return Err(StoreError::refused(
                    ErrorCode::Conflict,
                    format!(
                        "{groups} groups merged; these stay held: {}",
                        refused.join("; ")
                    ),
                ));
            }
            Ok(merged)
        })
        .await?;
    Ok(JsonReply(merged))
}

/// A form version as published.
#[derive(Debug, Serialize)]
pub struct FormInfo {
    number: u64,
    id: String,
    version: u16,
    title: String,
    /// `false`: this very definition was published before (publishing is idempotent).
    new: bool,
}

/// Publishes a new version of a screening form definition: devices receive it on their next
/// sync and use it for new visits; visits already recorded keep the version they used.
pub async fn publish_form(
    State(state): State<Arc<AppState>>,
    AdminCaller(actor): AdminCaller,
    Json(json): Json<serde_json::Value>,
) -> ApiResult<JsonReply<FormInfo>> {
    let def: FormDefinition = cageur_model::json::from_value(json).map_err(ApiError::from)?;
    def.check().map_err(ApiError::from)?;
    // A built-in version is published already, with every device.
    let mut builtins = FormRegistry::with_builtins();
    if builtins.get(&def.id, def.version).is_some() {
        builtins.add(def.clone()).map_err(ApiError::from)?;
    }
    let text = serde_json::to_string(&def).expect("form definitions serialize");
    let info = state
        .blocking(move |s| {
            admin::write(s, |tx| {
                let now = now_secs();
                let (number, new) =
                    admin::publish_form(tx, (&def.id, u32::from(def.version)), &text, &actor, now)?;
                if new {
                    let detail = format!("form {} version {} published", def.id, def.version);
                    admin::audit(tx, &actor, "form_publish", None, None, &detail, now)?;
                }
                Ok(FormInfo {
                    number,
                    id: def.id.clone(),
                    version: def.version,
                    title: def.title.clone(),
                    new,
                })
            })
        })
        .await?;
    Ok(JsonReply(info))
}

pub async fn list_forms(
    State(state): State<Arc<AppState>>,
    _: AdminCaller,
) -> ApiResult<JsonReply<Vec<FormInfo>>> {
    let forms = state
        .blocking(|s| admin::read(s, |tx| admin::forms_after(tx, 0, usize::MAX / 2)))
        .await?;
    Ok(JsonReply(
        forms
            .into_iter()
            .filter_map(|f| {
                let def: FormDefinition = cageur_model::json::parse(&f.definition).ok()?;
                Some(FormInfo {
                    number: f.number,
                    id: def.id,
                    version: def.version,
                    title: def.title,
                    new: false,
                })
            })
            .collect(),
    ))
}
