//! A terminal chat client for chatd.
//!
//! ```text
//! cargo run --example client -- --url http://127.0.0.1:8000 --user nik --password '...' films 1
//! ```
//!
//! Logs in, prints the chat's recent history (or, with `--after <id>`,
//! every message after that id: the `hello` carries up to 200 and says
//! `more`, and the rest are read from the REST pages) and every live
//! message, and sends each line you type. `/edit <id> <text>` and `/delete <id>` change
//! your own messages; `/quit` (or Ctrl-D) leaves. Without `--user` it joins
//! read-only.

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
#[command(about = "Chat in a chatd room from the terminal")]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    url: String,
    /// Username or e-mail to log in with (omit to read only).
    #[arg(long)]
    user: Option<String>,
    /// Password (or set CHATD_PASSWORD).
    #[arg(long, env = "CHATD_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Room: films, music, books or games.
    room: String,
    /// Chat id.
    chat: i64,
    /// Catch up on every message after this id instead of the last 50.
    #[arg(long)]
    after: Option<i64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base = args.url.trim_end_matches('/').to_string();
    let token = match (&args.user, &args.password) {
        (Some(user), Some(password)) => Some(login(&base, user, password).await?),
        (Some(_), None) => anyhow::bail!("--password (or CHATD_PASSWORD) is needed with --user"),
        _ => None,
    };

    let ws_base = base.replacen("http", "ws", 1);
    let mut query = Vec::new();
    if let Some(token) = &token {
        query.push(format!("token={token}"));
    }
    if let Some(after) = args.after {
        query.push(format!("after={after}"));
    }
    let url = format!(
        "{ws_base}/chat/{}/{}/?{}",
        args.room,
        args.chat,
        query.join("&")
    );
    let history = format!("{base}/api/chat/{}/{}/messages/", args.room, args.chat);
    let (socket, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot join {}/{}: {e}", args.room, args.chat))?;
    let (mut sink, mut stream) = socket.split();

    let printer = tokio::spawn(async move {
        // Ids shown already: a live message may also be on a REST page.
        let mut shown = std::collections::HashSet::new();
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(Message::Text(text)) => match serde_json::from_str::<Value>(&text) {
                    Ok(value) => {
                        if value["type"] == "message"
                            && !shown.insert(value["message"]["id"].as_i64())
                        {
                            continue;
                        }
                        show(&value);
                        for message in value["messages"].as_array().into_iter().flatten() {
                            shown.insert(message["id"].as_i64());
                        }
                        if value["type"] == "hello" && value["more"] == true {
                            let last = value["messages"]
                                .as_array()
                                .and_then(|m| m.last())
                                .and_then(|m| m["id"].as_i64())
                                .or(args.after)
                                .unwrap_or(0);
                            if let Err(error) = catch_up(&history, last, &mut shown).await {
                                println!("* cannot read the older messages: {error}");
                            }
                        }
                    }
                    Err(_) => println!("? {text}"),
                },
                Ok(Message::Close(close)) => {
                    let reason = close
                        .map(|c| format!("{} {}", u16::from(c.code), c.reason))
                        .unwrap_or_default();
                    println!("* disconnected {reason}");
                    break;
                }
                Ok(_) => {}
                Err(error) => {
                    println!("* connection lost: {error}");
                    break;
                }
            }
        }
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        let frame = if line.is_empty() {
            continue;
        } else if line == "/quit" {
            break;
        } else if let Some(rest) = line.strip_prefix("/edit ") {
            let (id, text) = rest.split_once(' ').unwrap_or((rest, ""));
            json!({"type": "edit", "id": id.parse::<i64>().unwrap_or(0), "text": text})
        } else if let Some(id) = line.strip_prefix("/delete ") {
            json!({"type": "delete", "id": id.trim().parse::<i64>().unwrap_or(0)})
        } else {
            json!({"type": "message", "text": line})
        };
        if sink.send(Message::text(frame.to_string())).await.is_err() {
            break;
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), printer).await;
    Ok(())
}

/// Prints the REST pages of messages after `last` until `next` is null
/// (the `hello` said `more`); live frames wait on the socket meanwhile.
async fn catch_up(
    history: &str,
    mut last: i64,
    shown: &mut std::collections::HashSet<Option<i64>>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    loop {
        let page: Value = client
            .get(format!("{history}?after={last}"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for message in page["results"].as_array().into_iter().flatten() {
            last = message["id"].as_i64().unwrap_or(last);
            if shown.insert(Some(last)) {
                show(&json!({"type": "message", "message": message}));
            }
        }
        if page["next"].is_null() {
            return Ok(());
        }
    }
}

async fn login(base: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/token/"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    match body["access"].as_str() {
        Some(access) => Ok(access.to_string()),
        None => anyhow::bail!("login failed ({status}): {}", body["detail"]),
    }
}

/// Prints one server frame.
fn show(frame: &Value) {
    let line = |m: &Value| {
        let time = m["timestamp"]
            .as_str()
            .unwrap_or("")
            .get(11..16)
            .unwrap_or("");
        let text = if m["is_deleted"] == true {
            "(deleted)"
        } else {
            m["text"].as_str().unwrap_or("")
        };
        let edited = if m["edited"].is_null() {
            ""
        } else {
            " (edited)"
        };
        format!(
            "[{time}] #{} {}: {text}{edited}",
            m["id"],
            m["user_name"].as_str().unwrap_or("?")
        )
    };
    match frame["type"].as_str() {
        Some("hello") => {
            let chat = &frame["chat"];
            println!(
                "* {} ({}), {} online, you are {}",
                chat["title"].as_str().unwrap_or(""),
                chat["room"].as_str().unwrap_or(""),
                frame["online"],
                frame["user"].as_str().unwrap_or("reading only")
            );
            for message in frame["messages"].as_array().into_iter().flatten() {
                println!("{}", line(message));
            }
        }
        Some("message") => println!("{}", line(&frame["message"])),
        Some("message_edited") => println!("~ {}", line(&frame["message"])),
        Some("message_deleted") => println!("~ message #{} deleted", frame["message"]["id"]),
        Some("presence") => println!("* {} online", frame["online"]),
        Some("chat_updated") => println!("* chat updated: {}", frame["chat"]["description"]),
        Some("chat_deleted") => println!("* the chat was deleted"),
        Some("error") => println!(
            "! {} ({})",
            frame["detail"].as_str().unwrap_or(""),
            frame["code"].as_str().unwrap_or("")
        ),
        Some("pong") => println!("* pong"),
        _ => println!("? {frame}"),
    }
}
