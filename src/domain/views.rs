//! The JSON shapes the API answers with (chat, user, page), built from
//! stored rows.

use serde::Serialize;

use crate::rooms::Room;
use crate::storage::chats::Chat;
use crate::storage::media::DEFAULT_CHAT_IMG;
use crate::storage::messages::{Message, Reaction};
use crate::storage::users::User;

/// A chat as the API shows it.
#[derive(Debug, Serialize)]
pub struct ChatView {
    pub id: i64,
    pub title: String,
    pub room: Room,
    pub img: String,
    pub creator: String,
    pub description: Option<String>,
    pub url: String,
    pub timestamp: String,
}

impl ChatView {
    /// `base` is the scheme and host absolute image URLs start with.
    pub fn new(chat: Chat, base: &str) -> ChatView {
        let img = chat.img.as_deref().unwrap_or(DEFAULT_CHAT_IMG);
        ChatView {
            img: format!("{base}/media/{img}"),
            url: format!("/chat/{}/{}/", chat.room, chat.id),
            id: chat.id,
            title: chat.title,
            room: chat.room,
            creator: chat.creator,
            description: chat.description,
            timestamp: chat.created_at,
        }
    }
}

/// The signed-in user (`GET /api/user/`).
#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub avatar: Option<String>,
    pub is_staff: bool,
}

impl UserView {
    pub fn new(user: User, base: &str) -> UserView {
        UserView {
            avatar: avatar_url(user.avatar.as_deref(), base),
            id: user.id,
            username: user.username,
            email: user.email,
            is_staff: user.is_staff,
        }
    }
}

/// A user's standing after a suspension or its end.
#[derive(Debug, Serialize)]
pub struct SuspensionView {
    pub username: String,
    pub is_active: bool,
    pub reason: Option<String>,
}

impl SuspensionView {
    pub fn new(user: User) -> SuspensionView {
        SuspensionView {
            username: user.username,
            is_active: user.is_active,
            reason: user.suspension_reason,
        }
    }
}

/// A user as staff see them (`GET /api/admin/users/`).
#[derive(Debug, Serialize)]
pub struct AdminUserView {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub is_staff: bool,
    pub is_active: bool,
    pub reason: Option<String>,
    pub date_joined: String,
}

impl AdminUserView {
    pub fn new((user, joined): (User, String)) -> AdminUserView {
        AdminUserView {
            id: user.id,
            username: user.username,
            email: user.email,
            is_staff: user.is_staff,
            is_active: user.is_active,
            reason: user.suspension_reason,
            date_joined: joined,
        }
    }
}

/// A new invite: the code is shown this once (only its hash is kept).
#[derive(Debug, Serialize)]
pub struct InviteView {
    pub code: String,
    pub uses_left: u32,
    pub expires: String,
}

/// One audit log entry.
#[derive(Debug, Serialize)]
pub struct AuditView {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub timestamp: String,
}

impl AuditView {
    pub fn new(entry: crate::storage::audit::Entry) -> AuditView {
        AuditView {
            id: entry.id,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            detail: entry.detail,
            timestamp: entry.created_at,
        }
    }
}

/// Absolute URL of an avatar, if there is one.
pub fn avatar_url(avatar: Option<&str>, base: &str) -> Option<String> {
    avatar.map(|path| format!("{base}/media/{path}"))
}

/// One page of a list, DRF page-number style.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub count: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// A chat message as the API and the WebSocket frames show it.
#[derive(Debug, Serialize)]
pub struct MessageView {
    pub id: i64,
    pub chat: i64,
    pub user: i64,
    pub user_name: String,
    pub user_avatar: Option<String>,
    pub text: String,
    pub timestamp: String,
    pub edited: Option<String>,
    pub is_deleted: bool,
    /// Absolute URL of the posted image; null when none (or deleted).
    pub image: Option<String>,
    pub mentions: Vec<String>,
    pub reactions: Vec<Reaction>,
}

impl MessageView {
    pub fn new(message: Message, base: &str) -> MessageView {
        let image = message.image.filter(|_| !message.is_deleted);
        MessageView {
            user_avatar: avatar_url(message.user_avatar.as_deref(), base),
            image: avatar_url(image.as_deref(), base),
            mentions: message.mentions,
            reactions: message.reactions,
            id: message.id,
            chat: message.chat_id,
            user: message.user_id,
            user_name: message.user_name,
            text: message.text,
            timestamp: message.created_at,
            edited: message.edited_at,
            is_deleted: message.is_deleted,
        }
    }
}
