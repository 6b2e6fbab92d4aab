//! Where new records' ids come from.

use uuid::Uuid;

/// A source of ids for new records: [`RandomIds`] on a tablet; a seeded stream in the
/// deterministic simulator, so that a run replays exactly from its seed. Ids are unique
/// across devices because they are random; nothing orders anything by them but indexes.
pub trait IdSource: Send {
    /// The next id, never given out before.
    fn next_id(&mut self) -> Uuid;
}

/// UUIDv7: random, and time-ordered so that new records sit together in the indexes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_id(&mut self) -> Uuid {
        Uuid::now_v7()
    }
}
