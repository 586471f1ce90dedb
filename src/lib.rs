//! chatd: a self-contained chat server. One binary serves a REST chat API
//! (accounts, chats in four rooms, image uploads) and live WebSocket chat
//! rooms from an embedded SQLite database and a media folder next to it.
//!
//! Where to look:
//! - [`config`]: command line, environment, defaults.
//! - [`server`]: the accept loop, connection limits and shutdown.
//! - [`routes`]: HTTP routes, one module per resource.
//! - [`rules`]: validation and permissions, apart from HTTP.
//! - [`storage`]: schema, migrations and queries.
//! - [`auth`], [`media`], [`body`]: tokens and passwords, images, request bodies.
//! - [`error`]: the one error type, rendered in DRF's JSON shapes.
//! - [`hub`], [`socket`], [`writer`]: live rooms: who is connected where,
//!   one socket's protocol, and the group-committing message writer.

pub mod app;
pub mod auth;
pub mod body;
pub mod commands;
pub mod config;
pub mod cors;
pub mod demo;
pub mod doctor;
pub mod error;
pub mod hub;
pub mod media;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod pagination;
pub mod png;
pub mod reply;
pub mod rooms;
pub mod routes;
pub mod rules;
pub mod server;
pub mod socket;
pub mod storage;
pub mod throttle;
pub mod writer;

pub use config::Config;
pub use server::{RunningServer, Server};
