//! Moderation in the page: invites, staff actions on others' messages,
//! the admin page.

use serde_json::json;

use crate::common::{self, TestApp, PASSWORD};
use crate::driver::*;

/// Moderation in the page: the invite field appears because the server
/// asks for one; a staff user sees Edit/Delete on someone else's message,
/// and the admin page suspends a user, makes an invite and shows the audit
/// log; the invite then registers a new account. (Its name contains the
/// main test's, so the same `--skip` leaves both out.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_client_in_a_real_browser_moderation() {
    in_browser(
        common::spawn_app_with(|c| {
            c.registration = chatd::config::Registration::Invite;
        })
        .await,
        moderation_scenario,
    )
    .await;
}

async fn moderation_scenario(mut driver: Driver, app: TestApp) {
    let base = app.base.clone();
    let dir = app.data_dir();
    for (name, staff) in [("root", true), ("alice", false)] {
        let email = format!("{name}@example.com");
        let mut args = vec![
            "user",
            "create",
            name,
            "--email",
            &email,
            "--password",
            PASSWORD,
        ];
        if staff {
            args.push("--staff");
        }
        let output = common::chatd(&args, &dir);
        assert!(output.status.success(), "{output:?}");
    }
    let alice = app.login("alice").await.0;
    let chat = app.new_chat_id(&alice, "films", "Dune").await;
    let spam = common::send_message(&app, &alice, "films", chat, "buy cheap spice").await;
    let spam_id = spam["id"].as_i64().unwrap();

    let page = driver.browser(1280, 860).await;
    open(&page, &format!("{base}/#/login")).await;
    // The server wants an invite: the field is there, and required.
    find(&page, "#register-form [name=invite]").await;
    type_into(&page, "#register-form [name=username]", "visitor").await;
    type_into(&page, "#register-form [name=email]", "visitor@example.com").await;
    type_into(&page, "#register-form [name=password]", PASSWORD).await;
    click(&page, "#register-form button[type=submit]").await;
    wait_text(
        &page,
        "#register-form [data-for=invite]",
        "This field may not be blank.",
    )
    .await;

    // Staff log in: the admin link, and Edit/Delete on alice's message.
    type_into(&page, "#login-form [name=username]", "root").await;
    type_into(&page, "#login-form [name=password]", PASSWORD).await;
    click(&page, "#login-form button[type=submit]").await;
    wait_text(&page, "#me-name", "root").await;
    find(&page, "#admin-link").await;
    open(&page, &format!("{base}/#/films/{chat}")).await;
    wait_live(&page, "the chat as staff").await;
    wait_message(&page, "buy cheap spice").await;
    let delete = format!("#messages li[data-id='{spam_id}'] .msg-actions .danger");
    click(&page, &delete).await;
    click(&page, &delete).await; // "Sure?"
    wait_text(
        &page,
        &format!("#messages li[data-id='{spam_id}'] .text"),
        "Message deleted",
    )
    .await;
    screenshot(&page, "m1-staff-deleted-a-message").await;

    // The admin page: suspend alice with a reason, make an invite.
    click(&page, "#admin-link").await;
    let row = "#admin-users li[data-username=alice]";
    type_into(&page, &format!("{row} [name=reason]"), "spam").await;
    click(&page, &format!("{row} .suspend")).await;
    wait_text(&page, &format!("{row} .standing"), "suspended: spam").await;
    assert_eq!(app.get_user(&alice).await.0, 401);
    type_into(&page, "#invite-form [name=uses]", "2").await;
    click(&page, "#invite-form button[type=submit]").await;
    find(&page, "#invite-code code").await;
    let code = js(
        &page,
        "return document.querySelector('#invite-code code').textContent",
        vec![],
    )
    .await;
    let code = code.as_str().unwrap().to_string();
    let audit = js(
        &page,
        "return [...document.querySelectorAll('#admin-audit li')].map(li => li.dataset.action)",
        vec![],
    )
    .await;
    assert_eq!(
        audit,
        json!([
            "invite.create",
            "user.suspend",
            "message.delete",
            "user.create",
            "user.create"
        ])
    );
    screenshot(&page, "m2-admin-page").await;
    // Unsuspend from the same page.
    click(&page, &format!("{row} .unsuspend")).await;
    wait_text(&page, &format!("{row} .standing"), "active").await;

    // Logged out, the invite registers a new account.
    click(&page, "#logout").await;
    open(&page, &format!("{base}/#/login")).await;
    type_into(&page, "#register-form [name=username]", "visitor").await;
    type_into(&page, "#register-form [name=email]", "visitor@example.com").await;
    type_into(&page, "#register-form [name=password]", PASSWORD).await;
    type_into(&page, "#register-form [name=invite]", &code).await;
    click(&page, "#register-form button[type=submit]").await;
    wait_text(&page, "#me-name", "visitor").await;
    // Not staff: no admin link.
    let link = js(
        &page,
        "return document.querySelector('#admin-link').hidden",
        vec![],
    )
    .await;
    assert_eq!(link, true);
    let _ = page.close().await;
}
