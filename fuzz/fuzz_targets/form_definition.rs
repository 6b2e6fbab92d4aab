//! Screening-form definitions (JSON the health office publishes, which devices receive in a
//! hello) and the screening values checked against them.
//!
//! Input: a form definition as JSON, then optionally a NUL byte and a JSON object of values
//! (NUL cannot occur in JSON text, so the split is unambiguous).
//!
//! Checks: parsing, `check`, registry insertion, value validation and flags never panic; a
//! definition that passes `check` survives JSON (serialize, parse, equal, still valid), as it
//! must to be stored and published again; adding it twice to a registry is accepted; valid
//! values come back from `values_to_json` as JSON that validates to the same values.

#![no_main]

use cageur_model::forms::{FormDefinition, FormRegistry};
use cageur_model::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (definition, values) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(definition) else {
        return;
    };
    // The path devices and the server read published forms through.
    let Ok(def) = json::parse::<FormDefinition>(text) else {
        return;
    };
    // The device's local store reads them back with serde_json directly: it must agree.
    assert_eq!(
        serde_json::from_str::<FormDefinition>(text).ok().as_ref(),
        Some(&def),
        "json::parse and serde_json disagree"
    );
    let _ = def.form_ref().to_string();
    if def.check().is_err() {
        assert!(
            FormRegistry::new().add(def).is_err(),
            "registry took an invalid form"
        );
        return;
    }

    let written = serde_json::to_string(&def).expect("a definition serializes");
    let back: FormDefinition =
        json::parse(&written).unwrap_or_else(|e| panic!("written form does not parse: {e}"));
    assert_eq!(back, def, "JSON round trip changed the definition");
    assert_eq!(
        back.check(),
        Ok(()),
        "round trip made the definition invalid"
    );

    let mut registry = FormRegistry::with_builtins();
    let builtin = registry.get(&def.id, def.version).is_some();
    match registry.add(def.clone()) {
        Ok(()) => {
            assert_eq!(registry.get(&def.id, def.version), Some(&def));
            assert_eq!(
                registry.add(def.clone()),
                Ok(()),
                "adding twice was refused"
            );
        }
        Err(_) => assert!(builtin, "a checked new form was refused"),
    }

    let Some(values) = values else {
        return;
    };
    let Ok(serde_json::Value::Object(values)) = serde_json::from_slice(values) else {
        return;
    };
    let Ok(stored) = def.validate_values(&values) else {
        return;
    };
    for (index, value) in &stored {
        let field = &def.fields[usize::from(*index)];
        assert!(
            field.kind.fits(value),
            "validated {value:?} does not fit {}",
            field.name
        );
    }
    let _ = def.flags(&stored);
    let shown = def.values_to_json(&stored);
    assert_eq!(
        shown.len(),
        stored.len(),
        "values_to_json dropped a valid value"
    );
    let again = def
        .validate_values(&shown)
        .unwrap_or_else(|e| panic!("values_to_json gave values that do not validate: {e}"));
    assert_eq!(again, stored, "values changed through JSON");
});
