//! Chats: create (`/api/chat/` and `/api/chat/<room>/`), list a room, get,
//! change and delete one chat.

use warp::http::Method;
use warp::reply::Response;
use warp::Filter;

use super::{cached, other_method, paged, respond, Req, ReqFilter};
use crate::domain::error::FieldErrors;
use crate::domain::pagination::PAGE_SIZE;
use crate::domain::rules::{self, Access, Actor, ImageInput};
use crate::domain::views::ChatView;
use crate::http::error::ApiError;
use crate::http::reply;
use crate::rooms::Room;
use crate::storage::chats::{self, NewChat};
use crate::storage::users::User;
use crate::storage::versions::Scope;

/// Body of a successful create: `{"chat": Chat}`.
#[derive(serde::Serialize)]
struct Created {
    chat: ChatView,
}

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let create = warp::path!("api" / "chat")
        .and(req.clone())
        .then(|req: Req| async move { respond(create_any_room(req).await) });
    let room = warp::path!("api" / "chat" / String)
        .and(req.clone())
        .then(|room: String, req: Req| async move { respond(room_resource(room, req).await) });
    let chat = warp::path!("api" / "chat" / String / i64)
        .and(req)
        .then(|room: String, id: i64, req: Req| async move { respond(chat_resource(room, id, req).await) });
    create.or(room).unify().or(chat).unify()
}

/// The room named in a path, or the seed's `{"Error": "wrong room"}`.
pub(super) fn path_room(name: &str) -> Result<Room, ApiError> {
    Room::parse(name).ok_or(ApiError::WrongRoom)
}

/// `/api/chat/`: create a chat in the room named by the `room` field.
async fn create_any_room(req: Req) -> Result<Response, ApiError> {
    match req.method {
        Method::POST => {
            let user = req.require_user().await?;
            create(req, user, None).await
        }
        ref method => other_method(method, "POST, OPTIONS"),
    }
}

/// `/api/chat/<room>/`: list the room, or create a chat in it.
async fn room_resource(room: String, req: Req) -> Result<Response, ApiError> {
    match req.method {
        Method::GET | Method::HEAD => list(path_room(&room)?, req).await,
        Method::POST => {
            // Authentication comes before anything about the request itself.
            let user = req.require_user().await?;
            let room = path_room(&room)?;
            create(req, user, Some(room)).await
        }
        ref method => other_method(method, "GET, POST, HEAD, OPTIONS"),
    }
}

/// `/api/chat/<room>/<id>/`: one chat.
async fn chat_resource(room: String, id: i64, req: Req) -> Result<Response, ApiError> {
    match req.method {
        Method::GET | Method::HEAD => get(path_room(&room)?, id, req).await,
        Method::PATCH => patch(room, id, req).await,
        Method::DELETE => delete(room, id, req).await,
        ref method => other_method(method, "GET, PATCH, DELETE, HEAD, OPTIONS"),
    }
}

async fn create(mut req: Req, user: User, room: Option<Room>) -> Result<Response, ApiError> {
    let form = req.form().await?;
    let input = rules::chat_input(&form, room)?;
    let new = NewChat {
        room: input.room,
        title: input.title,
        description: input.description,
        img: None,
        creator_id: user.id,
    };
    let image = input.img.map(|(upload, kind)| (kind, upload.bytes));
    let chat = req
        .app
        .db
        .create_chat(req.app.media.clone(), new, image)
        .await?
        .ok_or_else(|| FieldErrors::single("non_field_errors", rules::UNIQUE_TITLE))?;
    Ok(reply::ok(&Created {
        chat: ChatView::new(chat, &req.base_url()),
    }))
}

async fn list(room: Room, req: Req) -> Result<Response, ApiError> {
    // `?search=`: chats whose title or description has every word (as a
    // prefix); without searchable words it filters nothing, as DRF's
    // SearchFilter does. Search pages are not cached.
    let query = crate::domain::pagination::query_pairs(&req.query);
    let search = crate::domain::pagination::query_value(&query, "search")
        .map(crate::domain::community::search_words)
        .and_then(|words| crate::storage::community::fts_query(&words));
    if let Some(search) = search {
        let page = paged(
            &req,
            |db, page| async move { db.matching_chats(room, search, page, PAGE_SIZE).await },
            ChatView::new,
        )
        .await?;
        return Ok(reply::ok_bytes(page));
    }
    cached(&req, Scope::Room(room), || {
        paged(
            &req,
            |db, page| async move { db.chats(room, page, PAGE_SIZE).await },
            ChatView::new,
        )
    })
    .await
}

async fn get(room: Room, id: i64, req: Req) -> Result<Response, ApiError> {
    let chat = req.chat(room, id).await?;
    Ok(reply::ok(&ChatView::new(chat, &req.base_url())))
}

/// A chat about to change, and who changes it on what grounds.
pub(super) struct ToChange {
    pub chat: chats::Chat,
    pub user: User,
    pub access: Access,
}

impl ToChange {
    /// Records the change in the audit log when staff made it to someone
    /// else's chat.
    async fn audit(&self, req: &Req, action: &'static str) -> Result<(), ApiError> {
        if self.access != Access::Staff {
            return Ok(());
        }
        let chat = &self.chat;
        let target = format!("chat {}/{}", chat.room, chat.id);
        let detail = format!("\"{}\" by {}", chat.title, chat.creator);
        let actor = self.user.username.clone();
        Ok(req.app.db.record(actor, action, target, detail).await?)
    }
}

/// Loads a chat for a change: 401 without credentials, then the room, 404,
/// and 403 for anyone but its creator and staff.
pub(super) async fn chat_to_change(room: &str, id: i64, req: &Req) -> Result<ToChange, ApiError> {
    let user = req.require_user().await?;
    let room = path_room(room)?;
    let chat = req.chat(room, id).await?;
    let access = rules::check_chat_change(Actor::of(&user), chat.creator_id)?;
    Ok(ToChange { chat, user, access })
}

async fn patch(room: String, id: i64, mut req: Req) -> Result<Response, ApiError> {
    let change = chat_to_change(&room, id, &req).await?;
    let chat = &change.chat;
    let form = req.form().await?;
    let patch = rules::chat_patch(&form)?;
    let image = patch.img.map(|img| match img {
        ImageInput::Upload(upload, kind) => Some((kind, upload.bytes)),
        ImageInput::Clear => None,
    });
    let updated = req
        .app
        .db
        .update_chat(
            req.app.media.clone(),
            chat.room,
            chat.id,
            patch.description,
            image,
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    change.audit(&req, "chat.update").await?;
    req.app
        .live
        .publish(updated.id, crate::live::Event::ChatUpdated(updated.clone()));
    Ok(reply::ok(&ChatView::new(updated, &req.base_url())))
}

async fn delete(room: String, id: i64, req: Req) -> Result<Response, ApiError> {
    let change = chat_to_change(&room, id, &req).await?;
    let chat = &change.chat;
    if !req
        .app
        .db
        .delete_chat(req.app.media.clone(), chat.room, chat.id)
        .await?
    {
        return Err(ApiError::not_found());
    }
    req.app.live.publish(id, crate::live::Event::ChatDeleted);
    change.audit(&req, "chat.delete").await?;
    Ok(reply::no_content())
}
