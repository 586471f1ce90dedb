//! Large rooms and long absences (API.md): presence as a coalesced state,
//! cheap mass joins and leaves, bounded catch-up, 1011 on a server failure
//! at open, and revocation that reaches open sockets. The modules:
//!
//! - `crowds.rs`: hundreds of sockets in one chat: joining, leaving at once, shutdown;
//! - `catch_up_and_revocation.rs`: catch-up after `hello`, 1011 at open, sockets revoked.

mod catch_up_and_revocation;
#[path = "../common/mod.rs"]
mod common;
mod crowds;
