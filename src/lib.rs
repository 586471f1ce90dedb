//! chatd: a self-contained chat server. One binary serves a REST chat API
//! (accounts, chats in four rooms, image uploads) and live WebSocket chat
//! rooms from an embedded SQLite database and a media folder next to it.
//!
//! Where to look:
//! - [`cli`]: the command line and its `CHATD_*` variables, parsed into a `Config`.
//! - [`config`]: the typed settings a server runs with, and their defaults.
//! - [`app`]: the state a running server shares, and how it is opened.
//! - [`http`]: the edge: accept loop, routes, bodies, the HTTP error.
//! - [`live`]: live rooms: the WebSocket protocol, the fan-out of events,
//!   the hub, one socket's life, the message writer.
//! - [`domain`]: validation and permissions, views, pagination, the domain error.
//! - [`auth`]: passwords and tokens.
//! - [`storage`]: schema, migrations, queries, the media folder.
//! - [`ops`]: the binary's commands: serve, backup, check, user, doctor, demo.
//! - [`metrics`]: counters for `/metrics`.
//! - [`rooms`]: the four rooms, the one piece of vocabulary every layer uses.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod live;
pub mod metrics;
pub mod ops;
pub mod rooms;
pub mod storage;

pub use config::Config;
pub use http::server::{RunningServer, Server};
