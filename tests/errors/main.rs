//! Errors and edges of the HTTP contract: every error row (404, 405 with
//! `Allow`, 415, 400, 413), JSON answers everywhere but 204, the media
//! files' revalidation and traversal, the header-read timeout. The modules:
//!
//! - `routes.rs`: unknown paths (404), wrong methods (405 with `Allow`), JSON answers, health;
//! - `requests.rs`: bad bodies (415, 400, 413), headers never finished (the read timeout);
//! - `media.rs`: `/media/` files: caching headers, revalidation (304), traversal refused.

#[path = "../common/mod.rs"]
mod common;
mod media;
mod requests;
mod routes;
