//! The benchmarks (run by `benches/field.rs` and `benches/sync.rs`), each measured against a
//! baseline in the same run, so that a noisy machine moves both sides alike and the ratio stays
//! meaningful:
//! - [`visit`]: recording a visit, against the same data as plain JSON rows;
//! - [`size`]: a puskesmas's device database, against the same records as plain JSON rows;
//! - [`records`]: bytes of one record as a stored CRDT state, against its plain JSON;
//! - [`bootstrap`]: a new tablet's bootstrap, through a real server ([`server`]);
//! - [`sync_week`]: a week offline for two teams' [`tablet`]s, through a real server;
//! - [`load`]: many tablets syncing at once through a connection-cutting [`proxy`], on each
//!   store;
//! - [`automerge_sync`]: the baseline of the sync benchmark, Automerge 0.12's sync protocol
//!   replaying a [`week`] workload.

pub mod automerge_sync;
pub mod bootstrap;
pub mod db;
pub mod family;
pub mod load;
pub mod plain;
pub mod proxy;
pub mod records;
pub mod report;
pub mod seeded;
pub mod server;
pub mod size;
pub mod stats;
pub mod sync_week;
pub mod tablet;
pub mod visit;
pub mod week;

/// Benchmarks stop at the first error, whichever library it comes from.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
