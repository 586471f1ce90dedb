//! After the commit: each operation's outcome is published to the chat's
//! sockets (through the fan-out) and answered to whoever asked, a socket or
//! a REST handler; refusals go back the same way.

use super::{Done, Op, Reply};
use crate::domain::error::Error;
use crate::live::fanout::{Event, Fanout};

/// After the commit: publish, then answer whoever asked.
pub(super) fn finish(op: Op, outcome: Result<Done, Error>, fanout: &dyn Fanout) {
    let done = match outcome {
        Ok(done) => done,
        Err(refusal) => return refuse(op, refusal),
    };
    match (done, op) {
        (Done::Posted(message), Op::Post { nonce, .. }) => {
            fanout.publish(message.chat_id, Event::MessagePosted { message, nonce });
        }
        (Done::Edited(message), Op::Edit { reply, .. }) => {
            fanout.publish(message.chat_id, Event::MessageEdited(message.clone()));
            answer(reply, message);
        }
        (Done::Deleted(message), Op::Delete { reply, .. }) => {
            fanout.publish(message.chat_id, Event::MessageDeleted(message.clone()));
            answer(reply, message);
        }
        (Done::Posted(message), Op::PostHttp { reply, .. }) => {
            fanout.publish(
                message.chat_id,
                Event::MessagePosted {
                    message: message.clone(),
                    nonce: None,
                },
            );
            let _ = reply.send(Ok(message));
        }
        (Done::Reacted(message), Op::React { reply, .. }) => {
            fanout.publish(message.chat_id, Event::Reactions(message.clone()));
            answer(reply, message);
        }
        (Done::Read(state), Op::Read { reply, .. }) => answer(reply, state),
        (Done::Flushed, Op::Flush(done) | Op::Searchable(done)) => {
            let _ = done.send(());
        }
        // `apply` answers each op with its own kind of outcome.
        (_, op) => tracing::error!(?op, "an outcome of another kind of op"),
    }
}

/// A REST handler gets the outcome (a socket has the broadcast).
fn answer<T>(reply: Reply<T>, outcome: T) {
    if let Reply::Http(reply) = reply {
        let _ = reply.send(Ok(outcome));
    }
}

/// Tells a socket or a REST handler why its op was refused.
fn refuse_reply<T>(reply: Reply<T>, refusal: Error) {
    match reply {
        Reply::Socket(peer) => peer.refuse(&refusal),
        Reply::Http(reply) => {
            let _ = reply.send(Err(refusal));
        }
    }
}

/// Tells whoever asked why their op was refused.
pub(super) fn refuse(op: Op, refusal: Error) {
    match op {
        Op::Post { origin, .. } => origin.refuse(&refusal),
        Op::PostHttp { reply, .. } => {
            let _ = reply.send(Err(refusal));
        }
        Op::Edit { reply, .. } | Op::Delete { reply, .. } | Op::React { reply, .. } => {
            refuse_reply(reply, refusal)
        }
        Op::Read { reply, .. } => refuse_reply(reply, refusal),
        Op::Flush(done) | Op::Searchable(done) => {
            let _ = done.send(());
        }
    }
}
