//! The web client: `GET /` (the page) and `GET /static/<file>` (its script
//! modules, stylesheet and icon), compiled into the binary from `src/web/`.
//!
//! The page is never used without revalidation (`no-cache` + `ETag`); it
//! links its assets as `/static/<file>?v=<content hash>`, and those exact
//! versions may be cached for a year. Every answer carries a
//! Content-Security-Policy that allows only our own scripts, styles, images
//! and WebSocket, and `X-Content-Type-Options: nosniff`.
//!
//! The script is ES modules with no build step: the page links only the
//! entry, `app.js?v=…`, and the others are fetched by its relative imports
//! (`import … from './state.js'`) at their plain paths, `/static/state.js`,
//! which are served `no-cache` and so revalidated by `ETag` on every load
//! (a 304 each). That is simpler than rewriting import specifiers to
//! versioned URLs, and still correct: a new binary's modules are picked up
//! at once, and since a module's URL is its identity, every importer gets
//! the same single instance (which is also why nothing imports `app.js`:
//! `/static/app.js` would be a second copy of the entry).

use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use warp::http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HOST, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::{other_method, respond, Req, ReqFilter};
use crate::domain::pagination::{query_pairs, query_value};
use crate::http::error::ApiError;

/// One embedded file.
struct Asset {
    body: Vec<u8>,
    content_type: &'static str,
    /// Hex prefix of the SHA-256 of `body`.
    version: String,
}

impl Asset {
    fn new(body: Vec<u8>, content_type: &'static str) -> Asset {
        let digest = Sha256::digest(&body);
        let version = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Asset {
            body,
            content_type,
            version,
        }
    }

    fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// Module scripts are refused by browsers under any other type.
const JS: &str = "text/javascript; charset=utf-8";

struct Assets {
    index: Asset,
    statics: Vec<(&'static str, Asset)>,
}

/// The embedded files, hashed once.
fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let statics: Vec<(&'static str, Asset)> = [
            // The entry module first, then the modules it imports.
            ("app.js", include_str!("../../web/app.js"), JS),
            ("state.js", include_str!("../../web/state.js"), JS),
            ("api.js", include_str!("../../web/api.js"), JS),
            ("dom.js", include_str!("../../web/dom.js"), JS),
            ("rooms.js", include_str!("../../web/rooms.js"), JS),
            ("chat.js", include_str!("../../web/chat.js"), JS),
            ("socket.js", include_str!("../../web/socket.js"), JS),
            ("account.js", include_str!("../../web/account.js"), JS),
            ("admin.js", include_str!("../../web/admin.js"), JS),
            ("composer.js", include_str!("../../web/composer.js"), JS),
            ("reactions.js", include_str!("../../web/reactions.js"), JS),
            ("typing.js", include_str!("../../web/typing.js"), JS),
            ("unread.js", include_str!("../../web/unread.js"), JS),
            ("feeds.js", include_str!("../../web/feeds.js"), JS),
            (
                "style.css",
                include_str!("../../web/style.css"),
                "text/css; charset=utf-8",
            ),
            (
                "icon.svg",
                include_str!("../../web/icon.svg"),
                "image/svg+xml",
            ),
        ]
        .into_iter()
        .map(|(name, body, content_type)| (name, Asset::new(body.into(), content_type)))
        .collect();
        // Link each asset by its content hash, so a new binary's page never
        // runs with an old cached script.
        let mut index = include_str!("../../web/index.html").to_string();
        for (name, asset) in &statics {
            index = index.replace(
                &format!("\"/static/{name}\""),
                &format!("\"/static/{name}?v={}\"", asset.version),
            );
        }
        Assets {
            index: Asset::new(index.into(), "text/html; charset=utf-8"),
            statics,
        }
    })
}

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let index = warp::path::end()
        .and(req.clone())
        .then(|req: Req| async move { respond(page(&req)) });
    let statics = warp::path!("static" / String)
        .and(req)
        .then(|name: String, req: Req| async move { respond(static_file(&name, &req)) });
    index.or(statics).unify()
}

fn page(req: &Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    Ok(serve(req, &assets().index, "no-cache"))
}

fn static_file(name: &str, req: &Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    let asset = assets()
        .statics
        .iter()
        .find(|(file, _)| *file == name)
        .map(|(_, asset)| asset)
        .ok_or_else(ApiError::not_found)?;
    let query = query_pairs(&req.query);
    let cache = if query_value(&query, "v") == Some(asset.version.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok(serve(req, asset, cache))
}

/// The asset, or a 304 when the client's copy is current.
fn serve(req: &Req, asset: &Asset, cache_control: &'static str) -> Response {
    let etag = asset.etag();
    let fresh = req.none_match(&etag) == Some(true);
    let mut response = if fresh {
        let mut response = Response::new(Default::default());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(asset.body.clone().into());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        response
    };
    let csp = content_security_policy(&req.headers, &req.base_url());
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_CSP)),
    );
    response
}

/// Used only if the computed policy is not a valid header value.
const FALLBACK_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self' ws: wss:; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Our own origin only: scripts and styles from `'self'`; images from
/// `'self'`, the public URL (image links are absolute) and the `blob:`/`data:`
/// URLs of upload previews; the WebSocket of the host the page was loaded
/// from (CSP's `'self'` does not cover `ws:` in every browser).
fn content_security_policy(headers: &HeaderMap, base_url: &str) -> String {
    let base = origin(base_url);
    let mut img = String::from("'self' data: blob:");
    let mut connect = String::from("'self'");
    if let Some(base) = base {
        img.push(' ');
        img.push_str(base);
    }
    match headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| is_host(host))
    {
        Some(host) => connect.push_str(&format!(" ws://{host} wss://{host}")),
        None => connect.push_str(" ws: wss:"),
    }
    if let Some(host) = base.and_then(|base| base.split_once("://")).map(|(_, h)| h) {
        if is_host(host) && headers.get(HOST).and_then(|v| v.to_str().ok()) != Some(host) {
            connect.push_str(&format!(" ws://{host} wss://{host}"));
        }
    }
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src {img}; \
         connect-src {connect}; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find('/').unwrap_or(rest.len());
    let origin = &url[..scheme.len() + 3 + end];
    (end > 0 && is_host(&rest[..end])).then_some(origin)
}

/// A `Host` value safe to put in a header: host name or address and port.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_the_websocket_of_the_host() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8000"));
        let csp = content_security_policy(&headers, "http://127.0.0.1:8000");
        assert!(csp.contains("connect-src 'self' ws://127.0.0.1:8000 wss://127.0.0.1:8000;"));
        assert!(csp.contains("img-src 'self' data: blob: http://127.0.0.1:8000;"));
        assert!(csp.contains("script-src 'self';"));
    }

    #[test]
    fn policy_with_a_public_url_and_a_strange_host() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("a b"));
        let csp = content_security_policy(&headers, "https://chat.example.org/");
        assert!(csp.contains("img-src 'self' data: blob: https://chat.example.org;"));
        assert!(csp
            .contains("connect-src 'self' ws: wss: ws://chat.example.org wss://chat.example.org;"));
    }

    /// The `'./name.js'` specifiers of a module's static imports.
    fn imports(module: &str) -> Vec<&str> {
        module
            .lines()
            .filter_map(|line| line.trim_end().strip_suffix("';"))
            .filter_map(|line| line.rsplit_once(" from './").map(|(_, name)| name))
            .collect()
    }

    #[test]
    fn every_asset_is_linked_by_version_or_imported() {
        let assets = assets();
        let index = String::from_utf8(assets.index.body.clone()).unwrap();
        let sources: Vec<&str> = assets
            .statics
            .iter()
            .filter(|(name, _)| name.ends_with(".js"))
            .map(|(_, asset)| std::str::from_utf8(&asset.body).unwrap())
            .collect();
        let imported: Vec<&str> = sources.iter().flat_map(|s| imports(s)).collect();
        assert!(imported.len() >= 7, "imports not found: {imported:?}");
        for (name, asset) in &assets.statics {
            let linked = index.contains(&format!("/static/{name}?v={}\"", asset.version));
            assert!(
                linked || imported.contains(name),
                "{name} is neither linked by version nor imported"
            );
        }
        for name in &imported {
            assert!(
                assets.statics.iter().any(|(file, _)| file == name),
                "{name} is imported but not embedded"
            );
        }
        // The entry is loaded by its versioned URL; importing it would start
        // a second copy.
        assert!(!imported.contains(&"app.js"));
        assert!(index.contains("<script type=\"module\" src=\"/static/app.js?v="));
    }
}
