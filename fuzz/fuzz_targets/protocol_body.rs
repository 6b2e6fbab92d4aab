//! Sync bodies through `decode_body`, the function the server and the device call on the
//! bytes they receive: zstd framing, the decoded-size cap, postcard and the trailing-bytes rule.
//!
//! Input: one selector byte (which message type, see `cageur_fuzz::MESSAGE_TYPES`), then
//! bytes used twice:
//! - as the body itself, which exercises the zstd frame parser and the caps (mostly refused
//!   as not zstd, which is the point: refusing must never panic);
//! - compressed by the target first, so that a valid frame carries fuzzed postcard: then
//!   `decode_body` must agree exactly with postcard reading the same bytes whole (the framing
//!   neither loses nor invents messages, and trailing bytes are always refused).
//!
//! Whatever decodes must survive `encode_body` and decode to the same message.

#![no_main]

use cageur_fuzz::{Message, MessageVisitor, with_message_type};
use cageur_protocol::sync::{BodyError, decode_body, encode_body};
use libfuzzer_sys::fuzz_target;

struct Body<'a>(&'a [u8]);

fn assert_round_trips<T: Message>(name: &str, message: &T) {
    let again = decode_body::<T>(&encode_body(message))
        .unwrap_or_else(|e| panic!("{name}: re-encoded body does not decode: {e}"));
    assert_eq!(
        &again, message,
        "{name}: body round trip changed the message"
    );
}

impl MessageVisitor for Body<'_> {
    type Output = ();

    fn visit<T: Message>(self, name: &'static str) {
        if let Ok(message) = decode_body::<T>(self.0) {
            assert_round_trips(name, &message);
        }

        // Level 1: the target's own compression is not under test, only its output.
        let body = zstd::bulk::compress(self.0, 1).expect("compressing to memory cannot fail");
        let expected = match postcard::take_from_bytes::<T>(self.0) {
            Ok((message, [])) => Some(message),
            _ => None,
        };
        match decode_body::<T>(&body) {
            Ok(message) => {
                assert_eq!(
                    Some(&message),
                    expected.as_ref(),
                    "{name}: the body decoded to another message than its postcard"
                );
                assert_round_trips(name, &message);
            }
            Err(BodyError::Message(_)) => assert!(
                expected.is_none(),
                "{name}: a body holding a valid message was refused"
            ),
            // Inputs are far below both caps, and the frame is one zstd just wrote.
            Err(other) => panic!("{name}: a valid zstd frame was refused: {other}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    with_message_type(selector, Body(payload));
});
