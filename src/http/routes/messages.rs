//! A chat's messages over REST: history (`?page=` / `?after=`), posting
//! (in [`super::community`]), and one message's GET, PATCH and DELETE
//! (soft) by its author or staff.
//! Changes go through the message writer, which broadcasts them to the
//! chat's sockets exactly as if they had been made over a socket.

use warp::http::Method;
use warp::reply::Response;
use warp::Filter;

use super::chats::path_room;
use super::{cached, other_method, paged, respond, Req, ReqFilter};
use crate::domain::error::messages as say;
use crate::domain::error::Error;
use crate::domain::pagination;
use crate::domain::pagination::PAGE_SIZE;
use crate::domain::rules;
use crate::domain::views::MessageView;
use crate::http::error::ApiError;
use crate::http::reply;
use crate::storage::messages::Message;
use crate::storage::versions::Scope;

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let history = warp::path!("api" / "chat" / String / i64 / "messages")
        .and(req.clone())
        .then(|room: String, chat: i64, req: Req| async move {
            respond(history(room, chat, req).await)
        });
    let one = warp::path!("api" / "chat" / String / i64 / "messages" / i64)
        .and(req)
        .then(|room: String, chat: i64, id: i64, req: Req| async move {
            respond(message(room, chat, id, req).await)
        });
    history.or(one).unify()
}

async fn history(room: String, chat_id: i64, req: Req) -> Result<Response, ApiError> {
    match req.method {
        Method::GET | Method::HEAD => {}
        Method::POST => return super::community::post(room, chat_id, req).await,
        ref method => return other_method(method, "GET, POST, HEAD, OPTIONS"),
    }
    let room = path_room(&room)?;
    let query = pagination::query_pairs(&req.query);
    let after = match pagination::query_value(&query, "after") {
        Some(after) => match after.parse::<i64>() {
            Ok(after) => after,
            Err(_) => {
                // A missing chat is a 404 before a bad query is a 400.
                req.chat(room, chat_id).await?;
                return Err(ApiError::field("after", say::NOT_AN_INTEGER));
            }
        },
        None => 0,
    };
    cached(&req, Scope::Chat(chat_id), || {
        paged(
            &req,
            |db, page| async move {
                db.messages(room, chat_id, after, page, PAGE_SIZE)
                    .await?
                    .ok_or(Error::NotFound)
            },
            MessageView::new,
        )
    })
    .await
}

async fn message(room: String, chat_id: i64, id: i64, mut req: Req) -> Result<Response, ApiError> {
    let editing = match req.method {
        Method::GET | Method::HEAD => {
            let room = path_room(&room)?;
            req.chat(room, chat_id).await?;
            let message = find(&req, chat_id, id, true).await?;
            return Ok(reply::ok(&MessageView::new(message, &req.base_url())));
        }
        Method::PATCH => true,
        Method::DELETE => false,
        ref method => return other_method(method, "GET, PATCH, DELETE, HEAD, OPTIONS"),
    };
    // DRF's order: authentication, the object (404), its permission (403),
    // then the body (400). The writer checks 404/403 again atomically.
    let user = req.require_user().await?;
    let room = path_room(&room)?;
    req.chat(room, chat_id).await?;
    let message = find(&req, chat_id, id, false).await?;
    rules::check_message_change(rules::Actor::of(&user), message.user_id)?;
    let changed = if editing {
        let form = req.form().await?;
        let text = rules::message_text(form.get("text"), req.app.config.ws.max_text_chars)?;
        req.app.live.writer.edit(chat_id, id, user.id, text).await?
    } else {
        req.app.live.writer.delete(chat_id, id, user.id).await?;
        return Ok(reply::no_content());
    };
    Ok(reply::ok(&MessageView::new(changed, &req.base_url())))
}

/// Message `id` of chat `chat_id`; a deleted one only if `deleted_too`.
async fn find(req: &Req, chat_id: i64, id: i64, deleted_too: bool) -> Result<Message, ApiError> {
    req.app
        .db
        .message(id)
        .await?
        .filter(|m| m.chat_id == chat_id && (deleted_too || !m.is_deleted))
        .ok_or_else(ApiError::not_found)
}
