//! The benchmarks' minimal keep-alive HTTP/1.1 client, and the chatd calls
//! made with it: register and log in, create a chat, wait for `/healthz`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Password of the benchmark user (passes chatd's password rules).
pub const PASSWORD: &str = "correct horse battery staple";

// ----------------------------------------------------------------------------
// HTTP

/// One keep-alive HTTP/1.1 connection. Responses must carry a
/// `Content-Length` (hyper sets it for the bodies chatd and warp send).
pub struct HttpConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A response: status and (when asked for) the body.
pub struct HttpResponse {
    pub status: u16,
    pub body_len: usize,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// The bytes of a request. `body` is sent form-urlencoded when present.
pub fn request_bytes(
    method: &str,
    path: &str,
    host: SocketAddr,
    token: Option<&str>,
    form: Option<&str>,
) -> Vec<u8> {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    match form {
        Some(form) => {
            request.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            ));
        }
        None => request.push_str("\r\n"),
    }
    request.into_bytes()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl HttpConn {
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<HttpConn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn {
            stream,
            buf: Vec::with_capacity(32 * 1024),
        })
    }

    /// Sends a request and reads its response; keeps the body if `keep_body`.
    pub async fn send(&mut self, request: &[u8], keep_body: bool) -> anyhow::Result<HttpResponse> {
        self.stream.write_all(request).await?;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).context("response head")?;
                let status: u16 = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .context("status line")?;
                let mut length = 0usize;
                for line in head.split("\r\n").skip(1) {
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse()?;
                        } else if name.eq_ignore_ascii_case("transfer-encoding") {
                            bail!("chunked responses are not supported by this client");
                        }
                    }
                }
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.read_more().await?;
                }
                let body = if keep_body {
                    self.buf[end + 4..total].to_vec()
                } else {
                    Vec::new()
                };
                self.buf.drain(..total);
                return Ok(HttpResponse {
                    status,
                    body_len: length,
                    body,
                });
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> anyhow::Result<()> {
        self.buf.reserve(32 * 1024);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            bail!("connection closed by the server");
        }
        Ok(())
    }
}

/// One request on a fresh connection; returns status and JSON body.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    form: Option<&[(&str, &str)]>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let form = form.map(|pairs| serde_urlencoded::to_string(pairs).expect("form"));
    let mut conn = HttpConn::connect(addr).await?;
    let response = conn
        .send(
            &request_bytes(method, path, addr, token, form.as_deref()),
            true,
        )
        .await?;
    Ok((response.status, response.json()))
}

/// Registers `username` and returns an access token.
pub async fn register_and_login(addr: SocketAddr, username: &str) -> anyhow::Result<String> {
    let email = format!("{username}@example.com");
    let (status, body) = call(
        addr,
        "POST",
        "/api/register/",
        None,
        Some(&[
            ("username", username),
            ("email", &email),
            ("password", PASSWORD),
        ]),
    )
    .await?;
    anyhow::ensure!(status == 201, "register: {status} {body}");
    let (status, body) = call(
        addr,
        "POST",
        "/api/token/",
        None,
        Some(&[("username", username), ("password", PASSWORD)]),
    )
    .await?;
    anyhow::ensure!(status == 200, "token: {status} {body}");
    body["access"]
        .as_str()
        .map(str::to_string)
        .context("no access token")
}

/// Creates a chat and returns its id.
pub async fn create_chat(
    addr: SocketAddr,
    token: &str,
    room: &str,
    title: &str,
    description: &str,
) -> anyhow::Result<i64> {
    let (status, body) = call(
        addr,
        "POST",
        "/api/chat/",
        Some(token),
        Some(&[
            ("title", title),
            ("room", room),
            ("description", description),
        ]),
    )
    .await?;
    anyhow::ensure!(status == 200, "create chat: {status} {body}");
    body["chat"]["id"].as_i64().context("no chat id")
}

/// Waits until `GET /healthz` answers 200; returns how long that took.
pub async fn wait_healthy(addr: SocketAddr, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let request = request_bytes("GET", "/healthz", addr, None, None);
    loop {
        if let Ok(mut conn) = HttpConn::connect(addr).await {
            if let Ok(response) = conn.send(&request, false).await {
                if response.status == 200 {
                    return Ok(started.elapsed());
                }
            }
        }
        if started.elapsed() > limit {
            bail!("{addr} not healthy after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
