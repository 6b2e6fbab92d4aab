//! Which record schema versions the server accepts from devices.
//!
//! A device one version behind must still be able to push, so that no tablet ever has to
//! throw away unsynced work to update: its states are upgraded on arrival. Record schema 2
//! changed how states are encoded (envelope format 2, one stamp per write); the server reads
//! a schema-1 tablet's format-1 states like any others and stores them re-encoded, so every
//! other device receives them in the current format. What a schema-1 tablet cannot do is
//! read format 2: its pulls are refused with a clear "update the app" (its pushes go on
//! being accepted), rather than failing inside the tablet on the first record.

use cageur_protocol::sync::{ErrorCode, RECORD_SCHEMA};

use crate::error::ApiError;

/// The oldest record schema whose pushes are accepted.
pub const OLDEST_PUSHABLE_SCHEMA: u32 = if RECORD_SCHEMA > 1 {
    RECORD_SCHEMA - 1
} else {
    1
};

/// Accepts `RECORD_SCHEMA` and the version before it; refuses others with a clear message.
pub fn check_schema(schema: u32) -> Result<(), ApiError> {
    let oldest = OLDEST_PUSHABLE_SCHEMA;
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

/// Refuses a pull by a device that last said it speaks an older record schema than the
/// states it would receive. A device that never said (`None`) is let through.
pub fn check_can_read(schema: Option<u32>) -> Result<(), ApiError> {
    match schema {
        Some(schema) if schema < RECORD_SCHEMA => Err(ApiError::new(
            ErrorCode::UnsupportedSchema,
            format!(
                "this app speaks record schema {schema} and cannot read records of schema \
                 {RECORD_SCHEMA}: update the app to receive changes (its own changes are \
                 still accepted)"
            ),
        )),
        _ => Ok(()),
    }
}
