//! The writer's side of the seam: after the commit it publishes typed
//! events, and it refuses in the domain's terms.

use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::live::fanout::Event;
use crate::live::peer::{Control, Outbound};
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

#[tokio::test]
async fn publishes_events_after_the_commit_and_refuses_in_domain_terms() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat.db");
    Db::open(&path).unwrap();
    let (alice, bob, chat) = {
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
        (alice.id, bob.id, chats::insert(&conn, &new).unwrap().id)
    };
    let recorder = Arc::new(Recorder::default());
    let writer = Writer::start(&path, recorder.clone(), Arc::default()).unwrap();
    let (tx, mut frames) = mpsc::channel(8);
    let peer = Peer {
        tx,
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
    match frames.try_recv().unwrap() {
        Outbound::Text { frame, .. } => {
            assert_eq!(frame, protocol::error(&Error::PermissionDenied))
        }
        other => panic!("{other:?}"),
    }
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

#[test]
fn every_op_of_a_failed_batch_hears_the_same_kind_of_failure() {
    assert!(matches!(same_kind(&StorageError::Full), StorageError::Full));
    assert!(matches!(same_kind(&StorageError::Busy), StorageError::Busy));
    let other = StorageError::other(anyhow::anyhow!("bad sector"));
    assert!(matches!(same_kind(&other), StorageError::Other(_)));
}
