//! JSON and form-urlencoded bodies, and any content type with any body:
//! a form, or a 400 in a DRF shape, a 413 or a 415.

use chatd::http::body::{self, Form, Value};
use proptest::prelude::*;
use serde_json::Value as Json;

use crate::strategies::{arb_json, cuts, field_name};
use crate::{assert_documented_body_error, config, read, render};

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes as a JSON body: a form, or a 400 in a DRF shape.
    #[test]
    fn json_bodies_parse_or_fail_as_documented(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Err(error) = body::parse_json(&bytes) {
            prop_assert_eq!(assert_documented_body_error(error)?, 400);
        }
    }

    /// Any JSON text: an object becomes a form with its fields (strings as
    /// text); anything else is the non-field error DRF gives.
    #[test]
    fn json_values_become_forms_only_when_objects(value in arb_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        match (body::parse_json(&bytes), &value) {
            (Ok(form), Json::Object(object)) => {
                prop_assert_eq!(form.names().count(), object.len());
                for (name, field) in object {
                    let expected = match field {
                        Json::String(text) => Value::Text(text.clone()),
                        other => Value::Json(other.clone()),
                    };
                    prop_assert_eq!(form.get(name), Some(&expected));
                }
            }
            (Err(error), other) if !other.is_object() => {
                let rendered = render(error);
                prop_assert_eq!(rendered.status, 400);
                let messages = rendered.body["non_field_errors"].as_array().cloned().unwrap_or_default();
                prop_assert_eq!(messages.len(), 1);
                prop_assert!(messages[0].as_str().unwrap_or_default().starts_with("Invalid data. Expected a dictionary, but got "));
            }
            (result, value) => prop_assert!(false, "{value} gave {result:?}"),
        }
    }

    /// Any bytes as a form-urlencoded body: a form, or a 400 `{"detail"}`.
    #[test]
    fn urlencoded_bodies_parse_or_fail_as_documented(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Err(error) = body::parse_urlencoded(&bytes) {
            prop_assert_eq!(assert_documented_body_error(error)?, 400);
        }
    }

    /// Encoded pairs come back as sent, the last of a repeated name winning.
    #[test]
    fn urlencoded_pairs_round_trip(pairs in prop::collection::vec((field_name(), any::<String>()), 0..6)) {
        let encoded = serde_urlencoded::to_string(&pairs).unwrap();
        let form = body::parse_urlencoded(encoded.as_bytes()).unwrap();
        prop_assert_eq!(form.names().count(), pairs.len());
        for (name, _) in &pairs {
            let last = pairs.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
            prop_assert_eq!(form.get(name), Some(&Value::Text(last)));
        }
    }

    /// Any content type with any body: a form, 400, 413 or 415.
    #[test]
    fn any_content_type_and_body_is_answered_as_documented(
        content_type in prop::option::of(prop_oneof![
            any::<String>(),
            "(application/json|application/x-www-form-urlencoded|multipart/form-data|text/plain)(; ?[a-z]{1,8}=[a-zA-Z0-9\"-]{0,12}){0,2}",
            "MULTIPART/Form-Data; boundary=[a-zA-Z0-9'()+_,./:=?-]{0,75}",
        ]),
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        cuts in cuts(),
    ) {
        if let Err(error) = read(content_type.as_deref(), bytes, &cuts) {
            assert_documented_body_error(error)?;
        }
    }
}

// ------------------------------------------------- edges worth one case

/// JSON nested far deeper than serde_json's recursion limit is a 400, not
/// a stack overflow.
#[test]
fn deeply_nested_json_is_a_parse_error() {
    for open in ["[", "{\"a\":"] {
        let body = open.repeat(100_000);
        let error = body::parse_json(body.as_bytes()).unwrap_err();
        let rendered = render(error);
        assert_eq!(rendered.status, 400);
        assert!(rendered.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "));
    }
}

/// A JSON or form body over 64 KiB is a 413, however it is chunked.
#[test]
fn text_bodies_over_the_limit_are_413() {
    for content_type in ["application/json", "application/x-www-form-urlencoded"] {
        let body = vec![b' '; body::MAX_TEXT_BODY + 1];
        let error = read(Some(content_type), body, &[1000; 10]).unwrap_err();
        assert_eq!(render(error).status, 413);
        let body = vec![b' '; body::MAX_TEXT_BODY];
        assert!(read(Some(content_type), body, &[]).is_ok());
    }
}

/// An empty or missing content type is an empty form, as in DRF.
#[test]
fn no_content_type_is_an_empty_form() {
    assert_eq!(
        read(None, b"title=x".to_vec(), &[]).unwrap(),
        Form::default()
    );
}
