//! On a seeded server, every documented path exists with exactly the
//! documented methods, and every documented operation answers as documented.

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;

use crate::caller::{check, send_message, Body, Caller};
use crate::common::*;
use crate::operations;

const METRICS_TOKEN: &str = "metrics-token-for-tests";

// ------------------------------------------------------------ a seeded server

struct Seeded {
    app: TestApp,
    owner: String,
    other: String,
    chat: i64,
    message: i64,
    image: String,
}

async fn seeded() -> Seeded {
    let app = spawn_app_with(|c| c.metrics_token = Some(METRICS_TOKEN.into())).await;
    // Staff, so that the admin endpoints answer the owner too.
    let owner = app.staff_user("alice").await;
    let other = app.user("bob").await;
    let fields = [("title", "Dune"), ("room", "films")];
    let form = file_form(&fields, "img", fixture("red.png"), "red.png", "image/png");
    let caller = Caller {
        app: &app,
        token: Some(&owner),
    };
    let (status, body) = caller.post("/api/chat/", Body::Multipart(form)).await;
    assert_eq!(status, 200, "{body}");
    let chat = body["chat"]["id"].as_i64().unwrap();
    let image = body["chat"]["img"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let message = send_message(&app, &owner, chat, "hello").await;
    Seeded {
        app,
        owner,
        other,
        chat,
        message,
        image,
    }
}

impl Seeded {
    /// The template with the seeded objects' ids in it.
    fn concrete(&self, template: &str) -> String {
        template
            .replace("{room}", "films")
            .replace("{id}", &self.chat.to_string())
            .replace("{mid}", &self.message.to_string())
            .replace("{emoji}", "%F0%9F%91%8D")
            .replace("{folder}", "chat_img")
            .replace("{name}", self.static_or_image(template))
    }

    fn static_or_image(&self, template: &str) -> &str {
        if template.starts_with("/static/") {
            "app.js"
        } else {
            &self.image
        }
    }
}

#[tokio::test]
async fn every_documented_operation_exists_and_answers_as_documented() {
    let seeded = seeded().await;
    let app = &seeded.app;
    let mut by_path: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (path, method) in operations() {
        by_path
            .entry(path)
            .or_default()
            .insert(method.to_uppercase());
    }

    // Each documented path exists, with exactly the documented methods
    // (plus HEAD for GET, and OPTIONS).
    for (template, methods) in &by_path {
        let url = app.url(&seeded.concrete(template));
        let response = app
            .client
            .request(Method::OPTIONS, &url)
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "OPTIONS {url}: the path does not exist"
        );
        let allow: BTreeSet<String> = response.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| m != "HEAD" && m != "OPTIONS")
            .collect();
        assert_eq!(&allow, methods, "{template}: the server allows {allow:?}");
        // Any other method is a 405, never a 404 for an unknown path.
        for method in ["PUT", "PATCH", "DELETE", "POST"] {
            if !methods.contains(method) {
                let response = app
                    .client
                    .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 405, "{method} {template}");
            }
        }
    }

    // Every documented method, as a stranger, a non-owner and the owner,
    // without a body: a documented status and shape, never 405. The owner's
    // deletes come last, the deepest object first.
    let mut ops = operations();
    ops.sort_by_key(|(path, method)| (method == "delete", std::cmp::Reverse(path.len())));
    for who in [None, Some(&seeded.other), Some(&seeded.owner)] {
        for (template, method) in &ops {
            let url = app.url(&seeded.concrete(template));
            let mut request = app.client.request(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                &url,
            );
            if let Some(token) = who {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let (status, _) = check(template, method, response).await;
            assert_ne!(status, 405);
            // (A search needs its `q`.)
            let plain_get = !matches!(
                template.as_str(),
                "/metrics" | "/chat/{room}/{id}/" | "/api/search/"
            );
            if who == Some(&seeded.owner) && method == "get" && plain_get {
                assert!(status < 400, "GET {url} as the owner: {status}");
            }
        }
    }

    // The metrics, with their own token.
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(check("/metrics", "get", response).await.0, 200);
}
