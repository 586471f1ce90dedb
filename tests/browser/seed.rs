//! The first scenarios: accounts, chats with images, two people chatting
//! live, edits and deletes, HTML injection attempts, a server restart with
//! catch-up (continued in `after_restart.rs`).

use std::path::Path;
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::Locator;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::{self, fixture_path, TestApp, PASSWORD};
use crate::driver::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_client_in_a_real_browser() {
    in_browser(common::spawn_app().await, scenario).await;
}

async fn scenario(mut driver: Driver, app: TestApp) {
    let base = app.base.clone();
    let alice = driver.browser(1280, 860).await;

    // Logged out: the room is readable, writing needs an account.
    open(&alice, &format!("{base}/")).await;
    wait_for(
        &alice,
        "the films room",
        "return location.hash === '#/films' && !document.querySelector('#view-room').hidden",
        vec![],
    )
    .await;
    wait_text(&alice, "#chat-list .empty", "No chats here yet.").await;
    assert!(find(&alice, "#guest-hint")
        .await
        .is_displayed()
        .await
        .unwrap());
    // The stylesheet applied (CSP allows our own styles).
    let tabs = js(
        &alice,
        "return getComputedStyle(document.querySelector('.tabs')).display",
        vec![],
    )
    .await;
    assert_eq!(tabs, "flex");

    // Register through the form: first a server-side error next to its field.
    click(&alice, "#login-link").await;
    type_into(&alice, "#register-form [name=username]", "alice").await;
    type_into(&alice, "#register-form [name=email]", "alice@example.com").await;
    type_into(&alice, "#register-form [name=password]", "12345").await;
    click(&alice, "#register-form button[type=submit]").await;
    wait_for(
        &alice,
        "the password error",
        "return document.querySelector('#register-form [data-for=password]').textContent.includes('too short')",
        vec![],
    )
    .await;
    screenshot(&alice, "01-register-errors").await;
    type_into(&alice, "#register-form [name=password]", PASSWORD).await;
    click(&alice, "#register-form button[type=submit]").await;
    wait_text(&alice, "#me-name", "alice").await;
    wait_for(
        &alice,
        "back in the room",
        "return location.hash === '#/films'",
        vec![],
    )
    .await;
    let stored = js(
        &alice,
        "return [localStorage.getItem('chatd.access'), localStorage.getItem('chatd.refresh')]",
        vec![],
    )
    .await;
    assert!(stored[0].is_string() && stored[1].is_string(), "{stored}");

    // Create a chat: validation errors by their fields, then with an image.
    click(&alice, "#new-chat-toggle").await;
    click(&alice, "#new-chat button[type=submit]").await;
    wait_text(
        &alice,
        "#new-chat [data-for=title]",
        "This field may not be blank.",
    )
    .await;
    let title = "Dune <b>2</b>";
    type_into(&alice, "#new-chat [name=title]", title).await;
    type_into(
        &alice,
        "#new-chat [name=description]",
        "Spice & sandworms <script>alert(2)</script>",
    )
    .await;
    choose_file(
        &alice,
        "#new-chat [name=img]",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"),
    )
    .await;
    click(&alice, "#new-chat button[type=submit]").await;
    wait_for(
        &alice,
        "the image error",
        "return document.querySelector('#new-chat [data-for=img]').textContent.startsWith('Upload a valid image')",
        vec![],
    )
    .await;
    assert_eq!(
        js(
            &alice,
            "return document.querySelector('#new-chat [data-for=title]').textContent",
            vec![]
        )
        .await,
        ""
    );
    choose_file(&alice, "#new-chat [name=img]", &fixture_path("red.png")).await;
    wait_for(
        &alice,
        "the image preview",
        "const img = document.querySelector('#new-chat .preview'); return !img.hidden && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0",
        vec![],
    )
    .await;
    screenshot(&alice, "02-new-chat-form").await;
    click(&alice, "#new-chat button[type=submit]").await;
    let chat_id = wait_for(
        &alice,
        "the new chat in the list",
        "const card = document.querySelector('#chat-list .chat-card'); return card && card.querySelector('.chat-name').textContent === arguments[0] ? Number(card.dataset.id) : null",
        vec![json!(title)],
    )
    .await
    .as_i64()
    .unwrap();
    // Titles and descriptions are text, never markup; the image loaded.
    let card = js(
        &alice,
        "const card = document.querySelector('#chat-list .chat-card');
         const img = card.querySelector('img.cover');
         return {desc: card.querySelector('.desc').textContent, creator: card.querySelector('.creator').textContent,
                 markup: card.querySelectorAll('b, script').length, src: img.src,
                 loaded: img.complete && img.naturalWidth > 0}",
        vec![],
    )
    .await;
    assert_eq!(
        card["desc"], "Spice & sandworms <script>alert(2)</script>",
        "{card}"
    );
    assert_eq!(card["creator"], "by alice");
    assert_eq!(card["markup"], 0, "{card}");
    assert!(
        card["src"].as_str().unwrap().contains("/media/chat_img/"),
        "{card}"
    );
    wait_for(
        &alice,
        "the chat image to load",
        "const img = document.querySelector('#chat-list .chat-card img.cover'); return img.complete && img.naturalWidth > 0",
        vec![],
    )
    .await;
    screenshot(&alice, "03-room").await;

    // A second title like the first: the server's non-field error is shown.
    click(&alice, "#new-chat-toggle").await;
    type_into(&alice, "#new-chat [name=title]", title).await;
    click(&alice, "#new-chat button[type=submit]").await;
    wait_text(
        &alice,
        "#new-chat [data-for=non_field_errors]",
        "The fields room, title must make a unique set.",
    )
    .await;
    click(&alice, "#new-chat [data-cancel]").await;

    // Bob, logged out, opens a deep link: read-only and live.
    let bob = driver.browser(1100, 800).await;
    open(&bob, &format!("{base}/#/films/{chat_id}")).await;
    wait_live(&bob, "bob's read-only socket").await;
    wait_text(&bob, "#chat-title", title).await;
    wait_text(&bob, "#chat-status", "Live · read-only").await;
    assert!(find(&bob, "#guest-composer")
        .await
        .is_displayed()
        .await
        .unwrap());
    assert!(!bob
        .find(Locator::Css("#composer"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap());

    // Alice opens the chat from the room list and writes.
    click(&alice, "#chat-list .chat-card a.chat-link").await;
    wait_live(&alice, "alice's socket").await;
    wait_text(&alice, "#chat-online", "2 online").await;
    send_message(&alice, "Hello Bob").await;
    let hello_id = wait_message(&alice, "Hello Bob").await;
    assert_eq!(wait_message(&bob, "Hello Bob").await, hello_id);
    assert_eq!(
        js(
            &alice,
            "return document.querySelector('#composer-text').value",
            vec![]
        )
        .await,
        ""
    );
    screenshot(&bob, "04-chat-guest").await;

    // Bob logs in from the chat and comes back to it.
    app.register("bob").await;
    click(&bob, "#guest-composer a").await;
    type_into(&bob, "#login-form [name=username]", "bob").await;
    type_into(&bob, "#login-form [name=password]", "wrong password").await;
    click(&bob, "#login-form button[type=submit]").await;
    wait_text(
        &bob,
        "#login-form [data-for=non_field_errors]",
        "No active account found with the given credentials",
    )
    .await;
    type_into(&bob, "#login-form [name=password]", PASSWORD).await;
    click(&bob, "#login-form button[type=submit]").await;
    wait_for(
        &bob,
        "bob back in the chat",
        "return location.hash === arguments[0]",
        vec![json!(format!("#/films/{chat_id}"))],
    )
    .await;
    wait_live(&bob, "bob's writing socket").await;
    wait_text(&bob, "#chat-status", "Live").await;
    wait_message(&bob, "Hello Bob").await;

    // Live both ways.
    send_message(&bob, "Hi Alice").await;
    wait_message(&alice, "Hi Alice").await;
    wait_message(&bob, "Hi Alice").await;

    // HTML in a message is shown as text; nothing is injected or run.
    let attack = "<img src=x onerror=alert(1)>";
    send_message(&bob, attack).await;
    for page in [&alice, &bob] {
        wait_message(page, attack).await;
        let injected = js(
            page,
            "return document.querySelectorAll('#messages .text *, img[src=\"x\"], img[src$=\"/x\"]').length",
            vec![],
        )
        .await;
        assert_eq!(injected, 0);
        assert!(page.get_alert_text().await.is_err(), "an alert is open");
    }

    // Alice edits her message; Bob sees the new text and the mark.
    click(
        &alice,
        &format!("#messages li[data-id='{hello_id}'] button.edit"),
    )
    .await;
    let edit = find(
        &alice,
        &format!("#messages li[data-id='{hello_id}'] .edit-input"),
    )
    .await;
    edit.clear().await.unwrap();
    edit.send_keys("Hello Bob, edited").await.unwrap();
    edit.send_keys(&Key::Enter).await.unwrap();
    wait_text(
        &bob,
        &format!("#messages li[data-id='{hello_id}'] .text"),
        "Hello Bob, edited",
    )
    .await;
    wait_text(
        &bob,
        &format!("#messages li[data-id='{hello_id}'] .edited"),
        "edited",
    )
    .await;
    wait_text(
        &alice,
        &format!("#messages li[data-id='{hello_id}'] .text"),
        "Hello Bob, edited",
    )
    .await;
    // Only one's own messages can be edited (the other buttons are reactions).
    let bob_buttons = js(
        &bob,
        "return document.querySelectorAll(`#messages li[data-id='${arguments[0]}'] button:not(.chip)`).length",
        vec![json!(hello_id)],
    )
    .await;
    assert_eq!(bob_buttons, 0);
    screenshot(&alice, "05-chat").await;

    // Alice deletes it (two clicks); Bob sees it deleted.
    let delete = format!("#messages li[data-id='{hello_id}'] button.danger");
    click(&alice, &delete).await;
    click(&alice, &delete).await;
    wait_for(
        &bob,
        "the deleted message",
        "const li = document.querySelector(`#messages li[data-id='${arguments[0]}']`); return li && li.classList.contains('deleted') && li.querySelector('.text').textContent === 'Message deleted'",
        vec![json!(hello_id)],
    )
    .await;

    // The server restarts; both pages reconnect and catch up on a message
    // sent while they were away, exactly once.
    let (carol, _) = {
        app.register("carol").await;
        app.login("carol").await
    };
    let (alice_access, _) = app.login("alice").await;
    let addr = app.server.as_ref().unwrap().local_addr();
    let TestApp {
        mut server, dir, ..
    } = app;
    server
        .take()
        .unwrap()
        .shutdown()
        .await
        .expect("clean shutdown");
    for page in [&alice, &bob] {
        wait_text(page, "#chat-status", "Reconnecting…").await;
    }
    screenshot(&alice, "06-reconnecting").await;
    // Stay down past the pages' first retry (about 1 s after the close), so
    // their next one (2 s later) comes after Carol's message is on disk.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut config = common::test_config(dir.path());
    config.addr = addr;
    let app = common::start(config, dir).await;
    let missed = "sent while you were reconnecting";
    let url = app.ws_url("films", chat_id, &format!("token={carol}"));
    let mut socket = common::connect(&url).await;
    common::send_json(&mut socket, json!({"type": "message", "text": missed})).await;
    // The echo means the message is committed. It must come before either
    // page is back (a `presence` frame): then the pages can only get it
    // from their reconnect's catch-up (`?after=`), not as a live frame.
    let early: Vec<Value> = tokio::time::timeout(WAIT, async {
        let mut seen = Vec::new();
        while let Some(frame) = socket.next().await {
            if let Ok(Message::Text(text)) = frame {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                if frame["type"] == "message" {
                    return seen;
                }
                seen.push(frame);
            }
        }
        panic!("carol's socket closed");
    })
    .await
    .expect("carol's message echoed");
    assert!(
        early.iter().all(|frame| frame["type"] == "hello"),
        "a page reconnected before the missed message was sent: {early:?}"
    );
    for page in [&alice, &bob] {
        wait_live(page, "reconnect after the restart").await;
        wait_message(page, missed).await;
        let list = messages(page).await;
        assert_clean_history(&list);
        assert_eq!(
            list.iter().filter(|(_, text)| text == missed).count(),
            1,
            "{list:?}"
        );
        assert_eq!(list.len(), 4, "{list:?}");
    }
    send_message(&alice, "back again").await;
    wait_message(&bob, "back again").await;
    let _ = socket.close(None).await;

    crate::after_restart::scenario(app, alice, bob, chat_id, alice_access).await;
}
