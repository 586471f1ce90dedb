//! The outbox against a real loopback TCP stream: what the far end reads.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::live::wire;

/// A connected pair: the server's end (for an outbox) and the client's.
async fn pair() -> (Arc<TcpStream>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let far = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (near, _) = listener.accept().await.unwrap();
    (Arc::new(near), far)
}

/// An outbox whose `hello` is out, and the far end, which has not read it.
async fn opened(capacity: usize) -> (Arc<Out>, TcpStream) {
    let (near, far) = pair().await;
    let out = Arc::new(Out::new(Some(near), capacity));
    out.open(wire::text(b"hello"), 0);
    assert_eq!(out.flush(), Flushed::Empty);
    (out, far)
}

/// `count` outboxes opened as by [`opened`], with each far end past its
/// `hello`.
async fn room(count: usize) -> (Vec<Arc<Out>>, Vec<TcpStream>) {
    let (mut outs, mut fars) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let (out, mut far) = opened(8).await;
        assert_eq!(texts(&frames(&mut far, 1).await), ["1:hello"]);
        outs.push(out);
        fars.push(far);
    }
    (outs, fars)
}

/// Reads `count` server frames: (opcode, payload).
async fn frames(far: &mut (impl AsyncRead + Unpin), count: usize) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    for _ in 0..count {
        let mut head = [0; 2];
        far.read_exact(&mut head).await.unwrap();
        let len = match head[1] {
            126 => u64::from(far.read_u16().await.unwrap()),
            127 => far.read_u64().await.unwrap(),
            len => u64::from(len),
        };
        let mut payload = vec![0; len as usize];
        far.read_exact(&mut payload).await.unwrap();
        frames.push((head[0] & 0x0f, payload));
    }
    frames
}

fn texts(frames: &[(u8, Vec<u8>)]) -> Vec<String> {
    frames
        .iter()
        .map(|(op, payload)| format!("{op}:{}", String::from_utf8_lossy(payload)))
        .collect()
}

/// Nothing has arrived at the far end (yet).
fn nothing_arrived(far: &TcpStream) -> bool {
    let mut byte = [0; 1];
    matches!(far.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[tokio::test]
async fn frames_wait_for_the_hello_then_go_straight_out() {
    let (near, mut far) = pair().await;
    let out = Arc::new(Out::new(Some(near), 8));
    out.push(&wire::text(b"m5"), Some(5), true).unwrap();
    out.push(&wire::text(b"m7"), Some(7), true).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(nothing_arrived(&far), "nothing before the hello");
    // The hello carried messages up to 5: m5 is dropped, m7 follows it.
    out.open(wire::text(b"hello"), 5);
    assert_eq!(out.flush(), Flushed::Empty);
    out.push(&wire::text(b"m4"), Some(4), true).unwrap(); // in the hello
    out.push(&wire::text(b"typing"), None, true).unwrap(); // written at once
    assert_eq!(
        texts(&frames(&mut far, 3).await),
        ["1:hello", "1:m7", "1:typing"]
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(nothing_arrived(&far));
}

#[tokio::test]
async fn a_batch_is_written_when_it_ends() {
    let (out, mut far) = opened(8).await;
    assert_eq!(frames(&mut far, 1).await.len(), 1);
    let pushed = Out::batched(|| {
        for text in ["a", "b", "c"] {
            out.push(&wire::text(text.as_bytes()), None, true).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        nothing_arrived(&far)
    });
    assert!(pushed, "held back until the batch ended");
    assert_eq!(texts(&frames(&mut far, 3).await), ["1:a", "1:b", "1:c"]);
}

#[tokio::test]
async fn a_large_batch_is_shared_out_and_later_frames_wait_behind_it() {
    // A room larger than PER_TASK: the batch writes one chunk, the rest
    // wait for its helper tasks, which on this single-threaded runtime run
    // only once the test waits.
    const SOCKETS: usize = Out::PER_TASK + 14;
    let (outs, mut fars) = room(SOCKETS).await;
    for text in ["a", "b"] {
        Out::batched(|| {
            for out in &outs {
                out.push(&wire::text(text.as_bytes()), None, true).unwrap();
            }
        });
    }
    // The first outboxes were written by the batch itself, twice; the
    // others hold both frames, in order, for the helpers.
    let written: Vec<bool> = outs.iter().map(|out| out.lock().items.is_empty()).collect();
    let expected: Vec<bool> = (0..SOCKETS).map(|i| i < Out::LARGE_CHUNK).collect();
    assert_eq!(written, expected);
    for far in &mut fars {
        assert_eq!(texts(&frames(far, 2).await), ["1:a", "1:b"]);
    }
}

#[tokio::test]
async fn a_shared_batch_is_all_written_when_it_ends_even_if_its_helper_never_ran() {
    // A helper that starts late takes only what is left; on this
    // single-threaded runtime it runs only once the test waits.
    for sockets in [Out::SHARED_FROM, Out::PER_TASK] {
        let (outs, mut fars) = room(sockets).await;
        Out::batched(|| {
            for out in &outs {
                out.push(&wire::text(b"a"), None, true).unwrap();
            }
        });
        let waiting = outs.iter().filter(|out| !out.lock().items.is_empty());
        assert_eq!(waiting.count(), 0, "{sockets} sockets");
        for far in &mut fars {
            assert_eq!(texts(&frames(far, 1).await), ["1:a"]);
        }
        tokio::task::yield_now().await; // the helper finds nothing left
        assert!(fars.iter().all(nothing_arrived), "{sockets} sockets");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpers_on_another_worker_keep_each_sockets_frames_once_and_in_order() {
    let (outs, mut fars) = room(Out::SHARED_FROM * 3).await;
    let outs = Arc::new(outs);
    let publisher = outs.clone();
    // Batch after batch, as the relay publishes them, while the helpers
    // of the one before may still be writing.
    tokio::spawn(async move {
        for text in ["a", "b", "c", "d"] {
            Out::batched(|| {
                for out in publisher.iter() {
                    out.push(&wire::text(text.as_bytes()), None, true).unwrap();
                }
            });
        }
    })
    .await
    .unwrap();
    for far in &mut fars {
        assert_eq!(texts(&frames(far, 4).await), ["1:a", "1:b", "1:c", "1:d"]);
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    for far in &fars {
        assert!(nothing_arrived(far));
    }
}

#[tokio::test]
async fn a_close_queued_behind_a_batch_is_left_for_the_writer_task() {
    let (out, mut far) = opened(8).await;
    assert_eq!(frames(&mut far, 1).await.len(), 1);
    Out::batched(|| {
        out.push(&wire::text(b"last"), None, true).unwrap();
        // Another task closes the chat meanwhile (chat_deleted, 4404).
        out.close_after(4404).unwrap();
    });
    assert_eq!(texts(&frames(&mut far, 1).await), ["1:last"]);
    // The batch wrote the frame; the close is still there for the socket's
    // writer task, however often others flush.
    assert_eq!(out.flush(), Flushed::Close(4404));
    assert_eq!(out.flush(), Flushed::Close(4404));
}

#[tokio::test]
async fn a_slow_reader_gets_every_frame_in_order_then_the_close() {
    let (near, mut far) = pair().await;
    let out = Arc::new(Out::new(Some(near), 2_000));
    out.open(wire::text(b"hello"), 0);
    // Far more than the kernel's buffers hold while nobody reads: some are
    // written at once, the rest (and a frame cut short) wait in the queue.
    let count = 1_000;
    for i in 0..count {
        let mut payload = format!("{i:05}").into_bytes();
        payload.resize(32 * 1024, b'.');
        out.push(&wire::text(&payload), Some(i + 1), true).unwrap();
    }
    assert!(!out.lock().items.is_empty(), "the kernel took everything");
    // The writer task's part: write what waits as the reader catches up,
    // then the close frame.
    let writer = {
        let out = out.clone();
        tokio::spawn(async move { drain_and_finish(&out, 4404).await })
    };
    let got = frames(&mut far, 1 + count as usize).await;
    assert_eq!(got[0], (1, b"hello".to_vec()));
    for (i, (op, payload)) in got[1..].iter().enumerate() {
        assert_eq!(*op, 1);
        assert_eq!(&payload[..5], format!("{i:05}").as_bytes());
        assert_eq!(payload.len(), 32 * 1024);
    }
    let close = frames(&mut far, 1).await;
    assert_eq!(close[0].0, 8);
    assert_eq!(&close[0].1[..2], &4404u16.to_be_bytes());
    writer.await.unwrap();
}

/// What the writer task does last: write what waits, then the close.
async fn drain_and_finish(out: &Out, code: u16) {
    crate::live::outbound::drain(out).await;
    crate::live::outbound::say_goodbye(out, code).await;
}

#[tokio::test]
async fn a_full_queue_says_so_and_a_close_ends_what_is_sent() {
    let out = Arc::new(Out::new(None, 2));
    out.open(wire::text(b"hello"), 0);
    out.push(&wire::text(b"a"), None, true).unwrap();
    assert_eq!(out.push(&wire::text(b"b"), None, true), Err(Full));
    assert_eq!(out.close_after(1008), Err(Full));
    assert_eq!(out.take_queued(), ["hello", "a"]);
    out.close_after(4401).unwrap();
    out.push(&wire::text(b"late"), None, true).unwrap(); // dropped
    assert_eq!(out.take_queued(), ["close 4401"]);
}

#[tokio::test]
async fn after_answering_the_clients_close_nothing_more_is_sent() {
    let (out, mut far) = opened(8).await;
    // tungstenite's answer to the client's close, through the read side.
    out.send_own(wire::close(Some(1000), ""));
    out.push(&wire::text(b"late"), None, true).unwrap();
    out.finish(1000); // no second close frame
    assert_eq!(out.flush(), Flushed::Empty);
    drop(out);
    let got = frames(&mut far, 2).await;
    assert_eq!(got[1], (8, 1000u16.to_be_bytes().to_vec()));
    let mut rest = Vec::new();
    far.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn closing_finishes_the_frame_begun_and_drops_the_rest() {
    let (out, mut far) = opened(4_000).await;
    // Until the kernel takes only part of a frame: nobody reads, so the
    // frames fill its buffer; when one fills it exactly, the far end reads
    // a little (kept, and read first below) to make room for a partial write.
    let frame = wire::text(&[b'x'; 32 * 1024 + 7]);
    let (mut pushed, mut early) = (0, Vec::new());
    while !out.lock().partial {
        assert!(pushed < 3_000, "no frame was ever cut short");
        if out.lock().items.is_empty() {
            out.push(&frame, None, true).unwrap();
            pushed += 1;
        } else {
            let mut some = vec![0; 1000];
            let n = far.read(&mut some).await.unwrap();
            early.extend_from_slice(&some[..n]);
            out.writable().await.unwrap();
            out.flush();
        }
    }
    out.push(&wire::text(b"dropped"), None, true).unwrap();
    out.finish(1001);
    let writer = {
        let out = out.clone();
        tokio::spawn(async move { drain_and_finish(&out, 1001).await })
    };
    let mut far = std::io::Cursor::new(early).chain(far);
    let hello = frames(&mut far, 1).await;
    assert_eq!(hello[0], (1, b"hello".to_vec()));
    // Whole frames (the last of them the one begun), then the close.
    let mut texts = 0;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), frames(&mut far, 1));
        let frame = next.await.expect("a whole frame").remove(0);
        if frame.0 == 8 {
            assert_eq!(&frame.1[..2], &1001u16.to_be_bytes());
            break;
        }
        assert_eq!(frame, (1, vec![b'x'; 32 * 1024 + 7]));
        texts += 1;
    }
    // The frame begun was finished (else the close frame would have been
    // read as part of it); frames still waiting whole, and "dropped", not.
    assert!((1..=pushed).contains(&texts), "{texts} of {pushed}");
    writer.await.unwrap();
    drop(out);
    let mut rest = Vec::new();
    far.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing after the close frame");
}
