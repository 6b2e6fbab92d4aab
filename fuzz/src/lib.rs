//! What the fuzz targets share: the table of sync message types that the first input byte
//! selects from, and the golden record states the targets compare decoded states against.
//!
//! Kept in a library so that every target, and the seed writer (`examples/write_seeds.rs`),
//! numbers the message types alike: a seed written for selector 3 must still mean
//! `HelloResponse` when it is replayed.

use std::fmt::Debug;

use cageur_model::{FieldKey, Role, Value};
use cageur_protocol::sync::{
    Ack, EnrollRequest, EnrollResponse, HelloRequest, HelloRequestV2, HelloResponse,
    HelloResponseV2, PullRequest, PullResponse, PullResponseV2, PushRequest, PushResponse,
    PushResponseV2, ResyncedRequest, WipedRequest,
};
use cageur_protocol::{Author, RecordState};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A message that travels as a sync body: what the targets need to decode it, encode it again
/// and compare.
pub trait Message: Serialize + DeserializeOwned + PartialEq + Debug {}

impl<T: Serialize + DeserializeOwned + PartialEq + Debug> Message for T {}

/// Something to do with one message type, chosen at run time by [`with_message_type`].
/// (A generic closure cannot be passed, hence the trait.)
pub trait MessageVisitor {
    /// What the visit returns.
    type Output;
    /// Does it for message type `T`, named `name`.
    fn visit<T: Message>(self, name: &'static str) -> Self::Output;
}

/// Every message type that a server or device decodes from a sync body (requests on the
/// server, answers on the device), in a fixed order: the selector byte's meaning. Append only.
pub const MESSAGE_TYPES: &[&str] = &[
    "EnrollRequest",
    "EnrollResponse",
    "HelloRequest",
    "HelloResponse",
    "HelloRequestV2",
    "HelloResponseV2",
    "ResyncedRequest",
    "WipedRequest",
    "Ack",
    "PushRequest",
    "PushResponse",
    "PushResponseV2",
    "PullRequest",
    "PullResponse",
    "PullResponseV2",
];

/// Runs `visitor` for the message type `selector` names (taken modulo the number of types,
/// so that every byte selects one and no input is wasted).
pub fn with_message_type<V: MessageVisitor>(selector: u8, visitor: V) -> V::Output {
    let index = usize::from(selector) % MESSAGE_TYPES.len();
    let name = MESSAGE_TYPES[index];
    match index {
        0 => visitor.visit::<EnrollRequest>(name),
        1 => visitor.visit::<EnrollResponse>(name),
        2 => visitor.visit::<HelloRequest>(name),
        3 => visitor.visit::<HelloResponse>(name),
        4 => visitor.visit::<HelloRequestV2>(name),
        5 => visitor.visit::<HelloResponseV2>(name),
        6 => visitor.visit::<ResyncedRequest>(name),
        7 => visitor.visit::<WipedRequest>(name),
        8 => visitor.visit::<Ack>(name),
        9 => visitor.visit::<PushRequest>(name),
        10 => visitor.visit::<PushResponse>(name),
        11 => visitor.visit::<PushResponseV2>(name),
        12 => visitor.visit::<PullRequest>(name),
        13 => visitor.visit::<PullResponse>(name),
        14 => visitor.visit::<PullResponseV2>(name),
        _ => unreachable!("the index is taken modulo MESSAGE_TYPES.len()"),
    }
}

/// The selector byte of the message type called `name`.
pub fn selector_of(name: &str) -> Option<u8> {
    let index = MESSAGE_TYPES.iter().position(|n| *n == name)?;
    u8::try_from(index).ok()
}

/// An author on `device`, as the golden-byte tests of the protocol crate write (worker
/// `device * 10`, a nurse), so that seeds and fuzzed states share their bytes.
pub fn author(device: u32) -> Author {
    Author {
        device,
        worker: device * 10,
        role: Role::Nurse,
    }
}

/// States to merge a decoded state with: empty, one writer, and the golden tests' conflicted
/// "Siti" record (devices 7 and 9 writing field 10 concurrently). Devices 7 and 9 are the ones
/// seeds use, so a decoded state and these share actors and their clocks interleave.
pub fn reference_states() -> Vec<RecordState> {
    let mut one_writer = RecordState::new();
    one_writer.write(
        author(7),
        [
            (FieldKey(10), Value::Text("Siti".into())),
            (FieldKey(11), Value::Int(3)),
        ],
    );
    let mut other = RecordState::new();
    other.write(author(9), [(FieldKey(10), Value::Text("Sity".into()))]);
    let mut siti = one_writer.clone();
    siti.merge(other);
    vec![RecordState::new(), one_writer, siti]
}
