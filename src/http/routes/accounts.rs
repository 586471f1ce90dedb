//! Accounts: register (open, closed or by invite), obtain and refresh JWTs,
//! the signed-in user and their avatar, and the client's `/api/config/`.

use serde_json::json;
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::{other_method, respond, Req, ReqFilter};
use crate::auth::{AuthError, TokenType};
use crate::config::Registration;
use crate::domain::accounts;
use crate::domain::error::{messages, FieldErrors};
use crate::domain::form::{Form, Value};
use crate::domain::moderation;
use crate::domain::rules::{self, ImageInput, TextRule};
use crate::domain::views::{avatar_url, UserView};
use crate::http::error::ApiError;
use crate::http::reply;
use crate::storage::admin::Refusal;

/// `201` body of a registration, fields in the documented order.
#[derive(serde::Serialize)]
struct Registered<'a> {
    username: &'a str,
    email: &'a str,
}

/// Body of `POST /api/token/`, fields in the documented order.
#[derive(serde::Serialize)]
struct TokenPair {
    refresh: String,
    access: String,
}

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let register = warp::path!("api" / "register")
        .and(req.clone())
        .then(|req: Req| async move { respond(register(req).await) });
    let token = warp::path!("api" / "token")
        .and(req.clone())
        .then(|req: Req| async move { respond(token(req).await) });
    let refresh = warp::path!("api" / "token" / "refresh")
        .and(req.clone())
        .then(|req: Req| async move { respond(refresh(req).await) });
    let user = warp::path!("api" / "user")
        .and(req.clone())
        .then(|req: Req| async move { respond(user(req).await) });
    let avatar = warp::path!("api" / "profile" / "avatar")
        .and(req.clone())
        .then(|req: Req| async move { respond(avatar(req).await) });
    let config = warp::path!("api" / "config")
        .and(req)
        .then(|req: Req| async move { respond(config(req).await) });
    register
        .or(token)
        .unify()
        .or(refresh)
        .unify()
        .or(user)
        .unify()
        .or(avatar)
        .unify()
        .or(config)
        .unify()
}

/// `GET /api/config/`: what a client needs to know before signing in
/// (whether the registration form asks for an invite).
async fn config(req: Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    Ok(reply::ok(
        &json!({ "registration": req.app.config.registration }),
    ))
}

/// `POST /api/register/` → 201 `{"username", "email"}`; refused when
/// registration is closed, and needs an `invite` in invite mode.
async fn register(mut req: Req) -> Result<Response, ApiError> {
    if req.method != Method::POST {
        return other_method(&req.method, "POST, OPTIONS");
    }
    let mode = req.app.config.registration;
    if mode == Registration::Closed {
        return Err(ApiError::forbidden(messages::REGISTRATION_CLOSED));
    }
    req.throttle(&req.app.register_limiter)?;
    let form = req.form().await?;
    let registration = accounts::registration(&form);
    let invite = match mode {
        Registration::Invite => accounts::invite(&form),
        _ => Ok(None),
    };
    let (registration, invite) = match (registration, invite) {
        (Ok(registration), Ok(invite)) => (registration, invite),
        (registration, invite) => {
            let errors = registration.err().unwrap_or_default();
            let errors = with_taken_names(&req, &form, errors).await?;
            return Err(with_invite_errors(&req, invite, errors).await?.into());
        }
    };
    let password = registration.password.clone();
    let hash = req.app.hasher.hash(password).await?;
    let invite_hash = invite.as_deref().map(moderation::invite_hash);
    let user = req
        .app
        .db
        .register_user(registration.username, registration.email, hash, invite_hash)
        .await?
        .map_err(|refusal| match refusal {
            Refusal::Taken(taken) => accounts::taken_errors(taken),
            Refusal::Invite(taken) => {
                let mut errors = accounts::taken_errors(taken);
                errors.add("invite", messages::INVALID_INVITE);
                errors
            }
        })?;
    Ok(reply::json(
        StatusCode::CREATED,
        &Registered {
            username: &user.username,
            email: &user.email,
        },
    ))
}

/// Adds "already exists" messages to a failed registration's errors, so that
/// every problem is reported at once, as DRF's field validators do.
async fn with_taken_names(
    req: &Req,
    form: &Form,
    mut errors: FieldErrors,
) -> Result<FieldErrors, ApiError> {
    let text = |name: &str| match form.get(name) {
        Some(Value::Text(text)) => text.trim().to_string(),
        _ => String::new(),
    };
    let (username, email) = (text("username"), text("email"));
    let taken = accounts::taken_errors(req.app.db.names_taken(username, email).await?);
    for field in ["username", "email"] {
        if errors.get(field).is_none() {
            for message in taken.get(field).unwrap_or_default() {
                errors.add(field, message.clone());
            }
        }
    }
    Ok(errors)
}

/// Adds the `invite` errors to a failed registration's errors: its own
/// (missing, blank...), else whether the code could be used now. Only a
/// read: a code is used up only by a registration that succeeds.
async fn with_invite_errors(
    req: &Req,
    invite: Result<Option<String>, Vec<String>>,
    mut errors: FieldErrors,
) -> Result<FieldErrors, ApiError> {
    match invite {
        Err(problems) => {
            for message in problems {
                errors.add("invite", message);
            }
        }
        Ok(Some(code)) => {
            let usable = req.app.db.invite_usable(moderation::invite_hash(&code));
            if !usable.await? {
                errors.add("invite", messages::INVALID_INVITE);
            }
        }
        Ok(None) => {}
    }
    Ok(errors)
}

/// `POST /api/token/` with a username (or e-mail) and password.
async fn token(mut req: Req) -> Result<Response, ApiError> {
    if req.method != Method::POST {
        return other_method(&req.method, "POST, OPTIONS");
    }
    req.throttle(&req.app.login_limiter)?;
    let form = req.form().await?;
    let mut errors = FieldErrors::new();
    let login =
        rules::text_field(&form, "username", TextRule::required(254), &mut errors).flatten();
    let password =
        rules::text_field(&form, "password", rules::PASSWORD_RULE, &mut errors).flatten();
    errors.into_result()?;
    let (Some(login), Some(password)) = (login, password) else {
        return Err(ApiError::bad_credentials());
    };
    let login = accounts::normalize_username(&login);
    let user = req.app.db.user_by_login(login).await?;
    // With no such user this verifies against a dummy hash, so both cases
    // take the same time.
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = req.app.hasher.verify(password, hash).await?;
    // A suspended user is told nothing more than a wrong password would.
    let user = user
        .filter(|user| matches && user.is_active)
        .ok_or_else(ApiError::bad_credentials)?;
    let tokens = &req.app.tokens;
    Ok(reply::ok(&TokenPair {
        refresh: tokens.issue(TokenType::Refresh, user.id, user.token_version)?,
        access: tokens.issue(TokenType::Access, user.id, user.token_version)?,
    }))
}

/// `POST /api/token/refresh/` `{refresh}` → `{"access"}`.
async fn refresh(mut req: Req) -> Result<Response, ApiError> {
    if req.method != Method::POST {
        return other_method(&req.method, "POST, OPTIONS");
    }
    req.throttle(&req.app.login_limiter)?;
    let form = req.form().await?;
    let mut errors = FieldErrors::new();
    let refresh =
        rules::text_field(&form, "refresh", TextRule::required(8192), &mut errors).flatten();
    errors.into_result()?;
    let claims = refresh
        .and_then(|token| req.app.tokens.decode(&token, TokenType::Refresh))
        .ok_or_else(ApiError::invalid_refresh)?;
    // The user must still exist, be active, and not have changed password
    // since.
    let user = req
        .app
        .db
        .user(claims.user_id)
        .await?
        .ok_or_else(ApiError::invalid_refresh)?;
    let user = match crate::auth::check_claims(user, &claims) {
        Ok(user) => user,
        Err(AuthError::UserInactive) => return Err(ApiError::user_inactive()),
        Err(_) => return Err(ApiError::invalid_refresh()),
    };
    let access = req
        .app
        .tokens
        .issue(TokenType::Access, user.id, user.token_version)?;
    Ok(reply::ok(&json!({ "access": access })))
}

/// `GET /api/user/`: the signed-in user; `DELETE`: delete the account with
/// its chats and messages (`chatd doctor` cleans up with it).
async fn user(req: Req) -> Result<Response, ApiError> {
    let delete = match req.method {
        Method::GET | Method::HEAD => false,
        Method::DELETE => true,
        ref method => return other_method(method, "GET, DELETE, HEAD, OPTIONS"),
    };
    let user = req.require_user().await?;
    if !delete {
        return Ok(reply::ok(&UserView::new(user, &req.base_url())));
    }
    let deleted = req
        .app
        .db
        .delete_user(req.app.media.clone(), user.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    req.app.live.revoke_user(user.id);
    for chat_id in deleted.chat_ids {
        req.app
            .live
            .publish(chat_id, crate::live::Event::ChatDeleted);
    }
    Ok(reply::no_content())
}

/// `GET` / `PUT /api/profile/avatar/`; `DELETE` removes the avatar.
async fn avatar(mut req: Req) -> Result<Response, ApiError> {
    const ALLOW: &str = "GET, PUT, PATCH, DELETE, HEAD, OPTIONS";
    let put = match req.method {
        Method::GET | Method::HEAD => false,
        Method::PUT | Method::PATCH => true,
        Method::DELETE => {
            let mut user = req.require_user().await?;
            user.avatar = req
                .app
                .db
                .set_avatar(req.app.media.clone(), user.id, None)
                .await?;
            return Ok(reply::ok(&json!({
                "avatar": avatar_url(user.avatar.as_deref(), &req.base_url())
            })));
        }
        ref method => return other_method(method, ALLOW),
    };
    let mut user = req.require_user().await?;
    if put {
        let form = req.form().await?;
        let mut errors = FieldErrors::new();
        let upload = match rules::image_field(&form, "avatar", &mut errors) {
            Some(ImageInput::Upload(upload, kind)) => Some((upload, kind)),
            // As in DRF; `DELETE` is the way to remove an avatar.
            Some(ImageInput::Clear) => {
                errors.add("avatar", rules::NOT_NULL);
                None
            }
            None => {
                if errors.is_empty() {
                    errors.add("avatar", rules::NO_FILE);
                }
                None
            }
        };
        errors.into_result()?;
        let image = upload.map(|(upload, kind)| (kind, upload.bytes));
        let avatar = req
            .app
            .db
            .set_avatar(req.app.media.clone(), user.id, image)
            .await?;
        user.avatar = avatar;
    }
    Ok(reply::ok(&json!({
        "avatar": avatar_url(user.avatar.as_deref(), &req.base_url())
    })))
}
