//! `GET /media/<folder>/<name>`: uploaded and default images, with
//! validators (`ETag`, `Last-Modified`) so browsers revalidate with a 304.

use warp::http::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, LAST_MODIFIED,
    X_CONTENT_TYPE_OPTIONS,
};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::{other_method, respond, Req, ReqFilter};
use crate::http::error::ApiError;
use crate::storage::media::etag;

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path("media").and(warp::path::tail()).and(req).then(
        |tail: warp::path::Tail, req: Req| async move {
            respond(serve(tail.as_str().to_string(), req).await)
        },
    )
}

async fn serve(path: String, req: Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    let (file, kind) = req
        .app
        .media
        .file_for(&path)
        .ok_or_else(ApiError::not_found)?;
    let metadata = match tokio::fs::metadata(&file).await {
        Ok(metadata) if metadata.is_file() => metadata,
        _ => return Err(ApiError::not_found()),
    };
    let modified = metadata.modified()?;
    let tag = etag(metadata.len(), modified);
    let last_modified = httpdate::fmt_http_date(modified);

    // If-Modified-Since counts only without If-None-Match (RFC 9110 13.1.3).
    let since = req
        .headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok());
    let not_modified = match (req.none_match(&tag), since) {
        (Some(current), _) => current,
        (None, Some(since)) => httpdate::parse_http_date(since)
            .ok()
            .zip(httpdate::parse_http_date(&last_modified).ok())
            .is_some_and(|(since, modified)| modified <= since),
        (None, None) => false,
    };

    let mut response = if not_modified {
        let mut response = Response::new(Default::default());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let bytes = match tokio::fs::read(&file).await {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(ApiError::not_found())
            }
            Err(error) => return Err(error.into()),
        };
        let mut response = Response::new(bytes.into());
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(kind.content_type()));
        response
    };
    let headers = response.headers_mut();
    let value = |text: &str| HeaderValue::from_str(text).map_err(ApiError::internal);
    headers.insert(ETAG, value(&tag)?);
    headers.insert(LAST_MODIFIED, value(&last_modified)?);
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    // Shown inline as the image it is, under our generated name; with the
    // image type, nosniff and the sandboxing CSP added to every answer, a
    // browser never treats an upload as a page.
    let name = path.rsplit('/').next().unwrap_or("image");
    headers.insert(
        warp::http::header::CONTENT_DISPOSITION,
        value(&format!("inline; filename=\"{name}\""))?,
    );
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
