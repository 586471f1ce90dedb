//! `GET /healthz`: answers once the database answers.

use warp::http::Method;
use warp::reply::Response;
use warp::Filter;

use super::{other_method, respond, Req, ReqFilter};
use crate::http::error::ApiError;

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("healthz")
        .and(req)
        .then(|req: Req| async move { respond(health(req).await) })
}

async fn health(req: Req) -> Result<Response, ApiError> {
    match req.method {
        Method::GET | Method::HEAD => {
            req.app.db.check().await?;
            Ok(crate::http::reply::ok(&serde_json::json!({"status": "ok"})))
        }
        ref method => other_method(method, "GET, HEAD, OPTIONS"),
    }
}
