//! Property tests of the request parsers and validators: whatever a client
//! sends (JSON, form-urlencoded or multipart bodies, fields of any type,
//! page numbers, tokens, `Authorization` headers), nothing panics and every
//! failure is one of the documented answers: a 400 in a DRF shape
//! (`{"field": ["message"]}` or `{"detail": "..."}`), a 413, a 415, or for
//! credentials a 401 with `WWW-Authenticate`.
//!
//! Case counts are modest so the suite runs in seconds in a debug build;
//! `PROPTEST_CASES=10000 cargo test --test properties` digs deeper. Modules:
//!
//! - `strategies.rs`: the generators of field names, texts, files and JSON several modules use;
//! - `bodies.rs`: JSON and form-urlencoded bodies, and any content type with any body;
//! - `multipart.rs`: multipart bodies, well-formed (round trip), broken, or over a limit;
//! - `validators.rs`: any form as a chat to create or change, or as a registration;
//! - `pagination.rs`: page numbers and query strings, and the page links built from them;
//! - `tokens.rs`: tokens (arbitrary, tampered, signed, other algorithms) and `Authorization` headers.

mod bodies;
mod multipart;
mod pagination;
mod strategies;
mod tokens;
mod validators;

use bytes::Bytes;
use chatd::http::body::{self, BodyStream, Form, Limits};
use chatd::http::error::ApiError;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::Value as Json;

// ---------------------------------------------------------------- helpers

/// `cases` per property (or `PROPTEST_CASES`), and no regression files
/// written into the source tree.
pub(crate) fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A rendered error: status, headers and JSON body, as a client sees it.
pub(crate) struct Rendered {
    pub(crate) status: u16,
    pub(crate) headers: warp::http::HeaderMap,
    pub(crate) body: Json,
}

pub(crate) fn render(error: ApiError) -> Rendered {
    use http_body_util::BodyExt;
    let response = error.into_response();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "errors are JSON"
    );
    let bytes = block_on(response.into_body().collect())
        .expect("an error body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).expect("an error body is JSON");
    Rendered {
        status,
        headers,
        body,
    }
}

/// `{"field": ["message", ...], ...}`: at least one field, each with at
/// least one message.
pub(crate) fn is_field_errors(body: &Json) -> bool {
    body.as_object().is_some_and(|fields| {
        !fields.is_empty()
            && fields.values().all(|messages| {
                messages.as_array().is_some_and(|messages| {
                    !messages.is_empty() && messages.iter().all(Json::is_string)
                })
            })
    })
}

/// `{"detail": "..."}`, with a `code` only where the contract has one.
fn is_detail(body: &Json) -> bool {
    body.as_object().is_some_and(|fields| {
        fields.get("detail").is_some_and(Json::is_string)
            && fields
                .iter()
                .all(|(name, value)| name == "detail" || (name == "code" && value.is_string()))
    })
}

/// Checks that a failed parse is a documented answer: 400 in a DRF shape,
/// 413 or 415 with `{"detail"}`; returns the status.
pub(crate) fn assert_documented_body_error(error: ApiError) -> Result<u16, TestCaseError> {
    let shown = error.to_string();
    let rendered = render(error);
    match rendered.status {
        400 => prop_assert!(
            is_field_errors(&rendered.body) || is_detail(&rendered.body),
            "400 with an undocumented body {} ({shown})",
            rendered.body
        ),
        413 => prop_assert_eq!(
            &rendered.body,
            &serde_json::json!({"detail": "Request body too large."})
        ),
        415 => {
            prop_assert!(is_detail(&rendered.body), "{}", rendered.body);
            let detail = rendered.body["detail"].as_str().unwrap_or_default();
            prop_assert!(
                detail.starts_with("Unsupported media type \"")
                    && detail.ends_with("\" in request."),
                "{}",
                detail
            );
        }
        other => prop_assert!(false, "undocumented status {other}: {shown}"),
    }
    Ok(rendered.status)
}

/// A body stream cut into chunks of the given sizes (the rest in one).
fn stream_of(bytes: Vec<u8>, cuts: &[usize]) -> BodyStream {
    let bytes = Bytes::from(bytes);
    let mut chunks = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        if at >= bytes.len() {
            break;
        }
        let end = (at + cut.max(1)).min(bytes.len());
        chunks.push(Ok(bytes.slice(at..end)));
        at = end;
    }
    if at < bytes.len() {
        chunks.push(Ok(bytes.slice(at..)));
    }
    Box::pin(futures_util::stream::iter(chunks))
}

pub(crate) const MAX_FILE: usize = 2048;

pub(crate) fn read(
    content_type: Option<&str>,
    bytes: Vec<u8>,
    cuts: &[usize],
) -> Result<Form, ApiError> {
    block_on(body::read_form(
        content_type,
        stream_of(bytes, cuts),
        Limits { max_file: MAX_FILE },
    ))
}
