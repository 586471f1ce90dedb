//! The bare-warp baseline: the same routes and JSON shapes as chatd for the
//! benchmarked paths, with no database, auth, validation or limits.
//!
//! - `GET /healthz` → `{"status":"ok"}`
//! - `GET /api/chat/films/` → a page of 100 chats (of [`SEED_CHATS`]), built
//!   and serialized per request from memory, like chatd builds it from rows.
//! - `GET /api/chat/films/<id>/messages/` → a page of 100 messages.
//! - `GET /chat/<room>/<id>/` upgraded with warp's stock `warp::ws()`: a
//!   `hello`, then every `{"type":"message","text":..}` frame is fanned out to
//!   all sockets of that chat as chatd's `message` frame (with a
//!   [`Journal`], once it is on disk).
//!
//! The only change from a stock `warp::serve` is that the listener is bound
//! here with `TCP_NODELAY` set on it: Linux copies that option to every
//! accepted socket, and without it Nagle's algorithm adds tens of ms to
//! small frames.
//!
//! Used by `examples/baseline.rs` (a process of its own) and by
//! `examples/loadgen.rs` (in-process fallback).
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::reply::Response;
use warp::ws::{Message, Ws};
use warp::Filter;

#[path = "baseline_server/journal.rs"]
pub mod journal;
#[path = "baseline_server/ws.rs"]
mod ws;

use journal::Journal;

use ws::socket;

/// Chats in the `films` room (the page shows the first 100).
pub const SEED_CHATS: usize = 120;
/// Messages of a chat's history (the page shows 100).
pub const SEED_MESSAGES: usize = 120;
/// Items per page, as in chatd.
const PAGE_SIZE: usize = 100;

/// Title of the `i`-th seeded chat; the load generator creates the same
/// chats in chatd, so both pages have the same size.
pub fn seed_title(i: usize) -> String {
    format!("Film chat {i:04}")
}

/// Description of the `i`-th seeded chat.
pub fn seed_description(i: usize) -> String {
    format!("Plots and characters of film {i}")
}

/// Text of the `i`-th seeded history message.
pub fn seed_message(i: usize) -> String {
    format!("history message {i:04}: a line of chat about the film")
}

/// The user that "creates" everything in the baseline.
pub const SEED_USER: &str = "benchuser";

struct Chat {
    id: i64,
    title: String,
    img: Option<String>,
    creator: String,
    description: Option<String>,
    created_at: String,
}

/// chatd's Chat shape.
#[derive(Serialize)]
struct ChatView {
    id: i64,
    title: String,
    room: &'static str,
    img: String,
    creator: String,
    description: Option<String>,
    url: String,
    timestamp: String,
}

impl ChatView {
    fn new(chat: &Chat, base: &str) -> ChatView {
        let img = chat.img.as_deref().unwrap_or("chat_img/default.jpg");
        ChatView {
            id: chat.id,
            title: chat.title.clone(),
            room: "films",
            img: format!("{base}/media/{img}"),
            creator: chat.creator.clone(),
            description: chat.description.clone(),
            url: format!("/chat/films/{}/", chat.id),
            timestamp: chat.created_at.clone(),
        }
    }
}

/// chatd's page shape.
#[derive(Serialize)]
struct Page<T> {
    count: u64,
    next: Option<String>,
    previous: Option<String>,
    results: Vec<T>,
}

struct StoredMessage {
    id: i64,
    chat_id: i64,
    user_id: i64,
    user_name: String,
    text: String,
    created_at: String,
}

/// chatd's Message shape, with the fields of version 2 (an image, the
/// mentions and the reactions; empty here, as on most of chatd's messages),
/// so both servers send the same bytes.
#[derive(Serialize)]
struct MessageView<'a> {
    id: i64,
    chat: i64,
    user: i64,
    user_name: &'a str,
    user_avatar: Option<String>,
    text: &'a str,
    timestamp: &'a str,
    edited: Option<&'a str>,
    is_deleted: bool,
    image: Option<String>,
    mentions: Vec<String>,
    reactions: Vec<String>,
}

impl<'a> MessageView<'a> {
    fn new(message: &'a StoredMessage) -> MessageView<'a> {
        MessageView {
            id: message.id,
            chat: message.chat_id,
            user: message.user_id,
            user_name: &message.user_name,
            user_avatar: None,
            text: &message.text,
            timestamp: &message.created_at,
            edited: None,
            is_deleted: false,
            image: None,
            mentions: Vec::new(),
            reactions: Vec::new(),
        }
    }
}

/// A socket of a chat: its id and its outbound queue.
type Member = (u64, mpsc::UnboundedSender<Message>);

/// The baseline's in-memory data and open sockets.
pub struct State {
    chats: Vec<Chat>,
    history: Vec<StoredMessage>,
    rooms: Mutex<HashMap<i64, Vec<Member>>>,
    next_socket: AtomicU64,
    next_message: AtomicI64,
    /// With `--fsync-dir`: each message is made durable before it is sent.
    journal: Option<Journal>,
}

fn now_timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

impl State {
    pub fn new(journal: Option<Journal>) -> State {
        let chats = (0..SEED_CHATS)
            .map(|i| Chat {
                id: i as i64 + 1,
                title: seed_title(i),
                img: None,
                creator: SEED_USER.to_string(),
                description: Some(seed_description(i)),
                created_at: now_timestamp(),
            })
            .collect();
        let history = (0..SEED_MESSAGES)
            .map(|i| StoredMessage {
                id: i as i64 + 1,
                chat_id: 1,
                user_id: 1,
                user_name: SEED_USER.to_string(),
                text: seed_message(i),
                created_at: now_timestamp(),
            })
            .collect();
        State {
            chats,
            history,
            rooms: Mutex::new(HashMap::new()),
            next_socket: AtomicU64::new(1),
            next_message: AtomicI64::new(SEED_MESSAGES as i64 + 1),
            journal,
        }
    }
}

fn json_response<T: Serialize>(value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn base_url(host: Option<String>) -> String {
    format!("http://{}", host.as_deref().unwrap_or("localhost"))
}

fn list_page(state: &State, base: &str) -> Response {
    let next = (state.chats.len() > PAGE_SIZE).then(|| format!("{base}/api/chat/films/?page=2"));
    json_response(&Page {
        count: state.chats.len() as u64,
        next,
        previous: None,
        results: state
            .chats
            .iter()
            .take(PAGE_SIZE)
            .map(|chat| ChatView::new(chat, base))
            .collect(),
    })
}

fn history_page(state: &State, chat_id: i64, base: &str) -> Response {
    let next = (state.history.len() > PAGE_SIZE)
        .then(|| format!("{base}/api/chat/films/{chat_id}/messages/?page=2"));
    json_response(&Page {
        count: state.history.len() as u64,
        next,
        previous: None,
        results: state
            .history
            .iter()
            .take(PAGE_SIZE)
            .map(MessageView::new)
            .collect(),
    })
}

/// The baseline's routes.
pub fn routes(
    state: Arc<State>,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let host = warp::header::optional::<String>("host");
    let health = warp::path!("healthz")
        .and(warp::get())
        .map(|| json_response(&serde_json::json!({"status": "ok"})));
    let list = warp::path!("api" / "chat" / "films")
        .and(warp::get())
        .and(with_state.clone())
        .and(host)
        .map(|state: Arc<State>, host| list_page(&state, &base_url(host)));
    let history = warp::path!("api" / "chat" / "films" / i64 / "messages")
        .and(warp::get())
        .and(with_state.clone())
        .and(host)
        .map(|chat_id, state: Arc<State>, host| history_page(&state, chat_id, &base_url(host)));
    let ws = warp::path!("chat" / String / i64)
        .and(warp::ws())
        .and(with_state)
        .and(host)
        .map(
            |_room: String, chat_id: i64, ws: Ws, state: Arc<State>, host| {
                let base = base_url(host);
                warp::reply::Reply::into_response(
                    ws.on_upgrade(move |socket_| socket(state, chat_id, base, socket_)),
                )
            },
        );
    health.or(list).unify().or(history).unify().or(ws).unify()
}

/// Binds `addr` with `TCP_NODELAY` on the listener (inherited by accepted
/// sockets on Linux).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Serves the baseline on `listener` with stock `warp::serve` until the
/// process ends; with a journal, each message is written to it and synced
/// before it is fanned out.
pub async fn serve(listener: TcpListener, journal: Option<Journal>) {
    let state = Arc::new(State::new(journal));
    warp::serve(routes(state)).incoming(listener).run().await;
}

/// Starts the baseline in the current runtime; returns its address.
pub async fn spawn(addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = bind(addr)?;
    let local = listener.local_addr()?;
    tokio::spawn(serve(listener, None));
    Ok(local)
}
