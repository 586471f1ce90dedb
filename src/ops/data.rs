//! Operator commands that work on a data directory, whether or not a server
//! is running on it: `chatd backup`, `chatd check` and `chatd user ...`.
//! They print a short report and return whether everything went well.

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use crate::storage::media::FOLDERS;
use crate::storage::{self, users};

/// `chatd backup <file>`: a consistent copy of the live database (SQLite's
/// online backup API, in one step, so the copy is one snapshot even while
/// the server writes), and with `media_to` a copy of the media folder.
pub fn backup(data_dir: &Path, file: &Path, media_to: Option<&Path>) -> anyhow::Result<()> {
    let db = data_dir.join("chat.db");
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    anyhow::ensure!(
        !file.exists(),
        "{} exists already; choose a new file",
        file.display()
    );
    let source = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", db.display()))?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut target =
        Connection::open(file).with_context(|| format!("cannot create {}", file.display()))?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
        backup.step(-1)?;
    }
    let check: String = target.query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
    anyhow::ensure!(
        check == "ok",
        "the copy failed its integrity check: {check}"
    );
    println!("database copied to {}", file.display());
    if let Some(media_to) = media_to {
        let copied = copy_media(&data_dir.join("media"), media_to)?;
        println!("{copied} media files copied to {}", media_to.display());
    }
    Ok(())
}

fn copy_media(from: &Path, to: &Path) -> anyhow::Result<usize> {
    let mut copied = 0;
    for folder in FOLDERS {
        let target = to.join(folder);
        std::fs::create_dir_all(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        let Ok(entries) = std::fs::read_dir(from.join(folder)) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            // Skip half-written uploads (see media::write_atomically).
            if entry.file_type()?.is_file() && !name.to_string_lossy().ends_with(".part") {
                std::fs::copy(entry.path(), target.join(&name))?;
                copied += 1;
            }
        }
    }
    Ok(copied)
}

/// `chatd check`: SQLite's integrity and foreign-key checks, and that every
/// image the database names exists. Returns true when all is well.
pub fn check(data_dir: &Path) -> anyhow::Result<bool> {
    let db = data_dir.join("chat.db");
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut healthy = true;
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if integrity == ["ok"] {
        println!("ok    integrity");
    } else {
        healthy = false;
        println!("FAIL  integrity: {}", integrity.join("; "));
    }
    let broken: i64 =
        conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })?;
    if broken == 0 {
        println!("ok    foreign keys");
    } else {
        healthy = false;
        println!("FAIL  foreign keys: {broken} rows point at missing rows");
    }
    let files: Vec<String> = conn
        .prepare("SELECT img FROM chats WHERE img IS NOT NULL UNION ALL SELECT avatar FROM users WHERE avatar IS NOT NULL")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !data_dir.join("media").join(f).is_file())
        .collect();
    if missing.is_empty() {
        println!("ok    media ({} files)", files.len());
    } else {
        healthy = false;
        println!(
            "FAIL  media: {} missing, e.g. {}",
            missing.len(),
            missing[0]
        );
    }
    Ok(healthy)
}

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

fn open(data_dir: &Path) -> anyhow::Result<Connection> {
    let db = data_dir.join("chat.db");
    anyhow::ensure!(db.exists(), "no database at {}", db.display());
    storage::connect(&db)
}

fn find(conn: &Connection, username: &str) -> anyhow::Result<users::User> {
    users::find_by_login(conn, username)?.ok_or_else(|| anyhow::anyhow!("no user {username}"))
}

/// `chatd user create`: the same rules as `POST /api/register/`.
pub fn create_user(
    data_dir: &Path,
    username: &str,
    email: &str,
    password: Option<String>,
) -> anyhow::Result<()> {
    let password = password_from(password)?;
    let registration =
        crate::domain::accounts::new_account(username, email, &password).map_err(|errors| {
            anyhow::anyhow!("{}", serde_json::to_string(&errors).unwrap_or_default())
        })?;
    let conn = open(data_dir)?;
    let hash = crate::auth::hash_password(&registration.password)?;
    match users::insert(&conn, &registration.username, &registration.email, &hash) {
        Ok(user) => {
            println!("created user {} (id {})", user.username, user.id);
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
    let conn = open(data_dir)?;
    let user = find(&conn, username)?;
    let problems = crate::domain::accounts::password_problems(
        &password,
        Some(&user.username),
        Some(&user.email),
    );
    anyhow::ensure!(problems.is_empty(), "{}", problems.join(" "));
    let hash = crate::auth::hash_password(&password)?;
    users::set_password(&conn, user.id, &hash)?;
    println!(
        "password of {} changed; their tokens no longer work",
        user.username
    );
    Ok(())
}

/// `chatd user delete`: the account, its chats, messages and images.
pub fn delete_user(data_dir: &Path, username: &str) -> anyhow::Result<()> {
    let mut conn = open(data_dir)?;
    let user = find(&conn, username)?;
    let deleted =
        users::delete(&mut conn, user.id)?.ok_or_else(|| anyhow::anyhow!("no user {username}"))?;
    let media = crate::storage::media::Media::open(data_dir.join("media"))?;
    for file in &deleted.files {
        media.remove(file);
    }
    println!(
        "deleted {} and {} chats",
        user.username,
        deleted.chat_ids.len()
    );
    Ok(())
}

/// `chatd user list`.
pub fn list_users(data_dir: &Path) -> anyhow::Result<()> {
    let conn = open(data_dir)?;
    println!(
        "{:>6}  {:<24} {:<32} {:>5}  joined",
        "id", "username", "email", "chats"
    );
    for (user, joined, chats) in users::list(&conn)? {
        println!(
            "{:>6}  {:<24} {:<32} {:>5}  {}",
            user.id, user.username, user.email, chats, joined
        );
    }
    Ok(())
}
