//! The HTTP edge: the accept loop, routes and handlers, request bodies,
//! replies, the cache of rendered pages, CORS, the client's address, and the one HTTP error type
//! ([`error::ApiError`]) with its DRF-shaped rendering. Nothing below this layer knows about HTTP.

pub mod body;
pub mod cache;
pub mod client_ip;
pub mod cors;
pub mod error;
pub mod reply;
pub mod request;
pub mod routes;
pub mod server;
