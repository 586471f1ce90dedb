//! The small schema checker (the part of JSON Schema, OpenAPI 3.0 dialect,
//! the document uses), and a test that it rejects what it should.

use std::collections::HashMap;

use serde_json::{json, Value as Json};

use crate::{resolve, DOC};

/// Messages for every way `value` breaks `schema` (empty: it matches).
pub(crate) fn validate(schema: &'static Json, value: &Json) -> Vec<String> {
    let mut errors = Vec::new();
    check_value(schema, value, "$", &mut errors);
    errors
}

pub(crate) fn assert_valid(schema: &'static Json, value: &Json) {
    let errors = validate(schema, value);
    assert!(errors.is_empty(), "{value}: {}", errors.join("; "));
}

fn check_value(schema: &'static Json, value: &Json, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    let mut fail = |message: String| errors.push(format!("{at}: {message}"));
    if value.is_null() {
        let allowed = schema["nullable"] == true
            || schema.get("type").is_none()
                && schema.get("oneOf").is_none()
                && schema.get("anyOf").is_none();
        if !allowed {
            fail("null where the schema is not nullable".into());
        }
        return;
    }
    if let Some(kind) = schema.get("type").and_then(Json::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => panic!("unknown type {other}"),
        };
        if !ok {
            fail(format!("{value} is not of type {kind}"));
            return;
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Json::as_array) {
        if !choices.contains(value) {
            fail(format!("{value} is not one of {choices:?}"));
        }
    }
    if let Some(text) = value.as_str() {
        let chars = text.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Json::as_u64)
            .is_some_and(|min| chars < min)
        {
            fail(format!("{value} is too short"));
        }
        if schema
            .get("maxLength")
            .and_then(Json::as_u64)
            .is_some_and(|max| chars > max)
        {
            fail(format!("{value} is too long"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Json::as_str) {
            if !matches_pattern(pattern, text) {
                fail(format!("{value} does not match {pattern}"));
            }
        }
        match schema.get("format").and_then(Json::as_str) {
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                fail(format!("{value} is not a date-time"))
            }
            Some("uri")
                if !(text.starts_with("http://") || text.starts_with("https://"))
                    || text.contains(char::is_whitespace) =>
            {
                fail(format!("{value} is not an absolute URL"))
            }
            _ => {}
        }
    }
    if let Some(number) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Json::as_f64)
            .is_some_and(|min| number < min)
        {
            fail(format!("{value} is below the minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Json::as_f64)
            .is_some_and(|max| number > max)
        {
            fail(format!("{value} is above the maximum"));
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if schema
            .get("minItems")
            .and_then(Json::as_u64)
            .is_some_and(|min| n < min)
        {
            fail(format!("{n} items, fewer than allowed"));
        }
        if schema
            .get("maxItems")
            .and_then(Json::as_u64)
            .is_some_and(|max| n > max)
        {
            fail(format!("{n} items, more than allowed"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check_value(item_schema, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(object) = value.as_object() {
        if schema
            .get("minProperties")
            .and_then(Json::as_u64)
            .is_some_and(|min| (object.len() as u64) < min)
        {
            errors.push(format!("{at}: fewer properties than allowed"));
        }
        for name in schema
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                errors.push(format!("{at}: {name} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Json::as_object);
        for (name, field) in object {
            let at = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                schema.get("additionalProperties"),
            ) {
                (Some(field_schema), _) => check_value(field_schema, field, &at, errors),
                (None, Some(Json::Bool(false))) => errors.push(format!("{at}: not allowed")),
                (None, Some(extra)) if extra.is_object() => check_value(extra, field, &at, errors),
                (None, _) => {}
            }
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(choices) = schema.get(keyword).and_then(Json::as_array) {
            let matching = choices
                .iter()
                .filter(|choice| validate(choice, value).is_empty())
                .count();
            let ok = if exactly_one {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                errors.push(format!(
                    "{at}: {value} matches {matching} of the {keyword} choices"
                ));
            }
        }
    }
}

/// JSON Schema `pattern` (the document's are anchored with `^…$`).
fn matches_pattern(pattern: &str, text: &str) -> bool {
    use regex_automata::dfa::regex::Regex;
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, Regex>> = Default::default();
    }
    CACHE.with(|cache| {
        cache
            .borrow_mut()
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")))
            .is_match(text)
    })
}

#[test]
fn the_schema_checker_rejects_what_it_should() {
    let schemas = &DOC["components"]["schemas"];
    let chat = json!({
        "id": 3, "title": "Harry Potter", "room": "films",
        "img": "http://127.0.0.1:8000/media/chat_img/default.jpg", "creator": "nik",
        "description": null, "url": "/chat/films/3/", "timestamp": "2023-08-03T08:51:26.593514Z"
    });
    assert_valid(&schemas["Chat"], &chat);
    let broken = [
        ("id", json!("3")),
        ("title", json!("")),
        ("title", json!("x".repeat(71))),
        ("room", json!("movies")),
        ("img", json!("/media/chat_img/default.jpg")),
        ("description", json!(5)),
        ("url", json!("/chat/films/x/")),
        ("timestamp", json!("2023-08-03T08:51:26Z")),
        ("timestamp", json!("yesterday")),
        ("extra", json!(1)),
    ];
    for (field, value) in broken {
        let mut wrong = chat.clone();
        wrong[field] = value.clone();
        assert!(
            !validate(&schemas["Chat"], &wrong).is_empty(),
            "{field}: {value} passed"
        );
    }
    let mut missing = chat.clone();
    missing.as_object_mut().unwrap().remove("description");
    assert!(!validate(&schemas["Chat"], &missing).is_empty());
    let bad_request = &DOC["components"]["responses"]["BadRequestInRoom"]["content"]
        ["application/json"]["schema"];
    for good in [
        json!({"title": ["This field is required."]}),
        json!({"Error": "wrong room"}),
        json!({"detail": "JSON parse error - x"}),
    ] {
        assert_valid(bad_request, &good);
    }
    for bad in [
        json!({}),
        json!({"title": "x"}),
        json!({"Error": "other"}),
        json!({"detail": ["x"], "code": 1}),
        json!([]),
    ] {
        assert!(!validate(bad_request, &bad).is_empty(), "{bad} passed");
    }
    assert!(!validate(&schemas["Message"], &json!({"id": 1})).is_empty());
    assert!(!validate(
        &schemas["ChatPage"],
        &json!({"count": -1, "next": null, "previous": null, "results": []})
    )
    .is_empty());
}
