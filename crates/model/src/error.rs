//! The one error type of the model: a value that breaks a rule of the domain.

/// Which rule a value broke. Stable, so that an app can map it to a translated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A required value is missing.
    Required,
    /// The value does not have the expected shape (digits, length, characters).
    Format,
    /// A number lies outside its plausible range.
    Range,
    /// A date does not exist, or lies outside its plausible range.
    Date,
    /// The value is not one of the allowed choices.
    Choice,
    /// Two values contradict each other (a NIK that encodes another birth date, say).
    Consistency,
    /// A status or state may not move that way.
    Transition,
    /// The field is not known to the entity or form.
    Unknown,
}

/// A value that breaks a rule of the domain: names the field (a dotted path such as
/// `members[2].nik` or `screenings[0].values.systolic`) and the rule, with a message for people.
///
/// Nothing is written when one is returned: validation happens before any storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{field}: {message}")]
pub struct ValidationError {
    /// Dotted path of the offending field.
    pub field: String,
    /// The rule it broke.
    pub rule: Rule,
    /// What is wrong, for a person: never includes the personal value itself.
    pub message: String,
}

impl ValidationError {
    /// An error for `field` breaking `rule`.
    pub fn new(field: impl Into<String>, rule: Rule, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }

    /// The same error, reported under a parent path: `visit` + `outcome` gives `visit.outcome`.
    #[must_use]
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

/// Serde only carries strings through `Error::custom`; this prefix lets a rule survive the trip
/// from a validating `Deserialize` impl to [`crate::json::parse`], which adds the field's path.
const SERDE_RULE_PREFIX: &str = "\u{1f}rule:";

impl ValidationError {
    /// The message to hand to `serde::de::Error::custom` from a validating `Deserialize`.
    pub fn to_serde_message(&self) -> String {
        let rule = serde_json::to_value(self.rule)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        format!("{SERDE_RULE_PREFIX}{rule}\u{1f}{}", self.message)
    }

    /// Rebuilds an error from a serde message at `field`; messages serde made itself (wrong
    /// type, missing or unknown field) are classified by their wording.
    pub fn from_serde_message(field: impl Into<String>, message: &str) -> Self {
        if let Some((rule, text)) = message
            .strip_prefix(SERDE_RULE_PREFIX)
            .and_then(|rest| rest.split_once('\u{1f}'))
        {
            let rule = serde_json::from_value(serde_json::Value::String(rule.to_owned()))
                .unwrap_or(Rule::Format);
            // serde_json appends " at line L column C" to custom messages.
            return Self::new(field, rule, strip_position(text));
        }
        let text = strip_position(message);
        let rule = if text.starts_with("missing field") {
            Rule::Required
        } else if text.starts_with("unknown field") {
            Rule::Unknown
        } else if text.starts_with("unknown variant") {
            Rule::Choice
        } else {
            Rule::Format
        };
        Self::new(field, rule, text)
    }
}

fn strip_position(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => &text[..i],
        _ => text,
    }
}
