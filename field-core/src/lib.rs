//! field-core: the library a Cageur Jasa tablet embeds.
//!
//! A team records households, people, visits with their screenings, referrals and follow-ups
//! offline, for days. Each record is a CRDT ([`cageur_protocol::RecordState`]) in an
//! encrypted SQLite file, so any number of devices can edit the same households and always
//! converge; every change is stamped with the health worker and device that made it, and
//! waits in an outbox until the server acknowledges it.
//!
//! Start with [`Replica`]: [`Replica::init`] creates a device database, [`Replica::open`]
//! opens one, and its methods are the app's actions. See docs/architecture.md.

#![warn(missing_docs)]

mod clock;
mod error;
mod export;
mod ids;
mod replica;
pub mod rescue;
pub mod seed;
mod store;
pub mod sync;
#[cfg(test)]
mod test_support;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{FieldError, Result};
pub use export::{EXPORT_FORMAT, write_export};
pub use ids::{IdSource, RandomIds};
pub use replica::{
    Candidate, ConflictView, DeviceInfo, DuplicateGroup, FollowUpItem, HouseholdItem, MergeReport,
    NewVisit, OpenOptions, RecordView, RecordedVisit, ReferralItem, RemoteRecord, Replica,
    Resolution, SearchHit, SearchQuery, Worker, Worklist, WorklistFilter, conflict_views,
};
pub use store::{DatabaseKey, Durability, PAGE_CACHE_KIB, SCHEMA_VERSION};

/// The domain model, re-exported so an app depends on one crate.
pub use cageur_model as model;
