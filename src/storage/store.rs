//! The narrow interface the layers above use: every read and write of
//! users and chats as one async call that runs on [`Db`]'s reader threads
//! (reads) or its writing thread (writes) and answers in storage's own types and [`StorageError`]. Routes and sockets
//! never see SQL or a connection, so another backend could stand here.
//!
//! (Message writes are not here: they go through the group-committing
//! writer in `crate::live::writer`, which uses the query functions directly.)

use super::chats::{self, Chat, ChatChange, NewChat};
use super::media::{ImageKind, Media};
use super::messages::{self, Message};
use super::users::{self, Deleted, InsertError, Taken, User};
use super::versions::Scope;
use super::{is_unique_violation, Db, StorageError};
use crate::rooms::Room;

mod community;

/// A page of rows and how many there are in all.
#[derive(Debug)]
pub struct Counted<T> {
    pub count: u64,
    pub rows: Vec<T>,
}

/// An image to store with a row: its kind and bytes.
pub type NewImage = (ImageKind, bytes::Bytes);

/// What a chat's `hello` needs, read in one snapshot.
#[derive(Debug)]
pub struct Opening {
    pub chat: Chat,
    pub history: Vec<Message>,
    /// More messages after `after` than `history` holds are waiting.
    pub more: bool,
    /// The newest message id when the snapshot was taken.
    pub newest: i64,
}

impl Db {
    /// Answers when the database can be read (`/healthz`).
    pub async fn check(&self) -> Result<(), StorageError> {
        self.run(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, StorageError> {
        self.run(move |conn| Ok(users::get(conn, id)?)).await
    }

    /// The user whose username or e-mail is `login`, case-insensitively.
    pub async fn user_by_login(&self, login: String) -> Result<Option<User>, StorageError> {
        self.run(move |conn| Ok(users::find_by_login(conn, &login)?))
            .await
    }

    pub async fn names_taken(
        &self,
        username: String,
        email: String,
    ) -> Result<Taken, StorageError> {
        self.run(move |conn| Ok(users::taken(conn, &username, &email)?))
            .await
    }

    /// Inserts a user; `Err(Ok(taken))` when a name is taken.
    pub async fn insert_user(
        &self,
        username: String,
        email: String,
        password_hash: String,
    ) -> Result<Result<User, Taken>, StorageError> {
        self.write(
            move |conn| match users::insert(conn, &username, &email, &password_hash) {
                Ok(user) => Ok(Ok(user)),
                Err(InsertError::Taken(taken)) => Ok(Err(taken)),
                Err(InsertError::Db(error)) => Err(error.into()),
            },
        )
        .await
    }

    /// Deletes a user with everything they own, and their files.
    pub async fn delete_user(
        &self,
        media: Media,
        id: i64,
    ) -> Result<Option<Deleted>, StorageError> {
        let deleted = self.write(move |conn| Ok(users::delete(conn, id)?)).await;
        // Their chats and messages are gone from every page.
        self.versions().changed_all();
        let deleted = deleted?;
        if let Some(deleted) = &deleted {
            for file in &deleted.files {
                media.remove(file);
            }
        }
        Ok(deleted)
    }

    /// Sets (or with `None` clears) a user's avatar; returns its media path.
    pub async fn set_avatar(
        &self,
        media: Media,
        id: i64,
        image: Option<NewImage>,
    ) -> Result<Option<String>, StorageError> {
        let set = self.write(move |conn| {
            media.store_with_row("avatars", image, |path| {
                let old = users::set_avatar(conn, id, path)?;
                Ok((path.map(str::to_string), old))
            })
        });
        let set = set.await;
        // Avatars show on every message of the user.
        self.versions().changed_all();
        set
    }

    pub async fn chat(&self, room: Room, id: i64) -> Result<Option<Chat>, StorageError> {
        self.run(move |conn| Ok(chats::get(conn, room, id)?)).await
    }

    /// A room's chats, oldest first; `page` picks the offset from the count.
    pub async fn chats<E: From<StorageError> + Send + 'static>(
        &self,
        room: Room,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Counted<Chat>, E> {
        self.run_listed(
            move |conn| chats::count(conn, room),
            page,
            move |conn, offset| chats::list(conn, room, offset, limit),
        )
        .await
    }

    /// Creates a chat with its image; `Ok(None)` when the title is taken in
    /// that room.
    pub async fn create_chat(
        &self,
        media: Media,
        new: NewChat,
        image: Option<NewImage>,
    ) -> Result<Option<Chat>, StorageError> {
        let room = new.room;
        let created = self.write(move |conn| {
            let created = media.store_with_row("chat_img", image, |img| {
                let new = NewChat {
                    img: img.map(str::to_string),
                    ..new
                };
                match chats::insert(conn, &new) {
                    Ok(chat) => Ok((chat, None)),
                    Err(error) if is_unique_violation(&error) => Err(Fail::Refused),
                    Err(error) => Err(error.into()),
                }
            });
            Fail::settle(created)
        });
        let created = created.await;
        self.changed(&[Scope::Room(room)]);
        created
    }

    /// Changes a chat's description and/or image (`image`: `Some(None)`
    /// goes back to the default); `Ok(None)` when the chat is gone.
    pub async fn update_chat(
        &self,
        media: Media,
        room: Room,
        id: i64,
        description: Option<Option<String>>,
        image: Option<Option<NewImage>>,
    ) -> Result<Option<Chat>, StorageError> {
        let updated = self.write(move |conn| {
            let clear = matches!(image, Some(None));
            let updated = media.store_with_row("chat_img", image.flatten(), |img| {
                let change = ChatChange {
                    description,
                    img: if clear {
                        Some(None)
                    } else {
                        img.map(|img| Some(img.to_string()))
                    },
                };
                match chats::update(conn, room, id, &change)? {
                    Some((chat, replaced)) => Ok((chat, replaced)),
                    None => Err(Fail::Refused),
                }
            });
            Fail::settle(updated)
        });
        let updated = updated.await;
        self.changed(&[Scope::Room(room), Scope::Chat(id)]);
        updated
    }

    /// Deletes a chat with its messages and image; false when it was gone.
    pub async fn delete_chat(
        &self,
        media: Media,
        room: Room,
        id: i64,
    ) -> Result<bool, StorageError> {
        let img = self
            .write(move |conn| Ok(chats::delete(conn, room, id)?))
            .await;
        self.changed(&[Scope::Room(room), Scope::Chat(id)]);
        match img? {
            Some((img, images)) => {
                for file in img.iter().chain(&images) {
                    media.remove(file);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    pub async fn message(&self, id: i64) -> Result<Option<Message>, StorageError> {
        self.run(move |conn| Ok(messages::get(conn, id)?)).await
    }

    /// The messages of chat `chat_id` of `room` with ids above `after`,
    /// oldest first; `Ok(None)` when there is no such chat. One call checks
    /// the chat and loads the page.
    pub async fn messages<E: From<StorageError> + Send + 'static>(
        &self,
        room: Room,
        chat_id: i64,
        after: i64,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Option<Counted<Message>>, E> {
        self.run_counted(
            move |conn| match chats::get(conn, room, chat_id)? {
                Some(_) => messages::count(conn, chat_id, after).map(Some),
                None => Ok(None),
            },
            page,
            move |conn, offset| messages::page(conn, chat_id, after, offset, limit),
        )
        .await
    }

    /// A chat with its recent history (the last `last` messages, or the
    /// first `catch_up` after `after`), in one read snapshot; `None` when
    /// it is gone.
    pub async fn opening(
        &self,
        room: Room,
        chat_id: i64,
        after: Option<i64>,
        last: u64,
        catch_up: u64,
    ) -> Result<Option<Opening>, StorageError> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let Some(chat) = chats::get(&tx, room, chat_id)? else {
                return Ok(None);
            };
            let (history, more) = match after {
                Some(after) => {
                    // One more than asked tells whether more are waiting.
                    let mut history = messages::page(&tx, chat_id, after, 0, catch_up + 1)?;
                    let more = history.len() as u64 > catch_up;
                    history.truncate(catch_up as usize);
                    (history, more)
                }
                None => (messages::last(&tx, chat_id, last)?, false),
            };
            let newest = messages::newest_id(&tx, chat_id)?;
            tx.commit()?;
            Ok(Some(Opening {
                chat,
                history,
                more,
                newest,
            }))
        })
        .await
    }

    /// After a write (whether or not it went through): pages of `scopes`
    /// are read again.
    fn changed(&self, scopes: &[Scope]) {
        for scope in scopes {
            self.versions().changed(*scope);
        }
    }

    /// [`Db::run_counted`] for a list that always exists (a room, all
    /// users, the audit log).
    pub(super) async fn run_listed<T: Send + 'static, E: From<StorageError> + Send + 'static>(
        &self,
        count: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<u64> + Send + 'static,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        load: impl FnOnce(&rusqlite::Connection, u64) -> rusqlite::Result<Vec<T>> + Send + 'static,
    ) -> Result<Counted<T>, E> {
        let counted = self.run_counted(move |conn| count(conn).map(Some), page, load);
        counted
            .await?
            .ok_or_else(|| StorageError::other(anyhow::anyhow!("a list without a count")).into())
    }

    /// Counts (`None`: the list's owner is gone), lets `page` turn the
    /// count into an offset (or refuse), and loads that page, all in one
    /// call on one connection.
    async fn run_counted<T: Send + 'static, E: From<StorageError> + Send + 'static>(
        &self,
        count: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<Option<u64>> + Send + 'static,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        load: impl FnOnce(&rusqlite::Connection, u64) -> rusqlite::Result<Vec<T>> + Send + 'static,
    ) -> Result<Option<Counted<T>>, E> {
        let result = self
            .run(move |conn| {
                // One snapshot for the count and the page.
                let tx = conn.transaction()?;
                let Some(count) = count(&tx)? else {
                    return Ok(Ok(None));
                };
                match page(count) {
                    Ok(offset) => Ok(Ok(Some(Counted {
                        count,
                        rows: load(&tx, offset)?,
                    }))),
                    Err(refused) => Ok(Err(refused)),
                }
            })
            .await;
        match result {
            Ok(outcome) => outcome,
            Err(error) => Err(error.into()),
        }
    }
}

/// How a write with a file can fail: refused by the data (a taken title,
/// a chat deleted meanwhile), or by storage.
enum Fail {
    Refused,
    Storage(StorageError),
}

impl Fail {
    /// `Ok(None)` for a refusal.
    fn settle<T>(result: Result<T, Fail>) -> Result<Option<T>, StorageError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(Fail::Refused) => Ok(None),
            Err(Fail::Storage(error)) => Err(error),
        }
    }
}

impl From<StorageError> for Fail {
    fn from(error: StorageError) -> Fail {
        Fail::Storage(error)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(error: rusqlite::Error) -> Fail {
        Fail::Storage(error.into())
    }
}
