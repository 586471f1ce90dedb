//! Suspensions over the API and from the command line: tokens, logins,
//! refreshes and open sockets refused at once; the last staff user kept.

use serde_json::{json, Value};

use crate::common::*;
use crate::{audit, get_as, post_as, try_login};

const INACTIVE: &str = "User is inactive";
const BAD_LOGIN: &str = "No active account found with the given credentials";

fn user_inactive() -> Value {
    json!({"detail": INACTIVE, "code": "user_inactive"})
}

async fn suspend(app: &TestApp, token: &str, name: &str, reason: &str) -> (u16, Value) {
    let path = format!("/api/admin/users/{name}/suspend/");
    post_as(app, Some(token), &path, json!({"reason": reason})).await
}

async fn unsuspend(app: &TestApp, token: &str, name: &str) -> (u16, Value) {
    let path = format!("/api/admin/users/{name}/unsuspend/");
    post_as(app, Some(token), &path, json!({})).await
}

async fn refresh(app: &TestApp, refresh: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/token/refresh/"))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_users_tokens_logins_and_refresh_are_refused_until_unsuspended() {
    let app = spawn_app().await;
    let moderator = app.staff_user("moderator").await;
    app.register("bob").await;
    let (access, refresh_token) = app.login("bob").await;

    let (status, body) = suspend(&app, &moderator, "Bob", "  spam links  ").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"username": "bob", "is_active": false, "reason": "spam links"})
        )
    );
    let response = app
        .client
        .get(app.url("/api/user/"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, user_inactive()).await;
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&access)
        .form(&[("title", "x"), ("room", "films")])
        .send()
        .await
        .unwrap();
    assert_unauthorized(response, user_inactive()).await;
    assert_unauthorized(refresh(&app, &refresh_token).await, user_inactive()).await;
    assert_eq!(
        try_login(&app, "bob").await,
        (401, json!({"detail": BAD_LOGIN}))
    );
    let chat = app.new_chat_id(&moderator, "films", "Dune").await;
    let url = app.ws_url("films", chat, &format!("token={access}"));
    assert_eq!(refused_status(&url).await, 401);
    // Staff see every user's standing.
    let (status, users) = get_as(&app, &moderator, "/api/admin/users/").await;
    assert_eq!(status, 200, "{users}");
    let listed = results(&users);
    assert_eq!(listed.len(), 2);
    let joined = assert_timestamp(&listed[1]["date_joined"]).to_string();
    assert_eq!(
        listed[1],
        json!({"id": listed[1]["id"], "username": "bob", "email": "bob@example.com",
               "is_staff": false, "is_active": false, "reason": "spam links", "date_joined": joined})
    );
    assert_eq!(
        (&listed[0]["username"], &listed[0]["is_staff"]),
        (&json!("moderator"), &json!(true))
    );

    let (status, body) = unsuspend(&app, &moderator, "bob").await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"username": "bob", "is_active": true, "reason": null})
        )
    );
    // Tokens from before stay revoked; a new login works.
    assert_eq!(app.get_user(&access).await, (401, token_not_valid()));
    assert_eq!(refresh(&app, &refresh_token).await.status(), 401);
    let (fresh, _) = app.login("bob").await;
    assert_eq!(app.get_user(&fresh).await.0, 200);

    let entries = audit(&app, &moderator).await;
    let summary: Vec<(&Value, &Value, &Value)> = entries
        .iter()
        .take(2)
        .map(|e| (&e["action"], &e["target"], &e["detail"]))
        .collect();
    assert_eq!(
        summary,
        [
            (&json!("user.unsuspend"), &json!("bob"), &json!("")),
            (&json!("user.suspend"), &json!("bob"), &json!("spam links")),
        ]
    );
}

#[tokio::test]
async fn suspensions_refused_with_a_clear_400_or_404() {
    let app = spawn_app().await;
    let moderator = app.staff_user("moderator").await;
    let second = app.staff_user("second").await;
    assert_eq!(
        suspend(&app, &moderator, "moderator", "").await,
        (400, json!({"detail": "You cannot suspend yourself."}))
    );
    assert_eq!(
        suspend(&app, &moderator, "nobody", "").await,
        (404, not_found())
    );
    let long = "r".repeat(401);
    assert_eq!(
        suspend(&app, &moderator, "second", &long).await,
        (
            400,
            json!({"reason": ["Ensure this field has no more than 400 characters."]})
        )
    );
    // Another staff user may be suspended; then the moderator is the last
    // active staff user, and only they could suspend... themselves: refused.
    assert_eq!(suspend(&app, &moderator, "second", "").await.0, 200);
    assert_eq!(app.get_user(&second).await, (401, user_inactive()));
    assert_eq!(suspend(&app, &moderator, "moderator", "").await.0, 400);
    assert_eq!(app.get_user(&moderator).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_suspends_at_once_but_never_the_last_active_staff_user() {
    let app = spawn_app().await;
    let dir = app.data_dir();
    let moderator = app.staff_user("moderator").await;
    let bob = app.user("bob").await;
    assert_eq!(app.get_user(&bob).await.0, 200);

    let output = chatd(&["user", "suspend", "bob", "--reason", "abuse"], &dir);
    assert!(output.status.success(), "{output:?}");
    // The running server refuses bob's token at its very next request.
    assert_eq!(app.get_user(&bob).await, (401, user_inactive()));
    assert_eq!(try_login(&app, "bob").await.0, 401);
    let listed = stdout(&chatd(&["user", "list"], &dir));
    assert!(listed.contains("suspended (abuse)"), "{listed}");

    let output = chatd(&["user", "suspend", "moderator"], &dir);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("The last active staff user cannot be suspended or lose staff status."),
        "{stderr}"
    );
    let output = chatd(&["user", "set-staff", "moderator", "off"], &dir);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(app.get_user(&moderator).await.1["is_staff"], true);

    assert!(chatd(&["user", "unsuspend", "bob"], &dir).status.success());
    assert_eq!(try_login(&app, "bob").await.0, 200);

    // `chatd audit` prints what /api/admin/audit/ shows, newest first.
    let printed = stdout(&chatd(&["audit"], &dir));
    let entries = audit(&app, &moderator).await;
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), entries.len(), "{printed}");
    for (line, entry) in lines.iter().zip(&entries) {
        let fields: Vec<&str> = line.split('\t').collect();
        let expected = [
            entry["id"].to_string(),
            entry["timestamp"].as_str().unwrap().to_string(),
            entry["actor"].as_str().unwrap().to_string(),
            entry["action"].as_str().unwrap().to_string(),
            entry["target"].as_str().unwrap().to_string(),
            entry["detail"].as_str().unwrap().to_string(),
        ];
        assert_eq!(fields, expected);
    }
    let first: Vec<&str> = lines[0].split('\t').skip(2).collect();
    assert_eq!(first, ["(command line)", "user.unsuspend", "bob", ""]);
    assert!(
        printed.contains("(command line)\tuser.suspend\tbob\tabuse"),
        "{printed}"
    );
    assert!(
        printed.contains("(command line)\tuser.set_staff\tmoderator\ton"),
        "{printed}"
    );
}

/// A suspension (API or command line) closes the user's open sockets with
/// 4401 through the revocation path (their `token_version` changes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_closes_open_sockets() {
    let app = spawn_app().await;
    let moderator = app.staff_user("moderator").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let chat = app.new_chat_id(&moderator, "films", "Dune").await;
    let url = |token: &str| app.ws_url("films", chat, &format!("token={token}"));
    // One suspended over the API, one from the command line.
    let (mut bobs, _) = join_url(&url(&bob)).await;
    let (mut carols, _) = join_url(&url(&carol)).await;
    let started = std::time::Instant::now();
    assert_eq!(suspend(&app, &moderator, "bob", "spam").await.0, 200);
    assert!(chatd(&["user", "suspend", "carol"], &app.data_dir())
        .status
        .success());
    for socket in [&mut bobs, &mut carols] {
        let frame = next_non_presence(socket).await;
        assert_eq!(frame["type"], "error", "{frame}");
        assert_eq!(frame["code"], "not_authenticated", "{frame}");
        assert_eq!(close_code(socket).await, 4401);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
