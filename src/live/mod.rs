//! Live rooms: who is connected to which chat ([`hub`]), one socket's life
//! ([`connection`]), and the group-committing message writer ([`writer`])
//! that stores a message before anyone is told of it.

pub mod connection;
pub mod hub;
pub mod writer;
