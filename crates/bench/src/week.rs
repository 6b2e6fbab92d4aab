//! The "week offline" workload of the sync benchmark, in a form both engines can replay: our
//! sync (field-core replicas and a real cageur-server) and the baseline, Automerge 0.12's
//! sync protocol ([`crate::automerge_sync`]).

use serde_json::{Map, Value};
use uuid::Uuid;

/// One record: its id and its entity JSON (an object).
pub type RecordJson = (Uuid, Map<String, Value>);

/// A change of one scalar field of a record; `path` walks nested objects (`address.street`).
#[derive(Debug, Clone)]
pub struct FieldEdit {
    pub record: Uuid,
    pub path: Vec<String>,
    pub value: Value,
}

/// What two teams of one puskesmas did in a week, starting from a shared scope.
#[derive(Debug, Clone, Default)]
pub struct WeekWorkload {
    /// The puskesmas's records before the week; both teams hold all of them, in sync.
    pub base: Vec<RecordJson>,
    /// Team A's new records of the week (visits, with their referrals).
    pub a_new: Vec<RecordJson>,
    /// Team A's edits of existing records.
    pub a_edits: Vec<FieldEdit>,
    /// Team B's edits: each sets a field that A also set, to another value.
    pub b_edits: Vec<FieldEdit>,
}
