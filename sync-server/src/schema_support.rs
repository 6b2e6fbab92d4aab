//! Which record schema versions the server accepts from devices.
//!
//! A device one version behind must still be able to push, so that no tablet ever has to
//! throw away unsynced work to update: its states are upgraded on arrival. Today there is one
//! record schema, so the upgrade from the version before it is the identity; the check is
//! the place where the next one goes.

use cageur_protocol::sync::{ErrorCode, RECORD_SCHEMA};

use crate::error::ApiError;

/// Accepts `RECORD_SCHEMA` and the version before it; refuses others with a clear message.
pub fn check_schema(schema: u32) -> Result<(), ApiError> {
    let oldest = RECORD_SCHEMA.saturating_sub(1).max(1);
    if (oldest..=RECORD_SCHEMA).contains(&schema) {
        return Ok(());
    }
    let what = if schema > RECORD_SCHEMA {
        "newer than this server's: the server must be updated first"
    } else {
        "too old: update the app (its unsynced records are kept and pushed after the update)"
    };
    Err(ApiError::new(
        ErrorCode::UnsupportedSchema,
        format!(
            "record schema {schema} is {what} (this server accepts {oldest} to {RECORD_SCHEMA})"
        ),
    ))
}
