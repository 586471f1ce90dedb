//! Keeps `src/openapi.json` true:
//!
//! - every route in `src/http/routes/` is a documented path, and every documented
//!   path is a route;
//! - on a seeded server, every documented path exists (`OPTIONS` answers
//!   with its `Allow` list) with exactly the documented methods, and every
//!   documented method, sent as a stranger, a non-owner and the owner (staff),
//!   answers one of its documented statuses with a body that matches the
//!   documented schema;
//! - the main endpoints' real answers (successes and each error shape)
//!   match their documented schemas.
//!
//! Schemas are checked by the small checker in `schema.rs`, which covers the
//! part of JSON Schema (OpenAPI 3.0 dialect) the document uses. Modules:
//!
//! - `document.rs`: the document is well formed, served, and matches the routes in `src/`;
//! - `operations.rs`: on a seeded server, every documented operation answers as documented;
//! - `responses.rs`: the main endpoints' real answers match their schemas;
//! - `caller.rs`: calling the API with every answer checked against the document;
//! - `schema.rs`: the schema checker, and a test that it rejects what it should.

mod caller;
#[path = "../common/mod.rs"]
mod common;
mod document;
mod operations;
mod responses;
mod schema;

use std::sync::LazyLock;

use serde_json::Value as Json;

pub(crate) static DOC: LazyLock<Json> = LazyLock::new(|| {
    serde_json::from_str(chatd::http::routes::openapi::DOCUMENT).expect("src/openapi.json is JSON")
});

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(path template, method)` of every documented operation.
pub(crate) fn operations() -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in DOC["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.push((path.clone(), method.to_string()));
            }
        }
    }
    operations
}

pub(crate) fn operation(path: &str, method: &str) -> &'static Json {
    DOC["paths"]
        .get(path)
        .and_then(|item| item.get(method.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
}

/// Follows `$ref`s (local ones only, as the document uses).
pub(crate) fn resolve(mut value: &'static Json) -> &'static Json {
    while let Some(reference) = value.get("$ref").and_then(Json::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("non-local $ref {reference}"));
        value = DOC
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    value
}

pub(crate) fn template_segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}
