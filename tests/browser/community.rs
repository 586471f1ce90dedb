//! The community features in the browser, with two people where liveness
//! matters: typing shown to the other, a reaction toggled by one seen by
//! the other, images attached by the file chooser, a paste and a drop (and
//! refused in the server's words), mentions marked, unread badges rising
//! while the other writes and going when the chat is read, the "My chats"
//! and "Mentions" views, and a search result opening the chat at a message
//! older than the first page. Both tests' names contain the main test's,
//! so the same `--skip` leaves them out.

use fantoccini::key::Key;
use fantoccini::Client;
use serde_json::{json, Value};

use crate::common::{self, fixture_path, send, TestApp};
use crate::driver::*;

/// A browser page logged in as `name` (tokens put where the client keeps them).
async fn logged_in(driver: &mut Driver, app: &TestApp, name: &str, width: u32) -> Client {
    let (access, refresh) = app.login(name).await;
    let page = driver.browser(width, 860).await;
    open(&page, &format!("{}/#/films", app.base)).await;
    js(
        &page,
        "localStorage.setItem('chatd.access', arguments[0]); localStorage.setItem('chatd.refresh', arguments[1]);",
        vec![json!(access), json!(refresh)],
    )
    .await;
    reload(&page).await;
    wait_text(&page, "#me-name", name).await;
    page
}

/// The chips under message `id`: [[emoji, count, mine, title]].
async fn chips(page: &Client, id: i64) -> Value {
    js(
        page,
        "return [...document.querySelectorAll(`#messages li[data-id='${arguments[0]}'] .chip:not(.add)`)].map(c =>
           [c.querySelector('.emoji').textContent, Number(c.querySelector('.count').textContent),
            c.classList.contains('mine') && c.getAttribute('aria-pressed') === 'true', c.title])",
        vec![json!(id)],
    )
    .await
}

async fn wait_chips(page: &Client, id: i64, expected: Value) {
    wait_for(
        page,
        &format!("the reactions of {id} to be {expected}"),
        "const got = [...document.querySelectorAll(`#messages li[data-id='${arguments[0]}'] .chip:not(.add)`)].map(c =>
           [c.querySelector('.emoji').textContent, Number(c.querySelector('.count').textContent),
            c.classList.contains('mine') && c.getAttribute('aria-pressed') === 'true', c.title]);
         return JSON.stringify(got) === JSON.stringify(arguments[1]);",
        vec![json!(id), expected.clone()],
    )
    .await;
}

/// Drops (or pastes, with `paste`) a file made in the page onto the composer.
async fn drop_file(page: &Client, name: &str, png: bool, paste: bool) {
    js(
        page,
        "const [name, png, paste, done] = arguments;
         const make = () => new Promise((resolve) => {
           if (!png) { resolve(new Blob(['just some text'], {type: 'text/plain'})); return; }
           const canvas = document.createElement('canvas');
           canvas.width = 40; canvas.height = 30;
           const g = canvas.getContext('2d'); g.fillStyle = '#2a9d8f'; g.fillRect(0, 0, 40, 30);
           canvas.toBlob(resolve, 'image/png');
         });
         make().then((blob) => {
           const data = new DataTransfer();
           data.items.add(new File([blob], name, {type: blob.type}));
           if (paste) document.querySelector('#composer-text').dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
           else {
             const target = document.querySelector('#messages');
             target.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
             target.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
           }
         });",
        vec![json!(name), json!(png), json!(paste)],
    )
    .await;
    wait_for(
        page,
        "the attachment preview",
        "return !document.querySelector('#attachment').hidden && document.querySelector('#attachment-name').textContent === arguments[0]",
        vec![json!(name)],
    )
    .await;
}

/// The unread badge of chat `id` in the room list ('' when none).
async fn card_badge(page: &Client, id: i64) -> String {
    js(
        page,
        "const b = document.querySelector(`#chat-list li[data-id='${arguments[0]}'] .unread`); return b ? b.textContent : ''",
        vec![json!(id)],
    )
    .await
    .as_str()
    .unwrap()
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_client_in_a_real_browser_community_live() {
    let mut driver = Driver::start().await;
    let app = common::spawn_app().await;
    tokio::time::timeout(SCENARIO_LIMIT, live_scenario(&mut driver, app))
        .await
        .expect("the community scenario took longer than 5 minutes");
}

async fn live_scenario(driver: &mut Driver, app: TestApp) {
    let alice_token = app.user("alice").await;
    app.register("bob").await;
    let carol_token = app.user("carol").await;
    let chat = app.new_chat_id(&alice_token, "films", "Dune").await;
    let alice = logged_in(driver, &app, "alice", 1280).await;
    let bob = logged_in(driver, &app, "bob", 1100).await;
    for page in [&alice, &bob] {
        open(page, &format!("{}/#/films/{chat}", app.base)).await;
        wait_live(page, "the chat").await;
    }

    // Typing: a notice from another socket, then bob in the page; his
    // message takes his name off at once, carol's goes after 5 s.
    let mut carol =
        common::connect(&app.ws_url("films", chat, &format!("token={carol_token}"))).await;
    common::send_json(&mut carol, json!({"type": "typing"})).await;
    wait_text(&alice, "#typing", "carol is typing…").await;
    find(&bob, "#composer-text")
        .await
        .send_keys("The spice")
        .await
        .unwrap();
    wait_text(&alice, "#typing", "carol and bob are typing…").await;
    // Nobody is told they are typing themselves.
    wait_text(&bob, "#typing", "carol is typing…").await;
    screenshot(&alice, "c01-typing").await;
    find(&bob, "#composer-text")
        .await
        .send_keys(" must flow @alice")
        .await
        .unwrap();
    find(&bob, "#composer-text")
        .await
        .send_keys(&Key::Enter)
        .await
        .unwrap();
    let spice = wait_message(&alice, "The spice must flow @alice").await;
    assert_eq!(
        js(
            &alice,
            "return document.querySelector('#typing').textContent",
            vec![]
        )
        .await,
        "carol is typing…"
    );
    wait_for_within(
        &alice,
        "carol's notice to go",
        "return document.querySelector('#typing').textContent === ''",
        vec![],
        std::time::Duration::from_secs(8),
    )
    .await;

    // The mention: marked as "me" for alice, plainly for bob; text nodes only.
    let mark = format!("#messages li[data-id='{spice}'] .text mark");
    wait_text(&alice, &format!("{mark}.mention.me"), "@alice").await;
    wait_text(&bob, &format!("{mark}.mention"), "@alice").await;
    assert_eq!(
        js(
            &bob,
            "return document.querySelectorAll(arguments[0]).length",
            vec![json!(format!("{mark}.me"))]
        )
        .await,
        0
    );

    // Reactions: alice adds one from the picker, bob sees it and adds his,
    // alice takes hers back; both pages follow.
    // (The add button shows when the pointer is on the message.)
    let add = format!("#messages li[data-id='{spice}'] .chip.add");
    let opacity = "return getComputedStyle(document.querySelector(arguments[0])).opacity";
    click(&alice, &format!("#messages li[data-id='{spice}'] .text")).await;
    assert_eq!(js(&alice, opacity, vec![json!(add)]).await, "1");
    click(&alice, &add).await;
    let focused = js(
        &alice,
        "return document.activeElement.getAttribute('aria-label')",
        vec![],
    )
    .await;
    assert_eq!(focused, "React with 👍", "the picker takes the focus");
    click(
        &alice,
        &format!("#messages li[data-id='{spice}'] .picker button[title='👍']"),
    )
    .await;
    wait_chips(&alice, spice, json!([["👍", 1, true, "👍 alice"]])).await;
    wait_chips(&bob, spice, json!([["👍", 1, false, "👍 alice"]])).await;
    click(
        &bob,
        &format!("#messages li[data-id='{spice}'] .chip[data-key='👍']"),
    )
    .await;
    wait_chips(&bob, spice, json!([["👍", 2, true, "👍 alice, bob"]])).await;
    wait_chips(&alice, spice, json!([["👍", 2, true, "👍 alice, bob"]])).await;
    screenshot(&bob, "c02-reactions").await;
    // From the keyboard: the chip keeps the focus across the re-render.
    let chip = find(
        &alice,
        &format!("#messages li[data-id='{spice}'] .chip[data-key='👍']"),
    )
    .await;
    chip.send_keys(&Key::Enter).await.unwrap();
    wait_chips(&bob, spice, json!([["👍", 1, true, "👍 bob"]])).await;
    wait_chips(&alice, spice, json!([["👍", 1, false, "👍 bob"]])).await;
    assert_eq!(
        js(&alice, "return document.activeElement.dataset.key", vec![]).await,
        "👍"
    );
    assert_eq!(chips(&bob, spice).await, json!([["👍", 1, true, "👍 bob"]]));

    // On a phone, a finger resting on a chip says who reacted.
    js(
        &bob,
        "document.querySelector(arguments[0]).dispatchEvent(new PointerEvent('pointerdown', {pointerType: 'touch', bubbles: true}))",
        vec![json!(format!("#messages li[data-id='{spice}'] .chip[data-key='👍']"))],
    )
    .await;
    wait_text(&bob, "#toast", "👍 bob").await;

    // Images: the file chooser, previewed and removed; a paste; a drop of
    // a non-image, refused in the server's words; then one sent with a caption.
    choose_file(&alice, "#attach-file", &fixture_path("red.png")).await;
    wait_for(
        &alice,
        "the chosen image's preview",
        "const img = document.querySelector('#attachment-img'); return !document.querySelector('#attachment').hidden && img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0",
        vec![],
    )
    .await;
    screenshot(&alice, "c03-image-preview").await;
    click(&alice, "#attachment-remove").await;
    assert_eq!(
        js(&alice, "return document.querySelector('#attachment').hidden && !document.querySelector('#attachment-img').hasAttribute('src')", vec![]).await,
        true
    );
    drop_file(&alice, "notes.txt", false, false).await;
    send_message(&alice, "a file").await;
    wait_text(
        &alice,
        "#composer-error",
        "Upload a valid image. The file you uploaded was either not an image or a corrupted image.",
    )
    .await;
    // Nothing was posted, and the text is still there to fix.
    assert_eq!(
        js(
            &alice,
            "return document.querySelector('#composer-text').value",
            vec![]
        )
        .await,
        "a file"
    );
    drop_file(&alice, "pasted.png", true, true).await;
    find(&alice, "#composer-text")
        .await
        .send_keys(&Key::Enter)
        .await
        .unwrap();
    let image = wait_message(&bob, "a file").await;
    for page in [&alice, &bob] {
        wait_for(
            page,
            "the image message",
            "const img = document.querySelector(`#messages li[data-id='${arguments[0]}'] .msg-image img`);
             return !!img && img.src.includes('/media/') && img.complete && img.naturalWidth === 40",
            vec![json!(image)],
        )
        .await;
    }
    assert_eq!(
        js(&alice, "return [document.querySelector('#composer-error').textContent, document.querySelector('#attachment').hidden, document.querySelector('#composer-text').value]", vec![]).await,
        json!(["", true, ""])
    );
    // Clicking the image opens it full size; Escape closes it.
    click(&bob, &format!("#messages li[data-id='{image}'] .msg-image")).await;
    wait_for(&bob, "the full-size image", "const d = document.querySelector('#lightbox'); return d.open && d.querySelector('img').naturalWidth === 40", vec![]).await;
    screenshot(&bob, "c04-lightbox").await;
    find(&bob, "#lightbox img").await;
    bob.active_element()
        .await
        .unwrap()
        .send_keys(&Key::Escape)
        .await
        .unwrap();
    wait_for(
        &bob,
        "the image closed",
        "return !document.querySelector('#lightbox').open",
        vec![],
    )
    .await;
    screenshot(&alice, "c05-chat").await;

    // Unread: alice goes back to the room; bob writes twice, and her badge
    // rises; the second names her, so it turns to a mention.
    click(&alice, "#chat-back").await;
    find(&alice, &format!("#chat-list li[data-id='{chat}']")).await;
    assert_eq!(card_badge(&alice, chat).await, "");
    send_message(&bob, "Are you there?").await;
    wait_for(&alice, "the badge at 1", "const b = document.querySelector(`#chat-list li[data-id='${arguments[0]}'] .unread`); return b && b.textContent === '1' && !b.classList.contains('mention')", vec![json!(chat)]).await;
    send_message(&bob, "@alice hello?").await;
    wait_for(&alice, "the badge at 2, a mention", "const b = document.querySelector(`#chat-list li[data-id='${arguments[0]}'] .unread`); return b && b.textContent === '2' && b.classList.contains('mention')", vec![json!(chat)]).await;
    wait_text(&alice, "#mine-badge", "2").await;
    screenshot(&alice, "c06-unread-badge").await;

    // My chats: the chat with its count and last message.
    click(&alice, ".tabs a[data-room=mine]").await;
    let row = format!("#mine-list li[data-id='{chat}']");
    wait_text(&alice, &format!("{row} .last"), "bob: @alice hello?").await;
    wait_text(&alice, &format!("{row} .unread"), "2").await;
    screenshot(&alice, "c07-my-chats").await;
    // Escape goes back to the room.
    alice
        .active_element()
        .await
        .unwrap()
        .send_keys(&Key::Escape)
        .await
        .unwrap();
    wait_for(
        &alice,
        "the room again",
        "return location.hash === '#/films'",
        vec![],
    )
    .await;

    // Opening the chat shows the newest message: the marker goes out, and
    // the server counts nothing unread any more.
    click(
        &alice,
        &format!("#chat-list li[data-id='{chat}'] a.chat-link"),
    )
    .await;
    wait_message(&alice, "@alice hello?").await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mine = send(
            app.client
                .get(app.url("/api/user/chats/"))
                .bearer_auth(&alice_token),
        )
        .await
        .1;
        if mine["results"][0]["unread"] == 0 {
            assert_eq!(mine["results"][0]["unread_mentions"], 0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still unread: {mine}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    click(&alice, "#chat-back").await;
    find(&alice, &format!("#chat-list li[data-id='{chat}']")).await;
    wait_for(&alice, "no badge", "return !document.querySelector(`#chat-list li[data-id='${arguments[0]}'] .unread`) && document.querySelector('#mine-badge').hidden", vec![json!(chat)]).await;
    let _ = alice.close().await;
    let _ = bob.close().await;
}

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
    let mut driver = Driver::start().await;
    let app = common::spawn_app_with(|c| {
        c.ws.rate_per_sec = 10_000.0;
        c.ws.burst = 10_000;
    })
    .await;
    tokio::time::timeout(SCENARIO_LIMIT, search_scenario(&mut driver, app))
        .await
        .expect("the search scenario took longer than 5 minutes");
}

async fn search_scenario(driver: &mut Driver, app: TestApp) {
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

    let alice = logged_in(driver, &app, "alice", 1280).await;

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
        &format!("#messages li[data-id='{old}'] mark.mention.me"),
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
        alice
            .active_element()
            .await
            .unwrap()
            .send_keys(&Key::Tab)
            .await
            .unwrap();
        tabs += 1;
        assert!(tabs < 15, "no result link in the tab order");
    }
    alice
        .active_element()
        .await
        .unwrap()
        .send_keys(&Key::Enter)
        .await
        .unwrap();
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
    alice
        .active_element()
        .await
        .unwrap()
        .send_keys(&Key::Escape)
        .await
        .unwrap();
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
