//! The sync protocol (versions 1 and 2): the messages a device and the server exchange, their binary
//! body format, limits and error codes. docs/protocol.md describes the exchange with an
//! example of every message.
//!
//! In short: the server orders everything it accepts by a monotonic sequence. A device
//! pushes the records its users changed (grouped by the user action that changed them, most
//! urgent first) and pulls, by cursor and in pages, every record of its puskesmas that changed
//! since. Records travel as whole CRDT states (or a part of one: a delta), so applying
//! anything twice, or in any order, changes nothing.

mod body;
mod error;
mod messages;

pub use body::{BodyError, decode_body, encode_body};
pub use error::{ErrorBody, ErrorCode};
pub use messages::{
    Ack, ChangeGroup, Command, Cursor, EnrollRequest, EnrollResponse, HelloRequest, HelloRequestV2,
    HelloResponse, HelloResponseV2, MAX_ERROR_CHARS, PublishedForm, PullRequest, PullResponse,
    PullResponseV2, PushRequest, PushResponse, PushResponseV2, ResyncedRequest, SyncSummary,
    WipedRequest, WireRecord,
};

/// The protocol version this code speaks, sent in [`PROTOCOL_HEADER`] on every request.
///
/// - 1: the first release.
/// - 2: the hello reports the previous sync and the forms the device holds, and answers with
///   newly published forms; `/v1/resynced` and `/v1/wiped` report commands carried out.
pub const PROTOCOL_VERSION: u16 = 2;

/// Most published forms one hello answer carries.
pub const MAX_FORMS_PER_HELLO: usize = 32;

/// Oldest protocol version the server still serves.
pub const MIN_PROTOCOL_VERSION: u16 = 1;

/// Request header that carries the client's protocol version.
pub const PROTOCOL_HEADER: &str = "cageur-protocol";

/// Media type of sync bodies: a [`PROTOCOL_VERSION`] message as postcard, zstd-compressed.
pub const BODY_CONTENT_TYPE: &str = "application/vnd.cageur.sync.v1+postcard";

/// Largest compressed body either side accepts.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Largest decompressed body either side accepts (a guard against compression bombs).
pub const MAX_DECODED_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Most records in one push request. A change group never spans requests, and its members
/// always sit at one server sequence, so this also bounds what one pull page must carry.
pub const MAX_PUSH_RECORDS: usize = 2_000;

/// Most records in one change group (one user action: a visit, its referrals and follow-ups).
pub const MAX_GROUP_RECORDS: usize = 64;

/// The size a pull page aims at (encoded states, before compression). A page closes at the
/// first sequence boundary past it, so that a change group is never split.
pub const PULL_PAGE_TARGET_BYTES: usize = 1024 * 1024;

/// Most records a pull page carries, whole groups permitting.
pub const PULL_PAGE_MAX_RECORDS: usize = 5_000;

/// The version of what record states mean and how they are encoded, sent with every push.
/// The server accepts this version and the one before it, upgrading the older.
///
/// - 1: field numbers and types of the first release; states in envelope format 1.
/// - 2: states in envelope format 2 (`envelope::FORMAT_V2`: one stamp per write).
pub const RECORD_SCHEMA: u32 = 2;
