//! Property tests of the request parsers and validators: whatever a client
//! sends (JSON, form-urlencoded or multipart bodies, fields of any type,
//! page numbers, tokens, `Authorization` headers), nothing panics and every
//! failure is one of the documented answers: a 400 in a DRF shape
//! (`{"field": ["message"]}` or `{"detail": "..."}`), a 413, a 415, or for
//! credentials a 401 with `WWW-Authenticate`.
//!
//! Case counts are modest so the file runs in seconds in a debug build;
//! `PROPTEST_CASES=10000 cargo test --test properties` digs deeper.

use std::time::Duration;

use bytes::Bytes;
use chatd::auth::{self, Claims, Credentials, TokenType, Tokens};
use chatd::domain::error::FieldErrors;
use chatd::domain::pagination::{self, PageRequest, PAGE_SIZE};
use chatd::domain::{accounts, rules};
use chatd::http::body::{self, BodyStream, Form, Limits, Upload, Value};
use chatd::http::error::ApiError;
use chatd::rooms::Room;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::Value as Json;

// ---------------------------------------------------------------- helpers

/// `cases` per property (or `PROPTEST_CASES`), and no regression files
/// written into the source tree.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A rendered error: status, headers and JSON body, as a client sees it.
struct Rendered {
    status: u16,
    headers: warp::http::HeaderMap,
    body: Json,
}

fn render(error: ApiError) -> Rendered {
    use http_body_util::BodyExt;
    let response = error.into_response();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-type").map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "errors are JSON"
    );
    let bytes = block_on(response.into_body().collect())
        .expect("an error body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).expect("an error body is JSON");
    Rendered {
        status,
        headers,
        body,
    }
}

/// `{"field": ["message", ...], ...}`: at least one field, each with at
/// least one message.
fn is_field_errors(body: &Json) -> bool {
    body.as_object().is_some_and(|fields| {
        !fields.is_empty()
            && fields.values().all(|messages| {
                messages.as_array().is_some_and(|messages| {
                    !messages.is_empty() && messages.iter().all(Json::is_string)
                })
            })
    })
}

/// `{"detail": "..."}`, with a `code` only where the contract has one.
fn is_detail(body: &Json) -> bool {
    body.as_object().is_some_and(|fields| {
        fields.get("detail").is_some_and(Json::is_string)
            && fields
                .iter()
                .all(|(name, value)| name == "detail" || (name == "code" && value.is_string()))
    })
}

/// Checks that a failed parse is a documented answer: 400 in a DRF shape,
/// 413 or 415 with `{"detail"}`; returns the status.
fn assert_documented_body_error(error: ApiError) -> Result<u16, TestCaseError> {
    let shown = error.to_string();
    let rendered = render(error);
    match rendered.status {
        400 => prop_assert!(
            is_field_errors(&rendered.body) || is_detail(&rendered.body),
            "400 with an undocumented body {} ({shown})",
            rendered.body
        ),
        413 => prop_assert_eq!(
            &rendered.body,
            &serde_json::json!({"detail": "Request body too large."})
        ),
        415 => {
            prop_assert!(is_detail(&rendered.body), "{}", rendered.body);
            let detail = rendered.body["detail"].as_str().unwrap_or_default();
            prop_assert!(
                detail.starts_with("Unsupported media type \"")
                    && detail.ends_with("\" in request."),
                "{}",
                detail
            );
        }
        other => prop_assert!(false, "undocumented status {other}: {shown}"),
    }
    Ok(rendered.status)
}

/// Field errors as the client sees them, checked against the fields the
/// validator may name.
fn assert_field_errors(errors: FieldErrors, fields: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "a failure names what failed");
    let rendered = render(ApiError::Fields(errors));
    prop_assert_eq!(rendered.status, 400);
    prop_assert!(is_field_errors(&rendered.body), "{}", rendered.body);
    for name in rendered.body.as_object().into_iter().flat_map(|o| o.keys()) {
        prop_assert!(
            fields.contains(&name.as_str()),
            "unexpected field {} in {}",
            name,
            rendered.body
        );
    }
    Ok(())
}

/// A body stream cut into chunks of the given sizes (the rest in one).
fn stream_of(bytes: Vec<u8>, cuts: &[usize]) -> BodyStream {
    let bytes = Bytes::from(bytes);
    let mut chunks = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        if at >= bytes.len() {
            break;
        }
        let end = (at + cut.max(1)).min(bytes.len());
        chunks.push(Ok(bytes.slice(at..end)));
        at = end;
    }
    if at < bytes.len() {
        chunks.push(Ok(bytes.slice(at..)));
    }
    Box::pin(futures_util::stream::iter(chunks))
}

const MAX_FILE: usize = 2048;

fn read(content_type: Option<&str>, bytes: Vec<u8>, cuts: &[usize]) -> Result<Form, ApiError> {
    block_on(body::read_form(
        content_type,
        stream_of(bytes, cuts),
        Limits { max_file: MAX_FILE },
    ))
}

// ------------------------------------------------------------- strategies

/// Any JSON value, a few levels deep.
fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        // Binary fractions, which survive a JSON round trip exactly.
        any::<i32>().prop_map(|n| Json::from(f64::from(n) / 4.0)),
        any::<String>().prop_map(Json::String),
        Just(Json::String("films".into())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::vec((field_name(), inner), 0..5)
                .prop_map(|pairs| Json::Object(pairs.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 9] = [
    "title",
    "room",
    "description",
    "img",
    "username",
    "email",
    "password",
    "text",
    "avatar",
];

/// Mostly the names the validators look at, sometimes anything.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(FIELDS.to_vec()).prop_map(str::to_string),
        1 => "[a-z_]{1,10}",
        1 => any::<String>(),
    ]
}

/// Text near the validators' edges: blanks, padding, lengths around the
/// limits, rooms, e-mail-like and password-like strings, and anything.
fn field_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t\n]{0,3}",
        "[ \t]{0,2}[a-zA-Z0-9é_@.+-]{0,75}[ \t]{0,2}",
        "[a-z]{395,405}",
        prop::sample::select(vec![
            "films", "music", "books", "games", "Films", "movie", " films "
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9.+_-]{1,12}@[a-z0-9-]{1,10}\\.[a-z]{1,4}",
        "[a-z]{0,4}[0-9]{0,10}",
        prop::sample::select(vec![
            "password",
            "12345678",
            "correct horse battery",
            "nik12345"
        ])
        .prop_map(str::to_string),
    ]
}

const PNG: &[u8] = include_bytes!("fixtures/red.png");
const JPEG: &[u8] = include_bytes!("fixtures/red.jpg");
const GIF: &[u8] = include_bytes!("fixtures/red.gif");
const WEBP: &[u8] = include_bytes!("fixtures/red.webp");

/// File contents: real images, cut-off images, and noise.
fn file_bytes() -> impl Strategy<Value = Vec<u8>> {
    let image = prop::sample::select(vec![PNG, JPEG, GIF, WEBP]);
    prop_oneof![
        image.clone().prop_map(<[u8]>::to_vec),
        (image, any::<prop::sample::Index>())
            .prop_map(|(image, cut)| image[..cut.index(image.len())].to_vec()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => field_text().prop_map(Value::Text),
        2 => arb_json().prop_map(Value::Json),
        2 => (prop_oneof![Just(String::new()), "[a-z]{1,8}\\.(png|jpg|txt)", any::<String>()], file_bytes())
            .prop_map(|(filename, bytes)| Value::File(Upload { filename, bytes: bytes.into() })),
    ]
}

fn arb_form() -> impl Strategy<Value = Form> {
    prop::collection::vec((field_name(), field_value()), 0..7).prop_map(|fields| {
        let mut form = Form::default();
        for (name, value) in fields {
            form.insert(name, value);
        }
        form
    })
}

fn arb_room() -> impl Strategy<Value = Option<Room>> {
    prop::option::of(prop::sample::select(Room::ALL.to_vec()))
}

/// One well-formed multipart part.
#[derive(Debug, Clone)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

fn arb_part() -> impl Strategy<Value = Part> {
    let name = prop_oneof![
        prop::sample::select(FIELDS.to_vec()).prop_map(str::to_string),
        "[a-zA-Z0-9_-]{1,12}",
    ];
    let text = prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        field_text().prop_map(String::into_bytes)
    ];
    let file = prop_oneof![
        file_bytes(),
        prop::collection::vec(any::<u8>(), 0..(MAX_FILE + 200))
    ];
    (
        name,
        prop::option::of("[a-zA-Z0-9 ._-]{0,16}"),
        prop::option::of(prop::sample::select(vec![
            "image/png",
            "text/plain",
            "application/octet-stream",
        ])),
        text,
        file,
    )
        .prop_map(|(name, filename, content_type, text, file)| {
            let bytes = if filename.is_some() { file } else { text };
            Part {
                name,
                filename,
                content_type: content_type.map(str::to_string),
                bytes,
            }
        })
}

fn multipart_body(boundary: &str, parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(filename) = &part.filename {
            disposition.push_str(&format!("; filename=\"{filename}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = &part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..300, 0..8)
}

fn tokens() -> Tokens {
    Tokens::new(
        b"property-test-secret".to_vec(),
        Duration::from_secs(60),
        Duration::from_secs(600),
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(signing_input: &str, secret: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(signing_input.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// Query strings: any text, and well-formed ones that mix `page` (in range,
/// out of range, `last`, anything) with other parameters, percent-encoded
/// or written raw.
fn query_string() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        3 => Just("page".to_string()),
        1 => Just("after".to_string()),
        2 => "[a-z]{1,3}",
        1 => any::<String>(),
    ];
    let value = prop_oneof![
        3 => (0u64..15).prop_map(|n| n.to_string()),
        1 => Just("last".to_string()),
        2 => any::<String>(),
    ];
    let pairs = prop::collection::vec((name, value), 0..5);
    prop_oneof![
        any::<String>(),
        pairs
            .clone()
            .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap()),
        pairs.prop_map(|pairs| {
            let raw: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
            raw.join("&")
        }),
    ]
}

/// Query pairs other than `page`, in their order.
fn without_page(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(name, _)| name != "page")
        .cloned()
        .collect()
}

// ------------------------------------------------------------- properties

proptest! {
    #![proptest_config(config(256))]

    /// Any bytes as a JSON body: a form, or a 400 in a DRF shape.
    #[test]
    fn json_bodies_parse_or_fail_as_documented(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Err(error) = body::parse_json(&bytes) {
            prop_assert_eq!(assert_documented_body_error(error)?, 400);
        }
    }

    /// Any JSON text: an object becomes a form with its fields (strings as
    /// text); anything else is the non-field error DRF gives.
    #[test]
    fn json_values_become_forms_only_when_objects(value in arb_json()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        match (body::parse_json(&bytes), &value) {
            (Ok(form), Json::Object(object)) => {
                prop_assert_eq!(form.names().count(), object.len());
                for (name, field) in object {
                    let expected = match field {
                        Json::String(text) => Value::Text(text.clone()),
                        other => Value::Json(other.clone()),
                    };
                    prop_assert_eq!(form.get(name), Some(&expected));
                }
            }
            (Err(error), other) if !other.is_object() => {
                let rendered = render(error);
                prop_assert_eq!(rendered.status, 400);
                let messages = rendered.body["non_field_errors"].as_array().cloned().unwrap_or_default();
                prop_assert_eq!(messages.len(), 1);
                prop_assert!(messages[0].as_str().unwrap_or_default().starts_with("Invalid data. Expected a dictionary, but got "));
            }
            (result, value) => prop_assert!(false, "{value} gave {result:?}"),
        }
    }

    /// Any bytes as a form-urlencoded body: a form, or a 400 `{"detail"}`.
    #[test]
    fn urlencoded_bodies_parse_or_fail_as_documented(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Err(error) = body::parse_urlencoded(&bytes) {
            prop_assert_eq!(assert_documented_body_error(error)?, 400);
        }
    }

    /// Encoded pairs come back as sent, the last of a repeated name winning.
    #[test]
    fn urlencoded_pairs_round_trip(pairs in prop::collection::vec((field_name(), any::<String>()), 0..6)) {
        let encoded = serde_urlencoded::to_string(&pairs).unwrap();
        let form = body::parse_urlencoded(encoded.as_bytes()).unwrap();
        prop_assert_eq!(form.names().count(), pairs.len());
        for (name, _) in &pairs {
            let last = pairs.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
            prop_assert_eq!(form.get(name), Some(&Value::Text(last)));
        }
    }

    /// Any content type with any body: a form, 400, 413 or 415.
    #[test]
    fn any_content_type_and_body_is_answered_as_documented(
        content_type in prop::option::of(prop_oneof![
            any::<String>(),
            "(application/json|application/x-www-form-urlencoded|multipart/form-data|text/plain)(; ?[a-z]{1,8}=[a-zA-Z0-9\"-]{0,12}){0,2}",
            "MULTIPART/Form-Data; boundary=[a-zA-Z0-9'()+_,./:=?-]{0,75}",
        ]),
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        cuts in cuts(),
    ) {
        if let Err(error) = read(content_type.as_deref(), bytes, &cuts) {
            assert_documented_body_error(error)?;
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// Well-formed multipart bodies, streamed in arbitrary chunks: every
    /// text part comes back as text and every file part as a file (the last
    /// of a repeated name winning), or a file over the limit is a 413.
    #[test]
    fn multipart_bodies_round_trip(
        boundary in "[a-zA-Z0-9'()+_,./:=?-]{1,69}[a-zA-Z0-9]",
        parts in prop::collection::vec(arb_part(), 0..5),
        cuts in cuts(),
    ) {
        for part in &parts {
            prop_assume!(!contains(&part.bytes, format!("--{boundary}").as_bytes()));
        }
        let body = multipart_body(&boundary, &parts);
        let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
        let too_big = parts.iter().any(|p| p.filename.is_some() && p.bytes.len() > MAX_FILE);
        let not_utf8 = parts.iter().any(|p| p.filename.is_none() && std::str::from_utf8(&p.bytes).is_err());
        match read(Some(&content_type), body, &cuts) {
            Ok(form) => {
                prop_assert!(!too_big && !not_utf8, "should have failed");
                for part in &parts {
                    let last = parts.iter().rev().find(|p| p.name == part.name).unwrap();
                    let expected = match &last.filename {
                        Some(filename) => Value::File(Upload {
                            filename: filename.clone(),
                            bytes: last.bytes.clone().into(),
                        }),
                        None => Value::Text(String::from_utf8(last.bytes.clone()).unwrap()),
                    };
                    prop_assert_eq!(form.get(&part.name), Some(&expected));
                }
            }
            Err(error) => {
                let status = assert_documented_body_error(error)?;
                if too_big && !not_utf8 {
                    prop_assert_eq!(status, 413);
                } else {
                    prop_assert!(too_big || not_utf8, "a well-formed body failed with {status}");
                }
            }
        }
    }

    /// Broken multipart bodies (cut short, bytes changed, bytes inserted,
    /// a wrong boundary) are a form, a 400 or a 413, never a panic.
    #[test]
    fn malformed_multipart_bodies_fail_as_documented(
        parts in prop::collection::vec(arb_part(), 0..4),
        cut in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6),
        header_boundary in prop_oneof![Just("b0undary".to_string()), "[ -~]{0,80}"],
        chunking in cuts(),
    ) {
        let mut body = multipart_body("b0undary", &parts);
        for (at, byte, kind) in edits {
            let at = at.index(body.len() + 1);
            match kind {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                _ => body.extend_from_slice(b"\r\n--b0undary\r\n"),
            }
        }
        body.truncate(cut.index(body.len() + 1));
        let content_type = format!("multipart/form-data; boundary={header_boundary}");
        if let Err(error) = read(Some(&content_type), body, &chunking) {
            let status = assert_documented_body_error(error)?;
            prop_assert!(status == 400 || status == 413, "{}", status);
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Creating a chat: a valid input that keeps every rule, or field errors
    /// that name only the create fields.
    #[test]
    fn chat_input_validates_any_form(form in arb_form(), path_room in arb_room()) {
        match rules::chat_input(&form, path_room) {
            Ok(input) => {
                prop_assert_eq!(input.title.trim(), input.title.as_str());
                prop_assert!((1..=rules::TITLE_MAX).contains(&input.title.chars().count()));
                if let Some(description) = &input.description {
                    prop_assert_eq!(description.trim(), description.as_str());
                    prop_assert!((1..=rules::DESCRIPTION_MAX).contains(&description.chars().count()));
                }
                match path_room {
                    Some(room) => prop_assert_eq!(input.room, room),
                    None => prop_assert!(matches!(
                        form.get("room"),
                        Some(Value::Text(text)) if Room::parse(text.trim()) == Some(input.room)
                    )),
                }
                if let Some((upload, _)) = &input.img {
                    prop_assert!(chatd::storage::media::verify_image(&upload.bytes).is_some());
                }
            }
            Err(errors) => assert_field_errors(errors, &["title", "room", "description", "img"])?,
        }
    }

    /// Changing a chat: only `description` and `img`, else the seed's
    /// non-field error; as in DRF, errors of those two fields come first
    /// and alone.
    #[test]
    fn chat_patch_validates_any_form(form in arb_form()) {
        let only_allowed = form.names().all(|n| n == "description" || n == "img");
        match rules::chat_patch(&form) {
            Ok(patch) => {
                prop_assert!(only_allowed);
                if let Some(Some(description)) = &patch.description {
                    prop_assert!((1..=rules::DESCRIPTION_MAX).contains(&description.chars().count()));
                }
            }
            Err(errors) => {
                let field_errors = errors.get("description").is_some() || errors.get("img").is_some();
                if field_errors {
                    prop_assert_eq!(errors.get("non_field_errors"), None);
                } else {
                    prop_assert!(!only_allowed);
                    prop_assert_eq!(
                        errors.get("non_field_errors"),
                        Some(&[rules::ONLY_DESCRIPTION_AND_IMAGE.to_string()][..])
                    );
                }
                assert_field_errors(errors, &["description", "img", "non_field_errors"])?;
            }
        }
    }

    /// Registering: an account that keeps the username, e-mail and password
    /// rules, or field errors on those three fields only.
    #[test]
    fn registration_validates_any_form(form in arb_form()) {
        match accounts::registration(&form) {
            Ok(registration) => {
                prop_assert!(accounts::valid_username(&registration.username));
                prop_assert!(registration.username.chars().count() <= accounts::USERNAME_MAX);
                prop_assert_eq!(
                    accounts::normalize_email(&registration.email),
                    Some(registration.email.clone())
                );
                prop_assert!(accounts::password_problems(
                    &registration.password,
                    Some(&registration.username),
                    Some(&registration.email)
                )
                .is_empty());
            }
            Err(errors) => assert_field_errors(errors, &["username", "email", "password"])?,
        }
    }

    /// A registration built from valid parts passes.
    #[test]
    fn valid_registrations_pass(
        username in "[a-z]{3,10}[0-9]{0,3}",
        domain in "[a-z]{2,10}\\.(org|com|net)",
        password in "[a-z]{4,8} [a-z]{4,8} [a-z]{4,8}",
    ) {
        let mut form = Form::default();
        form.insert("username", Value::Text(username.clone()));
        form.insert("email", Value::Text(format!("{username}@{domain}")));
        form.insert("password", Value::Text(password.clone()));
        let similar = !accounts::password_problems(&password, Some(&username), Some(&format!("{username}@{domain}"))).is_empty();
        prop_assume!(!similar);
        prop_assert!(accounts::registration(&form).is_ok());
    }

    /// `?page=` of any text for any number of items: a page that exists,
    /// or `404 {"detail": "Invalid page."}`.
    #[test]
    fn page_requests_are_pages_or_invalid(
        page in prop::option::of(prop_oneof![
            any::<String>(),
            "[+-]?[0-9]{1,22}",
            Just("last".to_string()),
            Just("0".to_string()),
        ]),
        count in prop_oneof![0u64..1000, any::<u64>()],
    ) {
        let pages = count.div_ceil(PAGE_SIZE).max(1);
        match PageRequest::new(page.as_deref(), count) {
            Ok(request) => {
                prop_assert_eq!(request.pages, pages);
                prop_assert!((1..=pages).contains(&request.number));
                prop_assert!(request.offset() < count.max(1));
                let (next, previous) = pagination::links(request, "http://h/api/chat/films/", &[]);
                prop_assert_eq!(next.is_some(), request.number < pages);
                prop_assert_eq!(previous.is_some(), request.number > 1);
            }
            Err(error) => {
                let rendered = render(error.into());
                prop_assert_eq!(rendered.status, 404);
                prop_assert_eq!(rendered.body, serde_json::json!({"detail": "Invalid page."}));
            }
        }
    }

    /// Every existing page number is accepted as written.
    #[test]
    fn existing_pages_are_found(count in 0u64..100_000, pick in any::<prop::sample::Index>()) {
        let pages = count.div_ceil(PAGE_SIZE).max(1);
        let number = pick.index(pages as usize) as u64 + 1;
        prop_assert_eq!(PageRequest::new(Some(&number.to_string()), count).unwrap().number, number);
    }

    /// Any query string on a list of `count` items: its `page` is a page
    /// that exists (page 1 of an empty list included), or it is refused only
    /// when it names no such page; the `next` and `previous` links are
    /// there exactly when such a page exists, parse as URLs of the same
    /// list, lead (read back as the server reads a query) to the page just
    /// after and just before, and keep every other query parameter (sorted
    /// by name, as DRF writes them).
    #[test]
    fn query_strings_give_consistent_page_links(
        query in query_string(),
        count in prop_oneof![0u64..1500, any::<u64>()],
    ) {
        const LIST: &str = "http://h/api/chat/films/";
        let pairs = pagination::query_pairs(&query);
        let page = pagination::query_value(&pairs, "page");
        let pages = count.div_ceil(PAGE_SIZE).max(1);
        let request = match PageRequest::new(page, count) {
            Ok(request) => request,
            Err(_) => {
                prop_assert!(page.is_some(), "no page given, yet refused: {:?}", query);
                let page = page.unwrap();
                let exists = page == "last"
                    || page.parse::<u64>().is_ok_and(|n| (1..=pages).contains(&n));
                prop_assert!(!exists, "page {:?} of {} refused", page, pages);
                return Ok(());
            }
        };
        prop_assert_eq!(request.pages, pages);
        let expected = match page {
            None => Some(1),
            Some("last") => Some(pages),
            Some(text) => text.parse().ok(),
        };
        prop_assert_eq!(Some(request.number), expected, "page {:?}", page);
        prop_assert!(
            request.offset() < count || (count == 0 && request.number == 1),
            "offset {} of {} items", request.offset(), count
        );

        let mut others = without_page(&pairs);
        others.sort_by(|a, b| a.0.cmp(&b.0));
        let (next, previous) = pagination::links(request, LIST, &pairs);
        prop_assert_eq!(next.is_some(), request.number < pages);
        prop_assert_eq!(previous.is_some(), request.number > 1);
        let links = [(next, request.number + 1), (previous, request.number - 1)];
        for (link, target) in links {
            let Some(link) = link else { continue };
            let url = reqwest::Url::parse(&link)
                .map_err(|e| TestCaseError::fail(format!("{link:?} is no URL: {e}")))?;
            prop_assert_eq!(url.scheme(), "http", "{}", link);
            prop_assert_eq!(url.host_str(), Some("h"), "{}", link);
            prop_assert_eq!(url.path(), "/api/chat/films/", "{}", link);
            let link_pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            // DRF links page 1 without a `page`, every other page with one.
            let page_params = link_pairs.iter().filter(|(name, _)| name == "page").count();
            prop_assert_eq!(page_params, usize::from(target > 1), "{}", link);
            let followed = PageRequest::new(pagination::query_value(&link_pairs, "page"), count);
            prop_assert_eq!(followed.ok().map(|r| r.number), Some(target), "{}", link);
            prop_assert_eq!(without_page(&link_pairs), others.clone(), "{}", link);
        }
    }

    /// Any string as a token is rejected (it is not signed with our secret).
    #[test]
    fn arbitrary_tokens_are_rejected(token in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,50}",
        "[A-Za-z0-9_.-]{0,200}",
    ]) {
        let tokens = tokens();
        prop_assert!(tokens.decode(&token, TokenType::Access).is_none());
        prop_assert!(tokens.decode(&token, TokenType::Refresh).is_none());
    }

    /// Any change to a valid token (a character replaced, inserted or
    /// removed, or the token cut short) makes it invalid.
    #[test]
    fn tampered_tokens_are_rejected(
        at in any::<prop::sample::Index>(),
        replacement in prop::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".chars().collect::<Vec<_>>()
        ),
        kind in 0u8..4,
    ) {
        let tokens = tokens();
        let token = tokens.issue(TokenType::Access, 7, 0).unwrap();
        let mut chars: Vec<char> = token.chars().collect();
        let at = at.index(chars.len());
        match kind {
            0 => chars[at] = replacement,
            1 => chars.insert(at, replacement),
            2 => { chars.remove(at); }
            _ => chars.truncate(at),
        }
        let tampered: String = chars.into_iter().collect();
        prop_assume!(tampered != token);
        prop_assert!(tokens.decode(&tampered, TokenType::Access).is_none(), "{}", tampered);
    }

    /// Correctly signed claims decode only as their own type and only
    /// before they expire.
    #[test]
    fn signed_claims_decode_by_type_and_expiry(
        refresh in any::<bool>(),
        expected_refresh in any::<bool>(),
        exp in prop_oneof![Just(0u64), Just(u64::MAX), 0u64..1_000_000, (10u64..100_000).prop_map(|d| now() + d), (10u64..100_000).prop_map(|d| now() - d)],
        iat in any::<u64>(),
        jti in any::<String>(),
        user_id in any::<i64>(),
        ver in any::<i64>(),
    ) {
        let kind = |refresh| if refresh { TokenType::Refresh } else { TokenType::Access };
        let tokens = tokens();
        let claims = Claims { token_type: kind(refresh), exp, iat, jti, user_id, ver };
        let token = tokens.encode(&claims).unwrap();
        let decoded = tokens.decode(&token, kind(expected_refresh));
        if refresh == expected_refresh && exp > now() {
            prop_assert_eq!(decoded, Some(claims));
        } else {
            prop_assert!(decoded.is_none());
        }
    }

    /// A token signed with our secret but naming another algorithm (or
    /// carrying a header or payload that is not what we issue) is refused.
    #[test]
    fn only_hs256_headers_are_accepted(
        alg in prop_oneof![Just("HS256".to_string()), Just("none".to_string()), Just("HS512".to_string()), Just("RS256".to_string()), any::<String>()],
        header_extra in prop_oneof![Just(String::new()), Just(",\"typ\":\"JWT\"".to_string()), Just(",\"typ\":7".to_string())],
        payload in prop_oneof![
            Just(None),
            any::<String>().prop_map(Some),
        ],
    ) {
        let secret = b"property-test-secret";
        let header = format!("{{\"alg\":{}{header_extra}}}", serde_json::to_string(&alg).unwrap());
        let claims = Claims {
            token_type: TokenType::Access,
            exp: now() + 3600,
            iat: now(),
            jti: "x".into(),
            user_id: 1,
            ver: 0,
        };
        let payload_bytes = match &payload {
            Some(text) => text.clone().into_bytes(),
            None => serde_json::to_vec(&claims).unwrap(),
        };
        let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(&payload_bytes));
        let token = format!("{signing_input}.{}", sign(&signing_input, secret));
        let decoded = tokens().decode(&token, TokenType::Access);
        let well_formed = alg == "HS256" && !header_extra.contains('7') && payload.is_none();
        if well_formed {
            prop_assert_eq!(decoded, Some(claims));
        } else {
            prop_assert!(decoded.is_none());
        }
    }

    /// Any `Authorization` header: no credentials, exactly one Bearer
    /// token, or the documented 401.
    #[test]
    fn authorization_headers_are_read_or_refused_as_documented(header in prop::option::of(prop_oneof![
        any::<String>(),
        "Bearer( {1,2}[!-~]{0,12}){0,3} ?",
        "(Basic|Token|bearer) [!-~]{0,12}",
    ])) {
        match auth::credentials(header.as_deref()) {
            Ok(Credentials::None) => {
                if let Some(header) = &header {
                    prop_assert_ne!(header.split_whitespace().next(), Some("Bearer"));
                }
            }
            Ok(Credentials::Bearer(token)) => {
                let parts: Vec<&str> = header.as_deref().unwrap_or_default().split_whitespace().collect();
                prop_assert_eq!(parts, vec!["Bearer", token.as_str()]);
            }
            Err(error) => {
                let rendered = render(error.into());
                prop_assert_eq!(rendered.status, 401);
                prop_assert_eq!(
                    rendered.headers.get("www-authenticate").map(|v| v.to_str().unwrap().to_string()),
                    Some("Bearer realm=\"api\"".to_string())
                );
                prop_assert_eq!(
                    rendered.body,
                    serde_json::json!({
                        "detail": "Authorization header must contain two space-delimited values",
                        "code": "bad_authorization_header"
                    })
                );
            }
        }
    }
}

// ------------------------------------------------- edges worth one case

/// JSON nested far deeper than serde_json's recursion limit is a 400, not
/// a stack overflow.
#[test]
fn deeply_nested_json_is_a_parse_error() {
    for open in ["[", "{\"a\":"] {
        let body = open.repeat(100_000);
        let error = body::parse_json(body.as_bytes()).unwrap_err();
        let rendered = render(error);
        assert_eq!(rendered.status, 400);
        assert!(rendered.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error - "));
    }
}

/// A JSON or form body over 64 KiB is a 413, however it is chunked.
#[test]
fn text_bodies_over_the_limit_are_413() {
    for content_type in ["application/json", "application/x-www-form-urlencoded"] {
        let body = vec![b' '; body::MAX_TEXT_BODY + 1];
        let error = read(Some(content_type), body, &[1000; 10]).unwrap_err();
        assert_eq!(render(error).status, 413);
        let body = vec![b' '; body::MAX_TEXT_BODY];
        assert!(read(Some(content_type), body, &[]).is_ok());
    }
}

/// A multipart text part over 64 KiB is a 413; a file part over the upload
/// limit too.
#[test]
fn multipart_parts_over_their_limits_are_413() {
    let text = Part {
        name: "description".into(),
        filename: None,
        content_type: None,
        bytes: vec![b'a'; body::MAX_TEXT_BODY + 1],
    };
    let file = Part {
        name: "img".into(),
        filename: Some("big.png".into()),
        content_type: Some("image/png".into()),
        bytes: vec![0; MAX_FILE + 1],
    };
    for part in [text, file] {
        let body = multipart_body("xyz", &[part]);
        let error = read(Some("multipart/form-data; boundary=xyz"), body, &[4096; 40]).unwrap_err();
        assert_eq!(render(error).status, 413);
    }
}

/// An empty or missing content type is an empty form, as in DRF.
#[test]
fn no_content_type_is_an_empty_form() {
    assert_eq!(
        read(None, b"title=x".to_vec(), &[]).unwrap(),
        Form::default()
    );
}
