//! Cross-origin requests: by default only same-origin pages may call the
//! API from a browser; `--cors-origin` lists other origins that may. The
//! API authenticates with a header, not cookies, so no credentials mode is
//! offered.

use warp::http::header::{
    HeaderValue, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;

/// The request's `Origin`, if it is one of `allowed`.
pub fn allowed_origin<'a>(headers: &'a HeaderMap, allowed: &[String]) -> Option<&'a HeaderValue> {
    let origin = headers.get(ORIGIN)?;
    let text = origin.to_str().ok()?;
    allowed
        .iter()
        .any(|a| a == "*" || a == text)
        .then_some(origin)
}

/// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`),
/// or `None` for any other request.
pub fn preflight(method: &Method, headers: &HeaderMap, allowed: &[String]) -> Option<Response> {
    if method != Method::OPTIONS
        || !headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        || !headers.contains_key(ORIGIN)
    {
        return None;
    }
    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let out = response.headers_mut();
    out.insert(VARY, HeaderValue::from_static("Origin"));
    // An origin not on the list gets no CORS headers: the browser refuses.
    if let Some(origin) = allowed_origin(headers, allowed) {
        out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
        );
        out.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type"),
        );
        out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    Some(response)
}

/// Adds `Access-Control-Allow-Origin` to an answer for an allowed origin.
pub fn decorate(response: &mut Response, request_headers: &HeaderMap, allowed: &[String]) {
    if allowed.is_empty() {
        return;
    }
    if let Some(origin) = allowed_origin(request_headers, allowed) {
        let origin = origin.clone();
        let headers = response.headers_mut();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, origin.parse().unwrap());
        headers.insert(ACCESS_CONTROL_REQUEST_METHOD, "POST".parse().unwrap());
        headers
    }

    #[test]
    fn preflight_allows_only_listed_origins() {
        let allowed = vec!["https://app.example.org".to_string()];
        let ok = preflight(
            &Method::OPTIONS,
            &request("https://app.example.org"),
            &allowed,
        )
        .unwrap();
        assert_eq!(ok.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            ok.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.org"
        );
        let refused =
            preflight(&Method::OPTIONS, &request("https://evil.example"), &allowed).unwrap();
        assert!(!refused.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert!(preflight(&Method::GET, &request("https://app.example.org"), &allowed).is_none());
    }
}
