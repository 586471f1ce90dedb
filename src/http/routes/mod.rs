//! HTTP routes, one module per resource. Each module's `routes` function
//! matches its paths with warp filters and hands a [`Req`] to a small
//! handler that dispatches on the method: so a known path with an
//! unsupported method is a 405 with the exact `Allow` list, and an unknown
//! path falls through to the JSON 404 at the end of [`routes`].
//!
//! Handlers never reject: they answer with `Result<Response, ApiError>`,
//! rendered by [`respond`].

pub mod accounts;
pub mod chats;
pub mod health;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod web;
pub mod ws;

use std::sync::Arc;

use bytes::Buf;
use futures_util::TryStreamExt;
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use warp::http::{HeaderMap, Method};
use warp::reply::Response;
use warp::Filter;

use crate::app::App;
use crate::domain::error::Error;
use crate::domain::pagination::{self, PageRequest};
use crate::http::body::{self, BodyStream, Form, Limits};
use crate::http::error::ApiError;
use crate::storage::store::Counted;
use crate::storage::Db;

/// Everything a handler needs from a request.
pub struct Req {
    pub app: Arc<App>,
    pub method: Method,
    /// The path as requested (percent-encoded).
    pub path: String,
    /// The raw query string, empty when there is none.
    pub query: String,
    pub headers: HeaderMap,
    /// The TCP peer (absent only for requests not from our accept loop).
    pub peer: Option<std::net::SocketAddr>,
    /// Set on requests that ask for a protocol upgrade.
    pub upgrade: Option<crate::http::server::UpgradeSlot>,
    /// In a mutex only so that `&Req` can be held across awaits (`Sync`).
    body: std::sync::Mutex<Option<BodyStream>>,
}

impl Req {
    /// Reads the body as a [`Form`] (JSON, urlencoded or multipart).
    pub async fn form(&mut self) -> Result<Form, ApiError> {
        let content_type = match self.headers.get(CONTENT_TYPE) {
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| ApiError::unsupported_media_type("(not ASCII)"))?
                    .to_string(),
            ),
            None => None,
        };
        let taken = match self.body.get_mut() {
            Ok(body) => body.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(stream) = taken else {
            return Ok(Form::default());
        };
        let limits = Limits {
            max_file: usize::try_from(self.app.config.max_upload_bytes).unwrap_or(usize::MAX),
        };
        body::read_form(content_type.as_deref(), stream, limits).await
    }

    /// Throttles this request's client with `limiter` (unless throttling
    /// is off): 429 with `Retry-After` when over the limit.
    pub fn throttle(&self, limiter: &crate::domain::throttle::Limiter) -> Result<(), ApiError> {
        if !self.app.config.rate_limit {
            return Ok(());
        }
        let ip = crate::http::client_ip::client_ip(
            self.peer.map(|p| p.ip()),
            &self.headers,
            self.app.config.trust_proxy,
        );
        match ip {
            Some(ip) => limiter.check(ip).map_err(ApiError::throttled),
            None => Ok(()),
        }
    }

    /// Scheme and host for absolute links.
    pub fn base_url(&self) -> String {
        self.app.base_url(&self.headers)
    }
}

/// The filter that builds a [`Req`] for any request.
fn req(app: Arc<App>) -> impl Filter<Extract = (Req,), Error = warp::Rejection> + Clone {
    warp::any()
        .map(move || app.clone())
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<crate::http::server::ClientAddr>())
        .and(warp::ext::optional::<crate::http::server::UpgradeSlot>())
        .and(warp::body::stream())
        .map(
            |app,
             method,
             path: warp::path::FullPath,
             query,
             headers,
             peer: Option<crate::http::server::ClientAddr>,
             upgrade,
             stream| {
                let stream = TryStreamExt::map_ok(stream, into_bytes);
                Req {
                    app,
                    method,
                    path: path.as_str().to_string(),
                    query,
                    headers,
                    peer: peer.map(|p| p.0),
                    upgrade,
                    body: std::sync::Mutex::new(Some(Box::pin(stream) as BodyStream)),
                }
            },
        )
}

/// The [`Req`] filter as resource modules receive it.
pub type ReqFilter = BoxedFilter<(Req,)>;

fn into_bytes(mut buf: impl Buf) -> bytes::Bytes {
    buf.copy_to_bytes(buf.remaining())
}

/// All routes, ending in a JSON 404 for anything unknown.
pub fn routes(app: Arc<App>) -> BoxedFilter<(Response,)> {
    let req: ReqFilter = req(app).boxed();
    health::routes(req.clone())
        .or(metrics::routes(req.clone()))
        .unify()
        .or(accounts::routes(req.clone()))
        .unify()
        .or(chats::routes(req.clone()))
        .unify()
        .or(messages::routes(req.clone()))
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

/// A DRF page of a list: `load` counts the rows and loads the page that
/// `?page=` asks for (the closure it is handed turns the count into an
/// offset, or refuses the page); each row is rendered with `view`, and
/// `next` / `previous` are linked absolutely.
pub async fn paged<T, V, F, Fut>(
    req: &Req,
    load: F,
    view: impl Fn(T, &str) -> V,
) -> Result<Response, ApiError>
where
    F: FnOnce(Db, PageChooser) -> Fut,
    Fut: std::future::Future<Output = Result<Counted<T>, Error>>,
    V: serde::Serialize,
{
    let query = pagination::query_pairs(&req.query);
    let page_param = pagination::query_value(&query, "page").map(str::to_string);
    let chosen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let chooser: PageChooser = {
        let chosen = chosen.clone();
        Box::new(move |count| {
            let page = PageRequest::new(page_param.as_deref(), count)?;
            *chosen.lock().unwrap_or_else(|p| p.into_inner()) = Some(page);
            Ok(page.offset())
        })
    };
    let Counted { count, rows } = load(req.app.db.clone(), chooser).await?;
    let page = chosen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no page was chosen")))?;
    let base = req.base_url();
    let (next, previous) = pagination::links(page, &format!("{base}{}", req.path), &query);
    Ok(crate::http::reply::ok(&crate::domain::views::Page {
        count,
        next,
        previous,
        results: rows
            .into_iter()
            .map(|row| view(row, &base))
            .collect::<Vec<V>>(),
    }))
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
