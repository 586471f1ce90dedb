//! The baseline's WebSocket side: a `hello` on upgrade, then every `message`
//! frame fanned out to all sockets of the chat.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc;
use warp::ws::{Message, WebSocket};

use super::{
    now_timestamp, seed_description, seed_title, Chat, ChatView, MessageView, State, StoredMessage,
    SEED_USER,
};

#[derive(Serialize)]
struct MessageFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: MessageView<'a>,
    nonce: Option<&'a serde_json::Value>,
}

#[derive(Serialize)]
struct Hello<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    chat: ChatView,
    user: Option<&'a str>,
    online: usize,
    messages: Vec<MessageView<'a>>,
}

/// One socket: a writer task drains its queue; this task reads frames and
/// fans `message` frames out to the chat.
pub(super) async fn socket(state: Arc<State>, chat_id: i64, base: String, ws: WebSocket) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let id = state.next_socket.fetch_add(1, Ordering::Relaxed);
    let online = {
        let mut rooms = state.rooms.lock().unwrap();
        let members = rooms.entry(chat_id).or_default();
        members.push((id, tx.clone()));
        members.len()
    };
    let chat = Chat {
        id: chat_id,
        title: seed_title(chat_id as usize),
        img: None,
        creator: SEED_USER.to_string(),
        description: Some(seed_description(chat_id as usize)),
        created_at: now_timestamp(),
    };
    let hello = serde_json::to_string(&Hello {
        kind: "hello",
        chat: ChatView::new(&chat, &base),
        user: None,
        online,
        messages: Vec::new(),
    })
    .unwrap_or_default();
    let _ = tx.send(Message::text(hello));
    drop(tx);

    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            if sink.feed(message).await.is_err() {
                return;
            }
            while let Ok(message) = rx.try_recv() {
                if sink.feed(message).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });

    while let Some(Ok(message)) = stream.next().await {
        if message.is_close() {
            break;
        }
        let Ok(text) = message.to_str() else {
            continue;
        };
        let Ok(serde_json::Value::Object(mut frame)) = serde_json::from_str(text) else {
            continue;
        };
        if frame.get("type").and_then(|t| t.as_str()) != Some("message") {
            continue;
        }
        let Some(serde_json::Value::String(text)) = frame.remove("text") else {
            continue;
        };
        let nonce = frame.remove("nonce").unwrap_or(serde_json::Value::Null);
        let stored = StoredMessage {
            id: state.next_message.fetch_add(1, Ordering::Relaxed),
            chat_id,
            user_id: 1,
            user_name: SEED_USER.to_string(),
            text: text.trim().to_string(),
            created_at: now_timestamp(),
        };
        let out = serde_json::to_string(&MessageFrame {
            kind: "message",
            message: MessageView::new(&stored),
            nonce: Some(&nonce),
        })
        .unwrap_or_default();
        if let Some(journal) = &state.journal {
            // Inline on this task: no hop, as cheap as a durable send gets.
            if let Err(error) = journal.append(&out) {
                eprintln!("baseline: journal write failed, message dropped: {error}");
                continue;
            }
        }
        {
            let rooms = state.rooms.lock().unwrap();
            if let Some(members) = rooms.get(&chat_id) {
                for (_, member) in members {
                    // warp's Message::text takes a String: one copy per recipient.
                    let _ = member.send(Message::text(out.clone()));
                }
            }
        }
    }

    {
        let mut rooms = state.rooms.lock().unwrap();
        if let Some(members) = rooms.get_mut(&chat_id) {
            members.retain(|(member, _)| *member != id);
            if members.is_empty() {
                rooms.remove(&chat_id);
            }
        }
    }
    let _ = writer.await;
}
