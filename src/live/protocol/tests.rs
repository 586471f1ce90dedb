//! Tests of the protocol: parsing, the checks of a command's values, and
//! the frames, byte for byte where the bytes are the ones sockets always got.

use super::*;
use crate::rooms::Room;
use crate::storage::StorageError;
use serde_json::json;

fn code(result: Result<Command, BadFrame>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn frames_parse() {
    assert_eq!(parse(r#"{"type":"ping"}"#), Ok(Command::Ping));
    assert_eq!(
        parse(r#"{"message":"hi"}"#),
        Ok(Command::Message {
            text: json!("hi"),
            nonce: None
        })
    );
    assert_eq!(
        parse(r#"{"type":"message","nonce":7}"#),
        Ok(Command::Message {
            text: Json::Null,
            nonce: Some(json!(7))
        })
    );
    assert_eq!(
        parse(r#"{"type":"edit","id":"3","text":"x"}"#),
        Ok(Command::Edit {
            id: None,
            text: json!("x")
        })
    );
    assert_eq!(
        parse(r#"{"type":"delete","id":3}"#),
        Ok(Command::Delete { id: Some(3) })
    );
    assert_eq!(code(parse("nope")), "invalid_json");
    assert_eq!(code(parse("[1]")), "invalid_json");
    assert_eq!(code(parse(r#"{"type":"dance"}"#)), "unknown_type");
    assert_eq!(code(parse(r#"{"type":3}"#)), "unknown_type");
    assert_eq!(code(parse(r#"{"text":"x"}"#)), "unknown_type");
}

#[test]
fn texts_are_checked_by_the_one_rule() {
    let check = |text: Json| message_text(text, 5);
    assert_eq!(check(json!("  hi ")).unwrap(), "hi");
    let refused = |text: Json| {
        let error = check(text).unwrap_err();
        (error.code(), error.detail())
    };
    assert_eq!(refused(json!("   ")), ("blank", rules::BLANK.to_string()));
    assert_eq!(refused(Json::Null), ("blank", rules::REQUIRED.to_string()));
    assert_eq!(
        refused(json!("toolong")),
        ("max_length", rules::too_long(5))
    );
    for not_a_string in [json!(3), json!(true), json!(["x"]), json!({"a": 1})] {
        assert_eq!(
            refused(not_a_string),
            ("invalid_json", rules::NOT_A_STRING.to_string())
        );
    }
}

#[test]
fn nonces_are_bounded_strings_or_numbers() {
    assert_eq!(nonce(None), Ok(None));
    assert_eq!(nonce(Some(Json::Null)), Ok(None));
    assert_eq!(nonce(Some(json!(1.5))), Ok(Some(json!(1.5))));
    let longest = json!("n".repeat(MAX_NONCE_CHARS));
    assert_eq!(nonce(Some(longest.clone())), Ok(Some(longest)));
    let too_long = json!("n".repeat(MAX_NONCE_CHARS + 1));
    assert_eq!(nonce(Some(too_long)).unwrap_err().code(), "invalid_json");
    assert_eq!(nonce(Some(json!([]))).unwrap_err().code(), "invalid_json");
}

fn chat() -> Chat {
    Chat {
        id: 7,
        room: Room::Books,
        title: "Dune".to_string(),
        description: None,
        img: None,
        creator_id: 1,
        creator: "alice".to_string(),
        created_at: "2026-01-01T00:00:00.000000Z".to_string(),
    }
}

fn message(is_deleted: bool) -> Message {
    Message {
        id: 3,
        chat_id: 7,
        user_id: 1,
        user_name: "alice".to_string(),
        user_avatar: None,
        text: if is_deleted { "" } else { "hi" }.to_string(),
        created_at: "2026-01-01T00:00:01.000000Z".to_string(),
        edited_at: None,
        is_deleted,
        image: None,
        mentions: Vec::new(),
        reactions: Vec::new(),
    }
}

const MESSAGE: &str = r#"{"id":3,"chat":7,"user":1,"user_name":"alice","user_avatar":null,"text":"hi","timestamp":"2026-01-01T00:00:01.000000Z","edited":null,"is_deleted":false,"image":null,"mentions":[],"reactions":[]}"#;

#[test]
fn event_frames_are_todays_bytes() {
    let posted = Event::MessagePosted {
        message: message(false),
        nonce: None,
    };
    assert_eq!(
        event(&posted, "http://h").as_str(),
        format!(r#"{{"type":"message","message":{MESSAGE},"nonce":null}}"#)
    );
    let tagged = Event::MessagePosted {
        message: message(false),
        nonce: Some(json!("n1")),
    };
    assert!(event(&tagged, "http://h")
        .as_str()
        .ends_with(r#","nonce":"n1"}"#));
    assert_eq!(
        event(&Event::MessageEdited(message(false)), "http://h").as_str(),
        format!(r#"{{"type":"message_edited","message":{MESSAGE}}}"#)
    );
    let deleted: Json =
        serde_json::from_str(&event(&Event::MessageDeleted(message(true)), "b")).unwrap();
    assert_eq!(deleted["type"], "message_deleted");
    assert_eq!(deleted["message"]["is_deleted"], true);
    assert_eq!(
        event(&Event::ChatUpdated(chat()), "http://h").as_str(),
        r#"{"chat":{"creator":"alice","description":null,"id":7,"img":"http://h/media/chat_img/default.jpg","room":"books","timestamp":"2026-01-01T00:00:00.000000Z","title":"Dune","url":"/chat/books/7/"},"type":"chat_updated"}"#
    );
    assert_eq!(
        event(&Event::ChatDeleted, "http://h").as_str(),
        r#"{"type":"chat_deleted"}"#
    );
}

#[test]
fn hello_presence_and_pong() {
    let (frame, last) = hello(
        chat(),
        Some("alice"),
        2,
        vec![message(false)],
        false,
        "http://h",
    );
    assert_eq!(last, Some(3));
    let hello: Json = serde_json::from_str(&frame).unwrap();
    assert_eq!(
        hello,
        json!({
            "type": "hello",
            "chat": ChatView::new(chat(), "http://h"),
            "user": "alice",
            "online": 2,
            "messages": [serde_json::from_str::<Json>(MESSAGE).unwrap()],
            "more": false,
        })
    );
    assert_eq!(presence(3).as_str(), r#"{"type":"presence","online":3}"#);
    assert_eq!(pong().as_str(), r#"{"type":"pong"}"#);
}

#[test]
fn a_hello_keeps_within_its_byte_budget_and_says_more() {
    // 2,000 control characters serialize as 12,000 bytes each.
    let heavy = |id| Message {
        id,
        text: "\u{1}".repeat(2000),
        ..message(false)
    };
    let history: Vec<Message> = (1..=200).map(heavy).collect();
    let (frame, last) = hello(chat(), None, 1, history, false, "http://h");
    assert!(frame.len() < 600 * 1024, "{} bytes", frame.len());
    let parsed: Json = serde_json::from_str(&frame).unwrap();
    let kept = parsed["messages"].as_array().unwrap();
    assert!(kept.len() > 30 && kept.len() < 200, "{}", kept.len());
    assert_eq!(last, kept.last().unwrap()["id"].as_i64());
    assert_eq!(parsed["more"], true);

    let (frame, last) = hello(chat(), None, 1, vec![], true, "http://h");
    let parsed: Json = serde_json::from_str(&frame).unwrap();
    assert_eq!((parsed["more"].clone(), last), (json!(true), None));
}

#[test]
fn error_frames_carry_the_domain_code_and_words() {
    assert_eq!(
        error(&Error::NotFound).as_str(),
        r#"{"code":"not_found","detail":"Not found.","type":"error"}"#
    );
    let frame = |e: Error| serde_json::from_str::<Json>(&error(&e)).unwrap();
    assert_eq!(
        frame(Error::PermissionDenied),
        json!({"type": "error", "code": "permission_denied", "detail": messages::PERMISSION_DENIED})
    );
    assert_eq!(
        frame(Error::NotAuthenticated),
        json!({"type": "error", "code": "not_authenticated", "detail": messages::NOT_AUTHENTICATED})
    );
    assert_eq!(
        frame(Error::Throttled(2)),
        json!({"type": "error", "code": "throttled", "detail": messages::throttled(2)})
    );
    assert_eq!(
        frame(Error::internal(anyhow::anyhow!("disk on fire"))),
        json!({"type": "error", "code": "server_error", "detail": messages::SERVER_ERROR})
    );
    assert_eq!(
        frame(Error::Storage(StorageError::Full)),
        json!({"type": "error", "code": "unavailable", "detail": messages::OUT_OF_SPACE})
    );
    assert_eq!(
        bad_frame(&BadFrame::binary()).as_str(),
        r#"{"code":"invalid_json","detail":"Binary frames are not supported; send JSON text.","type":"error"}"#
    );
}

#[test]
fn close_frames_say_why() {
    assert_eq!(
        &close_frame(close::CHAT_DELETED)[..],
        b"\x88\x0e\x11\x34chat deleted"
    );
    // A normal close has no payload (tungstenite's `close(None)`, as before).
    assert_eq!(&close_frame(close::NORMAL)[..], b"\x88\x00");
}

#[test]
fn community_commands_and_frames() {
    assert_eq!(
        parse(r#"{"type":"react","id":3,"emoji":"👍"}"#),
        Ok(Command::React {
            id: Some(3),
            emoji: json!("👍")
        })
    );
    assert_eq!(parse(r#"{"type":"typing"}"#), Ok(Command::Typing));
    assert_eq!(
        parse(r#"{"type":"read","id":"x"}"#),
        Ok(Command::Read { id: None })
    );
    assert_eq!(typing("nik").as_str(), r#"{"type":"typing","user":"nik"}"#);
    assert_eq!(
        event(&Event::Reactions(message(false)), "http://h").as_str(),
        format!(r#"{{"type":"reactions","message":{MESSAGE}}}"#)
    );
    assert!(emoji(json!("a")).is_err());
    assert!(emoji(json!(5)).is_err());
    assert_eq!(emoji(json!("🎉")).unwrap(), "🎉");
}
