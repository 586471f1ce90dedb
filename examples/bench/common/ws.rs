//! The hand-written WebSocket upgrade that the idle and bigroom clients share.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::bail;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A WebSocket upgrade of `path` from `source`, handshake written by hand
/// (the cheapest client): the stream, and the bytes read with the 101
/// head; frames start at the returned offset.
pub async fn ws_handshake(
    server: SocketAddr,
    path: &str,
    source: Ipv4Addr,
) -> anyhow::Result<(TcpStream, Vec<u8>, usize)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    let mut stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            bail!("closed during the handshake");
        }
    };
    anyhow::ensure!(
        buf.starts_with(b"HTTP/1.1 101"),
        "no upgrade: {}",
        String::from_utf8_lossy(&buf[..buf.len().min(80)])
    );
    Ok((stream, buf, end))
}
