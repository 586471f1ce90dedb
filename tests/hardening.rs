//! Abuse limits and browser-facing safety: throttling by client address,
//! security headers, CORS, and the metrics endpoint.

mod common;

use common::*;
use serde_json::json;

async fn bad_login(app: &TestApp, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/token/"))
        .form(&[("username", "nobody"), ("password", "wrong password")]);
    if let Some(ip) = forwarded_for {
        request = request.header("X-Forwarded-For", ip);
    }
    request.send().await.unwrap()
}

/// `times` bad logins in a row, each a plain 401 (not throttled).
async fn assert_unthrottled(app: &TestApp, times: usize, forwarded_for: Option<&str>) {
    for attempt in 1..=times {
        let status = bad_login(app, forwarded_for).await.status();
        assert_eq!(status, 401, "attempt {attempt}");
    }
}

/// Five attempts at once, then one every 100 s: no refill during a test.
fn strict(config: &mut chatd::Config) {
    config.login_rate = chatd::domain::throttle::Rate {
        burst: 5.0,
        per_sec: 0.01,
    };
}

#[tokio::test]
async fn the_default_limits_let_a_test_suite_log_in_dozens_of_times() {
    let app = spawn_app().await;
    assert_unthrottled(&app, 40, None).await;
}

#[tokio::test]
async fn logins_are_throttled_per_address_with_retry_after() {
    let app = spawn_app_with(strict).await;
    assert_unthrottled(&app, 5, None).await;
    let response = bad_login(&app, None).await;
    assert_eq!(response.status(), 429);
    // 100 s for a whole token, less what refilled while the five attempts
    // ran (argon2 takes a while on a loaded machine).
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((90..=100).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        json_of(response).await.1,
        json!({"detail": format!("Request was throttled. Expected available in {wait} seconds.")})
    );
    // X-Forwarded-For is ignored unless the proxy is trusted.
    assert_eq!(bad_login(&app, Some("203.0.113.9")).await.status(), 429);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = spawn_app_with(|c| {
        strict(c);
        c.trust_proxy = true;
    })
    .await;
    assert_unthrottled(&app, 5, Some("203.0.113.1")).await;
    assert_eq!(bad_login(&app, Some("203.0.113.1")).await.status(), 429);
    assert_eq!(bad_login(&app, Some("203.0.113.2")).await.status(), 401);
}

#[tokio::test]
async fn rate_limit_off_never_throttles() {
    let app = spawn_app_with(|c| {
        strict(c);
        c.rate_limit = false;
    })
    .await;
    assert_unthrottled(&app, 10, None).await;
}

#[tokio::test]
async fn every_answer_carries_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/api/chat/films/",
        "/nope/",
        "/media/chat_img/default.jpg",
        "/healthz",
    ] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
    }
    // Uploaded files can never run as a page.
    let response = app.get("/media/chat_img/default.jpg").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = spawn_app_with(|c| c.cors_origins = vec!["https://app.example.org".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/chat/"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.example.org").await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.org"
    );
    assert!(allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("Authorization"));
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());

    let simple = app
        .client
        .get(app.url("/api/chat/films/"))
        .header("Origin", "https://app.example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://app.example.org"
    );
    // By default no other origin is allowed.
    let default = spawn_app().await;
    let response = default
        .client
        .get(default.url("/api/chat/films/"))
        .header("Origin", "https://app.example.org")
        .send()
        .await
        .unwrap();
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn metrics_are_off_or_behind_a_token() {
    let off = spawn_app().await;
    assert_eq!(off.get_json("/metrics").await, (404, not_found()));

    let app = spawn_app_with(|c| c.metrics_token = Some("scrape-me".into())).await;
    let token = app.user("counted").await;
    let chat = app.new_chat_id(&token, "films", "Counted").await;
    app.get("/api/chat/films/").await;
    let (status, _) = json_of(app.get("/metrics").await).await;
    assert_eq!(status, 401);
    let (status, _) = json_of(
        app.client
            .get(app.url("/metrics"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);

    // One socket open, one message persisted.
    let (mut socket, _) = join_url(&app.ws_url("films", chat, &format!("token={token}"))).await;
    post_and_wait(&mut socket, "count me", "n").await;

    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    for line in [
        "chatd_http_requests_total{route=\"/api/chat/\",status=\"200\"} 1",
        "chatd_http_requests_total{route=\"/api/chat/:room/\",status=\"200\"} 1",
        "chatd_http_requests_total{route=\"/api/register/\",status=\"201\"} 1",
        "chatd_open_sockets 1",
        "chatd_chats_with_sockets 1",
        "chatd_messages_persisted_total 1",
        "chatd_writer_batch_size_count 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_may_hold_only_so_many_sockets() {
    let app = spawn_app_with(|c| c.ws.max_sockets_per_ip = 2).await;
    let token = app.user("holder").await;
    let chat = app.new_chat_id(&token, "games", "Held").await;
    let url = app.ws_url("games", chat, "");
    let (first, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let (_second, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(
                body,
                json!({"detail": "Too many open WebSockets from this address."})
            );
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // A place frees up when a socket closes.
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if let Ok((socket, _)) = tokio_tungstenite::connect_async(&url).await {
            reopened = Some(socket);
            break;
        }
    }
    assert!(
        reopened.is_some(),
        "the closed socket's place was not given back"
    );
}

#[tokio::test]
async fn bodies_with_too_many_fields_and_oversized_headers_are_refused() {
    let app = spawn_app().await;
    let token = app.user("fields").await;
    let fields: Vec<(String, String)> = (0..201)
        .map(|i| (format!("f{i}"), "x".to_string()))
        .collect();
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(response).await,
        (400, json!({"detail": "Too many fields: at most 200."}))
    );
    let object: serde_json::Map<String, serde_json::Value> =
        (0..201).map(|i| (format!("f{i}"), json!(1))).collect();
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .json(&object)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // JSON nested deeper than serde_json's limit is a parse error, not a crash.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = app
        .client
        .post(app.url("/api/chat/"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(deep)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - recursion limit exceeded"),
        "{body}"
    );

    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
}

#[tokio::test]
async fn uploads_are_served_inline_under_their_own_name() {
    let app = spawn_app().await;
    let response = app.get("/media/chat_img/default.jpg").await;
    assert_eq!(
        response.headers()["content-disposition"],
        "inline; filename=\"default.jpg\""
    );
    assert_eq!(response.headers()["content-type"], "image/jpeg");
}
