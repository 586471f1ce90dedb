//! A socket's outbox: frames written straight to its TCP stream when they
//! can be, queued for the socket's writer task when they cannot.
//!
//! A broadcast to a room of a few hundred sockets writes each frame from
//! the publishing task itself: one non-blocking `write` per socket, no task
//! woken, no second worker pulled in to share them (on two cores that
//! hand-over put both workers on one CPU, taking turns for every socket;
//! BENCHMARKS.md, "seventh session"). A frame waits in the queue instead
//! when the socket's `hello` is not out yet, when frames already wait
//! (order), when the kernel's buffer is full (a slow reader: its writer
//! task finishes the job when the socket is writable again), and for large
//! rooms outside the relay's batch, whose sockets are shared out among the
//! runtime's workers through their writer tasks. Inside a batch
//! ([`Out::batched`]) every write waits for the batch's end, and a room
//! of [`Out::SHARED_FROM`] sockets or more is then written by the relay
//! and helper tasks the other worker can take, each socket by whichever
//! claims it first (one helper up to 256 sockets, one per 64 above: not
//! one task per socket, which doubled the context switches at 1,000
//! sockets, nor one per 256, which kept a worker from reading the next
//! frame; BENCHMARKS.md, "eighth", "ninth", "eleventh" and "twelfth
//! session"). The queue is bounded: a socket that falls that far behind
//! is closed (1008) by whoever finds it full.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use crate::live::protocol;

/// Frames written in one `writev` at most.
const SLICES: usize = 64;

/// The outbox is full: the socket is not reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

/// What [`Out::flush`] got done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flushed {
    /// Everything queued is written.
    Empty,
    /// The kernel's buffer is full; wait for [`Out::writable`].
    Blocked,
    /// The stream failed (the client is gone).
    Failed,
    /// Everything before a queued close is written: close with this code.
    Close(u16),
}

#[derive(Debug)]
enum Item {
    /// A whole frame, or the rest of one (then `message_id` is None).
    Frame {
        bytes: Bytes,
        message_id: Option<i64>,
    },
    /// Close with this code once everything before it is written.
    Close(u16),
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Item>,
    /// The first item is the rest of a frame partly written: it must be
    /// finished before anything else goes out.
    partial: bool,
    /// Set once the `hello` is first in line (until then frames only
    /// queue): message frames up to this id are not sent, the `hello` or
    /// the REST pages have them.
    hello_last_id: Option<i64>,
    /// A close is queued, or the socket is ending: later frames are dropped.
    closing: bool,
    /// A close frame is out or first in line (ours, or tungstenite's
    /// answer to the client's): nothing may follow it.
    close_sent: bool,
    /// Writing failed.
    failed: bool,
    /// The frames waiting are held back by a batch ([`Out::batched`]),
    /// which writes them when it ends.
    deferred: bool,
}

/// See the module's documentation.
#[derive(Debug)]
pub struct Out {
    queue: Mutex<Queue>,
    /// Wakes the writer task: frames wait where there were none.
    waiting: Notify,
    /// None in unit tests: then frames only queue.
    stream: Option<Arc<TcpStream>>,
    capacity: usize,
}

impl Out {
    /// An outbox for `stream` that holds `capacity` waiting frames at most.
    pub fn new(stream: Option<Arc<TcpStream>>, capacity: usize) -> Out {
        Out {
            queue: Mutex::default(),
            waiting: Notify::new(),
            stream,
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves plain data behind; keep going.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends an encoded frame ([`wire`](crate::live::wire)); `direct`:
    /// write it now when nothing waits, else leave it to the writer task.
    /// `message_id` tags `message` frames, so one the `hello` carried is
    /// skipped. Frames after a close are dropped.
    pub fn push(
        self: &Arc<Self>,
        frame: &Bytes,
        message_id: Option<i64>,
        direct: bool,
    ) -> Result<(), Full> {
        let mut queue = self.lock();
        if queue.closing || queue.failed {
            return Ok(());
        }
        if let (Some(id), Some(last)) = (message_id, queue.hello_last_id) {
            if id <= last {
                return Ok(());
            }
        }
        let deferred = direct && self.defer(&mut queue);
        if direct && !deferred && self.write_now(&mut queue, frame) {
            return Ok(());
        }
        if queue.items.len() >= self.capacity {
            return Err(Full);
        }
        let item = Item::Frame {
            bytes: frame.clone(),
            message_id,
        };
        if deferred {
            queue.items.push_back(item); // written at the batch's end
        } else {
            self.queue_item(&mut queue, item);
        }
        Ok(())
    }

    /// Sends a frame of the socket's own (a ping, a presence count, a
    /// reply to the client's ping or close), whatever the queue's bound.
    pub fn send_own(&self, frame: Bytes) {
        let mut queue = self.lock();
        if queue.close_sent || queue.failed {
            return;
        }
        if crate::live::wire::holds_close(&frame) {
            if queue.closing {
                return; // we are closing: our close frame goes out
            }
            queue.close_sent = true;
            queue.closing = true;
        }
        if !self.write_now(&mut queue, &frame) {
            self.queue_item(
                &mut queue,
                Item::Frame {
                    bytes: frame,
                    message_id: None,
                },
            );
        }
    }

    /// Writes `frame` if nothing waits before it; true when it is taken
    /// care of (written, its rest queued, or the stream failed).
    fn write_now(&self, queue: &mut Queue, frame: &Bytes) -> bool {
        let Some(stream) = &self.stream else {
            return false;
        };
        if !queue.items.is_empty() || queue.hello_last_id.is_none() {
            return false;
        }
        match stream.try_write(frame) {
            Ok(n) if n == frame.len() => {}
            Ok(n) => {
                queue.partial = n > 0;
                self.queue_item(
                    queue,
                    Item::Frame {
                        bytes: frame.slice(n..),
                        message_id: None,
                    },
                );
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => {
                queue.failed = true;
                self.waiting.notify_one();
            }
        }
        true
    }

    fn queue_item(&self, queue: &mut Queue, item: Item) {
        queue.items.push_back(item);
        if queue.items.len() == 1 {
            self.waiting.notify_one();
        }
    }

    /// Puts the `hello` first in line and lets frames flow; queued
    /// `message` frames up to `last_id` are dropped (the hello has them).
    pub fn open(&self, hello: Bytes, last_id: i64) {
        let mut queue = self.lock();
        queue.items.retain(
            |item| !matches!(item, Item::Frame { message_id: Some(id), .. } if *id <= last_id),
        );
        queue.items.push_front(Item::Frame {
            bytes: hello,
            message_id: None,
        });
        queue.hello_last_id = Some(last_id);
        self.waiting.notify_one();
    }

    /// Queues a close behind the frames waiting.
    pub fn close_after(&self, code: u16) -> Result<(), Full> {
        let mut queue = self.lock();
        if queue.closing || queue.failed {
            return Ok(());
        }
        if queue.items.len() >= self.capacity {
            return Err(Full);
        }
        queue.closing = true;
        self.queue_item(&mut queue, Item::Close(code));
        Ok(())
    }

    /// Completes when frames wait that were not there before (made once
    /// and kept by the writer task, see `write_loop`).
    pub fn waiting(&self) -> Notified<'_> {
        self.waiting.notified()
    }

    /// Completes when the stream can take more bytes.
    pub async fn writable(&self) -> io::Result<()> {
        match &self.stream {
            Some(stream) => stream.writable().await,
            None => std::future::pending().await,
        }
    }

    /// Writes what waits, as far as the kernel takes it.
    pub fn flush(&self) -> Flushed {
        let mut queue = self.lock();
        queue.deferred = false;
        if queue.failed {
            return Flushed::Failed;
        }
        let Some(stream) = &self.stream else {
            return Flushed::Empty;
        };
        loop {
            let mut slices = [IoSlice::new(&[]); SLICES];
            let mut count = 0;
            for item in queue.items.iter().take(SLICES) {
                match item {
                    Item::Frame { bytes, .. } => {
                        slices[count] = IoSlice::new(bytes);
                        count += 1;
                    }
                    Item::Close(_) => break,
                }
            }
            if count == 0 {
                // A close stays first in line until the writer task ends
                // the socket: another flusher (a batch's end, a chunk
                // task) only tells it, and must not take the close away.
                return match queue.items.front() {
                    None => Flushed::Empty,
                    Some(Item::Close(code)) => Flushed::Close(*code),
                    Some(Item::Frame { .. }) => unreachable!("frames are counted above"),
                };
            }
            match stream.try_write_vectored(&slices[..count]) {
                Ok(0) => {
                    queue.failed = true;
                    return Flushed::Failed;
                }
                Ok(written) => advance(&mut queue, written),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Flushed::Blocked,
                Err(_) => {
                    queue.failed = true;
                    return Flushed::Failed;
                }
            }
        }
    }

    /// The socket ends with `code`: drops what waits (but the rest of a
    /// frame begun, and a close reply already queued) and queues the close
    /// frame, unless one is out. The writer task then flushes.
    pub fn finish(&self, code: u16) {
        let mut queue = self.lock();
        queue.closing = true;
        if queue.close_sent {
            return; // its close reply, and what is before it, still go out
        }
        let keep = usize::from(queue.partial);
        queue.items.truncate(keep);
        queue.close_sent = true;
        queue.items.push_back(Item::Frame {
            bytes: protocol::close_frame(code),
            message_id: None,
        });
    }

    /// The frames waiting, for the hub's unit tests (closes as `close N`).
    #[cfg(test)]
    pub fn take_queued(&self) -> Vec<String> {
        self.lock()
            .items
            .drain(..)
            .map(|item| match item {
                Item::Frame { bytes, .. } => {
                    String::from_utf8_lossy(crate::live::wire::payload(&bytes)).into_owned()
                }
                Item::Close(code) => format!("close {code}"),
            })
            .collect()
    }
}

/// Drops the `written` bytes from the front of the queue.
fn advance(queue: &mut Queue, mut written: usize) {
    while written > 0 {
        let Some(Item::Frame { bytes, message_id }) = queue.items.front_mut() else {
            return;
        };
        if written >= bytes.len() {
            written -= bytes.len();
            queue.items.pop_front();
            queue.partial = false;
        } else {
            *bytes = bytes.slice(written..);
            *message_id = None;
            queue.partial = true;
            return;
        }
    }
}

mod batch;
#[cfg(test)]
mod tests;
