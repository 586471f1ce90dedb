//! Small helpers that build JSON responses.

use serde::Serialize;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;

/// `status` with `value` as a compact JSON body.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    // Serializing our own types cannot fail (no maps with non-string keys);
    // fall back to a 500 body rather than panic if that ever changes.
    let (status, body) = match serde_json::to_vec(value) {
        Ok(body) => (status, body),
        Err(error) => {
            tracing::error!(%error, "response serialization failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"detail":"A server error occurred."}"#.to_vec(),
            )
        }
    };
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// 200 with a body of JSON bytes made before.
pub fn ok_bytes(body: bytes::Bytes) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// 200 with a JSON body.
pub fn ok<T: Serialize + ?Sized>(value: &T) -> Response {
    json(StatusCode::OK, value)
}

/// 201 with a JSON body.
pub fn created<T: Serialize + ?Sized>(value: &T) -> Response {
    json(StatusCode::CREATED, value)
}

/// 204 with no body.
pub fn no_content() -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
