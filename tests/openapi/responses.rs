//! The main endpoints' real answers, successes and each error shape, match
//! their documented schemas.

use reqwest::multipart;
use serde_json::{json, Value as Json};

use crate::caller::{check, form, image, send_message, Body, Caller};
use crate::common::*;

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
