//! The first scenario, continued after the server restart: a phone-sized
//! chat, an avatar, a chat's description changed live, paging over 100
//! chats, deleting a chat, token refresh, logging out, the phone-sized
//! room list.

use chatd::auth::TokenType;
use fantoccini::Client;
use serde_json::json;

use crate::common::{self, fixture_path, TestApp};
use crate::driver::*;

/// Alice and Bob (their pages open on chat `chat_id`) go on after the
/// restart; `alice_access` is an access token of Alice's.
pub(crate) async fn scenario(
    mut app: TestApp,
    alice: Client,
    bob: Client,
    chat_id: i64,
    alice_access: String,
) {
    let base = app.base.clone();
    // Bob's screen on a phone.
    bob.set_window_size(390, 844).await.unwrap();
    wait_for(
        &bob,
        "the narrow layout",
        "return window.innerWidth <= 640",
        vec![],
    )
    .await;
    screenshot(&bob, "07-chat-phone").await;

    // Alice sets an avatar; it shows in the header.
    open(&alice, &format!("{base}/#/profile")).await;
    wait_text(&alice, "#profile-name", "alice").await;
    choose_file(
        &alice,
        "#avatar-form [name=avatar]",
        &fixture_path("red.gif"),
    )
    .await;
    wait_for(
        &alice,
        "the avatar preview",
        "const img = document.querySelector('#avatar-form .preview'); return !img.hidden && img.complete && img.naturalWidth > 0",
        vec![],
    )
    .await;
    click(&alice, "#avatar-form button[type=submit]").await;
    wait_for(
        &alice,
        "the avatar in the header",
        "const img = document.querySelector('#me-avatar img'); return !!img && img.src.includes('/media/avatars/') && img.complete && img.naturalWidth > 0",
        vec![],
    )
    .await;
    screenshot(&alice, "08-profile").await;

    // Alice edits her chat's description; Bob, in the chat, sees it.
    click(&alice, ".tabs a[data-room=films]").await;
    let card = format!("#chat-list li[data-id='{chat_id}']");
    click(&alice, &format!("{card} .chat-actions button.quiet")).await;
    type_into(&alice, &format!("{card} textarea"), "Now about the books").await;
    choose_file(
        &alice,
        &format!("{card} input[type=file]"),
        &fixture_path("red.jpg"),
    )
    .await;
    click(&alice, &format!("{card} button[type=submit]")).await;
    wait_text(&alice, &format!("{card} .desc"), "Now about the books").await;
    wait_text(&bob, "#chat-desc", "Now about the books").await;
    wait_for(
        &bob,
        "the new chat image",
        "return document.querySelector('#chat-img').src.endsWith('.jpg')",
        vec![],
    )
    .await;

    // Paging: over 100 chats in a room.
    for n in 1..=101 {
        let (status, body) = app
            .create_chat(
                &alice_access,
                &[("title", &format!("Game {n:03}")), ("room", "games")],
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    click(&alice, ".tabs a[data-room=games]").await;
    wait_text(&alice, "#page-info", "Page 1 of 2").await;
    assert_eq!(
        js(
            &alice,
            "return document.querySelectorAll('#chat-list .chat-card').length",
            vec![]
        )
        .await,
        100
    );
    assert_eq!(
        js(
            &alice,
            "return document.querySelector('#prev-page').disabled",
            vec![]
        )
        .await,
        true
    );
    click(&alice, "#next-page").await;
    wait_text(&alice, "#page-info", "Page 2 of 2").await;
    wait_text(&alice, "#chat-list .chat-card .chat-name", "Game 101").await;
    screenshot(&alice, "09-paging").await;
    click(&alice, "#prev-page").await;
    wait_text(&alice, "#page-info", "Page 1 of 2").await;
    wait_text(&alice, "#chat-list .chat-card .chat-name", "Game 001").await;

    // Alice deletes her films chat; Bob's open chat says so.
    click(&alice, ".tabs a[data-room=films]").await;
    let delete = format!("{card} .chat-actions button.danger");
    click(&alice, &delete).await;
    click(&alice, &delete).await;
    wait_text(&alice, "#chat-list .empty", "No chats here yet.").await;
    wait_text(&bob, "#chat-status", "Chat deleted").await;

    // An access token about to expire is refreshed ahead of time; a bad one
    // is refreshed when the server refuses it.
    // (A copy of a real token with an earlier expiry, signed with the
    // test secret.)
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tokens = common::test_tokens();
    let mut claims = tokens
        .decode(&alice_access, TokenType::Access)
        .expect("alice's token");
    claims.iat = now - 100;
    claims.exp = now + 20;
    claims.jti = "browser-test".into();
    let expiring = tokens.encode(&claims).unwrap();
    js(
        &alice,
        "localStorage.setItem('chatd.access', arguments[0])",
        vec![json!(expiring)],
    )
    .await;
    reload(&alice).await;
    wait_for(
        &alice,
        "a refreshed access token",
        "const t = localStorage.getItem('chatd.access'); return t !== arguments[0] && JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))).exp > Date.now() / 1000 + 3600",
        vec![json!(expiring)],
    )
    .await;
    js(
        &alice,
        "localStorage.setItem('chatd.access', 'not-a-token')",
        vec![],
    )
    .await;
    reload(&alice).await;
    wait_text(&alice, "#me-name", "alice").await;
    wait_for(
        &alice,
        "a good token after a refused one",
        "return localStorage.getItem('chatd.access').split('.').length === 3",
        vec![],
    )
    .await;

    // Logging out forgets the tokens and shows the room again as a guest.
    click(&alice, "#logout").await;
    wait_for(
        &alice,
        "logged out",
        "return !document.querySelector('#login-link').hidden && localStorage.getItem('chatd.access') === null && localStorage.getItem('chatd.refresh') === null && document.querySelector('#new-chat-toggle').hidden && !document.querySelector('#guest-hint').hidden",
        vec![],
    )
    .await;

    // The phone-sized room list.
    alice.set_window_size(390, 844).await.unwrap();
    click(&alice, ".tabs a[data-room=games]").await;
    wait_text(&alice, "#page-info", "Page 1 of 2").await;
    screenshot(&alice, "10-room-phone").await;

    let _ = alice.close().await;
    let _ = bob.close().await;
    if let Some(server) = app.server.take() {
        let _ = server.shutdown().await;
    }
}
