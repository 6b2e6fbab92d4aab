//! Raw postcard of every sync message type, as `decode_body` reads it once decompressed.
//!
//! Input: one selector byte (which message type, see `cageur_fuzz::MESSAGE_TYPES`), then the
//! postcard bytes. Fuzzing through zstd would spend nearly every input on frames that do not
//! decompress; here every input reaches the message decoder, which is where a hostile body
//! ends up on the server (and a hostile answer on a device).
//!
//! Checks: decoding never panics; what decodes encodes again, as a body and as postcard, and
//! decodes to the same message (a message that does not survive its own encoding would be
//! lost, or changed, between device and server); and re-encoding is stable.

#![no_main]

use cageur_fuzz::{Message, MessageVisitor, with_message_type};
use cageur_protocol::sync::{decode_body, encode_body};
use libfuzzer_sys::fuzz_target;

struct RoundTrip<'a>(&'a [u8]);

impl MessageVisitor for RoundTrip<'_> {
    type Output = ();

    fn visit<T: Message>(self, name: &'static str) {
        // What `decode_body` does after decompressing: the whole input, nothing trailing.
        let Ok((message, rest)) = postcard::take_from_bytes::<T>(self.0) else {
            return;
        };
        if !rest.is_empty() {
            return;
        }
        let raw = postcard::to_allocvec(&message).expect("a decoded message encodes");
        let again: T = postcard::from_bytes(&raw)
            .unwrap_or_else(|e| panic!("{name}: re-encoded postcard does not decode: {e}"));
        assert_eq!(
            again, message,
            "{name}: postcard round trip changed the message"
        );
        assert_eq!(
            postcard::to_allocvec(&again).expect("encodes"),
            raw,
            "{name}: re-encoding is not stable"
        );
        // A message read from bytes must be encodable as a body, and decode from it.
        let body = encode_body(&message);
        let from_body = decode_body::<T>(&body)
            .unwrap_or_else(|e| panic!("{name}: encoded body does not decode: {e}"));
        assert_eq!(
            from_body, message,
            "{name}: body round trip changed the message"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    with_message_type(selector, RoundTrip(payload));
});
