//! The steps of `chatd doctor`: each makes its requests through the
//! deployment's front door and, when one fails, diagnoses the likely cause. What
//! they create is recorded on [`Doctor`] so the check can delete it.

use std::time::SystemTime;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::Doctor;

/// Side of the square test image: ~1.5 MB as an uncompressed PNG, above
/// nginx's default 1 MiB body limit and below chatd's default 5 MiB.
const IMAGE_SIDE: u32 = 720;

/// Makes names unique, so that concurrent checks, or what a failed cleanup
/// left behind, do not collide with this run.
fn random_suffix() -> String {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a proxy answered when it was not chatd's JSON.
fn describe(status: reqwest::StatusCode, body: &str) -> String {
    let body = body.trim();
    let body = if body.len() > 120 {
        &body[..body.char_indices().nth(120).map_or(body.len(), |(i, _)| i)]
    } else {
        body
    };
    format!("HTTP {status}: {body}")
}

impl Doctor {
    pub(super) async fn health(&mut self) -> Result<String, String> {
        let url = format!("{}/healthz", self.base);
        let response = self.http.get(&url).send().await.map_err(|e| {
            format!("cannot reach {url}: {e}. Is the address right, and is chatd (or the proxy in front of it) listening?")
        })?;
        let status = response.status();
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok());
        let body = response.text().await.unwrap_or_default();
        if matches!(status.as_u16(), 502..=504) {
            return Err(format!(
                "{}: the proxy cannot reach chatd. Is chatd running, and does the proxy forward to its --addr?",
                describe(status, &body)
            ));
        }
        if status != 200
            || serde_json::from_str::<Value>(&body).ok() != Some(json!({"status": "ok"}))
        {
            return Err(format!(
                "{}: this does not look like chatd's /healthz",
                describe(status, &body)
            ));
        }
        let mut detail = "chatd answers".to_string();
        if let Some(date) = date {
            let skew = match date.duration_since(SystemTime::now()) {
                Ok(ahead) => ahead.as_secs() as i64,
                Err(behind) => -(behind.duration().as_secs() as i64),
            };
            if skew.abs() > 120 {
                detail.push_str(&format!(
                    " (warning: its clock is {skew:+} s off this machine's; token lifetimes follow the server's clock)"
                ));
            }
        }
        Ok(detail)
    }

    pub(super) async fn account(&mut self) -> Result<String, String> {
        let name = format!("doctor-{}", random_suffix());
        let password = format!("doctor {} check {}", random_suffix(), random_suffix());
        let response = self
            .http
            .post(format!("{}/api/register/", self.base))
            .json(&json!({"username": name, "email": format!("{name}@example.com"), "password": password}))
            .send()
            .await
            .map_err(|e| format!("register failed: {e}"))?;
        let status = response.status();
        if status != 201 {
            let body = response.text().await.unwrap_or_default();
            return Err(format!(
                "could not register a test user: {}",
                describe(status, &body)
            ));
        }
        let response = self
            .http
            .post(format!("{}/api/token/", self.base))
            .json(&json!({"username": name, "password": password}))
            .send()
            .await
            .map_err(|e| format!("login failed: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        let token = body["access"]
            .as_str()
            .ok_or_else(|| format!("login did not return a token: HTTP {status} {body}"))?
            .to_string();
        self.token = Some(token.clone());
        let response = self
            .http
            .get(format!("{}/api/user/", self.base))
            .bearer_auth(&token)
            .send()
            .await
            .map_err(|e| format!("GET /api/user/ failed: {e}"))?;
        if response.status() == 401 {
            return Err("the server rejected a token it issued a moment ago: its clock may be jumping, or the \
                        proxy spreads requests over chatd instances with different secrets (give them all the same --secret)"
                .into());
        }
        if response.status() != 200 {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(format!("GET /api/user/: {}", describe(status, &body)));
        }
        Ok(format!("registered {name}, got a token that works"))
    }

    pub(super) async fn upload(&mut self) -> Result<String, String> {
        let token = self.token.clone().unwrap_or_default();
        let image = crate::ops::png::picture("chatd doctor", IMAGE_SIDE);
        let size = image.len();
        let part = reqwest::multipart::Part::bytes(image)
            .file_name("doctor.png")
            .mime_str("image/png")
            .map_err(|e| e.to_string())?;
        let form = reqwest::multipart::Form::new()
            .text("title", format!("doctor check {}", random_suffix()))
            .text("room", "games")
            .text(
                "description",
                "Created by chatd doctor; deleted when it finishes.",
            )
            .part("img", part);
        let response = self
            .http
            .post(format!("{}/api/chat/", self.base))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .map_err(|e| format!("the upload failed: {e}. A proxy may have cut the connection at its body size limit"))?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let json: Option<Value> = serde_json::from_str(&body).ok();
        if status == 413 {
            return Err(match json {
                Some(_) => format!(
                    "chatd refused a {:.1} MB image: its --max-upload-mb is below 2",
                    size as f64 / 1e6
                ),
                None => format!(
                    "the proxy refused a {:.1} MB upload ({}): raise its body limit above chatd's \
                     --max-upload-mb (nginx: client_max_body_size 10m;)",
                    size as f64 / 1e6,
                    describe(status, &body)
                ),
            });
        }
        let chat = json
            .as_ref()
            .map(|j| j["chat"].clone())
            .filter(|chat| status == 200 && chat.is_object())
            .ok_or_else(|| format!("creating a chat failed: {}", describe(status, &body)))?;
        self.chat = Some(chat);
        Ok(format!(
            "created a chat with a {:.1} MB image",
            size as f64 / 1e6
        ))
    }

    pub(super) async fn image(&mut self, img: &str) -> Result<String, String> {
        let expected = format!("{}/media/", self.base);
        if !img.starts_with(&expected) {
            let shown = img.split("/media/").next().unwrap_or(img);
            return Err(format!(
                "image URLs start with {shown}, but the server is reached at {}: browsers would fetch images \
                 from the wrong place. Start chatd with --public-url {}",
                self.base, self.base
            ));
        }
        let response = self
            .http
            .get(img)
            .send()
            .await
            .map_err(|e| format!("GET {img} failed: {e}"))?;
        let status = response.status();
        let kind = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        if status != 200 || kind != "image/png" {
            return Err(format!(
                "GET {img}: HTTP {status}, {kind}. Does the proxy forward /media/ to chatd?"
            ));
        }
        if bytes.len() != crate::ops::png::picture("chatd doctor", IMAGE_SIDE).len() {
            return Err(format!(
                "GET {img} returned {} bytes, not the uploaded image",
                bytes.len()
            ));
        }
        Ok("the image is served at its absolute URL".into())
    }

    pub(super) async fn websocket(&mut self) -> Result<String, String> {
        let chat = self.chat.clone().ok_or("no chat to connect to")?;
        let path = chat["url"].as_str().unwrap_or("/");
        let ws_base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", self.base.trim_start_matches("http://"))
        };
        let token = self.token.clone().unwrap_or_default();
        let url = format!("{ws_base}{path}?token={token}");
        let connected =
            tokio::time::timeout(super::TIMEOUT, tokio_tungstenite::connect_async(&url)).await;
        let hint = "the proxy must pass the Upgrade and Connection headers (nginx: proxy_http_version 1.1; \
                    proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"; \
                    Caddy's reverse_proxy does this by itself)";
        let mut socket = match connected {
            Err(_) => return Err(format!("opening {ws_base}{path} timed out; {hint}")),
            Ok(Ok((socket, _))) => socket,
            Ok(Err(WsError::Http(response))) => {
                let status = response.status();
                return Err(if status == 426 {
                    format!("chatd received the WebSocket request without its Upgrade header (HTTP 426): {hint}")
                } else {
                    format!("the WebSocket handshake got HTTP {status} instead of 101: {hint}")
                });
            }
            Ok(Err(error)) => {
                return Err(format!("the WebSocket handshake failed: {error}; {hint}"))
            }
        };
        let nonce = format!("doctor-{}", random_suffix());
        let outcome = tokio::time::timeout(super::TIMEOUT, async {
            let mut said = false;
            while let Some(frame) = socket.next().await {
                let Ok(Message::Text(text)) = frame else { continue };
                let value: Value = serde_json::from_str(&text).unwrap_or_default();
                match value["type"].as_str() {
                    Some("hello") if !said => {
                        let message = json!({"type": "message", "text": "chatd doctor says hi", "nonce": nonce});
                        socket.send(Message::text(message.to_string())).await.map_err(|e| e.to_string())?;
                        said = true;
                    }
                    Some("message") if value["nonce"] == nonce.as_str() => return Ok(()),
                    Some("error") => return Err(format!("the server answered an error frame: {value}")),
                    _ => {}
                }
            }
            Err("the socket closed before our message came back".to_string())
        })
        .await;
        let _ = socket.close(None).await;
        match outcome {
            Ok(Ok(())) => Ok("joined the chat live; our message came back".into()),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(
                "our message did not come back over the socket in time; a proxy may buffer \
                           WebSocket frames (nginx: proxy_buffering off for the /chat/ location)"
                    .into(),
            ),
        }
    }
}
