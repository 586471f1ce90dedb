//! Moderation and access: staff, suspensions (API and command line, seen
//! by a running server at once), closed and invite-only registration,
//! invite races, and the audit log.

mod common;

use serde_json::{json, Value};

use common::*;

const INACTIVE: &str = "User is inactive";
const BAD_LOGIN: &str = "No active account found with the given credentials";

fn user_inactive() -> Value {
    json!({"detail": INACTIVE, "code": "user_inactive"})
}

/// `POST <path>` with a JSON body as `token` (anonymous with `None`).
async fn post_as(app: &TestApp, token: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

/// `GET <path>` as `token`.
async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    send(app.client.get(app.url(path)).bearer_auth(token)).await
}

async fn suspend(app: &TestApp, token: &str, name: &str, reason: &str) -> (u16, Value) {
    let path = format!("/api/admin/users/{name}/suspend/");
    post_as(app, Some(token), &path, json!({"reason": reason})).await
}

async fn unsuspend(app: &TestApp, token: &str, name: &str) -> (u16, Value) {
    let path = format!("/api/admin/users/{name}/unsuspend/");
    post_as(app, Some(token), &path, json!({})).await
}

/// `POST /api/token/` with [`PASSWORD`]: status and body.
async fn try_login(app: &TestApp, name: &str) -> (u16, Value) {
    let request = app
        .client
        .post(app.url("/api/token/"))
        .form(&[("username", name), ("password", PASSWORD)]);
    send(request).await
}

async fn refresh(app: &TestApp, refresh: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/token/refresh/"))
        .json(&json!({"refresh": refresh}))
        .send()
        .await
        .unwrap()
}

async fn audit(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, page) = get_as(app, token, "/api/admin/audit/").await;
    assert_eq!(status, 200, "{page}");
    results(&page)
}

/// `POST /api/register/` of `name` with extra fields.
async fn register_with(app: &ApiClient, name: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let email = format!("{name}@example.com");
    let mut fields = vec![
        ("username", name),
        ("email", &email),
        ("password", PASSWORD),
    ];
    fields.extend_from_slice(extra);
    send(app.client.post(app.url("/api/register/")).form(&fields)).await
}

// ------------------------------------------------------------------- staff

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_is_made_on_the_command_line_and_shown_on_the_user() {
    let app = spawn_app().await;
    let dir = app.data_dir();
    let created = chatd(
        &[
            "user",
            "create",
            "root",
            "--email",
            "root@example.com",
            "--password",
            PASSWORD,
            "--staff",
        ],
        &dir,
    );
    assert!(created.status.success(), "{created:?}");
    assert!(stdout(&created).contains("created staff user root"));
    let root = app.login("root").await.0;
    assert_eq!(app.get_user(&root).await.1["is_staff"], true);

    let bob = app.user("bob").await;
    assert_eq!(app.get_user(&bob).await.1["is_staff"], false);
    assert!(chatd(&["user", "set-staff", "BOB", "on"], &dir)
        .status
        .success());
    // The running server reads the flag at the next request.
    assert_eq!(app.get_user(&bob).await.1["is_staff"], true);
    assert!(chatd(&["user", "set-staff", "bob", "off"], &dir)
        .status
        .success());
    assert_eq!(app.get_user(&bob).await.1["is_staff"], false);
    assert!(!chatd(&["user", "set-staff", "bob", "maybe"], &dir)
        .status
        .success());
    assert!(!chatd(&["user", "set-staff", "nobody", "on"], &dir)
        .status
        .success());

    let listed = stdout(&chatd(&["user", "list"], &dir));
    let root_line = listed.lines().find(|l| l.contains(" root ")).unwrap();
    assert!(root_line.ends_with("staff"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_edit_and_delete_any_message_and_chat_over_rest() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let moderator = app.staff_user("moderator").await;
    let chat = app.new_chat_id(&alice, "films", "Dune").await;
    let message = send_message(&app, &alice, "films", chat, "spam spam").await;
    let mid = message["id"].as_i64().unwrap();
    let (mut watcher, _) = join_url(&app.ws_url("films", chat, "")).await;
    let path = format!("/api/chat/films/{chat}/messages/{mid}/");

    // Not bob's: 403, as before.
    let patch = |token: &str| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(token)
            .json(&json!({"text": "edited"}))
    };
    assert_eq!(send(patch(&bob)).await.0, 403);
    // Staff: the owner's shapes and broadcasts.
    let (status, edited) = send(patch(&moderator)).await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        (edited["text"].as_str(), edited["user_name"].as_str()),
        (Some("edited"), Some("alice"))
    );
    assert_recent_timestamp(&edited["edited"]);
    let frame = next_non_presence(&mut watcher).await;
    assert_eq!(frame, json!({"type": "message_edited", "message": edited}));
    let deleted = app.client.delete(app.url(&path)).bearer_auth(&moderator);
    assert_eq!(send_raw(deleted).await, (204, String::new()));
    let frame = next_non_presence(&mut watcher).await;
    assert_eq!(frame["type"], "message_deleted");
    assert_eq!(frame["message"]["is_deleted"], true);

    let chat_path = format!("/api/chat/films/{chat}/");
    let request = app
        .client
        .patch(app.url(&chat_path))
        .bearer_auth(&bob)
        .json(&json!({"description": "mine now"}));
    assert_eq!(send(request).await.0, 403);
    let request = app
        .client
        .patch(app.url(&chat_path))
        .bearer_auth(&moderator)
        .json(&json!({"description": "cleaned up"}));
    let (status, updated) = send(request).await;
    assert_eq!((status, updated["creator"].as_str()), (200, Some("alice")));
    assert_eq!(updated["description"], "cleaned up");
    assert_eq!(
        next_non_presence(&mut watcher).await["type"],
        "chat_updated"
    );
    let deleted = app
        .client
        .delete(app.url(&chat_path))
        .bearer_auth(&moderator);
    assert_eq!(send_raw(deleted).await, (204, String::new()));
    assert_eq!(
        next_json(&mut watcher).await,
        json!({"type": "chat_deleted"})
    );
    assert_eq!(close_code(&mut watcher).await, 4404);

    // Each moderation action is in the audit log, newest first; an owner
    // changing their own things is not moderation.
    let entries = audit(&app, &moderator).await;
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    let message_target = format!("message {mid}");
    let chat_target = format!("chat films/{chat}");
    assert_eq!(
        actions[..4],
        [
            ("moderator", "chat.delete", chat_target.as_str()),
            ("moderator", "chat.update", chat_target.as_str()),
            ("moderator", "message.delete", message_target.as_str()),
            ("moderator", "message.edit", message_target.as_str()),
        ]
    );
    assert_eq!(
        entries[3]["detail"],
        format!("by alice in chat {chat}: spam spam")
    );
    assert_recent_timestamp(&entries[0]["timestamp"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_edit_and_delete_any_message_over_the_websocket() {
    let app = spawn_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let moderator = app.staff_user("moderator").await;
    let chat = app.new_chat_id(&alice, "films", "Dune").await;
    let mid = send_message(&app, &alice, "films", chat, "spam").await["id"]
        .as_i64()
        .unwrap();

    let (mut bobs, _) = join_url(&app.ws_url("films", chat, &format!("token={bob}"))).await;
    send_json(&mut bobs, json!({"type": "delete", "id": mid})).await;
    // (A presence frame of bob's own join may come first.)
    let refused = next_non_presence(&mut bobs).await;
    assert_eq!(
        (&refused["type"], &refused["code"]),
        (&json!("error"), &json!("permission_denied")),
        "{refused}"
    );

    let (mut mods, _) = join_url(&app.ws_url("films", chat, &format!("token={moderator}"))).await;
    send_json(
        &mut mods,
        json!({"type": "edit", "id": mid, "text": "[removed]"}),
    )
    .await;
    let edited = next_non_presence(&mut mods).await;
    assert_eq!(edited["type"], "message_edited", "{edited}");
    assert_eq!(
        (
            edited["message"]["text"].as_str(),
            edited["message"]["user_name"].as_str()
        ),
        (Some("[removed]"), Some("alice"))
    );
    assert_eq!(next_non_presence(&mut bobs).await, edited);
    send_json(&mut mods, json!({"type": "delete", "id": mid})).await;
    let deleted = next_non_presence(&mut mods).await;
    assert_eq!(
        (deleted["type"].as_str(), &deleted["message"]["is_deleted"]),
        (Some("message_deleted"), &json!(true))
    );

    let entries = audit(&app, &moderator).await;
    assert_eq!(entries[0]["action"], "message.delete");
    assert_eq!(entries[1]["action"], "message.edit");
    assert_eq!(
        entries[1]["detail"],
        format!("by alice in chat {chat}: spam")
    );
}

// ------------------------------------------------------------ admin access

#[tokio::test]
async fn admin_endpoints_are_401_anonymous_and_403_for_users_who_are_not_staff() {
    let app = spawn_app().await;
    let bob = app.user("bob").await;
    app.register("carol").await;
    let posts = [
        "/api/admin/users/carol/suspend/",
        "/api/admin/users/carol/unsuspend/",
        "/api/admin/invites/",
    ];
    for path in posts {
        let response = app
            .client
            .post(app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_unauthorized(response, json!({"detail": NOT_PROVIDED})).await;
        let (status, body) = post_as(&app, Some(&bob), path, json!({"reason": "x"})).await;
        assert_eq!(
            (status, body),
            (403, json!({"detail": FORBIDDEN})),
            "{path}"
        );
    }
    for path in ["/api/admin/audit/", "/api/admin/users/"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_unauthorized(response, json!({"detail": NOT_PROVIDED})).await;
        assert_eq!(
            get_as(&app, &bob, path).await,
            (403, json!({"detail": FORBIDDEN})),
            "{path}"
        );
    }
    // Nothing happened to carol.
    assert_eq!(try_login(&app, "carol").await.0, 200);
}

// ------------------------------------------------------------- suspensions

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

// ------------------------------------------------------------ registration

#[tokio::test]
async fn closed_registration_is_403_and_the_mode_is_published() {
    let app = spawn_app_with(|c| c.registration = chatd::config::Registration::Closed).await;
    assert_eq!(
        app.get_json("/api/config/").await,
        (200, json!({"registration": "closed"}))
    );
    assert_eq!(
        register_with(&app, "bob", &[]).await,
        (403, json!({"detail": "Registration is closed."}))
    );
    let open = spawn_app().await;
    assert_eq!(
        open.get_json("/api/config/").await,
        (200, json!({"registration": "open"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_registration_takes_one_use_of_a_valid_code() {
    let app = spawn_app_with(|c| c.registration = chatd::config::Registration::Invite).await;
    assert_eq!(
        app.get_json("/api/config/").await.1,
        json!({"registration": "invite"})
    );
    // Bootstrapping: the first staff user comes from the command line.
    let dir = app.data_dir();
    let created = chatd(
        &[
            "user",
            "create",
            "root",
            "--email",
            "root@example.com",
            "--password",
            PASSWORD,
            "--staff",
        ],
        &dir,
    );
    assert!(created.status.success(), "{created:?}");
    let root = app.login("root").await.0;

    assert_eq!(
        register_with(&app, "bob", &[]).await,
        (400, json!({"invite": [REQUIRED]}))
    );
    // Every field error together.
    assert_eq!(
        register_with(&app, "b b", &[("invite", " ")]).await,
        (
            400,
            json!({
                "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
                "email": ["Enter a valid email address."],
                "invite": ["This field may not be blank."]
            })
        )
    );
    let invalid = json!({"invite": ["Invalid or expired invite."]});
    assert_eq!(
        register_with(&app, "bob", &[("invite", "made-up")]).await,
        (400, invalid.clone())
    );

    let (status, invite) = post_as(
        &app,
        Some(&root),
        "/api/admin/invites/",
        json!({"uses": 2, "expires": "1h"}),
    )
    .await;
    assert_eq!(status, 201, "{invite}");
    assert_eq!(invite["uses_left"], 2);
    let code = invite["code"].as_str().unwrap().to_string();
    assert!(code.len() >= 22, "{code}");
    let expires =
        chrono::DateTime::parse_from_rfc3339(assert_timestamp(&invite["expires"])).unwrap();
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(
        (in_an_hour - expires.with_timezone(&chrono::Utc))
            .num_seconds()
            .abs()
            < 60
    );

    assert_eq!(
        register_with(&app, "bob", &[("invite", &code)]).await.0,
        201
    );
    // A taken name does not use up the invite.
    let (status, body) = register_with(&app, "bob", &[("invite", &code)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.get("username").is_some(), "{body}");
    assert_eq!(
        register_with(&app, "carol", &[("invite", &code)]).await.0,
        201
    );
    assert_eq!(
        register_with(&app, "dave", &[("invite", &code)]).await,
        (400, invalid.clone())
    );
    assert_eq!(try_login(&app, "carol").await.0, 200);

    // Defaults: one use, seven days.
    let (status, invite) = post_as(&app, Some(&root), "/api/admin/invites/", json!({})).await;
    assert_eq!((status, &invite["uses_left"]), (201, &json!(1)));
    let expires =
        chrono::DateTime::parse_from_rfc3339(invite["expires"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days}");
    assert_eq!(
        post_as(
            &app,
            Some(&root),
            "/api/admin/invites/",
            json!({"uses": 0, "expires": "soon"})
        )
        .await,
        (
            400,
            json!({
                "uses": ["Ensure this value is greater than or equal to 1."],
                "expires": ["Enter a duration like 3600, 90s, 15m, 24h or 7d."]
            })
        )
    );

    // Codes are kept only as hashes.
    let db = std::fs::read(dir.join("chat.db")).unwrap();
    let wal = std::fs::read(dir.join("chat.db-wal")).unwrap_or_default();
    let needle = invite["code"].as_str().unwrap().as_bytes();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle));
    }
    let entries = audit(&app, &root).await;
    assert_eq!(entries[0]["action"], "invite.create");
    assert_eq!(entries[0]["actor"], "root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_invites_work_and_expire() {
    let app = spawn_app_with(|c| c.registration = chatd::config::Registration::Invite).await;
    let dir = app.data_dir();
    let output = chatd(
        &["invite", "create", "--uses", "3", "--expires", "2s"],
        &dir,
    );
    assert!(output.status.success(), "{output:?}");
    let code = stdout(&output).trim().to_string();
    assert_eq!(code.len(), 24, "{code}");
    assert_eq!(
        register_with(&app, "bob", &[("invite", &code)]).await.0,
        201
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        register_with(&app, "carol", &[("invite", &code)]).await,
        (400, json!({"invite": ["Invalid or expired invite."]}))
    );
    assert!(!chatd(&["invite", "create", "--uses", "0"], &dir)
        .status
        .success());
    assert!(!chatd(&["invite", "create", "--expires", "366d"], &dir)
        .status
        .success());
    let printed = stdout(&chatd(&["audit"], &dir));
    assert!(
        printed.contains("(command line)\tinvite.create\tinvite 1\tuses 3, expires "),
        "{printed}"
    );
}

/// A bad invite is reported with every other field error of the request,
/// checked without taking a use: a valid code is used up only by a
/// registration that succeeds. A blank code is blank, a missing one
/// required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_errors_come_with_the_other_field_errors() {
    let app = spawn_app_with(|c| {
        c.registration = chatd::config::Registration::Invite;
        c.rate_limit = false;
    })
    .await;
    let output = chatd(&["invite", "create", "--uses", "1"], &app.data_dir());
    assert!(output.status.success(), "{output:?}");
    let code = stdout(&output).trim().to_string();
    let bad_fields = |invite: &str| {
        let fields = [
            ("username", "bad name"),
            ("email", "x"),
            ("password", "1"),
            ("invite", invite),
        ];
        send(app.client.post(app.url("/api/register/")).form(&fields))
    };
    let field_errors = json!({
        "username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
        "email": ["Enter a valid email address."],
        "password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
            "This password is entirely numeric."
        ]
    });
    let with_invite = |message: &str| {
        let mut body = field_errors.clone();
        body["invite"] = json!([message]);
        body
    };
    let invalid = "Invalid or expired invite.";

    assert_eq!(bad_fields("bogus").await, (400, with_invite(invalid)));
    // A valid code has nothing to report, and is not used up.
    assert_eq!(bad_fields(&code).await, (400, field_errors.clone()));
    assert_eq!(
        bad_fields("").await,
        (400, with_invite("This field may not be blank."))
    );

    // Blank in every encoding; missing is required.
    let blank = (400, json!({"invite": ["This field may not be blank."]}));
    assert_eq!(register_with(&app, "bob", &[("invite", "")]).await, blank);
    let json_body = json!({
        "username": "bob", "email": "bob@example.com", "password": PASSWORD, "invite": ""
    });
    let request = app.client.post(app.url("/api/register/")).json(&json_body);
    assert_eq!(send(request).await, blank);
    let multipart = text_form(&[
        ("username", "bob"),
        ("email", "bob@example.com"),
        ("password", PASSWORD),
        ("invite", ""),
    ]);
    let request = app
        .client
        .post(app.url("/api/register/"))
        .multipart(multipart);
    assert_eq!(send(request).await, blank);
    assert_eq!(
        register_with(&app, "bob", &[]).await,
        (400, json!({"invite": [REQUIRED]}))
    );

    // The code's one use is still there.
    assert_eq!(
        register_with(&app, "alice", &[("invite", &code)]).await.0,
        201
    );
    // Taken names and a bad code, together.
    assert_eq!(
        register_with(&app, "alice", &[("invite", "bogus")]).await,
        (
            400,
            json!({
                "username": ["A user with that username already exists."],
                "email": ["A user with that email already exists."],
                "invite": [invalid]
            })
        )
    );
    // Now the code is spent.
    assert_eq!(bad_fields(&code).await, (400, with_invite(invalid)));
}

/// As DRF reads them: `expires` as a JSON number is that many seconds (a
/// CharField takes numbers as text), `uses` as a string of digits is that
/// number (an IntegerField takes `"7"`); other JSON is not a string.
#[tokio::test]
async fn invite_expires_may_be_a_number_of_seconds_and_uses_a_string() {
    let app = spawn_app().await;
    let root = app.staff_user("root").await;
    let create = |body: Value| post_as(&app, Some(&root), "/api/admin/invites/", body);

    let (status, invite) = create(json!({"expires": 3600, "uses": "7"})).await;
    assert_eq!(status, 201, "{invite}");
    assert_eq!(invite["uses_left"], 7);
    let expires =
        chrono::DateTime::parse_from_rfc3339(assert_timestamp(&invite["expires"])).unwrap();
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let off = (in_an_hour - expires.with_timezone(&chrono::Utc)).num_seconds();
    assert!(off.abs() < 60, "{off}");

    assert_eq!(create(json!({"expires": 365 * 86_400})).await.0, 201);
    assert_eq!(
        create(json!({"expires": 365 * 86_400 + 1})).await,
        (
            400,
            json!({"expires": ["Ensure this duration is at most 365d."]})
        )
    );
    assert_eq!(
        create(json!({"expires": 0})).await,
        (
            400,
            json!({"expires": ["Enter a duration like 3600, 90s, 15m, 24h or 7d."]})
        )
    );
    for other in [json!(true), json!({"hours": 1}), json!([3600])] {
        assert_eq!(
            create(json!({ "expires": other })).await,
            (400, json!({"expires": ["Not a valid string."]})),
            "{other}"
        );
    }
    assert_eq!(
        create(json!({"uses": "seven", "expires": false})).await,
        (
            400,
            json!({
                "uses": ["A valid integer is required."],
                "expires": ["Not a valid string."]
            })
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_on_the_last_use_give_exactly_one_account() {
    let app = spawn_app_with(|c| {
        c.registration = chatd::config::Registration::Invite;
        c.rate_limit = false;
    })
    .await;
    let output = chatd(&["invite", "create"], &app.data_dir());
    let code = stdout(&output).trim().to_string();
    let attempts = (0..8).map(|n| {
        let (client, code) = (ApiClient::new(app.base.clone()), code.clone());
        tokio::spawn(async move {
            register_with(&client, &format!("racer{n}"), &[("invite", &code)]).await
        })
    });
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap());
    }
    let created = outcomes.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, 1, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(status, _)| *status != 201) {
        assert_eq!(
            (*status, body),
            (400, &json!({"invite": ["Invalid or expired invite."]}))
        );
    }
    let listed = stdout(&chatd(&["user", "list"], &app.data_dir()));
    let accounts = listed.lines().filter(|line| line.contains("racer")).count();
    assert_eq!(accounts, 1, "{listed}");
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
