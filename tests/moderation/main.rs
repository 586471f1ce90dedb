//! Moderation and access: staff, suspensions (API and command line, seen
//! by a running server at once), closed and invite-only registration,
//! invite races, and the audit log. The modules:
//!
//! - `staff.rs`: staff made on the command line, their edits and deletes, admin endpoints;
//! - `suspensions.rs`: suspensions (API, command line): tokens, logins, sockets refused;
//! - `registration.rs`: closed and invite-only registration, invites and their races.

#[path = "../common/mod.rs"]
mod common;
mod registration;
mod staff;
mod suspensions;

use serde_json::Value;

use common::*;

/// `POST <path>` with a JSON body as `token` (anonymous with `None`).
pub(crate) async fn post_as(
    app: &TestApp,
    token: Option<&str>,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

/// `GET <path>` as `token`.
pub(crate) async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    send(app.client.get(app.url(path)).bearer_auth(token)).await
}

/// `POST /api/token/` with [`PASSWORD`]: status and body.
pub(crate) async fn try_login(app: &TestApp, name: &str) -> (u16, Value) {
    let request = app
        .client
        .post(app.url("/api/token/"))
        .form(&[("username", name), ("password", PASSWORD)]);
    send(request).await
}

pub(crate) async fn audit(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, page) = get_as(app, token, "/api/admin/audit/").await;
    assert_eq!(status, 200, "{page}");
    results(&page)
}
