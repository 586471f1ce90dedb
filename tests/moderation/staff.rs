//! Staff: made on the command line, editing and deleting anyone's messages
//! and chats (REST and socket, in the audit log); admin endpoints refused.

use serde_json::json;

use crate::common::*;
use crate::{audit, get_as, post_as, try_login};

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
