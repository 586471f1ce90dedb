//! The web client in a real headless Chromium, driven through chromedriver
//! (WebDriver) against an in-process server: accounts, chats with images,
//! two people chatting live, edits and deletes, HTML injection attempts, a
//! server restart with catch-up, paging, token refresh and a phone-sized
//! screen, and the community features (images, reactions, typing, unread
//! counts, mentions, search). Screenshots of the main screens go to
//! `target/screenshots/`. One test binary, so chromedriver starts the same
//! way for every scenario: `driver.rs` (the browser and page helpers),
//! `seed.rs` (the first scenarios), `moderation.rs`, `community.rs` (the
//! live community features), `search.rs` (mentions, search, phone views).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`:
//!
//! ```text
//! apt-get install chromium chromium-driver
//! ```
//!
//! Without them `web_client_in_a_real_browser` FAILS, saying what is
//! missing and how to install it, everywhere (not only in CI): a browser
//! test that quietly passes without a browser tests nothing. To leave it
//! out knowingly, say so on the command line, where it shows in the counts:
//! `cargo test -- --skip web_client_in_a_real_browser`.

mod after_restart;
#[path = "../common/mod.rs"]
mod common;
mod community;
mod driver;
mod moderation;
mod search;
mod seed;

/// The page and its assets: types, caching and security headers. No browser.
#[tokio::test]
async fn page_and_assets_headers() {
    let app = common::spawn_app().await;
    let page = app.get("/").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(header("cache-control"), "no-cache");
    assert_eq!(header("x-content-type-options"), "nosniff");
    let csp = header("content-security-policy");
    let host = app.base.trim_start_matches("http://");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        &format!("connect-src 'self' ws://{host} wss://{host}"),
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    let etag = header("etag");
    let body = page.text().await.unwrap();
    assert!(body.contains("<title>chatd</title>"));

    // Revalidation.
    let again = app
        .client
        .get(app.url("/"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // Assets are linked by version and cached for long under that version.
    for (name, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let start = body
            .find(&format!("/static/{name}?v="))
            .unwrap_or_else(|| panic!("{name} not linked"));
        let link = &body[start..];
        let link = &link[..link.find('"').unwrap()];
        let asset = app.get(link).await;
        assert_eq!(asset.status(), 200, "{link}");
        assert_eq!(asset.headers()["content-type"], content_type);
        assert_eq!(asset.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            asset.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let unversioned = app.get(&format!("/static/{name}")).await;
        assert_eq!(unversioned.headers()["cache-control"], "no-cache");
    }
    // The modules app.js imports are fetched at their plain paths, which
    // must serve them as scripts and always revalidate.
    for name in [
        "state.js",
        "api.js",
        "dom.js",
        "rooms.js",
        "chat.js",
        "socket.js",
        "account.js",
        "admin.js",
        "composer.js",
        "reactions.js",
        "typing.js",
        "unread.js",
        "feeds.js",
    ] {
        let module = app.get(&format!("/static/{name}")).await;
        assert_eq!(module.status(), 200, "{name}");
        assert_eq!(
            module.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(module.headers()["cache-control"], "no-cache");
        assert_eq!(module.headers()["x-content-type-options"], "nosniff");
        assert!(module.headers().contains_key("etag"), "{name}");
    }
    let missing = app.get("/static/nope.js").await;
    assert_eq!(missing.status(), 404);
    let post = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(post.status(), 405);
    // The API's 404 is unchanged.
    let unknown = app.get("/nope/").await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["content-type"], "application/json");
}
