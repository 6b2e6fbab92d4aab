use super::*;
use crate::forms::{FormRegistry, builtin_forms};
use serde_json::json;

fn builtin(id: &str) -> FormDefinition {
    FormRegistry::with_builtins().latest(id).cloned().unwrap()
}

/// The names of the flags `input` raises on the built-in form `id`.
fn raised(id: &str, input: serde_json::Value) -> Vec<String> {
    let def = builtin(id);
    let serde_json::Value::Object(map) = input else {
        panic!("input must be an object")
    };
    let values = def.validate_values(&map).unwrap();
    def.flags(&values).iter().map(|f| f.name.clone()).collect()
}

#[test]
fn raised_bp_at_140_over_89_and_139_over_90_but_not_139_over_89() {
    assert_eq!(
        raised("vital-signs", json!({"systolic": 140, "diastolic": 89})),
        ["raised_bp"]
    );
    assert_eq!(
        raised("vital-signs", json!({"systolic": 139, "diastolic": 90})),
        ["raised_bp"]
    );
    assert!(raised("vital-signs", json!({"systolic": 139, "diastolic": 89})).is_empty());
    assert!(raised("vital-signs", json!({"temperature": 37.5})).is_empty());
}

#[test]
fn presumptive_tb_on_any_symptom_or_contact() {
    let none = json!({"cough_two_weeks": false, "cough_with_blood": false, "fever": false});
    assert!(raised("tb-symptoms", none).is_empty());
    let contact = json!({"cough_two_weeks": false, "cough_with_blood": false, "tb_contact": true});
    assert_eq!(raised("tb-symptoms", contact), ["presumptive_tb"]);
    let cough = json!({"cough_two_weeks": true, "cough_with_blood": false});
    assert_eq!(raised("tb-symptoms", cough), ["presumptive_tb"]);
}

#[test]
fn maternal_danger_sign_is_urgent() {
    let def = builtin("maternal");
    let input =
        json!({"pregnant": true, "gestational_age_weeks": 32, "danger_signs": ["bleeding"]});
    let values = def.validate_values(input.as_object().unwrap()).unwrap();
    let flags = def.flags(&values);
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].name, "maternal_danger_sign");
    assert!(flags[0].urgent);

    let calm = json!({"pregnant": true, "danger_signs": []});
    assert!(raised("maternal", calm).is_empty());
}

#[test]
fn untreated_flags_need_an_explicit_no() {
    assert_eq!(
        raised("mental-health", json!({"status": "odgj"})),
        ["mental_disorder"]
    );
    assert_eq!(
        raised(
            "mental-health",
            json!({"status": "odmk", "under_treatment": false})
        ),
        ["mental_disorder", "mental_untreated"]
    );
    assert!(
        raised(
            "mental-health",
            json!({"status": "none", "under_treatment": false})
        )
        .is_empty()
    );

    assert!(raised("hypertension", json!({"known_hypertension": true})).is_empty());
    assert_eq!(
        raised(
            "hypertension",
            json!({"known_hypertension": true, "on_treatment": false})
        ),
        ["hypertension_untreated"]
    );
    assert_eq!(
        raised("under-five", json!({"immunisation_complete": false})),
        ["immunisation_incomplete"]
    );
}

#[test]
fn thresholds_compare_exactly_against_decimals() {
    let t = |text: &str| Threshold::from_number(&serde_json::from_str(text).unwrap()).unwrap();
    assert_eq!(
        t("37.5"),
        Threshold {
            mantissa: 375,
            scale: 1
        }
    );
    assert_eq!(
        t("140"),
        Threshold {
            mantissa: 140,
            scale: 0
        }
    );
    assert_eq!(
        t("37.5").compare(&Value::Dec(375, 1)),
        Some(Ordering::Equal)
    );
    assert_eq!(
        t("37.5").compare(&Value::Dec(3749, 2)),
        Some(Ordering::Less)
    );
    assert_eq!(
        t("37").compare(&Value::Dec(371, 1)),
        Some(Ordering::Greater)
    );
    assert_eq!(t("140").compare(&Value::Int(139)), Some(Ordering::Less));
    assert_eq!(t("1").compare(&Value::Dec(1, 200)), None);
    assert_eq!(t("1").compare(&Value::Bool(true)), None);
}

#[test]
fn damaged_values_raise_no_flags() {
    let def = builtin("vital-signs");
    let damaged = [
        (0, Value::Text("150".into())),
        (1, Value::Dec(950, 1)),
        (200, Value::Int(999)),
    ];
    assert!(def.flags(&damaged).is_empty());
    let mental = builtin("mental-health");
    assert!(mental.flags(&[(0, Value::Int(7))]).is_empty());
}

#[test]
fn condition_json_needs_exactly_one_operator() {
    let parse = |text: &str| crate::json::parse::<Condition>(text);
    assert!(parse(r#"{"field":"a","gte":1,"lt":3}"#).is_err());
    assert!(parse(r#"{"field":"a"}"#).is_err());
    assert!(parse(r#"{"field":"a","not_empty":false}"#).is_err());
    assert!(parse(r#"{"any":[],"field":"a"}"#).is_err());
    assert!(parse(r#"{"field":"a","gte":1e300}"#).is_err());
    assert_eq!(
        parse(r#"{"field":"a","between":1}"#).unwrap_err().rule,
        Rule::Unknown
    );
    let nested = r#"{"all":[{"field":"a","in":["x"]},{"any":[{"field":"b","lte":2.25}]}]}"#;
    let condition = parse(nested).unwrap();
    assert_eq!(serde_json::to_string(&condition).unwrap(), nested);
}

#[test]
fn conditions_may_not_nest_too_deeply() {
    let mut def = builtin_forms()
        .into_iter()
        .find(|d| d.id == "tb-symptoms")
        .unwrap();
    let mut when = Condition::Is {
        field: "fever".into(),
        value: true,
    };
    for _ in 0..=MAX_CONDITION_DEPTH {
        when = Condition::Any(vec![when]);
    }
    def.flags[0].when = when;
    assert_eq!(def.check().unwrap_err().rule, Rule::Range);
}
