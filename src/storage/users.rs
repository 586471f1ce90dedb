//! Queries of the `users` table.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{is_unique_violation, now_timestamp};

/// A stored user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    /// Media path of the avatar, if one was uploaded.
    pub avatar: Option<String>,
    /// Tokens issued under another version are no longer valid.
    pub token_version: i64,
    /// May change anyone's chats and messages, and use `/api/admin/`.
    pub is_staff: bool,
    /// False while suspended: tokens and logins are refused.
    pub is_active: bool,
    pub suspension_reason: Option<String>,
}

const COLUMNS: &str =
    "id, username, email, password_hash, avatar, token_version, is_staff, is_active, suspension_reason";
/// How many columns [`COLUMNS`] selects; queries add theirs after them.
const COLUMN_COUNT: usize = 9;

fn from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        password_hash: row.get(3)?,
        avatar: row.get(4)?,
        token_version: row.get(5)?,
        is_staff: row.get(6)?,
        is_active: row.get(7)?,
        suspension_reason: row.get(8)?,
    })
}

/// The key that makes usernames and e-mails unique regardless of case.
pub fn key(text: &str) -> String {
    text.to_lowercase()
}

/// Which of a new user's names are taken already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    pub username: bool,
    pub email: bool,
}

impl Taken {
    pub fn any(self) -> bool {
        self.username || self.email
    }
}

/// Why a user could not be inserted.
#[derive(Debug)]
pub enum InsertError {
    /// Username or e-mail taken.
    Taken(Taken),
    Db(rusqlite::Error),
}

/// Whether `username` or `email` is taken, case-insensitively.
pub fn taken(conn: &Connection, username: &str, email: &str) -> rusqlite::Result<Taken> {
    let exists = |column: &str, value: &str| -> rusqlite::Result<bool> {
        conn.query_row(
            &format!("SELECT EXISTS (SELECT 1 FROM users WHERE {column} = ?1)"),
            [value],
            |row| row.get(0),
        )
    };
    Ok(Taken {
        username: exists("username_key", &key(username))?,
        email: exists("email_key", &key(email))?,
    })
}

/// Inserts a user whose fields were validated already.
pub fn insert(
    conn: &Connection,
    username: &str,
    email: &str,
    password_hash: &str,
) -> Result<User, InsertError> {
    let names = taken(conn, username, email).map_err(InsertError::Db)?;
    if names.any() {
        return Err(InsertError::Taken(names));
    }
    let result = conn.execute(
        "INSERT INTO users (username, username_key, email, email_key, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            username,
            key(username),
            email,
            key(email),
            password_hash,
            now_timestamp()
        ],
    );
    match result {
        Ok(_) => Ok(User {
            id: conn.last_insert_rowid(),
            username: username.to_string(),
            email: email.to_string(),
            password_hash: password_hash.to_string(),
            avatar: None,
            token_version: 0,
            is_staff: false,
            is_active: true,
            suspension_reason: None,
        }),
        // Another request took the name between our check and the insert.
        Err(error) if is_unique_violation(&error) => {
            let names = taken(conn, username, email).map_err(InsertError::Db)?;
            Err(InsertError::Taken(names))
        }
        Err(error) => Err(InsertError::Db(error)),
    }
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()
}

/// The user whose username or e-mail is `login`, case-insensitively.
pub fn find_by_login(conn: &Connection, login: &str) -> rusqlite::Result<Option<User>> {
    let login = key(login);
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE username_key = ?1
         UNION ALL
         SELECT {COLUMNS} FROM users WHERE email_key = ?1
         LIMIT 1"
    ))?
    .query_row([login], from_row)
    .optional()
}

/// Sets the avatar and returns the previous one.
pub fn set_avatar(
    conn: &mut Connection,
    id: i64,
    avatar: Option<&str>,
) -> rusqlite::Result<Option<String>> {
    let tx = super::write_transaction(conn)?;
    let old: Option<String> =
        tx.query_row("SELECT avatar FROM users WHERE id = ?1", [id], |row| {
            row.get(0)
        })?;
    tx.execute(
        "UPDATE users SET avatar = ?2 WHERE id = ?1",
        params![id, avatar],
    )?;
    tx.commit()?;
    Ok(old)
}

/// What deleting a user removed with it: files to delete and chats whose
/// sockets must be told.
#[derive(Debug, Default)]
pub struct Deleted {
    pub files: Vec<String>,
    pub chat_ids: Vec<i64>,
}

/// Deletes a user with their chats and messages (the schema cascades).
/// `Ok(None)` when there was no such user.
pub fn delete(conn: &mut Connection, id: i64) -> rusqlite::Result<Option<Deleted>> {
    let tx = super::write_transaction(conn)?;
    let Some(avatar) = tx
        .query_row("SELECT avatar FROM users WHERE id = ?1", [id], |row| {
            row.get::<_, Option<String>>(0)
        })
        .optional()?
    else {
        return Ok(None);
    };
    let mut deleted = Deleted::default();
    let mut chats = tx.prepare("SELECT id, img FROM chats WHERE creator_id = ?1")?;
    for row in chats.query_map([id], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?))
    })? {
        let (chat_id, img) = row?;
        deleted.chat_ids.push(chat_id);
        deleted.files.extend(img);
        deleted
            .files
            .extend(super::messages::images(&tx, chat_id, 0)?);
    }
    drop(chats);
    deleted.files.extend(super::messages::images(&tx, 0, id)?);
    deleted.files.extend(avatar);
    tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(Some(deleted))
}

/// Sets a new password hash and invalidates every token issued before.
/// Returns false when there is no such user.
pub fn set_password(conn: &Connection, id: i64, password_hash: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE users SET password_hash = ?2, token_version = token_version + 1 WHERE id = ?1",
        params![id, password_hash],
    )?;
    Ok(changed == 1)
}

/// The token versions of those of `ids` that still exist, by id.
pub fn token_versions(
    conn: &Connection,
    ids: &[i64],
) -> rusqlite::Result<std::collections::HashMap<i64, i64>> {
    let mut versions = std::collections::HashMap::with_capacity(ids.len());
    // In chunks: well below SQLite's limit on bound parameters.
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut statement = conn.prepare_cached(&format!(
            "SELECT id, token_version FROM users WHERE id IN ({marks})"
        ))?;
        let rows = statement.query_map(rusqlite::params_from_iter(chunk), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        for row in rows {
            let (id, version) = row?;
            versions.insert(id, version);
        }
    }
    Ok(versions)
}

/// Every user, oldest first, with how many chats each created.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<(User, String, u64)>> {
    conn.prepare(&format!(
        "SELECT {COLUMNS}, created_at, (SELECT COUNT(*) FROM chats c WHERE c.creator_id = users.id)
         FROM users ORDER BY id"
    ))?
    .query_map([], |row| {
        Ok((
            from_row(row)?,
            row.get(COLUMN_COUNT)?,
            row.get(COLUMN_COUNT + 1)?,
        ))
    })?
    .collect()
}

/// The user named `username`, case-insensitively (e-mails do not count).
pub fn find_by_username(conn: &Connection, username: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE username_key = ?1"
    ))?
    .query_row([key(username)], from_row)
    .optional()
}

/// Makes a user staff or not.
pub fn set_staff(conn: &Connection, id: i64, staff: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET is_staff = ?2 WHERE id = ?1",
        params![id, staff],
    )?;
    Ok(())
}

/// Suspends a user (`active` false, with a reason) or lifts the suspension.
/// Either way every token they hold stops working: a suspension must end
/// their sessions (sockets watch the version), and after one a user logs in
/// afresh.
pub fn set_active(
    conn: &Connection,
    id: i64,
    active: bool,
    reason: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET is_active = ?2, suspension_reason = ?3,
                          token_version = token_version + 1
         WHERE id = ?1",
        params![id, active, reason],
    )?;
    Ok(())
}

/// How many users are staff and not suspended.
pub fn active_staff_count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT COUNT(*) FROM users WHERE is_staff = 1 AND is_active = 1",
        [],
        |row| row.get(0),
    )
}

/// How many users there are.
pub fn count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM users", [], |row| row.get(0))
}

/// A page of users, oldest first, each with when they joined.
pub fn page(conn: &Connection, offset: u64, limit: u64) -> rusqlite::Result<Vec<(User, String)>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, created_at FROM users ORDER BY id LIMIT ?1 OFFSET ?2"
    ))?
    .query_map(params![limit, offset], |row| {
        Ok((from_row(row)?, row.get(COLUMN_COUNT)?))
    })?
    .collect()
}
