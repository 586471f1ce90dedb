//! `chatd user list|create|set-password|delete`: managing accounts
//! without SQL, under the same rules as the API, whether or not a server
//! is running on the data directory. Every change is in the audit log.
//! (Staff status and suspensions are in [`super::moderation`].)

use std::io::BufRead;
use std::path::Path;

use rusqlite::Connection;

use crate::ops::out::outln;
use crate::storage::{audit, users};

/// The password from `given`, else one line of standard input.
fn password_from(given: Option<String>) -> anyhow::Result<String> {
    if let Some(password) = given {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(
        !password.is_empty(),
        "no password given (use --password, CHATD_USER_PASSWORD or standard input)"
    );
    Ok(password)
}

pub(super) fn find(conn: &Connection, username: &str) -> anyhow::Result<users::User> {
    users::find_by_login(conn, username)?.ok_or_else(|| anyhow::anyhow!("no user {username}"))
}

/// `chatd user create`: the same rules as `POST /api/register/`.
pub fn create_user(
    data_dir: &Path,
    username: &str,
    email: &str,
    password: Option<String>,
    staff: bool,
) -> anyhow::Result<()> {
    let password = password_from(password)?;
    let registration =
        crate::domain::accounts::new_account(username, email, &password).map_err(|errors| {
            anyhow::anyhow!("{}", serde_json::to_string(&errors).unwrap_or_default())
        })?;
    let mut conn = super::open(data_dir)?;
    let hash = crate::auth::hash_password(&registration.password)?;
    let tx = crate::storage::write_transaction(&mut conn)?;
    match users::insert(&tx, &registration.username, &registration.email, &hash) {
        Ok(user) => {
            users::set_staff(&tx, user.id, staff)?;
            let detail = if staff { "staff" } else { "" };
            audit::record(
                &tx,
                audit::COMMAND_LINE,
                "user.create",
                &user.username,
                detail,
            )?;
            tx.commit()?;
            let kind = if staff { "staff user" } else { "user" };
            outln!("created {kind} {} (id {})", user.username, user.id);
            Ok(())
        }
        Err(users::InsertError::Taken(taken)) => {
            let errors = crate::domain::accounts::taken_errors(taken);
            anyhow::bail!("{}", serde_json::to_string(&errors).unwrap_or_default())
        }
        Err(users::InsertError::Db(error)) => Err(error.into()),
    }
}

/// `chatd user set-password`: checks the password rules, stores the new
/// hash, and revokes every token the user had.
pub fn set_password(
    data_dir: &Path,
    username: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let password = password_from(password)?;
    let conn = super::open(data_dir)?;
    let user = find(&conn, username)?;
    let problems = crate::domain::accounts::password_problems(
        &password,
        Some(&user.username),
        Some(&user.email),
    );
    anyhow::ensure!(problems.is_empty(), "{}", problems.join(" "));
    let hash = crate::auth::hash_password(&password)?;
    users::set_password(&conn, user.id, &hash)?;
    audit::record(
        &conn,
        audit::COMMAND_LINE,
        "user.set_password",
        &user.username,
        "",
    )?;
    outln!(
        "password of {} changed; their tokens no longer work",
        user.username
    );
    Ok(())
}

/// `chatd user delete`: the account, its chats, messages and images.
pub fn delete_user(data_dir: &Path, username: &str) -> anyhow::Result<()> {
    let mut conn = super::open(data_dir)?;
    let user = find(&conn, username)?;
    let deleted =
        users::delete(&mut conn, user.id)?.ok_or_else(|| anyhow::anyhow!("no user {username}"))?;
    let detail = format!("{} chats", deleted.chat_ids.len());
    audit::record(
        &conn,
        audit::COMMAND_LINE,
        "user.delete",
        &user.username,
        &detail,
    )?;
    let media = crate::storage::media::Media::open(data_dir.join("media"))?;
    for file in &deleted.files {
        media.remove(file);
    }
    outln!(
        "deleted {} and {} chats",
        user.username,
        deleted.chat_ids.len()
    );
    Ok(())
}

/// `chatd user list`.
pub fn list_users(data_dir: &Path) -> anyhow::Result<()> {
    let conn = super::open(data_dir)?;
    outln!(
        "{:>6}  {:<24} {:<32} {:>5}  {:<27}  status",
        "id",
        "username",
        "email",
        "chats",
        "joined"
    );
    for (user, joined, chats) in users::list(&conn)? {
        let mut status = Vec::new();
        if user.is_staff {
            status.push("staff".to_string());
        }
        if !user.is_active {
            let reason = user
                .suspension_reason
                .as_deref()
                .unwrap_or("no reason given");
            status.push(format!("suspended ({reason})"));
        }
        outln!(
            "{:>6}  {:<24} {:<32} {:>5}  {:<27}  {}",
            user.id,
            user.username,
            user.email,
            chats,
            joined,
            status.join(", ")
        );
    }
    Ok(())
}
