//! The HTTP side of the sync client: one request, its protocol headers and body, and retries
//! with backoff when the network or the server fails in a way that may pass.

use std::time::Duration;

use cageur_protocol::sync::{
    BODY_CONTENT_TYPE, ErrorBody, ErrorCode, MAX_BODY_BYTES, PROTOCOL_HEADER, PROTOCOL_VERSION,
    decode_body, encode_body,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{FieldError, Result};

/// How hard the client tries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each later one.
    pub first_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Longest a single request may take, connecting included.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Bytes a sync moved, compressed, as on the wire (bodies only), and how its requests fared.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Request bodies sent.
    pub bytes_up: u64,
    /// Response bodies received.
    pub bytes_down: u64,
    /// Requests that got an answer.
    pub round_trips: u32,
    /// Attempts that failed in a way worth retrying (network errors, 5xx), and were retried.
    pub retries: u32,
    /// How long each answered request took, in milliseconds, for latency percentiles.
    #[serde(skip)]
    pub request_ms: Vec<u32>,
}

/// How a sync request reaches the server: HTTP ([`HttpTransport`]) on a tablet; an
/// in-process server in the deterministic simulator, which also injects faults there.
pub trait Transport: Send {
    /// Posts an encoded request `body` to `path` (`/v1/push`), with the device's bearer
    /// `credential` if it has one and the protocol headers; returns the answer's HTTP status
    /// and body, or why no answer came (a network error: retried with backoff).
    fn post(
        &mut self,
        path: &str,
        credential: Option<&str>,
        body: &[u8],
    ) -> std::result::Result<(u16, Vec<u8>), String>;
}

/// The tablet's transport: HTTP to the server's URL.
#[derive(Debug)]
pub struct HttpTransport {
    agent: ureq::Agent,
    base: String,
}

impl HttpTransport {
    /// A transport to the server at `base` (`http://host:port`), each request bounded by
    /// `timeout`, connecting included.
    pub fn new(base: &str, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_owned(),
        }
    }
}

impl Transport for HttpTransport {
    fn post(
        &mut self,
        path: &str,
        credential: Option<&str>,
        body: &[u8],
    ) -> std::result::Result<(u16, Vec<u8>), String> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .agent
            .post(&url)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .header("content-type", BODY_CONTENT_TYPE);
        if let Some(credential) = credential {
            request = request.header("authorization", format!("Bearer {credential}"));
        }
        let mut response = request.send(body).map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES as u64)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        Ok((status, bytes))
    }
}

/// A client of one server.
pub(crate) struct Client {
    transport: Box<dyn Transport>,
    credential: Option<String>,
    retry: RetryPolicy,
    pub(crate) traffic: Traffic,
}

impl Client {
    pub(crate) fn new(
        transport: Box<dyn Transport>,
        credential: Option<String>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            transport,
            credential,
            retry,
            traffic: Traffic::default(),
        }
    }

    /// Sends `request` to `path` and decodes the answer, retrying what may pass.
    pub(crate) fn call<Q: Serialize, A: DeserializeOwned>(
        &mut self,
        path: &str,
        request: &Q,
    ) -> Result<A> {
        let body = encode_body(request);
        let mut wait = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            match self.once(path, &body) {
                Ok(answer) => return Ok(answer),
                Err(e) if attempt < self.retry.attempts && retryable(&e) => {
                    self.traffic.retries += 1;
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(self.retry.max_backoff);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn once<A: DeserializeOwned>(&mut self, path: &str, body: &[u8]) -> Result<A> {
        let started = std::time::Instant::now();
        let (status, bytes) = self
            .transport
            .post(path, self.credential.as_deref(), body)
            .map_err(FieldError::Network)?;
        self.traffic.bytes_up += body.len() as u64;
        self.traffic.bytes_down += bytes.len() as u64;
        self.traffic.round_trips += 1;
        let took = started.elapsed().as_millis();
        self.traffic
            .request_ms
            .push(u32::try_from(took).unwrap_or(u32::MAX));
        if status != 200 {
            let error = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
                ErrorBody::new(
                    if status >= 500 {
                        ErrorCode::Unavailable
                    } else {
                        ErrorCode::BadRequest
                    },
                    format!("the server answered HTTP {status} without an error body"),
                )
            });
            return Err(FieldError::Server(error));
        }
        decode_body(&bytes).map_err(|e| FieldError::Network(format!("the server's answer: {e}")))
    }
}

fn retryable(e: &FieldError) -> bool {
    match e {
        FieldError::Network(_) => true,
        FieldError::Server(body) => body.code.is_retryable(),
        _ => false,
    }
}
