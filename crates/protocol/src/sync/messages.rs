//! The messages of the sync protocol. Every field is documented with what the receiver does
//! with it; docs/protocol.md shows an example of each. Protocol 2 changed only the hello
//! ([`HelloRequestV2`], [`HelloResponseV2`]) and added `/v1/resynced` and `/v1/wiped`; the
//! other messages are the same in both, so a tablet of protocol 1 keeps pushing and pulling.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DeviceNumber;

/// One record's state (or a delta of it) on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRecord {
    /// The record kind's stable code (`cageur_model::RecordKind::code`).
    pub kind: u8,
    /// The record's id, the same on every replica.
    pub id: Uuid,
    /// The record's state in the envelope of [`crate::envelope`]. It may be a delta (only the
    /// fields changed since the receiver last had the record); merging either is the same.
    #[serde(with = "serde_bytes")]
    pub state: Vec<u8>,
}

/// The records one user action changed, which must arrive on other devices all together or
/// not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeGroup {
    /// The device's number for the action; the server's acknowledgement names it.
    pub change_seq: i64,
    /// The records the action changed (at most [`super::MAX_GROUP_RECORDS`]).
    pub records: Vec<WireRecord>,
}

/// A position in the server's sequence, as a device keeps it between pulls.
///
/// `token` is a random number the server drew for the change at `seq`: a server restored
/// from an older backup has either no change at `seq` or another token there, so a device
/// notices that the server lost what it had acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Everything of the device's scope up to and including this sequence was received.
    pub seq: u64,
    /// The server's token of `seq` (0 with `seq` 0).
    pub token: u64,
}

/// `POST /v1/enroll`: a new tablet exchanges the one-time code the health office gave it for
/// its own credential. Sent without authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The enrollment code, as printed by `cageur-admin device enroll`.
    pub code: String,
    /// The app's version, for the health office's device list.
    pub app_version: String,
    /// The device database's schema version.
    pub schema: u32,
}

/// The answer to [`EnrollRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// The device's number: its CRDT actor, unique among all devices.
    pub device: DeviceNumber,
    /// The device's bearer credential; the server keeps only its hash.
    pub credential: String,
    /// The puskesmas whose records the device holds.
    pub puskesmas: String,
    /// The team the device belongs to.
    pub team: String,
    /// The server database's identity.
    pub epoch: Uuid,
}

/// `POST /v1/hello`: the first request of every sync. The device reports its state (shown to
/// the health office) and learns what the server wants of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloRequest {
    /// The app's version.
    pub app_version: String,
    /// The device database's schema version.
    pub schema: u32,
    /// Records waiting to be pushed.
    pub pending: u64,
    /// Of those, referrals and visits with a danger sign.
    pub pending_urgent: u64,
}

/// Something the health office asked of this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Rebuild the replica from the server, after pushing every unacknowledged change.
    Resync,
    /// Push what is unsynced, then delete the local data.
    Wipe,
}

/// The answer to [`HelloRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloResponse {
    /// The server database's identity.
    pub epoch: Uuid,
    /// The server's newest sequence.
    pub seq: u64,
    /// What the device must do in this sync.
    pub commands: Vec<Command>,
}

/// How a device's previous sync went, as the device saw it: reported in its next hello, for
/// the health office's sync history (a connection cut mid-sync is known only to the device).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSummary {
    /// Records pushed and acknowledged.
    pub pushed: u64,
    /// Records received.
    pub pulled: u64,
    /// Compressed bytes sent.
    pub bytes_up: u64,
    /// Compressed bytes received.
    pub bytes_down: u64,
    /// Whether it ran to the end.
    pub finished: bool,
    /// Why it stopped, when it did not finish (at most [`MAX_ERROR_CHARS`] characters;
    /// never personal data: network and server errors only).
    pub error: Option<String>,
}

/// Longest error text a [`SyncSummary`] carries.
pub const MAX_ERROR_CHARS: usize = 200;

/// `POST /v1/hello` in protocol 2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloRequestV2 {
    /// The app's version.
    pub app_version: String,
    /// The record schema the app speaks.
    pub schema: u32,
    /// Records waiting to be pushed.
    pub pending: u64,
    /// Of those, referrals and visits with a danger sign.
    pub pending_urgent: u64,
    /// Of those, referrals: a tablet holding an unsent referral is shown first.
    pub pending_referrals: u64,
    /// The number of the newest form the health office published that this device holds
    /// (0: none); the answer carries the ones after it.
    pub forms_seen: u64,
    /// The previous sync, as this device saw it (`None` before its first).
    pub previous: Option<SyncSummary>,
    /// The newest point of the server's history at which a push of this device was made
    /// durable (`Cursor::default()`: none yet). A server restored from a backup taken before
    /// it does not have it, and says so: the device then pushes again what it wrote, which
    /// the pull cursor alone would miss when the device had not pulled past the backup.
    pub acknowledged: Cursor,
}

/// A screening form version the health office published, as devices receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedForm {
    /// Publication number, increasing: the device keeps the newest it holds.
    pub number: u64,
    /// The `FormDefinition` as JSON.
    pub definition: String,
}

/// The answer to [`HelloRequestV2`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloResponseV2 {
    /// The server database's identity.
    pub epoch: Uuid,
    /// The server's newest sequence.
    pub seq: u64,
    /// What the device must do in this sync.
    pub commands: Vec<Command>,
    /// Forms published after the request's `forms_seen`, oldest first (at most
    /// [`super::MAX_FORMS_PER_HELLO`]; the next hello brings the rest).
    pub forms: Vec<PublishedForm>,
    /// The server does not have the request's `acknowledged` point of its history: it lost
    /// pushes this device made (a restored backup). Pull from the start and push every
    /// record again.
    pub timeline_changed: bool,
}

/// `POST /v1/resynced` (protocol 2): the device rebuilt its replica from the server, as the
/// resync requested at `requested_at` asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncedRequest {
    /// Records the rebuilt replica holds.
    pub records: u64,
    /// Records the device held that the server's scope does not (set aside on the device,
    /// not deleted).
    pub set_aside: u64,
}

/// `POST /v1/wiped` (protocol 2): the device deleted its local data, as its revocation asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipedRequest {
    /// Records it had pushed before wiping, in the sync that wiped it.
    pub pushed: u64,
}

/// The answer to a report that needs none but its acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {}

/// `POST /v1/push`: records changed on the device, grouped by user action, most urgent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The schema version the states were written under; one version behind is upgraded.
    pub schema: u32,
    /// How far the device has pulled. A record the device holds up to date (stored at or
    /// before this cursor, or last written by this device alone) comes out of the merge as
    /// exactly the device's state, so the server does not send it back.
    pub cursor: Cursor,
    /// The change groups (at most [`super::MAX_PUSH_RECORDS`] records in all).
    pub groups: Vec<ChangeGroup>,
}

/// The answer to [`PushRequest`], sent only once every accepted group is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The server database's identity.
    pub epoch: Uuid,
    /// The `change_seq` of every group now durable on the server (all of them: a push is
    /// accepted whole or refused whole).
    pub accepted: Vec<i64>,
    /// Groups whose every record the server already contained.
    pub unchanged: u32,
    /// The server's newest sequence after the push.
    pub seq: u64,
}

/// The answer to [`PushRequest`] in protocol 2: [`PushResponse`] with the token of `seq`,
/// which the device keeps as its `acknowledged` point (see [`HelloRequestV2`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponseV2 {
    /// The server database's identity.
    pub epoch: Uuid,
    /// The `change_seq` of every group now durable on the server.
    pub accepted: Vec<i64>,
    /// Groups whose every record the server already contained.
    pub unchanged: u32,
    /// The server's newest sequence after the push, and its token.
    pub acknowledged: Cursor,
}

/// `POST /v1/pull`: the next page of the device's scope after its cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// Where the device is; `Cursor::default()` for a new device (bootstrap).
    pub cursor: Cursor,
    /// A smaller page than the server's default, for a poor connection (bytes of states).
    pub max_bytes: Option<u32>,
}

/// One page of a pull in protocol 2: [`PullResponse`] with the records that left the
/// device's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponseV2 {
    /// The server database's identity.
    pub epoch: Uuid,
    /// Records changed after the request's cursor, whole change groups only.
    pub records: Vec<WireRecord>,
    /// Records that left the device's puskesmas (their household moved to another one)
    /// after the request's cursor: the device drops them, once it has pushed any change of
    /// theirs it still holds (the server takes it: it was made while they were its).
    pub departed: Vec<Uuid>,
    /// The cursor to keep once this page is merged (in the same transaction).
    pub next: Cursor,
    /// Records of the scope still after `next` when the page was read, for progress.
    pub remaining: u64,
}

/// One page of a pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullResponse {
    /// The server database's identity.
    pub epoch: Uuid,
    /// Records changed after the request's cursor, whole change groups only.
    pub records: Vec<WireRecord>,
    /// The cursor to keep once this page is merged (in the same transaction).
    pub next: Cursor,
    /// Records of the scope still after `next` when the page was read, for progress.
    pub remaining: u64,
}
