//! The read side of a socket's TCP stream, as tungstenite reads it.
//!
//! The stream is shared: frames to the client are written by the socket's
//! [`Out`] (straight from a broadcast, or by its writer task), so
//! tungstenite only reads. It still answers a client's ping and close
//! itself; those replies are handed to the outbox in order with every
//! other frame.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::live::peer::Out;

/// What tungstenite reads from and "writes" to.
pub struct ReadSide {
    stream: Arc<TcpStream>,
    /// Bytes read with the upgrade request, which come first.
    early: Bytes,
    out: Arc<Out>,
}

impl ReadSide {
    pub fn new(stream: Arc<TcpStream>, early: Bytes, out: Arc<Out>) -> ReadSide {
        ReadSide {
            stream,
            early: unshared(early),
            out,
        }
    }
}

/// The early bytes are a view of the HTTP connection's read buffer (8 KiB
/// and more): once they are read, that buffer must not be kept alive for
/// the socket's whole life (it was 40% of an idle socket's memory).
fn unshared(early: Bytes) -> Bytes {
    if early.is_empty() {
        Bytes::new()
    } else {
        early
    }
}

impl AsyncRead for ReadSide {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.early.is_empty() {
            let n = this.early.len().min(buf.remaining());
            buf.put_slice(&this.early[..n]);
            this.early.advance(n);
            this.early = unshared(std::mem::take(&mut this.early));
            return Poll::Ready(Ok(()));
        }
        loop {
            ready!(this.stream.poll_read_ready(cx))?;
            match this.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl AsyncWrite for ReadSide {
    /// tungstenite's pongs and close replies: whole frames, to the outbox.
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.out.send_own(Bytes::copy_from_slice(buf));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[tokio::test]
    async fn bytes_read_with_the_upgrade_come_first_and_replies_go_to_the_outbox() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut far = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let near = Arc::new(listener.accept().await.unwrap().0);
        let out = Arc::new(Out::new(Some(near.clone()), 8));
        out.open(crate::live::wire::text(b"hello"), 0);
        let mut side = ReadSide::new(near, Bytes::from_static(b"early "), out.clone());
        far.write_all(b"later").await.unwrap();
        let mut got = vec![0; 11];
        side.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"early later");
        // A pong, as tungstenite writes it: queued behind the hello.
        side.write_all(&[0x8a, 0]).await.unwrap();
        crate::live::outbound::drain(&out).await;
        let mut frames = vec![0; 9];
        far.read_exact(&mut frames).await.unwrap();
        assert_eq!(frames, b"\x81\x05hello\x8a\x00");
    }
}
