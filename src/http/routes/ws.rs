//! `GET /chat/<room>/<id>/` with `Upgrade: websocket`: checks everything
//! that can fail (room, chat, token, capacity) while an HTTP answer is still
//! possible, then completes the handshake and hands the socket to
//! [`crate::live::connection`].

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use warp::http::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::{other_method, respond, Req, ReqFilter};
use crate::domain::pagination::{query_pairs, query_value};
use crate::http::error::ApiError;
use crate::live::connection::{self as socket, Session};
use crate::rooms::Room;

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("chat" / String / i64)
        .and(req)
        .then(
            |room: String, id: i64, req: Req| async move { respond(connect(room, id, req).await) },
        )
}

/// The `Sec-WebSocket-Key` of a well-formed upgrade request.
fn websocket_key(headers: &HeaderMap) -> Option<&HeaderValue> {
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    let upgrade = has_token(CONNECTION, "upgrade") && has_token(UPGRADE, "websocket");
    let version = headers
        .get(SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    headers
        .get(SEC_WEBSOCKET_KEY)
        .filter(|_| upgrade && version)
}

async fn connect(room: String, id: i64, req: Req) -> Result<Response, ApiError> {
    if req.method != Method::GET {
        return other_method(&req.method, "GET, OPTIONS");
    }
    let app = req.app.clone();
    let room = Room::parse(&room).ok_or_else(ApiError::not_found)?;
    req.chat(room, id).await?;
    let Some(key) = websocket_key(&req.headers) else {
        // A person who opened the chat's `url` in a browser gets the web
        // client's view of that chat; programs get a 426.
        let wants_html = req
            .headers
            .get(warp::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        if wants_html {
            let mut response = Response::new(Default::default());
            *response.status_mut() = StatusCode::FOUND;
            let location =
                HeaderValue::from_str(&format!("/#/{room}/{id}")).map_err(ApiError::internal)?;
            response
                .headers_mut()
                .insert(warp::http::header::LOCATION, location);
            return Ok(response);
        }
        return Err(ApiError::upgrade_required());
    };

    let query = query_pairs(&req.query);
    let user = match query_value(&query, "token") {
        Some(token) => Some(req.user_for_token(token).await?),
        None => req.user().await?,
    };
    let after = match query_value(&query, "after") {
        Some(after) => Some(
            after
                .parse::<i64>()
                .map_err(|_| ApiError::field("after", "A valid integer is required."))?,
        ),
        None => None,
    };
    if !app.live.hub.has_room() {
        return Err(ApiError::unavailable(
            "Too many open sockets; try again later.",
        ));
    }
    let client = crate::http::client_ip::client_ip(
        req.peer.map(|p| p.ip()),
        &req.headers,
        app.config.trust_proxy,
    );
    let slot = match client {
        Some(ip) => Some(
            app.sockets_per_ip
                .acquire(ip)
                .ok_or_else(ApiError::too_many_sockets)?,
        ),
        None => None,
    };
    let on_upgrade = req
        .upgrade
        .as_ref()
        .and_then(|slot| slot.take())
        .ok_or_else(ApiError::upgrade_required)?;

    let session = Session {
        base: Arc::from(req.base_url()),
        live: app.live.clone(),
        room,
        chat_id: id,
        user,
        after,
    };
    let config = socket::websocket_config(&app.config.ws);
    tokio::spawn(async move {
        match on_upgrade.await {
            // The TCP stream itself: frames are written to it directly
            // (see `live::peer::Out`).
            Ok(upgraded) => match upgraded.downcast::<TokioIo<TcpStream>>() {
                Ok(parts) => {
                    socket::run(session, parts.io.into_inner(), parts.read_buf, config).await;
                    // The address's place is given back only when the socket is done.
                    drop(slot);
                }
                Err(_) => tracing::error!("websocket upgrade of an unexpected stream type"),
            },
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });

    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    let accept =
        HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(ApiError::internal)?;
    headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    Ok(response)
}
