//! Live rooms over WebSockets.
//!
//! - [`protocol`]: every client frame parsed and every server frame built.
//! - [`fanout`]: the seam: typed [`Event`]s and the [`Fanout`] that
//!   delivers them to a chat's sockets.
//! - [`hub`]: which sockets are open in which chat; the local fan-out.
//! - [`peer`]: one socket's outbox (frames written straight to its TCP
//!   stream, or queued) and control block.
//! - [`wire`]: WebSocket framing of the server's frames, as bytes.
//! - [`connection`], [`stream`] and [`outbound`]: one socket's life, its
//!   read half (tungstenite) and its writer task.
//! - [`typing`]: the per-user gate of typing notices.
//! - [`writer`]: the group-committing message writer, which stores a
//!   message before anyone is told of it.
//! - [`revocation`]: closes the sockets of users whose tokens were revoked,
//!   also from another process.
//!
//! [`Live`] holds them together. It is all this module needs from the rest
//! of the server, so `live` never reaches into the app or the HTTP edge.

use std::path::Path;
use std::sync::Arc;

use crate::config::WsLimits;
use crate::metrics::Metrics;
use crate::storage::versions::{Scope, Versions};
use crate::storage::Db;

pub mod connection;
pub mod fanout;
pub mod hub;
pub mod outbound;
pub mod peer;
pub mod protocol;
pub mod revocation;
pub mod stream;
pub mod typing;
pub mod wire;
pub mod writer;

pub use fanout::{Event, Fanout};

use hub::Hub;
use writer::Writer;

/// The live rooms of one server: what a socket and a REST handler need.
pub struct Live {
    /// Open sockets by chat.
    pub hub: Arc<Hub>,
    /// The one writer of messages (group commit).
    pub writer: Writer,
    /// Reads for the `hello`.
    pub db: Db,
    pub limits: WsLimits,
    /// Who told which chat they are typing, and when.
    pub typing: typing::Typing,
    /// Where events go: the hub, for now (see [`fanout`]).
    fanout: Arc<dyn Fanout>,
}

impl Live {
    /// Starts the hub and the message writer, which opens its own
    /// connection to the database at `db_path`.
    pub fn start(
        db: Db,
        db_path: &Path,
        limits: WsLimits,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Live> {
        let hub = Hub::new(limits.max_sockets);
        let fanout: Arc<dyn Fanout> = Arc::new(Expiring {
            versions: db.versions().clone(),
            next: hub.clone(),
        });
        let writer = Writer::start(db_path, fanout.clone(), metrics)?;
        revocation::watch(&hub, db_path)?;
        Ok(Live {
            hub,
            writer,
            db,
            limits,
            typing: typing::Typing::default(),
            fanout,
        })
    }

    /// Closes every open socket of `user_id` with `not_authenticated` and
    /// 4401: call it when the user is deleted or suspended or their
    /// password changes. (Changes made by another process are noticed
    /// within a second by the [`revocation`] watcher.)
    pub fn revoke_user(&self, user_id: i64) -> usize {
        self.hub.revoke_user(user_id)
    }

    /// Tells every socket of `chat_id` of `event` (chat changes from REST
    /// handlers and the command line; messages go through the writer).
    pub fn publish(&self, chat_id: i64, event: Event) {
        self.fanout.publish(chat_id, event);
    }
}

/// Every event is published after its commit: first the chat's cached
/// pages expire, then the sockets hear of it, so whoever sees the event
/// (or the writer's answer, which comes after) reads the change in the
/// very next GET of its history.
struct Expiring {
    versions: Arc<Versions>,
    next: Arc<dyn Fanout>,
}

impl Fanout for Expiring {
    fn publish(&self, chat_id: i64, event: Event) {
        self.versions.changed(Scope::Chat(chat_id));
        self.next.publish(chat_id, event);
    }
}
