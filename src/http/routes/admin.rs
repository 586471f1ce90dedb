//! Staff endpoints under `/api/admin/`: list, suspend and unsuspend users,
//! create invites, read the audit log. Anonymous callers get 401, signed-in
//! users who are not staff 403. Every change is recorded in the audit log
//! (by storage, in the change's own transaction).

use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::{other_method, paged, percent_decode, respond, Req, ReqFilter};
use crate::domain::moderation;
use crate::domain::pagination::PAGE_SIZE;
use crate::domain::views::{AdminUserView, AuditView, InviteView, SuspensionView};
use crate::http::error::ApiError;
use crate::http::reply;
use crate::storage::users::User;

pub fn routes(
    req: ReqFilter,
) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    let users = warp::path!("api" / "admin" / "users")
        .and(req.clone())
        .then(|req: Req| async move { respond(users(req).await) });
    let suspend = warp::path!("api" / "admin" / "users" / String / "suspend")
        .and(req.clone())
        .then(|name: String, req: Req| async move { respond(suspension(name, true, req).await) });
    let unsuspend = warp::path!("api" / "admin" / "users" / String / "unsuspend")
        .and(req.clone())
        .then(|name: String, req: Req| async move { respond(suspension(name, false, req).await) });
    let invites = warp::path!("api" / "admin" / "invites")
        .and(req.clone())
        .then(|req: Req| async move { respond(invite(req).await) });
    let audit = warp::path!("api" / "admin" / "audit")
        .and(req)
        .then(|req: Req| async move { respond(audit(req).await) });
    users
        .or(suspend)
        .unify()
        .or(unsuspend)
        .unify()
        .or(invites)
        .unify()
        .or(audit)
        .unify()
}

/// The signed-in staff user: 401 without credentials, 403 for others.
async fn require_staff(req: &Req) -> Result<User, ApiError> {
    let user = req.require_user().await?;
    if !user.is_staff {
        return Err(ApiError::permission_denied());
    }
    Ok(user)
}

/// `GET /api/admin/users/[?page=N]`: every user with their standing,
/// oldest first (the web client's admin page lists them).
async fn users(req: Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    require_staff(&req).await?;
    let page = paged(
        &req,
        |db, page| async move { db.users(page, PAGE_SIZE).await },
        |row, _base| AdminUserView::new(row),
    )
    .await?;
    Ok(reply::ok_bytes(page))
}

/// `POST …/suspend/` `{"reason"}` or `…/unsuspend/` →
/// `{"username", "is_active", "reason"}`.
async fn suspension(username: String, suspend: bool, mut req: Req) -> Result<Response, ApiError> {
    if req.method != Method::POST {
        return other_method(&req.method, "POST, OPTIONS");
    }
    let staff = require_staff(&req).await?;
    let username = percent_decode(&username).ok_or_else(ApiError::not_found)?;
    let form = req.form().await?;
    let reason = if suspend {
        moderation::reason(&form)?
    } else {
        None
    };
    let actor_id = staff.id;
    let user = req
        .app
        .db
        .set_suspended(
            username,
            suspend,
            reason,
            staff.username,
            move |target, active_staff| {
                moderation::check_suspension(Some(actor_id), target, suspend, active_staff)
            },
        )
        .await?
        .ok_or_else(ApiError::not_found)??;
    Ok(reply::ok(&SuspensionView::new(user)))
}

/// `POST /api/admin/invites/` `{"uses", "expires"}` → 201 `{"code",
/// "uses_left", "expires"}`.
async fn invite(mut req: Req) -> Result<Response, ApiError> {
    if req.method != Method::POST {
        return other_method(&req.method, "POST, OPTIONS");
    }
    let staff = require_staff(&req).await?;
    let form = req.form().await?;
    let request = moderation::invite_request(&form)?;
    let code = moderation::new_invite_code()?;
    let expires = crate::storage::timestamp(
        chrono::Utc::now()
            + chrono::Duration::from_std(request.expires).map_err(ApiError::internal)?,
    );
    req.app
        .db
        .create_invite(
            moderation::invite_hash(&code),
            request.uses,
            expires.clone(),
            staff.username,
        )
        .await?;
    Ok(reply::json(
        StatusCode::CREATED,
        &InviteView {
            code,
            uses_left: request.uses,
            expires,
        },
    ))
}

/// `GET /api/admin/audit/[?page=N]`: the audit log, newest first.
async fn audit(req: Req) -> Result<Response, ApiError> {
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return other_method(&req.method, "GET, HEAD, OPTIONS");
    }
    require_staff(&req).await?;
    let page = paged(
        &req,
        |db, page| async move { db.audit(page, PAGE_SIZE).await },
        |entry, _base| AuditView::new(entry),
    )
    .await?;
    Ok(reply::ok_bytes(page))
}
