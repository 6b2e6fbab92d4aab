//! Cageur Jasa's domain model: what a home-visit team records, and the rules it must obey.
//!
//! Shared by the tablet library (`field-core`) and the sync server. It does no I/O: it turns
//! untrusted input into valid domain values ("parse, don't validate": a [`Nik`] exists only if
//! it is well formed), and maps each entity to the numbered fields its CRDT record stores.

pub mod area;
pub mod codes;
pub mod entity;
pub mod error;
pub mod fields;
pub mod followup;
pub mod forms;
pub mod household;
pub mod ids;
pub mod json;
pub mod kk;
pub mod name;
pub mod nik;
pub mod person;
pub mod pispk;
pub mod referral;
pub mod value;
pub mod visit;

pub use codes::{
    Coded, DestinationKind, FollowUpOutcome, RecordKind, ReferralCategory, ReferralStatus,
    Relation, Role, Sex, Urgency, VisitOutcome,
};
pub use entity::{CheckContext, Entity};
pub use error::{Rule, ValidationError};
pub use followup::FollowUp;
pub use household::Household;
pub use ids::{FollowUpId, HouseholdId, PersonId, ReferralId, VisitId};
pub use kk::KkNumber;
pub use nik::Nik;
pub use person::Person;
pub use referral::Referral;
pub use value::{FieldKey, FieldMap, Value};
pub use visit::Visit;
