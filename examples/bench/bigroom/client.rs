//! The bigroom client sockets: hand-written WebSocket frames (masked client
//! frames, a reader of the server's unmasked ones) and one task per socket.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Semaphore;

use super::Shared;
use crate::common;

/// A client frame: FIN, `opcode`, masked with `key`.
pub(super) fn masked(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

pub(super) fn mask_key(index: usize) -> [u8; 4] {
    ((index as u32).wrapping_mul(2_654_435_761) ^ 0x5a5a_5a5a).to_be_bytes()
}

/// The read half of a client socket with its frame buffer.
struct Reader {
    half: OwnedReadHalf,
    buf: Vec<u8>,
    pos: usize,
}

impl Reader {
    /// (first byte, payload start, payload end) of a complete frame at `pos`.
    fn parse(&self) -> Option<(u8, usize, usize)> {
        let b = &self.buf[self.pos..];
        if b.len() < 2 {
            return None;
        }
        let mut at = 2usize;
        let mut len = (b[1] & 0x7f) as usize;
        if len == 126 {
            if b.len() < 4 {
                return None;
            }
            len = u16::from_be_bytes([b[2], b[3]]) as usize;
            at = 4;
        } else if len == 127 {
            if b.len() < 10 {
                return None;
            }
            len = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize;
            at = 10;
        }
        if b[1] & 0x80 != 0 {
            at += 4; // servers never mask; skip a key all the same
        }
        if b.len() < at + len {
            return None;
        }
        Some((b[0], self.pos + at, self.pos + at + len))
    }

    /// The next frame's opcode and payload; None at the end of the stream.
    async fn next(&mut self) -> std::io::Result<Option<(u8, &[u8])>> {
        loop {
            if let Some((first, start, end)) = self.parse() {
                self.pos = end;
                return Ok(Some((first & 0x0f, &self.buf[start..end])));
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.reserve(4096);
            if self.half.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// A WebSocket handshake from `source`; the bytes after the 101 head stay
/// in the reader.
async fn open(
    server: SocketAddr,
    path: &str,
    source: Ipv4Addr,
) -> anyhow::Result<(Reader, OwnedWriteHalf)> {
    let (stream, buf, end) = common::ws_handshake(server, path, source).await?;
    let (half, writer) = stream.into_split();
    Ok((
        Reader {
            half,
            buf,
            pos: end,
        },
        writer,
    ))
}

const BENCH_PREFIX: &str = r#""text":"big "#;

pub(super) fn message_frame(epoch: Instant, seq: u64) -> Vec<u8> {
    let ns = epoch.elapsed().as_nanos() as u64;
    let text = format!(r#"{{"type":"message","text":"big {ns} {seq}"}}"#);
    masked(0x1, text.as_bytes(), mask_key(0))
}

/// Send time (ns since the epoch) of a benchmark `message` frame.
fn bench_ns(text: &str) -> Option<u64> {
    let at = text.find(BENCH_PREFIX)? + BENCH_PREFIX.len();
    let rest = &text[at..];
    rest[..rest.find(' ')?].parse().ok()
}

/// One client socket, from connect to the end of its stream.
pub(super) async fn client(
    shared: Arc<Shared>,
    index: usize,
    server: SocketAddr,
    path: String,
    source: Ipv4Addr,
    permits: Arc<Semaphore>,
    limit: Duration,
) {
    let slot = &shared.slots[index];
    let key = mask_key(index);
    let Ok(permit) = permits.acquire_owned().await else {
        return;
    };
    let started = Instant::now();
    let opened = tokio::time::timeout(limit, async {
        let (mut reader, writer) = open(server, &path, source).await?;
        loop {
            match reader.next().await? {
                Some((0x1, payload)) if payload.starts_with(br#"{"type":"hello""#) => break,
                Some((0x8, _)) | None => anyhow::bail!("closed before the hello"),
                Some(_) => {}
            }
        }
        anyhow::Ok((reader, writer))
    })
    .await;
    let (mut reader, writer) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(error)) => return shared.error(error.to_string()),
        Err(_) => return shared.error(format!("no hello within {limit:?}")),
    };
    slot.hello_us
        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    slot.hello_at.store(shared.now_ns(), Ordering::Release);
    shared.hellos.fetch_add(1, Ordering::AcqRel);
    drop(permit);
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let _ = slot.writer.set(writer.clone());

    loop {
        let Ok(Some((opcode, payload))) = reader.next().await else {
            slot.ended.store(shared.now_ns(), Ordering::Release);
            if slot.close_sent.load(Ordering::Acquire) != 0 {
                shared.close_done.fetch_add(1, Ordering::AcqRel);
            }
            break;
        };
        match opcode {
            0x1 => {
                if payload.starts_with(br#"{"type":"presence""#) {
                    slot.presence.fetch_add(1, Ordering::Relaxed);
                    let phase = shared.phase.load(Ordering::Relaxed);
                    shared.presence[phase].fetch_add(1, Ordering::Relaxed);
                } else if payload.starts_with(br#"{"type":"message""#) {
                    let sent = std::str::from_utf8(payload).ok().and_then(bench_ns);
                    if let Some(sent) = sent {
                        let us = shared.now_ns().saturating_sub(sent) / 1000;
                        common::record_us(
                            &mut shared.latencies.lock().unwrap(),
                            Duration::from_micros(us),
                        );
                        slot.messages.fetch_add(1, Ordering::Relaxed);
                        shared.delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            0x8 => {
                if slot.close_sent.load(Ordering::Acquire) != 0 {
                    slot.close_reply.store(shared.now_ns(), Ordering::Release);
                    shared.close_done.fetch_add(1, Ordering::AcqRel);
                } else {
                    let code = match payload {
                        [a, b, ..] => u16::from_be_bytes([*a, *b]),
                        _ => 1005,
                    };
                    slot.server_close.store(u32::from(code), Ordering::Release);
                    let reply = masked(0x8, &payload[..payload.len().min(2)], key);
                    let _ = writer.lock().await.write_all(&reply).await;
                }
                break;
            }
            0x9 => {
                let pong = masked(0xA, payload, key);
                let _ = writer.lock().await.write_all(&pong).await;
            }
            _ => {}
        }
    }
}
