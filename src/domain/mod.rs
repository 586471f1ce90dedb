//! Domain rules, apart from HTTP and storage: rooms, field validation and
//! permissions, the JSON views of chats, messages and users, pagination,
//! and throttling.

pub mod accounts;
pub mod community;
pub mod error;
pub mod form;
pub mod pagination;
pub mod rooms;
pub mod rules;
pub mod throttle;
pub mod views;
