//! The community features over REST (API.md, "Community features"):
//! posting a message (text and/or image), reactions, read markers, the
//! user's chats and mentions, and search. Writes go through the message
//! writer, which broadcasts them to the chat's sockets after the commit.

use warp::http::Method;
use warp::reply::Response;
use warp::Filter;

use super::chats::path_room;
use super::{other_method, paged, percent_decode, respond, Req, ReqFilter};
use crate::domain::community;
use crate::domain::pagination::{self, PAGE_SIZE};
use crate::domain::views::{ChatView, MessageView};
use crate::http::error::ApiError;
use crate::http::reply;
use crate::rooms::Room;
use crate::storage::community::{Hit, ReactionChange, SearchScope, UserChat};
use crate::storage::media::MESSAGE_IMAGES;

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let reaction =
        warp::path!("api" / "chat" / String / i64 / "messages" / i64 / "reactions" / String)
            .and(req.clone())
            .then(
                |room: String, chat: i64, id: i64, emoji: String, req: Req| async move {
                    respond(reaction(room, chat, id, emoji, req).await)
                },
            );
    let read = warp::path!("api" / "chat" / String / i64 / "read")
        .and(req.clone())
        .then(
            |room: String, chat: i64, req: Req| async move { respond(read(room, chat, req).await) },
        );
    let chats = warp::path!("api" / "user" / "chats")
        .and(req.clone())
        .then(|req: Req| async move { respond(user_chats(req).await) });
    let mentions = warp::path!("api" / "user" / "mentions")
        .and(req.clone())
        .then(|req: Req| async move { respond(mentions(req).await) });
    let search = warp::path!("api" / "search")
        .and(req)
        .then(|req: Req| async move { respond(search(req).await) });
    reaction
        .or(read)
        .unify()
        .or(chats)
        .unify()
        .or(mentions)
        .unify()
        .or(search)
        .unify()
}

/// `POST /api/chat/<room>/<id>/messages/`: text and/or an image → 201.
pub async fn post(room: String, chat_id: i64, mut req: Req) -> Result<Response, ApiError> {
    let user = req.require_user().await?;
    let room = path_room(&room)?;
    req.chat(room, chat_id).await?;
    let form = req.form().await?;
    let new = community::new_message(&form, req.app.config.ws.max_text_chars)?;
    let media = req.app.media.clone();
    // The file first, so no row ever names a missing file; removed again
    // if the writer refuses (the chat was deleted meanwhile).
    let image = match new.image {
        Some((upload, kind)) => {
            let media = media.clone();
            Some(
                tokio::task::spawn_blocking(move || {
                    media.store(MESSAGE_IMAGES, kind, &upload.bytes)
                })
                .await
                .map_err(ApiError::internal)??,
            )
        }
        None => None,
    };
    let posted = req
        .app
        .live
        .writer
        .post(chat_id, user.id, new.text, image.clone())
        .await;
    let message = match posted {
        Ok(message) => message,
        Err(error) => {
            if let Some(image) = &image {
                media.remove(image);
            }
            return Err(error.into());
        }
    };
    Ok(reply::created(&MessageView::new(message, &req.base_url())))
}

/// `PUT` / `DELETE …/messages/<mid>/reactions/<emoji>/`.
async fn reaction(
    room: String,
    chat_id: i64,
    id: i64,
    emoji: String,
    req: Req,
) -> Result<Response, ApiError> {
    let change = match req.method {
        Method::PUT => ReactionChange::Add,
        Method::DELETE => ReactionChange::Remove,
        ref method => return other_method(method, "PUT, DELETE, OPTIONS"),
    };
    let user = req.require_user().await?;
    let room = path_room(&room)?;
    req.chat(room, chat_id).await?;
    let emoji = community::emoji(&percent_decode(&emoji).unwrap_or_default())?;
    let message = req
        .app
        .live
        .writer
        .react(chat_id, id, user.id, emoji, change)
        .await?;
    Ok(reply::ok(&MessageView::new(message, &req.base_url())))
}

/// `{"chat", "last_read", "unread"}`
#[derive(serde::Serialize)]
struct ReadView {
    chat: i64,
    last_read: i64,
    unread: u64,
}

/// `POST /api/chat/<room>/<id>/read/` `{"last_read": N}`.
async fn read(room: String, chat_id: i64, mut req: Req) -> Result<Response, ApiError> {
    if req.method != Method::POST {
        return other_method(&req.method, "POST, OPTIONS");
    }
    let user = req.require_user().await?;
    let room = path_room(&room)?;
    req.chat(room, chat_id).await?;
    let form = req.form().await?;
    let last_read = community::last_read(&form)?;
    let state = req
        .app
        .live
        .writer
        .read(chat_id, user.id, last_read)
        .await?;
    Ok(reply::ok(&ReadView {
        chat: state.chat_id,
        last_read: state.last_read,
        unread: state.unread,
    }))
}

/// A chat of `GET /api/user/chats/`.
#[derive(serde::Serialize)]
struct UserChatView {
    #[serde(flatten)]
    chat: ChatView,
    last_read: i64,
    unread: u64,
    unread_mentions: u64,
    last_message: Option<MessageView>,
}

impl UserChatView {
    fn new(row: UserChat, base: &str) -> UserChatView {
        UserChatView {
            chat: ChatView::new(row.chat, base),
            last_read: row.last_read,
            unread: row.unread,
            unread_mentions: row.unread_mentions,
            last_message: row.last_message.map(|m| MessageView::new(m, base)),
        }
    }
}

async fn user_chats(req: Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    let user = req.require_user().await?;
    let page = paged(
        &req,
        |db, page| async move { db.user_chats(user.id, page, PAGE_SIZE).await },
        UserChatView::new,
    )
    .await?;
    Ok(reply::ok_bytes(page))
}

async fn mentions(req: Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    let user = req.require_user().await?;
    let page = paged(
        &req,
        |db, page| async move { db.mentions(user.id, page, PAGE_SIZE).await },
        MessageView::new,
    )
    .await?;
    Ok(reply::ok_bytes(page))
}

/// A search hit: a Message with its chat's title and room.
#[derive(serde::Serialize)]
struct HitView {
    #[serde(flatten)]
    message: MessageView,
    chat_title: String,
    room: Room,
}

/// `GET /api/search/?q=&room=&chat=&page=`.
async fn search(req: Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    let query = pagination::query_pairs(&req.query);
    let value = |name| pagination::query_value(&query, name).filter(|v| !v.is_empty());
    let words = community::search_query(pagination::query_value(&query, "q"))?;
    let room = match value("room") {
        Some(room) => Some(Room::parse(room).ok_or_else(|| {
            ApiError::field("room", format!("\"{room}\" is not a valid choice."))
        })?),
        None => None,
    };
    let chat_id = match value("chat") {
        Some(chat) => Some(chat.parse::<i64>().map_err(|_| {
            ApiError::field("chat", crate::domain::error::messages::NOT_AN_INTEGER)
        })?),
        None => None,
    };
    // Nothing searchable (only punctuation): nothing matches.
    let scope = (!words.is_empty()).then_some(SearchScope {
        words,
        room,
        chat_id,
    });
    // Messages are indexed a moment after their broadcast; what the asker
    // may have seen must be found.
    if scope.is_some() {
        req.app.live.writer.searchable().await;
    }
    let page = paged(
        &req,
        |db, page| async move {
            match scope {
                Some(scope) => db.search(scope, page, PAGE_SIZE).await,
                None => {
                    page(0)?;
                    Ok(crate::storage::store::Counted {
                        count: 0,
                        rows: Vec::new(),
                    })
                }
            }
        },
        |hit: Hit, base: &str| HitView {
            message: MessageView::new(hit.message, base),
            chat_title: hit.chat_title,
            room: hit.room,
        },
    )
    .await?;
    Ok(reply::ok_bytes(page))
}
