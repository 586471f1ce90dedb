//! Keeps `src/openapi.json` true:
//!
//! - every route in `src/http/routes/` is a documented path, and every documented
//!   path is a route;
//! - on a seeded server, every documented path exists (`OPTIONS` answers
//!   with its `Allow` list) with exactly the documented methods, and every
//!   documented method, sent as a stranger, a non-owner and the owner (staff),
//!   answers one of its documented statuses with a body that matches the
//!   documented schema;
//! - the main endpoints' real answers (successes and each error shape)
//!   match their documented schemas.
//!
//! Schemas are checked by the small checker at the end of this file, which
//! covers the part of JSON Schema (OpenAPI 3.0 dialect) the document uses.

mod common;
use common::*;

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use reqwest::multipart;
use reqwest::Method;
use serde_json::{json, Value as Json};

static DOC: LazyLock<Json> = LazyLock::new(|| {
    serde_json::from_str(chatd::http::routes::openapi::DOCUMENT).expect("src/openapi.json is JSON")
});

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

const METRICS_TOKEN: &str = "metrics-token-for-tests";

/// `(path template, method)` of every documented operation.
fn operations() -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in DOC["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.push((path.clone(), method.to_string()));
            }
        }
    }
    operations
}

fn operation(path: &str, method: &str) -> &'static Json {
    DOC["paths"]
        .get(path)
        .and_then(|item| item.get(method.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("{method} {path} is not documented"))
}

/// Follows `$ref`s (local ones only, as the document uses).
fn resolve(mut value: &'static Json) -> &'static Json {
    while let Some(reference) = value.get("$ref").and_then(Json::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("non-local $ref {reference}"));
        value = DOC
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling $ref {reference}"));
    }
    value
}

// ------------------------------------------------------- the document itself

#[test]
fn the_document_is_well_formed() {
    assert_eq!(DOC["openapi"], "3.0.3");
    assert!(DOC.get("servers").is_none(), "the server sets servers");
    // Every $ref resolves.
    fn walk(value: &'static Json, at: &str) {
        match value {
            Json::Object(fields) => {
                if fields.contains_key("$ref") {
                    resolve(value);
                }
                for (name, field) in fields {
                    walk(field, &format!("{at}/{name}"));
                }
            }
            Json::Array(items) => items.iter().for_each(|item| walk(item, at)),
            _ => {}
        }
    }
    walk(&DOC, "");
    let mut ids = BTreeSet::new();
    for (path, method) in operations() {
        let op = operation(&path, &method);
        let id = op["operationId"].as_str().expect("an operationId");
        assert!(ids.insert(id), "operationId {id} is used twice");
        assert!(
            op.get("security").is_some(),
            "{method} {path}: say who may call it"
        );
        let responses = op["responses"].as_object().expect("responses");
        assert!(!responses.is_empty());
        for (status, response) in responses {
            assert!(
                status.parse::<u16>().is_ok(),
                "{method} {path}: status {status}"
            );
            assert!(resolve(response)["description"].is_string());
        }
        // Every `{param}` of the template is declared, in the path item or
        // the operation.
        let item = &DOC["paths"][&path];
        let declared: Vec<&str> = item["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten()
            .filter(|p| resolve(p)["in"] == "path")
            .map(|p| resolve(p)["name"].as_str().unwrap())
            .collect();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    declared.contains(&name),
                    "{method} {path}: {name} is not declared"
                );
            }
        }
    }
}

// ------------------------------------------------ routes in src/ vs document

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param,
    /// `warp::path::tail()`: one or more segments.
    Tail,
}

/// The routes declared in `src/http/routes/*.rs`: every `warp::path!(...)`,
/// `warp::path::end()`, and `warp::path("x").and(warp::path::tail())`.
fn source_routes() -> Vec<(String, Vec<Segment>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/routes");
    let mut routes = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let mut rest = source.as_str();
        while let Some(at) = rest.find("warp::path") {
            rest = &rest[at + "warp::path".len()..];
            if let Some(args) = rest.strip_prefix("!(") {
                let end = args.find(')').expect("a closing parenthesis");
                let segments = args[..end]
                    .split('/')
                    .map(str::trim)
                    .map(
                        |s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                            Some(literal) => Segment::Literal(literal.to_string()),
                            None => Segment::Param,
                        },
                    )
                    .collect();
                routes.push((name.clone(), segments));
            } else if rest.starts_with("::end()") {
                routes.push((name.clone(), Vec::new()));
            } else if let Some(args) = rest.strip_prefix("(\"") {
                let end = args.find('"').unwrap();
                assert!(
                    args[end..].starts_with("\").and(warp::path::tail())"),
                    "{name}: a warp::path(\"..\") route this test does not understand"
                );
                routes.push((
                    name.clone(),
                    vec![Segment::Literal(args[..end].to_string()), Segment::Tail],
                ));
            } else {
                // What is left must not be a way of matching paths.
                let known = ["::tail()", "::full()", "::Tail", "::FullPath"];
                assert!(
                    known.iter().any(|k| rest.starts_with(k)),
                    "{name}: warp::path{} is a route this test does not understand",
                    rest.chars().take(20).collect::<String>()
                );
            }
        }
    }
    routes
}

fn template_segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn route_matches(route: &[Segment], template: &str) -> bool {
    let segments = template_segments(template);
    let is_param = |s: &str| s.starts_with('{') && s.ends_with('}');
    let mut i = 0;
    for (n, part) in route.iter().enumerate() {
        match part {
            Segment::Tail => {
                let rest = &segments[i.min(segments.len())..];
                return n == route.len() - 1
                    && !rest.is_empty()
                    && rest.iter().all(|s| is_param(s));
            }
            Segment::Literal(literal) => {
                if segments.get(i) != Some(&literal.as_str()) {
                    return false;
                }
            }
            Segment::Param => {
                if !segments.get(i).is_some_and(|s| is_param(s)) {
                    return false;
                }
            }
        }
        i += 1;
    }
    i == segments.len()
}

#[test]
fn every_route_in_the_source_is_documented_and_back() {
    let routes = source_routes();
    assert!(routes.len() >= 17, "found only {routes:?}");
    let paths: Vec<String> = DOC["paths"].as_object().unwrap().keys().cloned().collect();
    for (file, route) in &routes {
        assert!(
            paths.iter().any(|path| route_matches(route, path)),
            "src/http/routes/{file}: route {route:?} is not in src/openapi.json"
        );
    }
    for path in &paths {
        assert!(
            routes.iter().any(|(_, route)| route_matches(route, path)),
            "{path} is documented but no route in src/http/routes/ serves it"
        );
    }
}

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

/// Sends a message over the chat's WebSocket; checks the frame's message is
/// the documented Message, and returns its id.
async fn send_message(app: &TestApp, token: &str, chat: i64, text: &str) -> i64 {
    let message = common::send_message(app, token, "films", chat, text).await;
    assert_valid(&DOC["components"]["schemas"]["Message"], &message);
    message["id"].as_i64().unwrap()
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

/// Checks a response against the documented operation `method template`:
/// its status is documented, required headers are there, and its body has
/// a documented content type and matches the schema. Returns the status and
/// the JSON body (`null` when empty or not JSON).
async fn check(template: &str, method: &str, response: reqwest::Response) -> (u16, Json) {
    let op = operation(template, method);
    let status = response.status().as_u16();
    let where_ = format!("{} {template} → {status}", method.to_uppercase());
    let Some(documented) = op["responses"].get(status.to_string()).map(resolve) else {
        let text = response.text().await.unwrap_or_default();
        panic!("{where_}: status not documented ({text})");
    };
    if let Some(headers) = documented.get("headers").and_then(Json::as_object) {
        for (name, header) in headers {
            if resolve(header)["required"] == true {
                assert!(
                    response.headers().contains_key(name.as_str()),
                    "{where_}: no {name} header"
                );
            }
        }
    }
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.bytes().await.unwrap();
    let Some(content) = documented.get("content").and_then(Json::as_object) else {
        assert!(
            bytes.is_empty(),
            "{where_}: a body where none is documented"
        );
        return (status, Json::Null);
    };
    let content_type = content_type.unwrap_or_else(|| panic!("{where_}: no Content-Type"));
    let essence = content_type.split(';').next().unwrap().trim();
    let media = content
        .get(essence)
        .unwrap_or_else(|| panic!("{where_}: Content-Type {content_type} is not documented"));
    if essence != "application/json" {
        return (status, Json::Null);
    }
    let body: Json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{where_}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let errors = validate(&media["schema"], &body);
    assert!(
        errors.is_empty(),
        "{where_}: {body}\ndoes not match the schema:\n{}",
        errors.join("\n")
    );
    (status, body)
}

#[tokio::test]
async fn the_document_is_served_with_the_servers_of_the_request() {
    let app = spawn_app().await;
    let anon = Caller {
        app: &app,
        token: None,
    };
    let (status, body) = anon.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let mut expected = DOC.clone();
    expected["servers"] = json!([{"url": app.base}]);
    assert_eq!(body, expected);
    // Read-only.
    let response = app
        .client
        .put(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
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

// ----------------------------------------------- main endpoints, real bodies

/// A request body in one of the encodings the API accepts.
enum Body {
    Empty,
    Json(Json),
    Form(Vec<(String, String)>),
    Multipart(multipart::Form),
    Raw(&'static str, Vec<u8>),
}

fn form(pairs: &[(&str, &str)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn image(field: &str, fixture_name: &str, mime: &str) -> Body {
    let bytes = fixture(fixture_name);
    Body::Multipart(file_form(&[], field, bytes, fixture_name, mime))
}

/// The documented path template a concrete path belongs to (the most
/// literal one when several match).
fn template_of(path: &str) -> String {
    let path = path.split('?').next().unwrap();
    let segments = template_segments(path);
    DOC["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|template| {
            let parts = template_segments(template);
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        .min_by_key(|template| template.matches('{').count())
        .cloned()
        .unwrap_or_else(|| panic!("{path} matches no documented path"))
}

/// Someone calling the API (with a token or without); every answer is
/// checked against the document.
#[derive(Clone, Copy)]
struct Caller<'a> {
    app: &'a TestApp,
    token: Option<&'a str>,
}

impl Caller<'_> {
    async fn send(self, method: &str, path: &str, body: Body) -> (u16, Json) {
        let verb = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = self.app.client.request(verb, self.app.url(path));
        if let Some(token) = self.token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Body::Empty => request,
            Body::Json(value) => request.json(&value),
            Body::Form(pairs) => request.form(&pairs),
            Body::Multipart(form) => request.multipart(form),
            Body::Raw(content_type, bytes) => {
                request.header("content-type", content_type).body(bytes)
            }
        };
        let response = request.send().await.unwrap();
        check(&template_of(path), method, response).await
    }

    async fn get(self, path: &str) -> (u16, Json) {
        self.send("get", path, Body::Empty).await
    }

    async fn delete(self, path: &str) -> (u16, Json) {
        self.send("delete", path, Body::Empty).await
    }

    async fn post(self, path: &str, body: Body) -> (u16, Json) {
        self.send("post", path, body).await
    }

    async fn patch(self, path: &str, body: Body) -> (u16, Json) {
        self.send("patch", path, body).await
    }

    async fn put(self, path: &str, body: Body) -> (u16, Json) {
        self.send("put", path, body).await
    }
}

#[tokio::test]
async fn real_responses_match_their_schemas() {
    let app = spawn_app().await;
    let anon = Caller {
        app: &app,
        token: None,
    };
    let account = |name: &str| {
        vec![
            ("username".to_string(), name.to_string()),
            ("email".to_string(), format!("{name}@example.com")),
            ("password".to_string(), PASSWORD.to_string()),
        ]
    };

    // Accounts, in the three encodings.
    let as_json = account("ann").into_iter().map(|(k, v)| (k, json!(v)));
    let as_json = Body::Json(Json::Object(as_json.collect()));
    let as_multipart = account("cat")
        .into_iter()
        .fold(multipart::Form::new(), |f, (k, v)| f.text(k, v));
    assert_eq!(anon.post("/api/register/", as_json).await.0, 201);
    let as_form = Body::Form(account("ben"));
    assert_eq!(anon.post("/api/register/", as_form).await.0, 201);
    let as_multipart = Body::Multipart(as_multipart);
    assert_eq!(anon.post("/api/register/", as_multipart).await.0, 201);
    let (status, body) = anon
        .post("/api/register/", Body::Form(account("ann")))
        .await;
    let taken = json!("A user with that username already exists.");
    assert_eq!((status, &body["username"][0]), (400, &taken));
    let broken = Body::Raw("application/json", b"{".to_vec());
    assert_eq!(anon.post("/api/register/", broken).await.0, 400);

    let login = Body::Json(json!({"username": "ann", "password": PASSWORD}));
    let (status, tokens) = anon.post("/api/token/", login).await;
    assert_eq!(status, 200);
    let wrong = form(&[("username", "ann"), ("password", "wrong")]);
    assert_eq!(anon.post("/api/token/", wrong).await.0, 401);
    let refresh = form(&[("refresh", tokens["refresh"].as_str().unwrap())]);
    assert_eq!(anon.post("/api/token/refresh/", refresh).await.0, 200);
    let not_refresh = form(&[("refresh", tokens["access"].as_str().unwrap())]);
    let (status, body) = anon.post("/api/token/refresh/", not_refresh).await;
    assert_eq!((status, &body["code"]), (401, &json!("token_not_valid")));
    let ann = Caller {
        token: tokens["access"].as_str(),
        ..anon
    };
    let ben_token = app.login("ben").await.0;
    let ben = Caller {
        token: Some(&ben_token),
        ..anon
    };

    let (status, user) = ann.get("/api/user/").await;
    assert_eq!((status, &user["avatar"]), (200, &Json::Null));
    assert_eq!(anon.get("/api/user/").await.0, 401);
    let malformed = Caller {
        token: Some("a b"),
        ..anon
    };
    assert_eq!(malformed.get("/api/user/").await.0, 401);

    // Avatars.
    let gif = || image("avatar", "red.gif", "image/gif");
    let (status, body) = ann.put("/api/profile/avatar/", gif()).await;
    assert!(status == 200 && body["avatar"].is_string(), "{body}");
    let (status, body) = ann.patch("/api/profile/avatar/", gif()).await;
    assert!(status == 200 && body["avatar"].is_string(), "{body}");
    assert!(ann.get("/api/user/").await.1["avatar"].is_string());
    assert!(ann.get("/api/profile/avatar/").await.1["avatar"].is_string());
    let junk = b"not an image".to_vec();
    let junk = Body::Multipart(file_form(&[], "avatar", junk, "a.png", "image/png"));
    assert_eq!(ben.put("/api/profile/avatar/", junk).await.0, 400);
    let cleared = ben.delete("/api/profile/avatar/").await;
    assert_eq!(cleared, (200, json!({"avatar": null})));

    // Chats, in the three encodings and both create paths.
    let dune = json!({"title": "Dune", "room": "books", "description": null});
    let (status, created) = ann.post("/api/chat/", Body::Json(dune)).await;
    assert_eq!(
        (status, &created["chat"]["description"]),
        (200, &Json::Null)
    );
    let dune = created["chat"]["id"].as_i64().unwrap();
    let emma = form(&[
        ("title", "Emma"),
        ("room", "books"),
        ("description", "Austen"),
    ]);
    assert_eq!(ann.post("/api/chat/", emma).await.0, 200);
    let heat = [("title", "Heat"), ("description", "Mann")];
    let heat = file_form(&heat, "img", fixture("red.webp"), "x.webp", "image/webp");
    let (status, heat) = ann.post("/api/chat/films/", Body::Multipart(heat)).await;
    assert_eq!(status, 200);
    let heat = heat["chat"]["id"].as_i64().unwrap();
    let again = form(&[("title", "Dune"), ("room", "books")]);
    let (status, body) = ann.post("/api/chat/", again).await;
    assert_eq!((status, body["non_field_errors"].is_array()), (400, true));
    let long = "x".repeat(71);
    let two_wrongs = form(&[("title", &long), ("room", "movie")]);
    let (status, body) = ann.post("/api/chat/", two_wrongs).await;
    assert_eq!((status, body.as_object().map(|o| o.len())), (400, Some(2)));
    let text = Body::Raw("text/plain", b"title=x".to_vec());
    assert_eq!(ann.post("/api/chat/", text).await.0, 415);
    let big = Body::Json(json!({"title": "x".repeat(70 * 1024), "room": "films"}));
    assert_eq!(ann.post("/api/chat/", big).await.0, 413);
    let (status, body) = ann.post("/api/chat/movies/", form(&[("title", "x")])).await;
    assert_eq!((status, body), (400, json!({"Error": "wrong room"})));

    // A room over two pages.
    for n in 0..100 {
        let title = format!("game {n}");
        let (status, _) = app
            .create_chat(&ben_token, &[("title", &title), ("room", "games")])
            .await;
        assert_eq!(status, 200);
    }
    let (status, page) = anon.get("/api/chat/games/").await;
    assert_eq!((status, &page["count"]), (200, &json!(100)));
    assert_eq!(page["next"], Json::Null);
    let one_more = form(&[("title", "one more")]);
    assert_eq!(ben.post("/api/chat/games/", one_more).await.0, 200);
    let (_, page) = anon.get("/api/chat/games/").await;
    assert!(page["next"].is_string(), "{}", page["next"]);
    let (_, page) = anon.get("/api/chat/games/?page=2").await;
    assert!(page["previous"].is_string(), "{}", page["previous"]);
    assert_eq!(page["results"].as_array().map(Vec::len), Some(1));
    for bad in ["?page=3", "?page=x", "?page=0"] {
        let path = format!("/api/chat/games/{bad}");
        assert_eq!(anon.get(&path).await.0, 404, "{bad}");
    }
    assert_eq!(anon.get("/api/chat/movies/").await.0, 400);

    // One chat.
    let chat = format!("/api/chat/books/{dune}/");
    assert_eq!(anon.get(&chat).await.0, 200);
    assert_eq!(anon.get(&format!("/api/chat/films/{dune}/")).await.0, 404);
    let change = Body::Json(json!({"description": "Arrakis", "img": null}));
    let (status, body) = ann.patch(&chat, change).await;
    assert_eq!((status, &body["description"]), (200, &json!("Arrakis")));
    let (status, body) = ann.patch(&chat, form(&[("description", "")])).await;
    assert_eq!((status, &body["description"]), (200, &Json::Null));
    let jpeg = image("img", "red.jpg", "image/jpeg");
    assert_eq!(ann.patch(&chat, jpeg).await.0, 200);
    assert_eq!(ann.patch(&chat, form(&[("title", "x")])).await.0, 400);
    assert_eq!(ben.patch(&chat, form(&[("description", "x")])).await.0, 403);

    // Messages.
    let first = send_message(&app, ann.token.unwrap(), heat, "hello").await;
    let second = send_message(&app, &ben_token, heat, "hi ann").await;
    let messages = format!("/api/chat/films/{heat}/messages/");
    let (status, page) = anon.get(&messages).await;
    assert_eq!((status, &page["count"]), (200, &json!(2)));
    let (_, page) = anon.get(&format!("{messages}?after={first}")).await;
    assert_eq!(page["count"], 1);
    assert_eq!(anon.get(&format!("{messages}?after=x")).await.0, 400);
    let wrong_room = format!("/api/chat/movies/{heat}/messages/");
    assert_eq!(anon.get(&wrong_room).await.0, 400);
    let mine = format!("{messages}{first}/");
    let theirs = format!("{messages}{second}/");
    let edit = Body::Json(json!({"text": "hello again"}));
    let (status, edited) = ann.patch(&mine, edit).await;
    assert!(status == 200 && edited["edited"].is_string(), "{edited}");
    assert_eq!(ann.patch(&mine, form(&[("text", "  ")])).await.0, 400);
    assert_eq!(ann.patch(&theirs, form(&[("text", "mine")])).await.0, 403);
    assert_eq!(ann.delete(&mine).await.0, 204);
    let (status, deleted) = anon.get(&mine).await;
    assert_eq!((status, &deleted["is_deleted"]), (200, &json!(true)));
    assert_eq!(deleted["text"], "");
    assert_eq!(ann.delete(&mine).await.0, 404);

    // Media, health, the socket's plain-HTTP answers, metrics when off.
    assert_eq!(anon.get("/media/chat_img/default.jpg").await.0, 200);
    assert_eq!(anon.get("/media/chat_img/nothing.png").await.0, 404);
    assert_eq!(anon.get("/healthz").await, (200, json!({"status": "ok"})));
    let socket = format!("/chat/films/{heat}/");
    assert_eq!(anon.get(&socket).await.0, 426);
    let browser = app
        .client
        .get(app.url(&socket))
        .header("accept", "text/html");
    let browser = browser.send().await.unwrap();
    assert_eq!(check("/chat/{room}/{id}/", "get", browser).await.0, 302);
    assert_eq!(anon.get("/metrics").await.0, 404);

    // Deleting.
    let chat = format!("/api/chat/films/{heat}/");
    assert_eq!(ben.delete(&chat).await.0, 403);
    assert_eq!(ann.delete(&chat).await.0, 204);
    assert_eq!(ann.delete("/api/user/").await.0, 204);
    let (status, body) = ann.get("/api/user/").await;
    assert_eq!((status, &body["code"]), (401, &json!("user_not_found")));
}

#[tokio::test]
async fn community_responses_match_their_schemas() {
    let app = spawn_app().await;
    let anon = Caller {
        app: &app,
        token: None,
    };
    let (ann_token, ben_token) = (app.user("ann").await, app.user("ben").await);
    let ann = Caller {
        token: Some(&ann_token),
        ..anon
    };
    let ben = Caller {
        token: Some(&ben_token),
        ..anon
    };
    let chat = app.new_chat_id(&ann_token, "books", "Dune").await;
    let messages = format!("/api/chat/books/{chat}/messages/");

    let (status, text) = ann
        .post(&messages, Body::Json(json!({"text": "hi @ben"})))
        .await;
    assert_eq!((status, &text["mentions"]), (201, &json!(["ben"])));
    let picture = file_form(
        &[("text", "look")],
        "image",
        fixture("red.png"),
        "a.png",
        "image/png",
    );
    let (status, picture) = ben.post(&messages, Body::Multipart(picture)).await;
    assert!(status == 201 && picture["image"].is_string(), "{picture}");
    assert_eq!(ben.post(&messages, form(&[("text", " ")])).await.0, 400);
    assert_eq!(anon.post(&messages, form(&[("text", "x")])).await.0, 401);
    let text_plain = Body::Raw("text/plain", b"text=x".to_vec());
    assert_eq!(ann.post(&messages, text_plain).await.0, 415);

    let id = text["id"].as_i64().unwrap();
    let reaction = format!("{messages}{id}/reactions/%F0%9F%91%8D/");
    let (status, body) = ben.put(&reaction, Body::Empty).await;
    assert_eq!(
        (status, &body["reactions"][0]["users"]),
        (200, &json!(["ben"]))
    );
    assert_eq!(ben.delete(&reaction).await.0, 200);
    let letters = format!("{messages}{id}/reactions/ok/");
    assert_eq!(ben.put(&letters, Body::Empty).await.0, 400);
    assert_eq!(anon.put(&reaction, Body::Empty).await.0, 401);

    let read = format!("/api/chat/books/{chat}/read/");
    let (status, body) = ben.post(&read, Body::Json(json!({"last_read": id}))).await;
    assert_eq!((status, &body["unread"]), (200, &json!(0)));
    assert_eq!(ben.post(&read, form(&[("last_read", "x")])).await.0, 400);

    let (status, page) = ben.get("/api/user/chats/").await;
    assert_eq!((status, &page["count"]), (200, &json!(1)));
    assert_eq!(anon.get("/api/user/chats/").await.0, 401);
    let (status, page) = ben.get("/api/user/mentions/").await;
    assert_eq!((status, &page["count"]), (200, &json!(1)));
    assert_eq!(ben.get("/api/user/mentions/?page=2").await.0, 404);

    let (status, page) = anon.get("/api/search/?q=look&room=books").await;
    assert_eq!(
        (status, &page["results"][0]["chat_title"]),
        (200, &json!("Dune"))
    );
    assert_eq!(anon.get("/api/search/").await.0, 400);
    assert_eq!(anon.get("/api/search/?q=x&room=movie").await.0, 400);
    assert_eq!(anon.get("/api/search/?q=x&page=2").await.0, 404);
    let (status, page) = anon.get("/api/chat/books/?search=dun").await;
    assert_eq!((status, &page["count"]), (200, &json!(1)));
}

// ---------------------------------------------------------- schema checker

/// Messages for every way `value` breaks `schema` (empty: it matches).
fn validate(schema: &'static Json, value: &Json) -> Vec<String> {
    let mut errors = Vec::new();
    check_value(schema, value, "$", &mut errors);
    errors
}

fn assert_valid(schema: &'static Json, value: &Json) {
    let errors = validate(schema, value);
    assert!(errors.is_empty(), "{value}: {}", errors.join("; "));
}

fn check_value(schema: &'static Json, value: &Json, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(schema);
    let mut fail = |message: String| errors.push(format!("{at}: {message}"));
    if value.is_null() {
        let allowed = schema["nullable"] == true
            || schema.get("type").is_none()
                && schema.get("oneOf").is_none()
                && schema.get("anyOf").is_none();
        if !allowed {
            fail("null where the schema is not nullable".into());
        }
        return;
    }
    if let Some(kind) = schema.get("type").and_then(Json::as_str) {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            other => panic!("unknown type {other}"),
        };
        if !ok {
            fail(format!("{value} is not of type {kind}"));
            return;
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Json::as_array) {
        if !choices.contains(value) {
            fail(format!("{value} is not one of {choices:?}"));
        }
    }
    if let Some(text) = value.as_str() {
        let chars = text.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(Json::as_u64)
            .is_some_and(|min| chars < min)
        {
            fail(format!("{value} is too short"));
        }
        if schema
            .get("maxLength")
            .and_then(Json::as_u64)
            .is_some_and(|max| chars > max)
        {
            fail(format!("{value} is too long"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Json::as_str) {
            if !matches_pattern(pattern, text) {
                fail(format!("{value} does not match {pattern}"));
            }
        }
        match schema.get("format").and_then(Json::as_str) {
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                fail(format!("{value} is not a date-time"))
            }
            Some("uri")
                if !(text.starts_with("http://") || text.starts_with("https://"))
                    || text.contains(char::is_whitespace) =>
            {
                fail(format!("{value} is not an absolute URL"))
            }
            _ => {}
        }
    }
    if let Some(number) = value.as_f64() {
        if schema
            .get("minimum")
            .and_then(Json::as_f64)
            .is_some_and(|min| number < min)
        {
            fail(format!("{value} is below the minimum"));
        }
        if schema
            .get("maximum")
            .and_then(Json::as_f64)
            .is_some_and(|max| number > max)
        {
            fail(format!("{value} is above the maximum"));
        }
    }
    if let Some(items) = value.as_array() {
        let n = items.len() as u64;
        if schema
            .get("minItems")
            .and_then(Json::as_u64)
            .is_some_and(|min| n < min)
        {
            fail(format!("{n} items, fewer than allowed"));
        }
        if schema
            .get("maxItems")
            .and_then(Json::as_u64)
            .is_some_and(|max| n > max)
        {
            fail(format!("{n} items, more than allowed"));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check_value(item_schema, item, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Some(object) = value.as_object() {
        if schema
            .get("minProperties")
            .and_then(Json::as_u64)
            .is_some_and(|min| (object.len() as u64) < min)
        {
            errors.push(format!("{at}: fewer properties than allowed"));
        }
        for name in schema
            .get("required")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                errors.push(format!("{at}: {name} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Json::as_object);
        for (name, field) in object {
            let at = format!("{at}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                schema.get("additionalProperties"),
            ) {
                (Some(field_schema), _) => check_value(field_schema, field, &at, errors),
                (None, Some(Json::Bool(false))) => errors.push(format!("{at}: not allowed")),
                (None, Some(extra)) if extra.is_object() => check_value(extra, field, &at, errors),
                (None, _) => {}
            }
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(choices) = schema.get(keyword).and_then(Json::as_array) {
            let matching = choices
                .iter()
                .filter(|choice| validate(choice, value).is_empty())
                .count();
            let ok = if exactly_one {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                errors.push(format!(
                    "{at}: {value} matches {matching} of the {keyword} choices"
                ));
            }
        }
    }
}

/// JSON Schema `pattern` (the document's are anchored with `^…$`).
fn matches_pattern(pattern: &str, text: &str) -> bool {
    use regex_automata::dfa::regex::Regex;
    thread_local! {
        static CACHE: std::cell::RefCell<HashMap<String, Regex>> = Default::default();
    }
    CACHE.with(|cache| {
        cache
            .borrow_mut()
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")))
            .is_match(text)
    })
}

#[test]
fn the_schema_checker_rejects_what_it_should() {
    let schemas = &DOC["components"]["schemas"];
    let chat = json!({
        "id": 3, "title": "Harry Potter", "room": "films",
        "img": "http://127.0.0.1:8000/media/chat_img/default.jpg", "creator": "nik",
        "description": null, "url": "/chat/films/3/", "timestamp": "2023-08-03T08:51:26.593514Z"
    });
    assert_valid(&schemas["Chat"], &chat);
    let broken = [
        ("id", json!("3")),
        ("title", json!("")),
        ("title", json!("x".repeat(71))),
        ("room", json!("movies")),
        ("img", json!("/media/chat_img/default.jpg")),
        ("description", json!(5)),
        ("url", json!("/chat/films/x/")),
        ("timestamp", json!("2023-08-03T08:51:26Z")),
        ("timestamp", json!("yesterday")),
        ("extra", json!(1)),
    ];
    for (field, value) in broken {
        let mut wrong = chat.clone();
        wrong[field] = value.clone();
        assert!(
            !validate(&schemas["Chat"], &wrong).is_empty(),
            "{field}: {value} passed"
        );
    }
    let mut missing = chat.clone();
    missing.as_object_mut().unwrap().remove("description");
    assert!(!validate(&schemas["Chat"], &missing).is_empty());
    let bad_request = &DOC["components"]["responses"]["BadRequestInRoom"]["content"]
        ["application/json"]["schema"];
    for good in [
        json!({"title": ["This field is required."]}),
        json!({"Error": "wrong room"}),
        json!({"detail": "JSON parse error - x"}),
    ] {
        assert_valid(bad_request, &good);
    }
    for bad in [
        json!({}),
        json!({"title": "x"}),
        json!({"Error": "other"}),
        json!({"detail": ["x"], "code": 1}),
        json!([]),
    ] {
        assert!(!validate(bad_request, &bad).is_empty(), "{bad} passed");
    }
    assert!(!validate(&schemas["Message"], &json!({"id": 1})).is_empty());
    assert!(!validate(
        &schemas["ChatPage"],
        &json!({"count": -1, "next": null, "previous": null, "results": []})
    )
    .is_empty());
}
