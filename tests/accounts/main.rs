//! Accounts: registration and its rules, tokens (login, refresh; expired,
//! tampered, of the wrong type), the signed-in user and the avatar. The
//! modules:
//!
//! - `register.rs`: registration in every encoding, the username, e-mail and password rules;
//! - `tokens.rs`: logins and refreshes, and tokens on requests (missing, tampered, expired);
//! - `profile.rs`: the signed-in user (`/api/user/`) and the avatar (upload, replace, refusals).

#[path = "../common/mod.rs"]
mod common;
mod profile;
mod register;
mod tokens;

use serde_json::Value;

use common::*;

/// `POST <path>` of a JSON body: status and JSON body.
pub(crate) async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let response = app.client.post(app.url(path)).json(&body).send().await;
    api(response.unwrap()).await
}
