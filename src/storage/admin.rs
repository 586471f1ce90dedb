//! Moderation's writes, each with its audit record in one transaction:
//! registration that takes an invite, suspensions, staff status, new
//! invites; and the async calls on [`Db`] the routes use. The command line
//! (`crate::ops`) calls the same functions on a connection of its own.
//!
//! The rules (who may be suspended...) are the domain's: each write takes
//! them as a `check` closure and runs it on what it read inside its
//! transaction, so the check and the write see the same rows.

use rusqlite::Connection;

use super::audit::{self, Entry};
use super::store::Counted;
use super::users::{self, InsertError, Taken, User};
use super::{invites, write_transaction, Db, StorageError};

/// Why a registration was refused by the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Taken(Taken),
    /// No such invite, used up, or expired; with the names that are taken
    /// too, so both are reported at once.
    Invite(Taken),
}

/// Inserts a user, first taking one use of the invite with `invite_hash`
/// when one is needed. Both or neither: a refused name gives the use back.
pub fn register(
    conn: &mut Connection,
    username: &str,
    email: &str,
    password_hash: &str,
    invite_hash: Option<&str>,
) -> rusqlite::Result<Result<User, Refusal>> {
    let tx = write_transaction(conn)?;
    if let Some(hash) = invite_hash {
        if !invites::consume(&tx, hash)? {
            let taken = users::taken(&tx, username, email)?;
            return Ok(Err(Refusal::Invite(taken)));
        }
    }
    match users::insert(&tx, username, email, password_hash) {
        Ok(user) => {
            tx.commit()?;
            Ok(Ok(user))
        }
        Err(InsertError::Taken(taken)) => Ok(Err(Refusal::Taken(taken))),
        Err(InsertError::Db(error)) => Err(error),
    }
}

/// Suspends `username` with `reason` (`suspend`) or lifts the suspension,
/// if `check` (given the user and how many active staff users there are)
/// allows it; recorded as `actor`'s. `None` when there is no such user.
pub fn set_suspended<E>(
    conn: &mut Connection,
    username: &str,
    suspend: bool,
    reason: Option<&str>,
    actor: &str,
    check: impl FnOnce(&User, u64) -> Result<(), E>,
) -> rusqlite::Result<Option<Result<User, E>>> {
    change_user(conn, username, check, |tx, target| {
        users::set_active(tx, target.id, !suspend, reason.filter(|_| suspend))?;
        let (action, detail) = if suspend {
            ("user.suspend", reason.unwrap_or_default())
        } else {
            ("user.unsuspend", "")
        };
        audit::record(tx, actor, action, &target.username, detail)
    })
}

/// Makes `username` staff or not, if `check` allows it (as in
/// [`set_suspended`]).
pub fn set_staff<E>(
    conn: &mut Connection,
    username: &str,
    staff: bool,
    actor: &str,
    check: impl FnOnce(&User, u64) -> Result<(), E>,
) -> rusqlite::Result<Option<Result<User, E>>> {
    change_user(conn, username, check, |tx, target| {
        users::set_staff(tx, target.id, staff)?;
        let detail = if staff { "on" } else { "off" };
        audit::record(tx, actor, "user.set_staff", &target.username, detail)
    })
}

/// In one transaction: finds `username`, asks `check` (with the number of
/// active staff users), makes the `change`, and reads the user back.
fn change_user<E>(
    conn: &mut Connection,
    username: &str,
    check: impl FnOnce(&User, u64) -> Result<(), E>,
    change: impl FnOnce(&Connection, &User) -> rusqlite::Result<()>,
) -> rusqlite::Result<Option<Result<User, E>>> {
    let tx = write_transaction(conn)?;
    let Some(target) = users::find_by_username(&tx, username)? else {
        return Ok(None);
    };
    if let Err(refusal) = check(&target, users::active_staff_count(&tx)?) {
        return Ok(Some(Err(refusal)));
    }
    change(&tx, &target)?;
    let user = users::get(&tx, target.id)?;
    tx.commit()?;
    Ok(user.map(Ok))
}

/// Stores an invite (by the hash of its code) and records it; returns its id.
pub fn create_invite(
    conn: &mut Connection,
    code_hash: &str,
    uses: u32,
    expires_at: &str,
    actor: &str,
) -> rusqlite::Result<i64> {
    let tx = write_transaction(conn)?;
    let id = invites::insert(&tx, code_hash, uses, expires_at, actor)?;
    let detail = format!("uses {uses}, expires {expires_at}");
    audit::record(
        &tx,
        actor,
        "invite.create",
        &format!("invite {id}"),
        &detail,
    )?;
    tx.commit()?;
    Ok(id)
}

impl Db {
    /// [`register`] on the blocking pool.
    pub async fn register_user(
        &self,
        username: String,
        email: String,
        password_hash: String,
        invite_hash: Option<String>,
    ) -> Result<Result<User, Refusal>, StorageError> {
        self.run(move |conn| {
            Ok(register(
                conn,
                &username,
                &email,
                &password_hash,
                invite_hash.as_deref(),
            )?)
        })
        .await
    }

    /// Whether the invite with `code_hash` could be used now (a read: see
    /// [`invites::usable`]).
    pub async fn invite_usable(&self, code_hash: String) -> Result<bool, StorageError> {
        self.run(move |conn| Ok(invites::usable(conn, &code_hash)?))
            .await
    }

    /// [`set_suspended`] on the blocking pool.
    pub async fn set_suspended<E: Send + 'static>(
        &self,
        username: String,
        suspend: bool,
        reason: Option<String>,
        actor: String,
        check: impl FnOnce(&User, u64) -> Result<(), E> + Send + 'static,
    ) -> Result<Option<Result<User, E>>, StorageError> {
        self.run(move |conn| {
            Ok(set_suspended(
                conn,
                &username,
                suspend,
                reason.as_deref(),
                &actor,
                check,
            )?)
        })
        .await
    }

    /// [`create_invite`] on the blocking pool.
    pub async fn create_invite(
        &self,
        code_hash: String,
        uses: u32,
        expires_at: String,
        actor: String,
    ) -> Result<i64, StorageError> {
        self.run(move |conn| Ok(create_invite(conn, &code_hash, uses, &expires_at, &actor)?))
            .await
    }

    /// Records an action that was committed on its own.
    pub async fn record(
        &self,
        actor: String,
        action: &'static str,
        target: String,
        detail: String,
    ) -> Result<(), StorageError> {
        self.run(move |conn| Ok(audit::record(conn, &actor, action, &target, &detail)?))
            .await
    }

    /// Users oldest first, with when each joined; `page` picks the offset
    /// from the count.
    pub async fn users<E: From<StorageError> + Send + 'static>(
        &self,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Counted<(User, String)>, E> {
        self.run_listed(users::count, page, move |conn, offset| {
            users::page(conn, offset, limit)
        })
        .await
    }

    /// The audit log, newest first; `page` picks the offset from the count.
    pub async fn audit<E: From<StorageError> + Send + 'static>(
        &self,
        page: impl FnOnce(u64) -> Result<u64, E> + Send + 'static,
        limit: u64,
    ) -> Result<Counted<Entry>, E> {
        self.run_listed(audit::count, page, move |conn, offset| {
            audit::page(conn, offset, limit)
        })
        .await
    }
}
