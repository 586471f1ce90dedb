//! Domain rules, apart from HTTP and storage: field validation and
//! permissions, moderation, the JSON views of chats, messages and users,
//! pagination, and throttling.

pub mod accounts;
pub mod community;
pub mod error;
pub mod form;
pub mod moderation;
pub mod pagination;
pub mod rules;
pub mod throttle;
pub mod views;
