//! `GET /metrics`: Prometheus text for whoever holds `--metrics-token`;
//! without the flag the path does not exist (404).

use warp::http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use warp::http::Method;
use warp::reply::Response;
use warp::Filter;

use super::{other_method, respond, Req, ReqFilter};
use crate::http::error::ApiError;

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("metrics")
        .and(req)
        .then(|req: Req| async move { respond(metrics(req)) })
}

fn metrics(req: Req) -> Result<Response, ApiError> {
    let Some(token) = &req.app.config.metrics_token else {
        return Err(ApiError::not_found());
    };
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    let given = req.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let expected = format!("Bearer {token}");
    // Compare in constant time: the token is a secret.
    let matches = given.is_some_and(|given| {
        given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !matches {
        return Err(if given.is_none() {
            ApiError::not_authenticated()
        } else {
            ApiError::invalid_token()
        });
    }
    let hub = &req.app.live.hub;
    let text = req
        .app
        .metrics
        .render(hub.sockets(), hub.chats_with_sockets());
    let mut response = Response::new(text.into());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
