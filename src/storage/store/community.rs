//! The store's reads of community features: chat search, a user's chats,
//! mentions and message search, each one call on a reader thread.

use super::Counted;
use crate::rooms::Room;
use crate::storage::chats::Chat;
use crate::storage::community::{self, Hit, SearchScope, UserChat};
use crate::storage::messages::Message;
use crate::storage::{Db, StorageError};

impl Db {
    /// A room's chats whose title or description match `query` (an FTS5
    /// query from [`community::fts_query`]), oldest first.
    pub async fn matching_chats<E: From<StorageError> + Send + 'static>(
        &self,
        room: Room,
        query: String,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Counted<Chat>, E> {
        let q = query.clone();
        self.run_listed(
            move |conn| community::count_matching_chats(conn, room, &q),
            page,
            move |conn, offset| community::matching_chats(conn, room, &query, offset, limit),
        )
        .await
    }

    /// The chats a user takes part in, most recent activity first.
    pub async fn user_chats<E: From<StorageError> + Send + 'static>(
        &self,
        user_id: i64,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Counted<UserChat>, E> {
        self.run_listed(
            move |conn| community::count_user_chats(conn, user_id),
            page,
            move |conn, offset| community::user_chats(conn, user_id, offset, limit),
        )
        .await
    }

    /// The messages that mention a user, newest first.
    pub async fn mentions<E: From<StorageError> + Send + 'static>(
        &self,
        user_id: i64,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Counted<Message>, E> {
        self.run_listed(
            move |conn| community::count_mentions(conn, user_id),
            page,
            move |conn, offset| community::mentions(conn, user_id, offset, limit),
        )
        .await
    }

    /// Messages matching a search, best match first (among the newest
    /// [`community::SEARCH_WINDOW`] matches).
    pub async fn search<E: From<StorageError> + Send + 'static>(
        &self,
        scope: SearchScope,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Counted<Hit>, E> {
        let result = self
            .run(move |conn| {
                // One read snapshot: the ranking and the rows agree.
                let tx = conn.transaction()?;
                let ids = community::search(&tx, &scope)?;
                let count = ids.len() as u64;
                let offset = match page(count) {
                    Ok(offset) => offset as usize,
                    Err(refused) => return Ok(Err(refused)),
                };
                let end = ids.len().min(offset + limit as usize);
                let rows = community::hits(&tx, &ids[offset.min(end)..end])?;
                tx.commit()?;
                Ok(Ok(Counted { count, rows }))
            })
            .await;
        match result {
            Ok(outcome) => outcome,
            Err(error) => Err(error.into()),
        }
    }
}
