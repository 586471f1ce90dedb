//! The document itself: well formed, served with the request's server, and
//! naming exactly the routes declared in `src/http/routes/`.

use std::collections::BTreeSet;

use serde_json::{json, Value as Json};

use crate::caller::Caller;
use crate::common::*;
use crate::{operation, operations, resolve, template_segments, DOC};

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
