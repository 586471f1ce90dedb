//! A handle to one socket, shared by its reader task, its writer task and
//! the hub: the socket's outbox ([`Out`]), which writes frames to the TCP
//! stream, and the control block through which anyone may ask the socket
//! to close.

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::domain::error::Error;
use crate::live::protocol::{self, close};
use crate::live::wire;

/// Shared between a socket's reader task, writer task and the hub.
#[derive(Debug, Default)]
pub struct Control {
    /// The close code requested (0: none yet).
    close: AtomicU16,
    closed: Notify,
    /// Microseconds since the socket opened when the client was last heard from.
    last_seen_micros: AtomicU64,
    /// The latest online count not yet written, plus one (0: none). A
    /// slot, not a queue: a newer count overwrites an unsent one, so a
    /// busy room costs a socket one word, however many come and go.
    presence: AtomicUsize,
    /// Wakes the writer task when `presence` is set.
    presence_set: Notify,
}

impl Control {
    /// Asks the socket to close with `code`; the first request wins.
    pub fn close(&self, code: u16) {
        if self
            .close
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.closed.notify_waiters();
        }
    }

    /// The requested close code, if any.
    pub fn close_code(&self) -> Option<u16> {
        match self.close.load(Ordering::Acquire) {
            0 => None,
            code => Some(code),
        }
    }

    /// Completes once a close was requested.
    pub async fn closed(&self) {
        loop {
            let notified = self.closed.notified();
            if self.close_code().is_some() {
                return;
            }
            notified.await;
        }
    }

    /// Sets the online count this socket should be told of (the hub calls
    /// this at most once per presence interval).
    pub fn set_presence(&self, online: usize) {
        self.presence
            .store(online.saturating_add(1), Ordering::Release);
        self.presence_set.notify_one();
    }

    /// Takes the count waiting to be written, if any.
    pub fn take_presence(&self) -> Option<usize> {
        self.presence.swap(0, Ordering::AcqRel).checked_sub(1)
    }

    /// Completes when a presence count was set (perhaps already taken).
    pub async fn presence_set(&self) {
        self.presence_set.notified().await;
    }

    pub fn touch(&self, since_start: Duration) {
        self.last_seen_micros
            .store(since_start.as_micros() as u64, Ordering::Relaxed);
    }

    /// When the client was last heard from, in whole microseconds.
    pub fn last_seen(&self) -> Duration {
        Duration::from_micros(self.last_seen_micros.load(Ordering::Relaxed))
    }
}

/// A handle to one socket: its outbox and its control block.
#[derive(Debug, Clone)]
pub struct Peer {
    pub out: Arc<Out>,
    pub control: Arc<Control>,
}

impl Peer {
    /// Sends a frame to this socket alone; a full outbox closes it (1008).
    pub fn send(&self, frame: Utf8Bytes) {
        let frame = wire::text(frame.as_bytes());
        if self.out.push(&frame, None, true).is_err() {
            self.control.close(close::POLICY);
        }
    }

    /// Tells this socket alone why what it asked for was refused.
    pub fn refuse(&self, error: &Error) {
        self.send(protocol::error(error));
    }
}

mod out;
pub use out::{Flushed, Full, Out};
