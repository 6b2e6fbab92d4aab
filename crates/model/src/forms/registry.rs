//! The forms a device or server knows: the built-ins shipped in the crate, plus any the health
//! office publishes later.

use super::definition::FormDefinition;
use crate::error::{Rule, ValidationError};
use std::collections::BTreeMap;

/// The built-in forms, one JSON file each, compiled into the crate.
const BUILTIN: &[(&str, &str)] = &[
    ("vital-signs.json", include_str!("builtin/vital-signs.json")),
    (
        "hypertension.json",
        include_str!("builtin/hypertension.json"),
    ),
    ("tb-symptoms.json", include_str!("builtin/tb-symptoms.json")),
    (
        "mental-health.json",
        include_str!("builtin/mental-health.json"),
    ),
    ("maternal.json", include_str!("builtin/maternal.json")),
    ("under-five.json", include_str!("builtin/under-five.json")),
];

/// The forms that ship with the crate, each checked.
///
/// # Panics
/// If a built-in file does not parse or fails [`FormDefinition::check`]: that is a bug in this
/// crate, which the tests catch before release.
pub fn builtin_forms() -> Vec<FormDefinition> {
    BUILTIN
        .iter()
        .map(|(file, text)| {
            let def: FormDefinition = match crate::json::parse(text) {
                Ok(def) => def,
                Err(err) => panic!("built-in form {file} does not parse: {err}"),
            };
            if let Err(err) = def.check() {
                panic!("built-in form {file} is invalid: {err}");
            }
            def
        })
        .collect()
}

/// Every known form version, by id and version. Holds only definitions that pass
/// [`FormDefinition::check`], and never lets a published version change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormRegistry {
    forms: BTreeMap<(String, u16), FormDefinition>,
}

impl FormRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the built-in forms.
    pub fn with_builtins() -> Self {
        let mut registry = Self::new();
        for def in builtin_forms() {
            if let Err(err) = registry.add(def) {
                panic!("built-in forms clash: {err}");
            }
        }
        registry
    }

    /// Adds a checked definition. Adding the same definition again is fine (a device may
    /// receive it twice); a different definition under a published id and version is refused,
    /// because stored screenings read their values through it.
    pub fn add(&mut self, def: FormDefinition) -> Result<(), ValidationError> {
        def.check()?;
        match self.forms.get(&(def.id.clone(), def.version)) {
            Some(known) if *known == def => Ok(()),
            Some(_) => Err(ValidationError::new(
                "version",
                Rule::Consistency,
                format!(
                    "{}: published form versions are immutable; publish a new version",
                    def.form_ref()
                ),
            )),
            None => {
                self.forms.insert((def.id.clone(), def.version), def);
                Ok(())
            }
        }
    }

    /// One version of a form.
    pub fn get(&self, id: &str, version: u16) -> Option<&FormDefinition> {
        self.forms.get(&(id.to_owned(), version))
    }

    /// The highest version of a form.
    pub fn latest(&self, id: &str) -> Option<&FormDefinition> {
        self.forms
            .range((id.to_owned(), 0)..=(id.to_owned(), u16::MAX))
            .next_back()
            .map(|(_, def)| def)
    }

    /// Every form version, by id and then version.
    pub fn iter(&self) -> impl Iterator<Item = &FormDefinition> {
        self.forms.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_passes_check() {
        let forms = builtin_forms();
        assert_eq!(forms.len(), BUILTIN.len());
        for def in &forms {
            assert_eq!(def.check(), Ok(()), "{}", def.form_ref());
            assert_eq!(def.version, 1);
        }
        let registry = FormRegistry::with_builtins();
        let ids: Vec<_> = registry.iter().map(|d| d.form_ref().to_string()).collect();
        assert_eq!(
            ids,
            [
                "hypertension@1",
                "maternal@1",
                "mental-health@1",
                "tb-symptoms@1",
                "under-five@1",
                "vital-signs@1"
            ]
        );
    }

    #[test]
    fn builtin_files_are_named_after_their_ids() {
        for ((file, _), def) in BUILTIN.iter().zip(builtin_forms()) {
            assert_eq!(*file, format!("{}.json", def.id));
        }
    }

    #[test]
    fn readding_an_identical_definition_is_accepted() {
        let mut registry = FormRegistry::with_builtins();
        let def = registry.get("vital-signs", 1).unwrap().clone();
        assert_eq!(registry.add(def), Ok(()));
    }

    #[test]
    fn a_published_version_cannot_be_replaced_by_a_different_definition() {
        let mut registry = FormRegistry::with_builtins();
        let mut changed = registry.get("vital-signs", 1).unwrap().clone();
        changed.fields.swap(0, 1);
        let err = registry.add(changed.clone()).unwrap_err();
        assert_eq!(err.rule, Rule::Consistency);
        assert!(
            err.message
                .contains("published form versions are immutable"),
            "{err}"
        );
        assert_eq!(
            registry.get("vital-signs", 1).unwrap().fields[0].name,
            "systolic"
        );

        changed.version = 2;
        assert_eq!(registry.add(changed), Ok(()));
        assert_eq!(registry.latest("vital-signs").unwrap().version, 2);
        assert_eq!(registry.get("vital-signs", 1).unwrap().version, 1);
        assert!(registry.latest("vital").is_none());
    }

    #[test]
    fn an_invalid_definition_is_not_added() {
        let mut registry = FormRegistry::new();
        let mut def = builtin_forms().remove(0);
        def.fields.clear();
        assert_eq!(registry.add(def).unwrap_err().field, "fields");
        assert_eq!(registry.iter().count(), 0);
    }
}
