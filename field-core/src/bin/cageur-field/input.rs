//! Reading what the user gives: the key, ids, and JSON on standard input.

use std::io::Read;

use anyhow::{Context, bail};
use field_core::DatabaseKey;
use field_core::model::json::MAX_INPUT_BYTES;
use field_core::model::{Rule, ValidationError};
use uuid::Uuid;

/// The database key from `CAGEUR_DB_KEY`.
pub fn key_from_env() -> anyhow::Result<DatabaseKey> {
    match std::env::var("CAGEUR_DB_KEY") {
        Ok(secret) if !secret.is_empty() => Ok(DatabaseKey::from_secret(&secret)),
        _ => bail!("set CAGEUR_DB_KEY to the database key (64 hex digits, or a passphrase)"),
    }
}

/// A record id given on the command line.
pub fn id(text: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        ValidationError::new("id", Rule::Format, "must be a record id (a UUID)").into()
    })
}

/// The JSON object on standard input, at most [`MAX_INPUT_BYTES`].
pub fn stdin_json() -> anyhow::Result<serde_json::Value> {
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .context("reading standard input")?;
    let value: serde_json::Value = field_core::model::json::parse(&text)?;
    if !value.is_object() {
        return Err(ValidationError::new("", Rule::Format, "input must be a JSON object").into());
    }
    Ok(value)
}
