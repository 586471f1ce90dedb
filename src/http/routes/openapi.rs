//! `GET /api/openapi.json`: the OpenAPI 3.0 document of the API
//! (`src/openapi.json`, compiled in), with `servers` set to the URL the
//! request came to (or `--public-url`), so tools pointed at the document
//! call the same server. `tests/openapi/` keeps the document true.

use std::sync::OnceLock;

use serde_json::{json, Value};
use warp::http::Method;
use warp::reply::Response;
use warp::Filter;

use super::{other_method, respond, Req, ReqFilter};
use crate::http::error::ApiError;

/// The document as written, without `servers`.
pub const DOCUMENT: &str = include_str!("../../openapi.json");

/// The document, parsed once.
fn document() -> Result<&'static Value, ApiError> {
    static PARSED: OnceLock<Result<Value, String>> = OnceLock::new();
    PARSED
        .get_or_init(|| serde_json::from_str(DOCUMENT).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("src/openapi.json: {e}")))
}

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("api" / "openapi.json")
        .and(req)
        .then(|req: Req| async move { respond(openapi(&req)) })
}

fn openapi(req: &Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    let mut document = document()?.clone();
    if let Value::Object(fields) = &mut document {
        fields.insert("servers".into(), json!([{ "url": req.base_url() }]));
    }
    Ok(crate::http::reply::ok(&document))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_parses_and_leaves_servers_to_the_server() {
        let document = document().expect("src/openapi.json is JSON");
        assert_eq!(document["openapi"], "3.0.3");
        assert!(document.get("servers").is_none());
    }
}
