//! The benchmarks of field-core (run by `benches/field.rs`), each measured against a baseline
//! in the same run, so that a noisy machine moves both sides alike and the ratio stays
//! meaningful:
//! - [`visit`]: recording a visit, against the same data as plain JSON rows;
//! - [`size`]: a puskesmas's device database, against the same records as plain JSON rows;
//! - [`records`]: bytes of one record as a stored CRDT state, against its plain JSON.

pub mod db;
pub mod family;
pub mod plain;
pub mod records;
pub mod seeded;
pub mod size;
pub mod stats;
pub mod visit;

/// Benchmarks stop at the first error, whichever library it comes from.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;
