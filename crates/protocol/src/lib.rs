//! What a Cageur Jasa device and the server exchange and store.
//!
//! [`RecordState`] is the CRDT that holds one record (a household, person, visit, referral or
//! follow-up) and [`envelope`] its versioned binary form; [`sync`] holds the messages of the
//! sync protocol and [`scope`] which puskesmas a record belongs to. Nothing here does I/O or
//! reads a clock.

#![warn(missing_docs)]

pub mod cell;
pub mod envelope;
pub mod policy;
pub mod record;
pub mod scope;
pub mod sync;

pub use cell::{Author, Cell};
pub use envelope::{DecodedState, EnvelopeError, RecordClock, state_digest};
pub use policy::{DomainPolicy, policy};
pub use record::{Conflict, FieldState, NoSettling, RecordState, SettlePolicy, Summary};

/// A device's number among the writers of records (the CRDT actor). Small and assigned once
/// per device, so states stay compact: a UUID actor makes a state about six times larger.
pub type DeviceNumber = u32;
