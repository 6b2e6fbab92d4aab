//! The admin API over HTTP: JSON in and out; an error answer becomes an error that carries
//! the server's message and stable code.

use anyhow::{Context, bail};
use cageur_protocol::sync::ErrorBody;
use serde_json::Value;

/// Largest answer read (an export of a large puskesmas fits).
const MAX_ANSWER_BYTES: u64 = 2 * 1024 * 1024 * 1024;

pub struct Api {
    agent: ureq::Agent,
    base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: String) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes())
            .with_context(|| format!("reaching {}", self.base))?;
        json_of(finish(response)?)
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        json_of(self.get_bytes(path, &[])?)
    }

    /// `GET path?query`, the query's values encoded.
    pub fn get_query(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        json_of(self.get_bytes(path, query)?)
    }

    pub fn get_bytes(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Vec<u8>> {
        let mut request = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token));
        for (key, value) in query {
            request = request.query(*key, value);
        }
        let response = request
            .call()
            .with_context(|| format!("reaching {}", self.base))?;
        finish(response)
    }

    /// `GET path?query`, the answer streamed into `out` with `progress(bytes so far, bytes in
    /// all if the server said)`: for exports of a large puskesmas.
    pub fn get_to(
        &self,
        path: &str,
        query: &[(&str, String)],
        out: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> anyhow::Result<u64> {
        use std::io::Read;
        let mut request = self
            .agent
            .get(&format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token));
        for (key, value) in query {
            request = request.query(*key, value);
        }
        let mut response = request
            .call()
            .with_context(|| format!("reaching {}", self.base))?;
        if response.status().as_u16() != 200 {
            finish(response)?;
            bail!("the server refused");
        }
        let total = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let mut reader = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .reader();
        let mut buf = vec![0u8; 64 * 1024];
        let mut done = 0u64;
        loop {
            let n = reader
                .read(&mut buf)
                .context("reading the server's answer")?;
            if n == 0 {
                return Ok(done);
            }
            out.write_all(&buf[..n]).context("writing the export")?;
            done += n as u64;
            progress(done, total);
        }
    }

    /// Posts a sync protocol message (postcard + zstd: record states are binary); the
    /// answer is JSON.
    pub fn post_sync<T: serde::Serialize>(
        &self,
        path: &str,
        query: &[(&str, String)],
        message: &T,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", cageur_protocol::sync::BODY_CONTENT_TYPE);
        for (key, value) in query {
            request = request.query(*key, value);
        }
        let response = request
            .send(cageur_protocol::sync::encode_body(message).as_slice())
            .with_context(|| format!("reaching {}", self.base))?;
        json_of(finish(response)?)
    }
}

fn finish(mut response: ureq::http::Response<ureq::Body>) -> anyhow::Result<Vec<u8>> {
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER_BYTES)
        .read_to_vec()
        .context("reading the server's answer")?;
    if status != 200 {
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(error) => return Err(Refused(error).into()),
            Err(_) => bail!("the server answered HTTP {status}"),
        }
    }
    Ok(bytes)
}

/// The server refused a request; its stable code says why.
#[derive(Debug)]
pub struct Refused(pub ErrorBody);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the server refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

fn json_of(bytes: Vec<u8>) -> anyhow::Result<Value> {
    serde_json::from_slice(&bytes).context("the server's answer is not JSON")
}
