use super::*;
use crate::forms::builtin_forms;
use proptest::prelude::*;
use serde_json::json;

/// A form with one field of every kind.
fn every_kind() -> FormDefinition {
    let def: FormDefinition = crate::json::parse(
        r#"{"id":"every-kind","version":1,"title":"Every kind","fields":[
            {"name":"systolic","label":"Sistolik","unit":"mmHg","required":true,"type":"integer","min":50,"max":300},
            {"name":"temperature","label":"Suhu","unit":"°C","type":"decimal","scale":1,"min":30.0,"max":45.0},
            {"name":"fever","label":"Demam","type":"boolean"},
            {"name":"status","label":"Status","type":"choice","choices":["none","odmk","odgj"]},
            {"name":"signs","label":"Tanda","type":"multi_choice","choices":["bleeding","swelling","convulsions"]},
            {"name":"note","label":"Catatan","type":"text","max_length":10},
            {"name":"last_period","label":"HPHT","type":"date"}
        ]}"#,
    )
    .unwrap();
    def.check().unwrap();
    def
}

fn object(value: serde_json::Value) -> Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => panic!("not an object"),
    }
}

fn error(input: serde_json::Value) -> ValidationError {
    every_kind().validate_values(&object(input)).unwrap_err()
}

#[test]
fn values_are_stored_compactly_by_field_index() {
    let input = json!({
        "last_period": "2024-02-29", "systolic": 120, "temperature": 36.50, "fever": false,
        "status": "odgj", "signs": ["convulsions", "bleeding"], "note": "  pusing  ",
    });
    let stored = every_kind().validate_values(&object(input)).unwrap();
    assert_eq!(
        stored,
        [
            (0, Value::Int(120)),
            (1, Value::Dec(365, 1)),
            (2, Value::Bool(false)),
            (3, Value::Int(2)),
            (4, Value::Codes(vec![0, 2])),
            (5, Value::Text("pusing".into())),
            (6, Value::Date(19782)),
        ]
    );
}

#[test]
fn round_trip_gives_back_the_normalised_input() {
    let def = every_kind();
    let input = json!({
        "systolic": 120.0, "temperature": 36.50, "fever": true, "status": "none",
        "signs": ["swelling", "bleeding"], "note": " ok ", "last_period": "1999-12-31",
    });
    let stored = def.validate_values(&object(input)).unwrap();
    let normalised = json!({
        "systolic": 120, "temperature": 36.5, "fever": true, "status": "none",
        "signs": ["bleeding", "swelling"], "note": "ok", "last_period": "1999-12-31",
    });
    assert_eq!(Json::Object(def.values_to_json(&stored)), normalised);
    assert_eq!(Value::dec_to_json(300, 1).to_string(), "30.0");
}

#[test]
fn out_of_range_value_names_the_field_and_range() {
    let err = error(json!({"systolic": 301}));
    assert_eq!((err.field.as_str(), err.rule), ("systolic", Rule::Range));
    assert_eq!(err.message, "must be between 50 and 300 mmHg");
    let err = error(json!({"systolic": 120, "temperature": 29.9}));
    assert_eq!((err.field.as_str(), err.rule), ("temperature", Rule::Range));
    assert_eq!(err.message, "must be between 30.0 and 45.0 °C");
    assert_eq!(error(json!({"systolic": 1e20})).rule, Rule::Range);
    assert_eq!(
        error(json!({"systolic": 18446744073709551615u64})).rule,
        Rule::Range
    );
}

#[test]
fn unknown_field_is_refused() {
    let err = error(json!({"systolic": 120, "sistolik": 120}));
    assert_eq!((err.field.as_str(), err.rule), ("sistolik", Rule::Unknown));
    assert!(err.message.contains("every-kind@1"), "{err}");
}

#[test]
fn missing_required_is_refused() {
    let err = error(json!({"fever": true}));
    assert_eq!((err.field.as_str(), err.rule), ("systolic", Rule::Required));
    assert_eq!(error(json!({"systolic": null})).rule, Rule::Required);
}

#[test]
fn decimal_with_too_many_places_is_refused() {
    let err = error(json!({"systolic": 120, "temperature": 36.55}));
    assert_eq!(
        (err.field.as_str(), err.rule),
        ("temperature", Rule::Format)
    );
    assert!(err.message.contains("at most 1 decimal place"), "{err}");
    assert_eq!(error(json!({"systolic": 120.5})).rule, Rule::Format);
}

#[test]
fn wrong_types_choices_texts_and_dates_are_refused() {
    let cases = [
        (json!({"systolic": "120"}), "systolic", Rule::Format),
        (
            json!({"systolic": 120, "fever": "yes"}),
            "fever",
            Rule::Format,
        ),
        (
            json!({"systolic": 120, "status": "sad"}),
            "status",
            Rule::Choice,
        ),
        (
            json!({"systolic": 120, "signs": ["bleeding", "bleeding"]}),
            "signs",
            Rule::Format,
        ),
        (
            json!({"systolic": 120, "signs": ["fever"]}),
            "signs",
            Rule::Choice,
        ),
        (
            json!({"systolic": 120, "signs": "bleeding"}),
            "signs",
            Rule::Format,
        ),
        (
            json!({"systolic": 120, "note": "eleven char"}),
            "note",
            Rule::Range,
        ),
        (
            json!({"systolic": 120, "last_period": "2023-02-29"}),
            "last_period",
            Rule::Date,
        ),
        (
            json!({"systolic": 120, "last_period": "2024-2-1"}),
            "last_period",
            Rule::Date,
        ),
        (
            json!({"systolic": 120, "last_period": "1899-12-31"}),
            "last_period",
            Rule::Date,
        ),
        (
            json!({"systolic": 120, "last_period": 20240101}),
            "last_period",
            Rule::Format,
        ),
    ];
    for (input, field, rule) in cases {
        let err = error(input.clone());
        assert_eq!((err.field.as_str(), err.rule), (field, rule), "{input}");
    }
    assert!(
        error(json!({"systolic": 120, "status": "sad"}))
            .message
            .contains("none, odmk, odgj")
    );
}

#[test]
fn blank_text_and_null_optional_values_are_absent() {
    let input = json!({"systolic": 120, "note": "   ", "fever": null});
    assert_eq!(
        every_kind().validate_values(&object(input)).unwrap(),
        [(0, Value::Int(120))]
    );
}

#[test]
fn values_that_do_not_fit_their_field_are_skipped() {
    let def = every_kind();
    let damaged = [
        (0, Value::Text("120".into())),
        (1, Value::Dec(365, 2)),
        (3, Value::Int(3)),
        (4, Value::Codes(vec![2, 0])),
        (6, Value::Date(i32::MAX)),
        (7, Value::Int(1)),
        (255, Value::Bool(true)),
        (2, Value::Bool(true)),
    ];
    assert_eq!(
        Json::Object(def.values_to_json(&damaged)),
        json!({"fever": true})
    );
}

/// Arbitrary JSON, biased towards the shapes the fields expect.
fn any_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        (-1000i64..1000, 0u32..5)
            .prop_map(
                |(m, s)| serde_json::from_str(&crate::value::dec_to_string(m, s as u8)).unwrap()
            ),
        "\\PC{0,12}".prop_map(Json::String),
        "(19|20|21)[0-9]{2}-[01][0-9]-[0-3][0-9]".prop_map(Json::String),
        prop::sample::select(vec!["none", "odgj", "bleeding", "swelling", "convulsions"])
            .prop_map(Json::from),
    ];
    leaf.prop_recursive(2, 16, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..3)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

fn any_input(names: Vec<String>) -> impl Strategy<Value = Map<String, Json>> {
    let name = prop_oneof![4 => prop::sample::select(names), 1 => "[a-z_]{0,8}"];
    prop::collection::btree_map(name, any_json(), 0..10).prop_map(|m| m.into_iter().collect())
}

/// Any stored value, as damaged data might hold it.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        (-5i64..10).prop_map(Value::Int),
        (any::<i64>(), any::<u8>()).prop_map(|(m, s)| Value::Dec(m, s)),
        (any::<i64>(), 0u8..4).prop_map(|(m, s)| Value::Dec(m, s)),
        "\\PC{0,12}".prop_map(Value::Text),
        any::<i32>().prop_map(Value::Date),
        prop::collection::vec(any::<u16>(), 0..4).prop_map(Value::Codes),
        prop::collection::vec(0u16..10, 0..4).prop_map(Value::Codes),
    ]
}

/// Input that `def` should accept: every required field, some optional ones, valid values.
fn valid_input(def: &FormDefinition) -> BoxedStrategy<Map<String, Json>> {
    let fields: Vec<BoxedStrategy<Option<(String, Json)>>> = def
        .fields
        .iter()
        .map(|field| {
            let value: BoxedStrategy<Json> = match &field.kind {
                FieldKind::Integer { min, max } => (*min..=*max).prop_map(Json::from).boxed(),
                FieldKind::Decimal { scale, min, max } => {
                    let scale = *scale;
                    (*min..=*max)
                        .prop_map(move |m| Value::dec_to_json(m, scale))
                        .boxed()
                }
                FieldKind::Boolean => any::<bool>().prop_map(Json::Bool).boxed(),
                FieldKind::Choice { choices } => prop::sample::select(choices.clone())
                    .prop_map(Json::String)
                    .boxed(),
                FieldKind::MultiChoice { choices } => {
                    prop::sample::subsequence(choices.clone(), 0..=choices.len())
                        .prop_shuffle()
                        .prop_map(|names| {
                            Json::Array(names.into_iter().map(Json::String).collect())
                        })
                        .boxed()
                }
                FieldKind::Text { max_length } => {
                    let max = usize::from(*max_length).min(30);
                    prop::collection::vec(prop::char::any(), 1..=max)
                        .prop_map(|c| Json::String(c.into_iter().collect()))
                        .boxed()
                }
                FieldKind::Date => (-25567i32..=47482)
                    .prop_map(|days| to_json(&FieldKind::Date, &Value::Date(days)).unwrap())
                    .boxed(),
            };
            let name = field.name.clone();
            let pair = value.prop_map(move |v| (name.clone(), v));
            if field.required {
                pair.prop_map(Some).boxed()
            } else {
                prop::option::of(pair).boxed()
            }
        })
        .collect();
    fields
        .prop_map(|pairs| pairs.into_iter().flatten().collect())
        .boxed()
}

fn forms() -> Vec<FormDefinition> {
    let mut forms = builtin_forms();
    forms.push(every_kind());
    forms
}

proptest! {
    #[test]
    fn validate_values_never_panics_and_round_trips(
        (form, input) in prop::sample::select(forms())
            .prop_flat_map(|def| {
                let names = def.fields.iter().map(|f| f.name.clone()).collect();
                (Just(def), any_input(names))
            })
    ) {
        if let Ok(stored) = form.validate_values(&input) {
            let back = form.values_to_json(&stored);
            prop_assert_eq!(form.validate_values(&back), Ok(stored.clone()));
            let _ = form.flags(&stored);
        }
    }

    #[test]
    fn valid_values_round_trip_through_json(
        (form, input) in prop::sample::select(forms()).prop_flat_map(|def| {
            let input = valid_input(&def);
            (Just(def), input)
        })
    ) {
        let stored = form.validate_values(&input).unwrap();
        let back = form.values_to_json(&stored);
        prop_assert_eq!(back.len(), stored.len());
        prop_assert_eq!(form.validate_values(&back), Ok(stored));
        for (name, value) in &back {
            if !matches!(value, Json::String(_) | Json::Array(_)) {
                prop_assert_eq!(Some(value), input.get(name));
            }
        }
    }

    #[test]
    fn values_to_json_and_flags_never_panic_on_damaged_values(
        form in prop::sample::select(forms()),
        values in prop::collection::vec((any::<u8>(), any_value()), 0..12),
    ) {
        let _ = form.values_to_json(&values);
        let _ = form.flags(&values);
    }
}
