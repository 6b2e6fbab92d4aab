//! The HTTP surface: device sync under `/v1`, the admin API under `/admin/v1`, and `/health`.

mod admin;
mod device;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cageur_protocol::sync::{
    ErrorBody, ErrorCode, MAX_BODY_BYTES, MIN_PROTOCOL_VERSION, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use serde_json::{Value, json};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The whole application.
pub fn router(state: Arc<AppState>) -> Router {
    let device = Router::new()
        .route("/enroll", post(device::enroll))
        .route("/hello", post(device::hello))
        .route("/push", post(device::push))
        .route("/offer", post(device::offer))
        .route("/pull", post(device::pull))
        .route("/resynced", post(device::resynced))
        .route("/wiped", post(device::wiped))
        .layer(middleware::from_fn(check_protocol));
    let admin = Router::new()
        .route("/puskesmas", post(admin::add_puskesmas))
        .route("/teams", post(admin::add_team))
        .route("/devices", get(admin::list_devices))
        .route("/devices/enroll", post(admin::enroll_device))
        .route("/devices/{id}", get(admin::device_show))
        .route("/devices/{id}/revoke", post(admin::revoke_device))
        .route("/devices/{id}/resync", post(admin::request_resync))
        .route("/devices/{id}/replace", post(admin::replace_device))
        .route("/devices/{id}/salvage", post(admin::salvage))
        .route("/devices/{id}/held", get(admin::device_held))
        .route("/devices/{id}/held/accept", post(admin::accept_held))
        .route("/status", get(admin::status))
        .route("/audit", get(admin::audit))
        .route("/forms", get(admin::list_forms).post(admin::publish_form))
        .route("/digests", get(admin::digests))
        .route("/records", post(admin::records))
        .route("/conflicts", get(admin::conflicts))
        .route("/export", get(admin::export));
    Router::new()
        .route("/health", get(health))
        .nest("/v1", device)
        .nest("/admin/v1", admin)
        .fallback(no_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Request lines only: paths carry device numbers and codes, never personal data.
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn health(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let seq = state.blocking(|s| s.newest_seq()).await?;
    Ok(Json(json!({
        "status": "ok",
        "epoch": state.store.epoch(),
        "seq": seq,
        "protocol": PROTOCOL_VERSION,
        "store": state.store.kind(),
    })))
}

/// A path the server does not serve: a JSON refusal like every other, not axum's empty 404.
async fn no_endpoint(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no endpoint {method} {}", shown_path(&uri)),
    )
}

/// A served path asked with a method it does not take: 405 (axum adds the `Allow` header
/// naming the methods it takes) with a JSON body. No error code is 405's own, and clients
/// never send this: the code says the request is malformed.
async fn wrong_method(method: Method, uri: Uri) -> Response {
    let body = ErrorBody::new(
        ErrorCode::BadRequest,
        format!(
            "{} does not take {method} (the Allow header names what it takes)",
            shown_path(&uri)
        ),
    );
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// A request's path for a refusal's message: at most 100 characters, no query string.
fn shown_path(uri: &Uri) -> String {
    uri.path().chars().take(100).collect()
}

/// The sync protocol version a request speaks (checked by [`check_protocol`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol(pub u16);

/// Refuses a client that speaks a protocol this server does not, with a message that tells
/// it to update, before anything else is read; passes the version on to the handler.
///
/// Every refusal says "update the app" (docs/protocol.md promises it): a header that is
/// missing, or holds no version this server can read ("2.0", a number past `u16`), is an app
/// too old or too new for it, as much as an unserved number is.
async fn check_protocol(mut req: Request, next: Next) -> Result<Response, ApiError> {
    let Some(header) = req.headers().get(PROTOCOL_HEADER) else {
        return Err(protocol_refused(format_args!(
            "and the request has no {PROTOCOL_HEADER} header"
        )));
    };
    let version = header
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u16>().ok());
    match version {
        Some(v) if (MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&v) => {
            req.extensions_mut().insert(Protocol(v));
            Ok(next.run(req).await)
        }
        Some(v) => Err(protocol_refused(format_args!("not {v}"))),
        // Not echoed: a header is the client's bytes, and a refusal is logged.
        None => Err(protocol_refused(format_args!(
            "and the {PROTOCOL_HEADER} header is not a version number"
        ))),
    }
}

/// The refusal of [`check_protocol`], built only when a request is refused.
fn protocol_refused(what: std::fmt::Arguments<'_>) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedProtocol,
        format!(
            "this server speaks sync protocol {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}, \
             {what}: update the app"
        ),
    )
}
