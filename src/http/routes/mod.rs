//! HTTP routes, one module per resource. Each module's `routes` function
//! matches its paths with warp filters and hands a [`Req`] to a small
//! handler that dispatches on the method: so a known path with an
//! unsupported method is a 405 with the exact `Allow` list, and an unknown
//! path falls through to the JSON 404 at the end of [`routes`].
//!
//! Handlers never reject: they answer with `Result<Response, ApiError>`,
//! rendered by [`respond`].

pub mod accounts;
pub mod admin;
pub mod chats;
pub mod community;
pub mod health;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod web;
pub mod ws;

pub use crate::http::request::{Req, ReqFilter};

use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, ALLOW};
use warp::http::Method;
use warp::reply::Response;
use warp::Filter;

use crate::app::App;
use crate::domain::error::Error;
use crate::domain::pagination::{self, PageRequest};
use crate::http::cache::Pages;
use crate::http::error::ApiError;
use crate::storage::store::Counted;
use crate::storage::versions::Scope;
use crate::storage::Db;
use bytes::Bytes;

/// All routes, ending in a JSON 404 for anything unknown.
pub fn routes(app: Arc<App>, pages: Arc<Pages>) -> BoxedFilter<(Response,)> {
    let req: ReqFilter = crate::http::request::filter(app, pages).boxed();
    health::routes(req.clone())
        .or(metrics::routes(req.clone()))
        .unify()
        .or(accounts::routes(req.clone()))
        .unify()
        .or(admin::routes(req.clone()))
        .unify()
        .or(chats::routes(req.clone()))
        .unify()
        .or(messages::routes(req.clone()))
        .unify()
        .or(community::routes(req.clone()))
        .unify()
        .or(ws::routes(req.clone()))
        .unify()
        .or(media::routes(req.clone()))
        .unify()
        .or(openapi::routes(req.clone()))
        .unify()
        .or(web::routes(req))
        .unify()
        .or(warp::any().map(|| ApiError::not_found().into_response()))
        .unify()
        .boxed()
}

/// A page of `scope` from the cache of rendered pages, else rendered by
/// `render` (and kept if nothing changed while it was read).
pub async fn cached<Fut>(
    req: &Req,
    scope: Scope,
    render: impl FnOnce() -> Fut,
) -> Result<Response, ApiError>
where
    Fut: std::future::Future<Output = Result<Bytes, ApiError>>,
{
    let pages = &req.pages;
    let key = format!("{}{}?{}", req.base_url(), req.path, req.query);
    if let Some(body) = pages.get(&key) {
        return Ok(crate::http::reply::ok_bytes(body));
    }
    let stamp = pages.stamp(scope);
    let body = render().await?;
    pages.put(&key, scope, stamp, body.clone());
    Ok(crate::http::reply::ok_bytes(body))
}

/// A DRF page of a list, as JSON bytes: `load` counts the rows and loads
/// the page that `?page=` asks for (the closure it is handed turns the
/// count into an offset, or refuses the page); each row is rendered with
/// `view`, and `next` / `previous` are linked absolutely.
pub async fn paged<T, V, F, Fut>(
    req: &Req,
    load: F,
    view: impl Fn(T, &str) -> V,
) -> Result<Bytes, ApiError>
where
    F: FnOnce(Db, PageChooser) -> Fut,
    Fut: std::future::Future<Output = Result<Counted<T>, Error>>,
    V: serde::Serialize,
{
    let query = pagination::query_pairs(&req.query);
    let page_param = pagination::query_value(&query, "page").map(str::to_string);
    let chooser: PageChooser = {
        let page_param = page_param.clone();
        Box::new(move |count| Ok(PageRequest::new(page_param.as_deref(), count)?.offset()))
    };
    let Counted { count, rows } = load(req.app.db.clone(), chooser).await?;
    // The same count gives the same page the chooser accepted.
    let page = PageRequest::new(page_param.as_deref(), count)?;
    let base = req.base_url();
    let (next, previous) = pagination::links(page, &format!("{base}{}", req.path), &query);
    let page = crate::domain::views::Page {
        count,
        next,
        previous,
        results: rows
            .into_iter()
            .map(|row| view(row, &base))
            .collect::<Vec<V>>(),
    };
    // Sized for a full page of 100 rows, so it does not grow by doubling.
    let mut body = Vec::with_capacity(32 * 1024);
    serde_json::to_writer(&mut body, &page).map_err(ApiError::internal)?;
    Ok(body.into())
}

/// Turns a list's row count into the offset of the requested page.
pub type PageChooser = Box<dyn FnOnce(u64) -> Result<u64, Error> + Send>;

/// Renders a handler's result.
pub fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(ApiError::into_response)
}

/// The answer for a method a resource has no handler for: OPTIONS lists the
/// allowed methods, anything else is a 405.
pub fn other_method(method: &Method, allow: &'static str) -> Result<Response, ApiError> {
    if method == Method::OPTIONS {
        let mut response = crate::http::reply::ok(&serde_json::json!({
            "renders": ["application/json"],
            "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
        }));
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        Ok(response)
    } else {
        Err(ApiError::method_not_allowed(method, allow))
    }
}

/// A path segment with its `%XX` escapes decoded (a `%` that starts no
/// escape is kept as it is); `None` when the result is not UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn path_segments_are_percent_decoded() {
        assert_eq!(percent_decode("n%40x.y").as_deref(), Some("n@x.y"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%F0%9F%91%8D").as_deref(), Some("👍"));
        assert_eq!(percent_decode(":)").as_deref(), Some(":)"));
        // A `%` that starts no escape is kept as it is.
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%G1").as_deref(), Some("%G1"));
        // Not UTF-8 once decoded.
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("%F0%9F"), None);
    }
}
