//! Sync bodies: a message as postcard, compressed with zstd. Binary because record states are
//! binary (base64 in JSON would cost a third more before compression); compressed as one
//! stream because records of a kind share most of their bytes.

use std::io::Read;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{MAX_BODY_BYTES, MAX_DECODED_BODY_BYTES};

/// zstd level for bodies: level 3 compresses record states about as well as level 9 at a
/// fraction of the CPU, which matters on a tablet and on a server answering 200 of them.
const ZSTD_LEVEL: i32 = 3;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    /// The compressed body is larger than [`MAX_BODY_BYTES`] (its size is carried).
    #[error("body is {0} bytes; at most {MAX_BODY_BYTES} are accepted")]
    TooLarge(usize),
    /// The body decompresses to more than [`MAX_DECODED_BODY_BYTES`].
    #[error("body decompresses to more than {MAX_DECODED_BODY_BYTES} bytes")]
    DecodedTooLarge,
    /// Not a zstd stream.
    #[error("body is not zstd-compressed: {0}")]
    Compression(String),
    /// Not a message of the expected type.
    #[error("body is not a valid message: {0}")]
    Message(String),
}

/// Encodes a message as a body.
pub fn encode_body<T: Serialize>(message: &T) -> Vec<u8> {
    let raw = postcard::to_allocvec(message).expect("protocol messages serialize");
    zstd::bulk::compress(&raw, ZSTD_LEVEL).expect("compressing to memory cannot fail")
}

/// Decodes a body, refusing anything over the limits before it is fully read.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge(body.len()));
    }
    let decoder = zstd::stream::read::Decoder::new(body)
        .map_err(|e| BodyError::Compression(e.to_string()))?;
    let mut raw = Vec::new();
    decoder
        .take(MAX_DECODED_BODY_BYTES as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| BodyError::Compression(e.to_string()))?;
    if raw.len() > MAX_DECODED_BODY_BYTES {
        return Err(BodyError::DecodedTooLarge);
    }
    let (message, rest) =
        postcard::take_from_bytes(&raw).map_err(|e| BodyError::Message(e.to_string()))?;
    if !rest.is_empty() {
        return Err(BodyError::Message(format!(
            "{} bytes after the message",
            rest.len()
        )));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{Cursor, PullRequest, PushRequest};

    #[test]
    fn a_message_survives_encoding() {
        let msg = PullRequest {
            cursor: Cursor { seq: 42, token: 7 },
            max_bytes: Some(1000),
        };
        assert_eq!(decode_body::<PullRequest>(&encode_body(&msg)), Ok(msg));
    }

    #[test]
    fn garbage_is_a_compression_error() {
        assert!(matches!(
            decode_body::<PullRequest>(b"not zstd at all"),
            Err(BodyError::Compression(_))
        ));
    }

    #[test]
    fn another_message_type_is_refused() {
        let body = encode_body(&PullRequest {
            cursor: Cursor::default(),
            max_bytes: None,
        });
        assert!(matches!(
            decode_body::<PushRequest>(&body),
            Err(BodyError::Message(_))
        ));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut raw = postcard::to_allocvec(&Cursor { seq: 1, token: 2 }).unwrap();
        raw.extend_from_slice(&[0, 0, 0]);
        let body = zstd::bulk::compress(&raw, 3).unwrap();
        assert!(matches!(
            decode_body::<Cursor>(&body),
            Err(BodyError::Message(m)) if m.contains("3 bytes after")
        ));
    }

    #[test]
    fn a_compression_bomb_is_refused() {
        let zeros = vec![0u8; MAX_DECODED_BODY_BYTES + 10];
        let body = zstd::bulk::compress(&zeros, 3).unwrap();
        assert!(body.len() < MAX_BODY_BYTES);
        assert_eq!(
            decode_body::<PullRequest>(&body),
            Err(BodyError::DecodedTooLarge)
        );
    }

    #[test]
    fn an_oversized_body_is_refused_unread() {
        let body = vec![0u8; MAX_BODY_BYTES + 1];
        assert_eq!(
            decode_body::<PullRequest>(&body),
            Err(BodyError::TooLarge(MAX_BODY_BYTES + 1))
        );
    }
}
