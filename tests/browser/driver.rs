//! The browser tests' driver: chromedriver and headless Chromium sessions
//! ([`Driver`]), and page helpers that wait for a condition in the page
//! instead of sleeping (`wait_for`, `wait_text`, `wait_message`...).

use std::future::Future;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::common::TestApp;

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long one condition in the page may take to come true.
pub(crate) const WAIT: Duration = Duration::from_secs(15);
/// The whole browser scenario.
pub(crate) const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

/// A chromedriver child in its own process group (so the browsers it starts
/// go with it), and the profile folders of its sessions.
pub(crate) struct Driver {
    child: Child,
    url: String,
    profiles: Vec<tempfile::TempDir>,
}

impl Driver {
    /// Starts chromedriver; fails the test, saying how to install them,
    /// when Chromium or chromedriver is missing.
    pub(crate) async fn start() -> Driver {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        assert!(
            missing.is_empty(),
            "the browser test needs {} (missing): install Chromium and chromedriver \
             with `apt-get install chromium chromium-driver`, or skip this test \
             knowingly with `cargo test -- --skip web_client_in_a_real_browser`",
            missing.join(" and ")
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut command = Command::new(CHROMEDRIVER);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: Vec::new(),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = client
                .get(format!("{}/status", driver.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(response) = ready {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return driver;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new browser with a fresh profile and the given window size.
    pub(crate) async fn browser(&mut self, width: u32, height: u32) -> Client {
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-dev-shm-usage".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--lang=en-US".to_string(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        self.profiles.push(profile);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let client = tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&self.url),
        )
        .await
        .expect("the browser did not start within 60 s")
        .expect("a browser session");
        client
            .set_window_size(width, height)
            .await
            .expect("window size");
        client
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any browser it left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- page helpers --------------------------------------------------------

pub(crate) async fn js(page: &Client, script: &str, args: Vec<Value>) -> Value {
    tokio::time::timeout(WAIT, page.execute(script, args))
        .await
        .unwrap_or_else(|_| panic!("script timed out: {script}"))
        .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
}

/// Waits until `script` returns something truthy, and returns it.
pub(crate) async fn wait_for(page: &Client, what: &str, script: &str, args: Vec<Value>) -> Value {
    wait_for_within(page, what, script, args, WAIT).await
}

pub(crate) async fn wait_for_within(
    page: &Client,
    what: &str,
    script: &str,
    args: Vec<Value>,
    limit: Duration,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let value = js(page, script, args.clone()).await;
        let truthy = match &value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64() != Some(0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        if Instant::now() > deadline {
            let state = js(
                page,
                "return location.hash + ' | ' + document.body.innerText.slice(0, 1500)",
                vec![],
            )
            .await;
            panic!("timed out waiting for {what}; page: {state}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the element matching `css` has exactly `text` as its text.
pub(crate) async fn wait_text(page: &Client, css: &str, text: &str) {
    wait_for(
        page,
        &format!("{css} to read {text:?}"),
        "const el = document.querySelector(arguments[0]); return !!el && el.textContent.trim() === arguments[1];",
        vec![json!(css), json!(text)],
    )
    .await;
}

pub(crate) async fn find(page: &Client, css: &str) -> Element {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(element) = page.find(Locator::Css(css)).await {
            if element.is_displayed().await.unwrap_or(false) {
                return element;
            }
        }
        assert!(Instant::now() < deadline, "no visible {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the visible element `css` names.
pub(crate) async fn click(page: &Client, css: &str) {
    on_fresh(page, css, "click", |element| async move {
        element.click().await
    })
    .await
}

/// Types `text` into the visible field `css` names.
pub(crate) async fn type_into(page: &Client, css: &str, text: &str) {
    on_fresh(page, css, "type into", |element| async move {
        element.clear().await?;
        element.send_keys(text).await
    })
    .await
}

/// Does `act` on the visible element `css` names. A list the client renders
/// again (from its cache, then from the server's answer) can replace the
/// element between finding and acting on it; then the new one is found and
/// `act` tried again.
async fn on_fresh<F, Fut>(page: &Client, css: &str, what: &str, act: F)
where
    F: Fn(Element) -> Fut,
    Fut: Future<Output = Result<(), fantoccini::error::CmdError>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match act(find(page, css).await).await {
            Ok(()) => return,
            Err(error) if error.is_stale_element_reference() && Instant::now() < deadline => {}
            Err(error) => panic!("{what} {css}: {error:?}"),
        }
    }
}

/// Picks a file in an `<input type=file>` (hidden or not).
pub(crate) async fn choose_file(page: &Client, css: &str, path: &Path) {
    let element = page.find(Locator::Css(css)).await.expect("file input");
    element
        .send_keys(path.to_str().unwrap())
        .await
        .expect("choose file");
}

pub(crate) async fn open(page: &Client, url: &str) {
    tokio::time::timeout(WAIT, page.goto(url))
        .await
        .expect("page load timed out")
        .expect("page loads");
    wait_for(
        page,
        "the app to start",
        "return document.body.dataset.ready === 'true'",
        vec![],
    )
    .await;
}

pub(crate) async fn reload(page: &Client) {
    tokio::time::timeout(WAIT, page.refresh())
        .await
        .expect("reload timed out")
        .expect("page reloads");
    wait_for(
        page,
        "the app to start again",
        "return document.body.dataset.ready === 'true'",
        vec![],
    )
    .await;
}

pub(crate) async fn screenshot(page: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let png = tokio::time::timeout(WAIT, page.screenshot())
        .await
        .expect("screenshot timed out")
        .expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

pub(crate) async fn wait_live(page: &Client, what: &str) {
    wait_for_within(
        page,
        what,
        "return document.querySelector('#chat-status').dataset.status === 'live'",
        vec![],
        Duration::from_secs(40),
    )
    .await;
}

/// The texts of the messages on the page, in page order, with their ids.
pub(crate) async fn messages(page: &Client) -> Vec<(i64, String)> {
    let value = js(
        page,
        "return [...document.querySelectorAll('#messages > li')].map(li => [Number(li.dataset.id), li.querySelector('.text').textContent])",
        vec![],
    )
    .await;
    serde_json::from_value(value).expect("message list")
}

/// Waits until a message with exactly `text` is on the page; returns its id.
pub(crate) async fn wait_message(page: &Client, text: &str) -> i64 {
    wait_for(
        page,
        &format!("message {text:?}"),
        "const li = [...document.querySelectorAll('#messages > li')].find(li => li.querySelector('.text').textContent === arguments[0]); return li ? Number(li.dataset.id) : null;",
        vec![json!(text)],
    )
    .await
    .as_i64()
    .unwrap()
}

pub(crate) async fn send_message(page: &Client, text: &str) {
    let input = find(page, "#composer-text").await;
    input.send_keys(text).await.expect("type message");
    input.send_keys(&Key::Enter).await.expect("press Enter");
}

/// No message twice, and ids in increasing order.
pub(crate) fn assert_clean_history(list: &[(i64, String)]) {
    let ids: Vec<i64> = list.iter().map(|(id, _)| *id).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "messages out of order or duplicated: {list:?}");
}

/// A browser page logged in as `name` (tokens put where the client keeps them).
pub(crate) async fn logged_in(
    driver: &mut Driver,
    app: &TestApp,
    name: &str,
    width: u32,
) -> Client {
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

/// Presses a key in whatever has the focus.
pub(crate) async fn press(page: &Client, key: Key) {
    let element = page.active_element().await.expect("an active element");
    element.send_keys(&key).await.expect("press a key");
}

/// Runs a scenario with chromedriver started (failing when it is missing)
/// and a time limit, so that a stuck page fails instead of hanging.
pub(crate) async fn in_browser<F: Future<Output = ()>>(
    app: TestApp,
    scenario: impl FnOnce(Driver, TestApp) -> F,
) {
    let driver = Driver::start().await;
    tokio::time::timeout(SCENARIO_LIMIT, scenario(driver, app))
        .await
        .expect("the browser scenario took longer than 5 minutes");
}
