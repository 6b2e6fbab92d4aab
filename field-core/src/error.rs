//! The one error type of field-core.

use cageur_model::{RecordKind, ValidationError};
use uuid::Uuid;

/// What can go wrong in a replica. Every variant leaves the database as it was: writes happen
/// in one transaction that is rolled back on any error.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    /// Input broke a rule of the domain; names the field and the rule.
    #[error("invalid input: {0}")]
    Invalid(#[from] ValidationError),

    /// The database key is wrong, or the file is not a Cageur Jasa database at all (or its
    /// first page is damaged: encrypted, the two look alike). Nothing was written to it.
    #[error(
        "cannot open the database: the key is wrong, or the file is not a device database or is \
         damaged at its start"
    )]
    WrongKey,

    /// Part of the database file is damaged (a page failed its authentication, or the file
    /// was cut short): SQLCipher checks every page it reads, so nothing of the damaged part
    /// was used, and the operation stopped. `cageur-admin salvage` recovers what is intact.
    #[error(
        "the database file is damaged ({0}): nothing was read from the damaged part; recover \
         what is intact with cageur-admin salvage"
    )]
    FileDamaged(String),

    /// The file has no replica yet: run `init` first.
    #[error("the database is not initialised: run init first")]
    NotInitialised,

    /// `init` on a database that already holds a replica.
    #[error("the database is already initialised for device {0}")]
    AlreadyInitialised(u32),

    /// The database was written by a newer version of the app; it is left untouched.
    #[error(
        "the database has schema version {found}, newer than this app's {supported}: update the app"
    )]
    SchemaTooNew {
        /// The schema version stored in the file.
        found: u32,
        /// The newest schema this app can open ([`crate::SCHEMA_VERSION`]).
        supported: u32,
    },

    /// No health worker is signed in, so a change would have no author.
    #[error("no health worker is working on this device: set the current worker first")]
    NoWorker,

    /// No record of that kind with that id.
    #[error("no {kind} with id {id}")]
    NotFound {
        /// The kind looked for (`Household` when the id matched no record of any kind).
        kind: RecordKind,
        /// The id that matched no record of that kind on this device.
        id: Uuid,
    },

    /// A stored record state could not be read; the row is kept as it is.
    #[error("{kind} {id} has a damaged stored state: {reason}")]
    Damaged {
        /// The kind of the damaged record.
        kind: RecordKind,
        /// The record whose state did not decode.
        id: Uuid,
        /// Why it did not decode: the [`cageur_protocol::EnvelopeError`] message.
        reason: String,
    },

    /// The device is not enrolled with a server: run enroll first.
    #[error("this device is not enrolled with a server: enroll it first")]
    NotEnrolled,

    /// The health office revoked this tablet and it deleted its records, as told: it holds
    /// nothing and will not sync again.
    #[error("this tablet was revoked by the health office and its records deleted")]
    Wiped,

    /// The server refused a request; its stable code says why.
    #[error("the server refused: {0}")]
    Server(cageur_protocol::sync::ErrorBody),

    /// The server could not be reached, or its answer was cut or garbled (after retries).
    #[error("network: {0}")]
    Network(String),

    /// Writing output (an export) failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),

    /// SQLite failed.
    #[error("storage: {0}")]
    Storage(rusqlite::Error),
}

impl From<rusqlite::Error> for FieldError {
    /// A damaged file is told apart from other storage errors: what to do about it differs.
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                FieldError::FileDamaged("a page is malformed or missing".into())
            }
            Some(rusqlite::ErrorCode::NotADatabase) => {
                FieldError::FileDamaged("a page failed its integrity check".into())
            }
            _ => FieldError::Storage(err),
        }
    }
}

impl FieldError {
    pub(crate) fn not_found(kind: RecordKind, id: Uuid) -> Self {
        FieldError::NotFound { kind, id }
    }
}

/// Result of field-core.
pub type Result<T, E = FieldError> = std::result::Result<T, E>;
