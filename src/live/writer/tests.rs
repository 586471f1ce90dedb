//! The writer's side of the seam: after the commit it publishes typed
//! events, and it refuses in the domain's terms.

use std::path::Path;
use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::live::fanout::Event;
use crate::live::peer::{Control, Out};
use crate::live::protocol;
use crate::rooms::Room;
use crate::storage::chats::{self, NewChat};
use crate::storage::{users, Db};

/// A fan-out that records what it is told.
#[derive(Default)]
struct Recorder(Mutex<Vec<(i64, Event)>>);

impl Fanout for Recorder {
    fn publish(&self, chat_id: i64, event: Event) {
        self.0.lock().unwrap().push((chat_id, event));
    }
}

impl Recorder {
    fn take(&self) -> Vec<(i64, Event)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// A database with two users and a chat of alice's.
struct Seeded {
    path: std::path::PathBuf,
    alice: i64,
    bob: i64,
    chat: i64,
}

fn seed(dir: &Path) -> Seeded {
    let path = dir.join("chat.db");
    Db::open(&path).unwrap();
    let conn = storage::connect(&path).unwrap();
    let alice = users::insert(&conn, "alice", "alice@example.com", "-").unwrap();
    let bob = users::insert(&conn, "bob", "bob@example.com", "-").unwrap();
    let new = NewChat {
        room: Room::Books,
        title: "Dune".to_string(),
        description: None,
        img: None,
        creator_id: alice.id,
    };
    let chat = chats::insert(&conn, &new).unwrap().id;
    Seeded {
        path,
        alice: alice.id,
        bob: bob.id,
        chat,
    }
}

/// A seeded database and a writer on it that records what it publishes
/// (handing batches to a relay task if called inside a runtime).
fn started(dir: &Path) -> (Seeded, Arc<Recorder>, Writer) {
    let seeded = seed(dir);
    let recorder = Arc::new(Recorder::default());
    let writer = Writer::start(&seeded.path, recorder.clone(), Arc::default()).unwrap();
    (seeded, recorder, writer)
}

/// A post from a socket nobody reads.
fn post(chat_id: i64, user_id: i64, text: &str) -> Op {
    Op::Post {
        chat_id,
        user_id,
        text: text.to_string(),
        nonce: None,
        origin: Peer {
            out: Arc::new(Out::new(None, 1)),
            control: Arc::new(Control::default()),
        },
    }
}

/// The texts of the posted messages, in the order they were published,
/// with their ids.
fn posted(events: Vec<(i64, Event)>) -> Vec<(i64, String)> {
    events
        .into_iter()
        .map(|(_, event)| match event {
            Event::MessagePosted { message, .. } => (message.id, message.text),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_batches_are_published_in_commit_order_before_a_flush_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (Seeded { alice, chat, .. }, recorder, writer) = started(dir.path());
    // More than one batch's worth, queued without waiting for commits.
    let count = MAX_BATCH * 3;
    for i in 0..count {
        writer
            .submit(post(chat, alice, &i.to_string()))
            .await
            .unwrap();
    }
    writer.flush().await;
    let published = posted(recorder.take());
    let texts: Vec<String> = published.iter().map(|(_, text)| text.clone()).collect();
    let expected: Vec<String> = (0..count).map(|i| i.to_string()).collect();
    assert_eq!(texts, expected);
    assert!(published.windows(2).all(|pair| pair[0].0 < pair[1].0));
}

#[test]
fn without_a_runtime_the_writer_publishes_batches_itself() {
    let dir = tempfile::tempdir().unwrap();
    // Started outside any runtime: there is nowhere to hand batches to.
    let (Seeded { alice, chat, .. }, recorder, writer) = started(dir.path());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        writer.submit(post(chat, alice, "hi")).await.unwrap();
        writer.flush().await;
    });
    let published = posted(recorder.take());
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1, "hi");
}

#[tokio::test]
async fn publishes_events_after_the_commit_and_refuses_in_domain_terms() {
    let dir = tempfile::tempdir().unwrap();
    let (
        Seeded {
            alice, bob, chat, ..
        },
        recorder,
        writer,
    ) = started(dir.path());
    let out = Arc::new(Out::new(None, 8));
    let peer = Peer {
        out: out.clone(),
        control: Arc::new(Control::default()),
    };

    let post = Op::Post {
        chat_id: chat,
        user_id: alice,
        text: "hi".to_string(),
        nonce: Some(json!("n1")),
        origin: peer.clone(),
    };
    writer.submit(post).await.unwrap();
    writer.flush().await;
    let id = match &recorder.take()[..] {
        [(chat_id, Event::MessagePosted { message, nonce })] => {
            assert_eq!((*chat_id, message.text.as_str()), (chat, "hi"));
            assert_eq!(nonce, &Some(json!("n1")));
            message.id
        }
        other => panic!("{other:?}"),
    };

    // Someone else's message: the socket that asked is told, nobody else.
    let hijack = Op::Edit {
        chat_id: chat,
        message_id: id,
        user_id: bob,
        text: "mine".to_string(),
        reply: Reply::Socket(peer.clone()),
    };
    writer.submit(hijack).await.unwrap();
    writer.flush().await;
    assert_eq!(
        out.take_queued(),
        [protocol::error(&Error::PermissionDenied).as_str()]
    );
    assert!(recorder.take().is_empty());

    // A REST handler gets the message, and the chat the event.
    let edited = writer
        .edit(chat, id, alice, "edited".to_string())
        .await
        .unwrap();
    assert_eq!(edited.text, "edited");
    assert!(matches!(
        writer.delete(chat, id + 1, alice).await,
        Err(Error::NotFound)
    ));
    assert!(writer.delete(chat, id, alice).await.unwrap().is_deleted);
    match &recorder.take()[..] {
        [(_, Event::MessageEdited(edited)), (_, Event::MessageDeleted(deleted))] => {
            assert_eq!((edited.id, edited.text.as_str()), (id, "edited"));
            assert!(deleted.is_deleted);
        }
        other => panic!("{other:?}"),
    }
}
