//! Sync bodies in and out of handlers: postcard + zstd, with the protocol's limits.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cageur_protocol::sync::{
    BODY_CONTENT_TYPE, BodyError, ErrorBody, ErrorCode, decode_body, encode_body,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A request body decoded as protocol message `T`, with its bytes as they came (compressed).
#[derive(Debug)]
pub struct SyncBody<T>(pub T, pub Bytes);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for SyncBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawSyncBody(bytes) = RawSyncBody::from_request(req, state).await?;
        Ok(SyncBody(decode(&bytes)?, bytes))
    }
}

/// A request body within the size limit, not decoded yet: for a handler that decodes it as
/// the message of the protocol version the request speaks.
#[derive(Debug)]
pub struct RawSyncBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawSyncBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ErrorCode::TooLarge,
                    "the body is larger than the server accepts",
                )
            } else {
                ApiError::new(ErrorCode::BadRequest, e.body_text())
            }
        })?;
        Ok(RawSyncBody(bytes))
    }
}

/// Decodes a sync body as message `T`, refusing it with the error a client can act on.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    decode_body(bytes).map_err(|e| {
        let code = match e {
            BodyError::TooLarge(_) | BodyError::DecodedTooLarge => ErrorCode::TooLarge,
            BodyError::Compression(_) | BodyError::Message(_) => ErrorCode::InvalidBody,
        };
        ApiError(ErrorBody::new(code, e.to_string()).at("body"))
    })
}

/// A protocol message as a response body.
#[derive(Debug)]
pub struct SyncReply<T>(pub T);

impl<T: Serialize> IntoResponse for SyncReply<T> {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, BODY_CONTENT_TYPE)],
            encode_body(&self.0),
        )
            .into_response()
    }
}

/// A query string decoded as `T`; a bad one is a JSON error naming what is wrong, like
/// every other refusal.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError(ErrorBody::new(ErrorCode::BadRequest, e.body_text()).at("query")))
    }
}

/// A JSON body decoded as `T`; a bad one is a JSON error naming what is wrong.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| Json(j.0))
            .map_err(|e| {
                let code = if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ErrorCode::TooLarge
                } else {
                    ErrorCode::BadRequest
                };
                ApiError(ErrorBody::new(code, e.body_text()).at("body"))
            })
    }
}

/// A path parameter decoded as `T` (a device number); a bad one is a JSON error.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError(ErrorBody::new(ErrorCode::BadRequest, e.body_text()).at("path")))
    }
}
