//! The one error type of the HTTP API, rendered in Django REST Framework's
//! shapes (`{"detail": ...}`, `{"field": ["message"]}`), as the API contract
//! and the seed document show them.
//!
//! Handlers return `Result<Response, ApiError>`; nothing else decides what an
//! error looks like on the wire. Internal errors are logged with their cause
//! and answered with a generic 500 body, never with internals.

use std::fmt;

use warp::http::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use warp::http::{Method, StatusCode};
use warp::reply::Response;

use crate::auth::AuthError;
use crate::domain::error::{messages, Error, FieldErrors};
use crate::http::reply::json;
use crate::storage::StorageError;

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
        ApiError::unauthorized(messages::NOT_AUTHENTICATED)
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
        ApiError::unauthorized(messages::BAD_CREDENTIALS)
    }

    /// 401 for a suspended user's token (access or refresh).
    pub fn user_inactive() -> ApiError {
        ApiError::unauthorized(messages::USER_INACTIVE).with_code("user_inactive")
    }

    /// 403 with a reason of its own (e.g. registration is closed).
    pub fn forbidden(detail: &str) -> ApiError {
        ApiError::detail(StatusCode::FORBIDDEN, detail)
    }

    pub fn invalid_refresh() -> ApiError {
        ApiError::unauthorized("Token is invalid or expired").with_code("token_not_valid")
    }

    pub fn permission_denied() -> ApiError {
        ApiError::detail(StatusCode::FORBIDDEN, messages::PERMISSION_DENIED)
    }

    pub fn not_found() -> ApiError {
        ApiError::detail(StatusCode::NOT_FOUND, messages::NOT_FOUND)
    }

    pub fn invalid_page() -> ApiError {
        ApiError::detail(StatusCode::NOT_FOUND, messages::INVALID_PAGE)
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
        ApiError::detail(
            StatusCode::TOO_MANY_REQUESTS,
            messages::throttled(wait_secs),
        )
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
                    &serde_json::json!({"detail": messages::SERVER_ERROR}),
                )
            }
        }
    }
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

/// The one place where the errors of the layers below become HTTP answers.
impl From<Error> for ApiError {
    fn from(error: Error) -> ApiError {
        match error {
            Error::Fields(errors) => ApiError::Fields(errors),
            Error::WrongRoom => ApiError::WrongRoom,
            Error::NotFound => ApiError::not_found(),
            Error::InvalidPage => ApiError::invalid_page(),
            Error::PermissionDenied => ApiError::permission_denied(),
            Error::NotAuthenticated => ApiError::not_authenticated(),
            Error::Refused(reason) => ApiError::detail(StatusCode::BAD_REQUEST, reason),
            Error::Throttled(wait) => ApiError::throttled(wait),
            Error::Storage(error) => error.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> ApiError {
        match error {
            AuthError::BadAuthorizationHeader => ApiError::bad_authorization_header(),
            AuthError::InvalidToken => ApiError::invalid_token(),
            AuthError::UserNotFound => ApiError::user_not_found(),
            AuthError::UserInactive => ApiError::user_inactive(),
            AuthError::Storage(error) => error.into(),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> ApiError {
        match error {
            StorageError::Full => {
                ApiError::detail(StatusCode::INSUFFICIENT_STORAGE, messages::OUT_OF_SPACE)
            }
            StorageError::Busy => ApiError::detail(StatusCode::SERVICE_UNAVAILABLE, messages::BUSY)
                .with_header(RETRY_AFTER, HeaderValue::from_static("5")),
            StorageError::Other(error) => ApiError::Internal(error),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> ApiError {
        ApiError::Fields(errors)
    }
}

impl From<std::io::Error> for ApiError {
    fn from(error: std::io::Error) -> ApiError {
        StorageError::from(error).into()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        StorageError::from(error).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_names_the_wait() {
        let response = ApiError::throttled(7).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "7");
    }
}
