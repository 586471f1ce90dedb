//! Finding messages in the browser: the "Mentions" view and a search
//! result opening the chat at a message older than the first page (250
//! messages back), reached from the keyboard; and the new views at phone
//! size. The test's name contains the main test's, so the same `--skip`
//! leaves it out.

use fantoccini::key::Key;
use fantoccini::Client;
use serde_json::json;

use crate::common::{self, TestApp};
use crate::driver::*;

/// Whether the page is wider than the window (a phone would scroll sideways).
async fn assert_fits(page: &Client, what: &str) {
    let sizes = js(
        page,
        "return [document.documentElement.scrollWidth, window.innerWidth]",
        vec![],
    )
    .await;
    assert!(
        sizes[0].as_i64() <= sizes[1].as_i64(),
        "{what} overflows sideways: {sizes}"
    );
}

/// Waits until message `id` is open, highlighted and inside the list's view.
async fn wait_focused(page: &Client, id: i64) {
    wait_for(
        page,
        &format!("message {id} highlighted in view"),
        "const li = document.querySelector(`#messages li[data-id='${arguments[0]}']`);
         if (!li || !li.classList.contains('focus')) return false;
         const box = li.getBoundingClientRect(), list = document.querySelector('#messages').getBoundingClientRect();
         return box.top >= list.top - 1 && box.bottom <= list.bottom + 1;",
        vec![json!(id)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_client_in_a_real_browser_community_search() {
    in_browser(
        common::spawn_app_with(|c| {
            c.ws.rate_per_sec = 10_000.0;
            c.ws.burst = 10_000;
        })
        .await,
        search_scenario,
    )
    .await;
}

async fn search_scenario(mut driver: Driver, app: TestApp) {
    let alice_token = app.user("alice").await;
    let bob_token = app.user("bob").await;
    let dune = app.new_chat_id(&alice_token, "films", "Dune").await;
    let arrakis = app.new_chat_id(&bob_token, "books", "Arrakis").await;
    let old = common::send_message(
        &app,
        &bob_token,
        "films",
        dune,
        "The ancient navigator folds space, @alice",
    )
    .await;
    let old = old["id"].as_i64().unwrap();
    // 250 newer messages: the old one is in neither the hello's 50 nor
    // the first REST page after it.
    let mut socket =
        common::connect(&app.ws_url("films", dune, &format!("token={alice_token}"))).await;
    for n in 1..250 {
        common::post(&mut socket, &format!("filler {n}"), "").await;
    }
    common::post_and_wait(&mut socket, "filler 250", "last").await;
    common::send_message(&app, &bob_token, "books", arrakis, "@alice come to Arrakis").await;

    let alice = logged_in(&mut driver, &app, "alice", 1280).await;

    // Mentions: newest first, each with its chat and room (Arrakis is a
    // chat alice never opened).
    click(&alice, ".tabs a[data-room=mentions]").await;
    wait_for(
        &alice,
        "two mentions",
        "return document.querySelectorAll('#mentions-list .result').length === 2",
        vec![],
    )
    .await;
    let rows = js(
        &alice,
        "return [...document.querySelectorAll('#mentions-list .result')].map(li =>
           [li.querySelector('.result-chat').textContent, li.querySelector('.result-room').textContent,
            li.querySelector('.snippet').textContent, li.querySelector('mark.hit').textContent,
            li.querySelector('a').getAttribute('href')])",
        vec![],
    )
    .await;
    assert_eq!(
        rows[0],
        json!([
            "Arrakis",
            "Books",
            "bob: @alice come to Arrakis",
            "@alice",
            format!("#/books/{arrakis}/{}", old + 251)
        ])
    );
    assert_eq!(
        rows[1],
        json!([
            "Dune",
            "Films",
            "bob: The ancient navigator folds space, @alice",
            "@alice",
            format!("#/films/{dune}/{old}")
        ])
    );
    screenshot(&alice, "c08-mentions").await;
    click(&alice, &format!("#mentions-list li[data-id='{old}'] a")).await;
    wait_live(&alice, "the chat at the mention").await;
    wait_focused(&alice, old).await;
    wait_text(
        &alice,
        &format!("#messages li[data-id='{old}'] mark.mention.mine"),
        "@alice",
    )
    .await;
    // Everything from it to the newest, once each, in order.
    wait_message(&alice, "filler 250").await;
    let list = messages(&alice).await;
    assert_clean_history(&list);
    assert_eq!(list.len(), 251, "{:?}", &list[..3]);
    assert_eq!(
        list[0],
        (old, "The ancient navigator folds space, @alice".to_string())
    );
    screenshot(&alice, "c09-opened-at-a-mention").await;

    // Search from the keyboard: type, Enter, Tab to the result, Enter.
    let search = find(&alice, "#search-q").await;
    search.send_keys("ANCIENT navig").await.unwrap();
    search.send_keys(&Key::Enter).await.unwrap();
    wait_for(&alice, "one result", "return document.querySelectorAll('#search-list .result').length === 1 && document.querySelector('#search-count').textContent === '1 message'", vec![]).await;
    let hit = js(
        &alice,
        "const li = document.querySelector('#search-list .result');
         return [location.hash, li.querySelector('.result-chat').textContent, li.querySelector('.result-room').textContent,
                 [...li.querySelectorAll('mark.hit')].map(m => m.textContent)]",
        vec![],
    )
    .await;
    assert_eq!(
        hit,
        json!([
            "#/search/ANCIENT%20navig",
            "Dune",
            "Films",
            ["ancient", "navigator"]
        ])
    );
    screenshot(&alice, "c10-search").await;
    let mut tabs = 0;
    while js(
        &alice,
        "return document.activeElement.classList.contains('result-link')",
        vec![],
    )
    .await
        != true
    {
        press(&alice, Key::Tab).await;
        tabs += 1;
        assert!(tabs < 15, "no result link in the tab order");
    }
    press(&alice, Key::Enter).await;
    wait_live(&alice, "the chat at the search result").await;
    wait_focused(&alice, old).await;
    // Every button in the chat says what it does.
    let unnamed = js(
        &alice,
        "return [...document.querySelectorAll('#view-chat button')].filter(b => !(b.getAttribute('aria-label') || b.textContent.trim())).map(b => b.outerHTML)",
        vec![],
    )
    .await;
    assert_eq!(unnamed, json!([]));

    // Nothing found, said so; Escape leaves the results.
    type_into(&alice, "#search-q", "zzzz").await;
    find(&alice, "#search-q")
        .await
        .send_keys(&Key::Enter)
        .await
        .unwrap();
    wait_text(&alice, "#search-list .empty", "Nothing matches “zzzz”.").await;
    press(&alice, Key::Escape).await;
    wait_for(
        &alice,
        "the room again",
        "return location.hash === '#/films' && !document.querySelector('#view-room').hidden",
        vec![],
    )
    .await;

    // The phone: every new view fits the width.
    alice.set_window_size(390, 844).await.unwrap();
    wait_for(
        &alice,
        "the narrow layout",
        "return window.innerWidth <= 640",
        vec![],
    )
    .await;
    assert_fits(&alice, "the room").await;
    open(&alice, &format!("{}/#/films/{dune}/{old}", app.base)).await;
    wait_focused(&alice, old).await;
    assert_fits(&alice, "the chat").await;
    screenshot(&alice, "c11-chat-phone").await;
    for (view, list, name) in [
        ("mine", "#mine-list .chat-card", "c12-my-chats-phone"),
        ("mentions", "#mentions-list .result", "c13-mentions-phone"),
        (
            "search/navigator",
            "#search-list .result",
            "c14-search-phone",
        ),
    ] {
        open(&alice, &format!("{}/#/{view}", app.base)).await;
        find(&alice, list).await;
        assert_fits(&alice, view).await;
        screenshot(&alice, name).await;
    }
    let width = js(
        &alice,
        "return document.querySelector('#search-q').getBoundingClientRect().width",
        vec![],
    )
    .await;
    assert!(
        width.as_f64().unwrap() >= 120.0,
        "search box {width} px wide"
    );
    let _ = alice.close().await;
}
