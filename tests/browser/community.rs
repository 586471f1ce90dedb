//! The community features that are live, with two people: typing shown to
//! the other, a reaction toggled by one seen by the other, images attached
//! by the file chooser, a paste and a drop (and refused in the server's
//! words), mentions marked, unread badges rising while the other writes and
//! going when the chat is read, and the "My chats" view. The test's name
//! contains the main test's, so the same `--skip` leaves it out.

use fantoccini::key::Key;
use fantoccini::Client;
use serde_json::{json, Value};

use crate::common::{self, fixture_path, send, TestApp};
use crate::driver::*;

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
async fn drop_file(page: &Client, name: &str, png: Value, paste: bool) {
    js(
        page,
        "const [name, png, paste, done] = arguments;
         const make = () => new Promise((resolve) => {
           if (png === 'big') { resolve(new Blob([new Uint8Array(3 * 1024 * 1024)], {type: 'image/png'})); return; }
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
    // Uploads up to 256 KiB, so that a too big one is quick to make.
    let app = common::spawn_app_with(|c| c.max_upload_bytes = 256 * 1024).await;
    in_browser(app, live_scenario).await;
}

async fn live_scenario(mut driver: Driver, app: TestApp) {
    let alice_token = app.user("alice").await;
    app.register("bob").await;
    let carol_token = app.user("carol").await;
    let chat = app.new_chat_id(&alice_token, "films", "Dune").await;
    let alice = logged_in(&mut driver, &app, "alice", 1280).await;
    let bob = logged_in(&mut driver, &app, "bob", 1100).await;
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
    wait_text(&alice, &format!("{mark}.mention.mine"), "@alice").await;
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
    drop_file(&alice, "notes.txt", json!(false), false).await;
    send_message(&alice, "a file").await;
    wait_text(
        &alice,
        "#composer-error",
        "Upload a valid image. The file you uploaded was either not an image or a corrupted image.",
    )
    .await;
    // Too big: the server's 413, not a network error.
    drop_file(&alice, "big.png", json!("big"), false).await;
    press(&alice, Key::Enter).await;
    wait_text(&alice, "#composer-error", "Request body too large.").await;
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
    drop_file(&alice, "pasted.png", json!(true), true).await;
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
    press(&bob, Key::Escape).await;
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
    press(&alice, Key::Escape).await;
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
