//! HTTP, byte for byte: no client library normalises what is sent, which is the point.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use cageur_protocol::sync::{ErrorBody, ErrorCode, PROTOCOL_HEADER};
use proptest::test_runner::TestCaseError;
use proptest::{prop_assert, prop_assert_eq};

use crate::bodies::Endpoint;
use crate::office::Office;

/// An answer as it came off the socket.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn text(&self) -> String {
        format!(
            "HTTP {} {}",
            self.status,
            String::from_utf8_lossy(&self.body[..self.body.len().min(2000)])
        )
    }

    /// The answer is a refusal as every refusal must be: a 4xx, JSON, an [`ErrorBody`] with
    /// a message, whose code is the one of its status.
    fn refusal(&self) -> Result<ErrorBody, TestCaseError> {
        prop_assert!(
            (400..500).contains(&self.status),
            "not a 4xx: {}",
            self.text()
        );
        prop_assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "not JSON ({:?}): {}",
            self.header("content-type"),
            self.text()
        );
        let error: ErrorBody = serde_json::from_slice(&self.body).map_err(|e| {
            TestCaseError::fail(format!("not an error body ({e}): {}", self.text()))
        })?;
        prop_assert_eq!(error.code.status(), self.status, "{}", error);
        prop_assert!(!error.message.trim().is_empty(), "{}", self.text());
        Ok(error)
    }

    /// The answer is the refusal `(status, code)`.
    pub(super) fn refused(&self, status: u16, code: ErrorCode) -> Result<ErrorBody, TestCaseError> {
        let error = self.refusal()?;
        prop_assert_eq!((self.status, error.code), (status, code), "{}", error);
        Ok(error)
    }
}

/// Sends one request on a new connection and reads the answer.
pub(super) fn exchange(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Answer {
    let mut socket = connect(addr);
    let mut head = request_head(addr, method, target, headers);
    head.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    // The server may refuse on the head and close before the body is read: a failed write
    // is not the test's concern, the answer is.
    if socket.write_all(&head).is_ok() {
        let _ = socket.write_all(body);
    }
    read_answer(&mut socket)
}

/// Sends a body of `size` zero bytes, declared by length or chunked, and reads the answer.
pub(super) fn exchange_large(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &[u8])],
    size: usize,
    chunked: bool,
) -> Answer {
    let mut socket = connect(addr);
    let mut head = request_head(addr, method, target, headers);
    if chunked {
        head.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
    } else {
        head.extend_from_slice(format!("content-length: {size}\r\n\r\n").as_bytes());
    }
    let chunk = vec![0u8; 64 * 1024];
    let mut framed = Vec::new();
    if chunked {
        framed.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    }
    framed.extend_from_slice(&chunk);
    if chunked {
        framed.extend_from_slice(b"\r\n");
    }
    if socket.write_all(&head).is_ok() {
        for _ in 0..size.div_ceil(chunk.len()) {
            if socket.write_all(&framed).is_err() {
                break;
            }
        }
        if chunked {
            let _ = socket.write_all(b"0\r\n\r\n");
        }
    }
    read_answer(&mut socket)
}

fn connect(addr: &str) -> TcpStream {
    let socket = TcpStream::connect(addr).expect("the server accepts connections");
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    socket
        .set_write_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    socket
}

fn request_head(addr: &str, method: &str, target: &str, headers: &[(&str, &[u8])]) -> Vec<u8> {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n").into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head
}

fn read_answer(socket: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    if let Err(e) = socket.read_to_end(&mut raw) {
        // A reset after the answer arrived loses nothing of it.
        assert!(!raw.is_empty(), "no answer: {e}");
    }
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head: {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: raw[end + 4..].to_vec(),
    };
    if answer
        .header("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        answer.body = dechunk(&answer.body);
    }
    answer
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&raw[..line])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .expect("a chunk size");
        if size == 0 {
            break;
        }
        let start = line + 2;
        out.extend_from_slice(&raw[start..start + size]);
        raw = &raw[start + size + 2..];
    }
    out
}

/// A request to send.
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    /// `body` to a device endpoint, with a served protocol and the credential it takes.
    pub(super) fn device(office: &Office, endpoint: Endpoint, body: Vec<u8>) -> Request {
        let mut request = Request {
            method: "POST".into(),
            target: endpoint.path(office.device.device),
            headers: vec![(PROTOCOL_HEADER.into(), b"2".to_vec())],
            body,
        };
        if let Some(credential) = endpoint.credential(office) {
            request.bearer(credential);
        }
        request
    }

    pub(super) fn bearer(&mut self, credential: &str) {
        self.headers.push((
            "authorization".into(),
            format!("Bearer {credential}").into_bytes(),
        ));
    }

    pub(super) fn protocol(mut self, version: Option<Vec<u8>>) -> Request {
        self.headers.retain(|(n, _)| n != PROTOCOL_HEADER);
        if let Some(v) = version {
            self.headers.push((PROTOCOL_HEADER.into(), v));
        }
        self
    }
}
