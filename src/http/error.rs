//! The one error type of the HTTP API, rendered in Django REST Framework's
//! shapes (`{"detail": ...}`, `{"field": ["message"]}`), as the API contract
//! and the seed document show them.
//!
//! Handlers return `Result<Response, ApiError>`; nothing else decides what an
//! error looks like on the wire. Internal errors are logged with their cause
//! and answered with a generic 500 body, never with internals.

use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};
use warp::http::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::http::reply::json;

/// Field validation errors, kept in the order they were found so the body
/// lists fields in a stable, serializer-like order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors {
    entries: Vec<(String, Vec<String>)>,
}

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    /// Adds `message` to the list of `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.entries.iter_mut().find(|(name, _)| name == field) {
            Some((_, messages)) => messages.push(message),
            None => self.entries.push((field.to_string(), vec![message])),
        }
    }

    /// Adds an error that belongs to no single field.
    pub fn add_non_field(&mut self, message: impl Into<String>) {
        self.add("non_field_errors", message);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `Ok(())` when nothing was added, else the errors as an [`ApiError`].
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Fields(self))
        }
    }

    /// The messages of one field, for tests and callers that combine errors.
    pub fn get(&self, field: &str) -> Option<&[String]> {
        self.entries
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, messages)| messages.as_slice())
    }

    /// A single error on one field.
    pub fn single(field: &str, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (field, messages) in &self.entries {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// Every way a request can fail.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with per-field messages.
    Fields(FieldErrors),
    /// A status with `{"detail": ..., "code": ...}` and optional extra headers.
    Detail {
        status: StatusCode,
        detail: String,
        code: Option<&'static str>,
        headers: Vec<(warp::http::HeaderName, HeaderValue)>,
    },
    /// The seed's `400 {"Error": "wrong room"}`.
    WrongRoom,
    /// A bug or an environment failure: logged, answered with a generic 500.
    Internal(anyhow::Error),
}

impl ApiError {
    fn detail(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError::Detail {
            status,
            detail: detail.into(),
            code: None,
            headers: Vec::new(),
        }
    }

    fn with_code(mut self, new_code: &'static str) -> ApiError {
        if let ApiError::Detail { code, .. } = &mut self {
            *code = Some(new_code);
        }
        self
    }

    fn with_header(mut self, name: warp::http::HeaderName, value: HeaderValue) -> ApiError {
        if let ApiError::Detail { headers, .. } = &mut self {
            headers.push((name, value));
        }
        self
    }

    fn unauthorized(detail: &str) -> ApiError {
        ApiError::detail(StatusCode::UNAUTHORIZED, detail).with_header(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"api\""),
        )
    }

    /// 400 with one field error.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Fields(FieldErrors::single(field, message))
    }

    pub fn not_authenticated() -> ApiError {
        ApiError::unauthorized("Authentication credentials were not provided.")
    }

    pub fn invalid_token() -> ApiError {
        ApiError::unauthorized("Given token not valid for any token type")
            .with_code("token_not_valid")
    }

    pub fn bad_authorization_header() -> ApiError {
        ApiError::unauthorized("Authorization header must contain two space-delimited values")
            .with_code("bad_authorization_header")
    }

    pub fn user_not_found() -> ApiError {
        ApiError::unauthorized("User not found").with_code("user_not_found")
    }

    pub fn bad_credentials() -> ApiError {
        ApiError::unauthorized("No active account found with the given credentials")
    }

    pub fn invalid_refresh() -> ApiError {
        ApiError::unauthorized("Token is invalid or expired").with_code("token_not_valid")
    }

    pub fn permission_denied() -> ApiError {
        ApiError::detail(
            StatusCode::FORBIDDEN,
            "You do not have permission to perform this action.",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::detail(StatusCode::NOT_FOUND, "Not found.")
    }

    pub fn invalid_page() -> ApiError {
        ApiError::detail(StatusCode::NOT_FOUND, "Invalid page.")
    }

    /// 405 naming the method, with the resource's `Allow` list.
    pub fn method_not_allowed(method: &Method, allow: &'static str) -> ApiError {
        ApiError::detail(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method \"{method}\" not allowed."),
        )
        .with_header(ALLOW, HeaderValue::from_static(allow))
    }

    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported media type \"{content_type}\" in request."),
        )
    }

    pub fn too_large() -> ApiError {
        ApiError::detail(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.")
    }

    /// 400 for a body that cannot be parsed, e.g. `JSON parse error - ...`.
    pub fn parse_error(detail: impl Into<String>) -> ApiError {
        ApiError::detail(StatusCode::BAD_REQUEST, detail)
    }

    /// 429 telling the client when to come back.
    pub fn throttled(wait_secs: u64) -> ApiError {
        ApiError::detail(StatusCode::TOO_MANY_REQUESTS, throttled_detail(wait_secs))
            .with_header(RETRY_AFTER, HeaderValue::from(wait_secs))
    }

    /// 426 for a plain request to a WebSocket-only path.
    pub fn upgrade_required() -> ApiError {
        ApiError::detail(
            StatusCode::UPGRADE_REQUIRED,
            "This path is a WebSocket: connect with Upgrade: websocket.",
        )
        .with_header(
            warp::http::header::UPGRADE,
            HeaderValue::from_static("websocket"),
        )
        .with_header(
            warp::http::header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        )
    }

    /// 429 when one address holds too many sockets.
    pub fn too_many_sockets() -> ApiError {
        ApiError::detail(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many open WebSockets from this address.",
        )
        .with_header(RETRY_AFTER, HeaderValue::from_static("5"))
    }

    /// 503 when a capacity limit is reached.
    pub fn unavailable(detail: &str) -> ApiError {
        ApiError::detail(StatusCode::SERVICE_UNAVAILABLE, detail)
            .with_header(RETRY_AFTER, HeaderValue::from_static("5"))
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(error.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Fields(_) | ApiError::WrongRoom => StatusCode::BAD_REQUEST,
            ApiError::Detail { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Renders the documented JSON body and headers.
    pub fn into_response(self) -> Response {
        #[derive(serde::Serialize)]
        struct Detail<'a> {
            detail: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            code: Option<&'a str>,
        }
        match self {
            ApiError::Fields(errors) => json(StatusCode::BAD_REQUEST, &errors),
            ApiError::WrongRoom => json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"Error": "wrong room"}),
            ),
            ApiError::Detail {
                status,
                detail,
                code,
                headers,
            } => {
                let mut response = json(
                    status,
                    &Detail {
                        detail: &detail,
                        code,
                    },
                );
                response.headers_mut().extend(headers);
                response
            }
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &serde_json::json!({"detail": "A server error occurred."}),
                )
            }
        }
    }
}

/// DRF's throttling message: "Expected available in 1 second." / "N seconds."
pub fn throttled_detail(wait_secs: u64) -> String {
    let unit = if wait_secs == 1 { "second" } else { "seconds" };
    format!("Request was throttled. Expected available in {wait_secs} {unit}.")
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Fields(errors) => write!(f, "validation failed: {errors:?}"),
            ApiError::Detail { status, detail, .. } => write!(f, "{status}: {detail}"),
            ApiError::WrongRoom => f.write_str("wrong room"),
            ApiError::Internal(error) => write!(f, "internal error: {error:#}"),
        }
    }
}

impl warp::Reply for ApiError {
    fn into_response(self) -> Response {
        ApiError::into_response(self)
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> ApiError {
        ApiError::Internal(error.into())
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(error: r2d2::Error) -> ApiError {
        ApiError::Internal(error.into())
    }
}

impl From<std::io::Error> for ApiError {
    fn from(error: std::io::Error) -> ApiError {
        ApiError::Internal(error.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        ApiError::Internal(error)
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> ApiError {
        ApiError::Fields(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_keep_insertion_order_and_group_messages() {
        let mut errors = FieldErrors::new();
        errors.add("title", "a");
        errors.add("room", "b");
        errors.add("title", "c");
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"title":["a","c"],"room":["b"]}"#
        );
    }

    #[test]
    fn throttled_names_the_wait() {
        let response = ApiError::throttled(7).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "7");
    }
}
