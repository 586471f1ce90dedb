//! One request as handlers see it ([`Req`]): the app, method, path, query,
//! headers, client address and body, with the questions every handler
//! asks of a request (who is asking, which base URL links use, the body as
//! a form, throttling, whether the client's cached copy is current).

use std::sync::Arc;

use bytes::Buf;
use futures_util::TryStreamExt;
use warp::filters::BoxedFilter;
use warp::http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, IF_NONE_MATCH, TRANSFER_ENCODING,
};
use warp::http::{HeaderMap, Method};
use warp::Filter;

use crate::app::App;
use crate::auth::{self, Credentials};
use crate::http::body::{self, BodyStream, Form, Limits};
use crate::http::cache::Pages;
use crate::http::error::ApiError;
use crate::rooms::Room;
use crate::storage::chats::Chat;
use crate::storage::users::User;

/// Everything a handler needs from a request.
pub struct Req {
    pub app: Arc<App>,
    /// The edge's cache of rendered list and history pages.
    pub pages: Arc<Pages>,
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
        // A body DRF could not parse without a type is refused as one of
        // type "", rather than read as an empty form.
        if content_type.is_none() && self.has_body() {
            return Err(ApiError::unsupported_media_type(""));
        }
        let limits = Limits {
            max_file: usize::try_from(self.app.config.max_upload_bytes).unwrap_or(usize::MAX),
        };
        body::read_form(content_type.as_deref(), stream, limits).await
    }

    /// True when the request says a body follows (a non-zero length or a
    /// chunked transfer).
    fn has_body(&self) -> bool {
        let length = self
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        match length {
            Some(length) => length > 0,
            None => self.headers.contains_key(TRANSFER_ENCODING),
        }
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

    /// Scheme and host for absolute URLs: `--public-url`, else `http://`
    /// and the request's `Host` header (when it looks like a host), else
    /// the address we listen on.
    pub fn base_url(&self) -> String {
        let config = &self.app.config;
        if let Some(url) = &config.public_url {
            return url.clone();
        }
        let host = self
            .headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .filter(|host| {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
            });
        match host {
            Some(host) => format!("http://{host}"),
            None => format!("http://{}", config.addr),
        }
    }

    /// What the request's `If-None-Match` says of a file whose tag is
    /// `etag`: `Some(true)` when the client's copy is current (answer 304),
    /// `None` without the header (other validators may decide).
    pub fn none_match(&self, etag: &str) -> Option<bool> {
        let tags = self.headers.get(IF_NONE_MATCH)?.to_str().ok()?;
        Some(none_match(tags, etag))
    }

    /// The user the request's Bearer token names, `None` without credentials.
    pub async fn user(&self) -> Result<Option<User>, ApiError> {
        let header = self
            .headers
            .get(AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or("\u{0}"));
        match auth::credentials(header)? {
            Credentials::None => Ok(None),
            Credentials::Bearer(token) => self.user_for_token(&token).await.map(Some),
        }
    }

    /// The user an access token names.
    pub async fn user_for_token(&self, token: &str) -> Result<User, ApiError> {
        Ok(auth::user_for_token(&self.app.tokens, &self.app.db, token).await?)
    }

    /// Like [`Req::user`], but a request without credentials fails with 401.
    pub async fn require_user(&self) -> Result<User, ApiError> {
        self.user().await?.ok_or_else(ApiError::not_authenticated)
    }

    /// Chat `id` if it is in `room`, else 404.
    pub async fn chat(&self, room: Room, id: i64) -> Result<Chat, ApiError> {
        self.app
            .db
            .chat(room, id)
            .await?
            .ok_or_else(ApiError::not_found)
    }
}

/// The filter that builds a [`Req`] for any request.
pub fn filter(
    app: Arc<App>,
    pages: Arc<Pages>,
) -> impl Filter<Extract = (Req,), Error = warp::Rejection> + Clone {
    warp::any()
        .map(move || (app.clone(), pages.clone()))
        .and(warp::method())
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<crate::http::server::ClientAddr>())
        .and(warp::ext::optional::<crate::http::server::UpgradeSlot>())
        .and(warp::body::stream())
        .map(
            |(app, pages),
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
                    pages,
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

/// Whether an `If-None-Match` value (`*` or a list of tags) matches `etag`.
/// RFC 9110 (13.1.2) has this header compare weakly: `W/"x"` matches
/// `"x"`, and a client (or a proxy that compressed the answer) may well
/// have weakened the tag it was given.
pub fn none_match(tags: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let etag = opaque(etag);
    tags.split(',')
        .any(|tag| tag.trim() == "*" || opaque(tag) == etag)
}

/// The [`Req`] filter as resource modules receive it.
pub type ReqFilter = BoxedFilter<(Req,)>;

fn into_bytes(mut buf: impl Buf) -> bytes::Bytes {
    buf.copy_to_bytes(buf.remaining())
}

#[cfg(test)]
mod tests {
    use super::none_match;

    #[test]
    fn if_none_match_compares_weakly() {
        let etag = "\"4b-17\"";
        for matching in [
            "\"4b-17\"",
            "W/\"4b-17\"",
            " W/\"4b-17\" ",
            "\"other\", W/\"4b-17\"",
            "*",
        ] {
            assert!(none_match(matching, etag), "{matching}");
        }
        for other in ["\"other\"", "W/\"4b-18\"", "4b-17", "\"4b-17", ""] {
            assert!(!none_match(other, etag), "{other}");
        }
        // A weak tag of ours matches its strong form too.
        assert!(none_match("\"4b-17\"", "W/\"4b-17\""));
    }
}
