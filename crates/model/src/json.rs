//! Parsing untrusted JSON into domain types, with errors that name the field's path.

use crate::error::{Rule, ValidationError};
use serde::de::DeserializeOwned;

/// Largest JSON input accepted for one user action (a visit with its screenings is a few KB).
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// Parses `text` as a `T`; any failure names the offending field by its path
/// (`screenings[1].person`) and the rule it broke.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ValidationError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(ValidationError::new(
            "",
            Rule::Range,
            format!(
                "input is {} bytes; at most {MAX_INPUT_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ValidationError::from_serde_message(path, &err.into_inner().to_string())
    })?;
    de.end()
        .map_err(|e| ValidationError::new("", Rule::Format, format!("trailing input: {e}")))?;
    Ok(value)
}

/// Like [`parse`], from an already parsed JSON value.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ValidationError::from_serde_message(path, &err.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::VisitOutcome;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        outcome: VisitOutcome,
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u8,
    }

    #[test]
    fn errors_name_the_path_and_rule() {
        let err = parse::<Probe>(r#"{"outcome":"gone","inner":[]}"#).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("outcome", Rule::Choice));

        let err = parse::<Probe>(r#"{"outcome":"visited","inner":[{"count":1},{"count":"x"}]}"#)
            .unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.rule),
            ("inner[1].count", Rule::Format)
        );

        let err = parse::<Probe>(r#"{"outcome":"visited"}"#).unwrap_err();
        assert_eq!(err.rule, Rule::Required);

        let err = parse::<Probe>(r#"{"outcome":"visited","inner":[],"x":1}"#).unwrap_err();
        assert_eq!(err.rule, Rule::Unknown);
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let big = " ".repeat(MAX_INPUT_BYTES + 1);
        assert_eq!(parse::<Probe>(&big).unwrap_err().rule, Rule::Range);
    }
}
