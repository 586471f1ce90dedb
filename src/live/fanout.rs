//! The seam between what happens in a chat and the sockets that hear of it.
//!
//! The message writer and the REST handlers say *what* happened, as a typed
//! [`Event`]; a [`Fanout`] gets it to every socket of the chat. Today the
//! one implementation is local: the [`Hub`](crate::live::hub::Hub) renders
//! the event with [`protocol`](crate::live::protocol) once per base URL and
//! queues the bytes. A backend that spans several servers (NATS, say) would
//! implement the same trait by sending the event to the other servers'
//! hubs, without a change to the writer, the routes or the protocol.

use crate::storage::chats::Chat;
use crate::storage::messages::Message;

/// Something every socket of a chat is told of.
#[derive(Debug, Clone)]
pub enum Event {
    /// A message was committed; `nonce` is the sender's tag, echoed.
    MessagePosted {
        message: Message,
        nonce: Option<serde_json::Value>,
    },
    /// A message's text was changed (the message as it is now).
    MessageEdited(Message),
    /// A message was deleted (soft: its row remains, emptied).
    MessageDeleted(Message),
    /// A message's reactions changed (the message as it is now).
    Reactions(Message),
    /// A chat's description or image changed.
    ChatUpdated(Chat),
    /// The chat is gone: its sockets are told, then closed.
    ChatDeleted,
}

/// Delivers events to the sockets of a chat.
pub trait Fanout: Send + Sync {
    /// Tells every socket of `chat_id` of `event`. Never waits for a
    /// socket: the message writer calls this between commits, and one slow
    /// reader must not hold up the next batch.
    fn publish(&self, chat_id: i64, event: Event);
}
