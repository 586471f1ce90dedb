//! What a start says about a database file it cannot use: missing or
//! empty beside uploads, damaged, locked or unreadable,
//! each in one line that names the file and the next step.

use std::path::Path;

use rusqlite::ErrorCode;

/// A database file that holds no database yet; SQLite starts a new,
/// empty one in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDatabase {
    Missing,
    /// 0 bytes: truncated, or created by something other than chatd.
    Empty,
}

/// Whether `path` holds no database yet. Anything else (a directory, a
/// file that cannot be read) is for [`Db::open`](super::Db::open) to explain.
pub fn no_database(path: &Path) -> Option<NoDatabase> {
    match std::fs::metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(NoDatabase::Missing),
        Ok(meta) if meta.is_file() && meta.len() == 0 => Some(NoDatabase::Empty),
        _ => None,
    }
}

/// `error`, or when a damaged page caused it, the one line of `explain`:
/// opening reads only the first pages, so damage further in shows up in
/// the first queries of the start (the media sweep, the writer's look at
/// the search index).
pub fn explain_damage(path: &Path, error: anyhow::Error) -> anyhow::Error {
    let damaged = error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rusqlite::Error>(),
            Some(rusqlite::Error::SqliteFailure(failure, _))
                if matches!(failure.code, ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
        )
    });
    if damaged {
        explain(path, error)
    } else {
        error
    }
}

/// Why the database at `path` cannot be opened, in one line that names
/// the file and the next step: `/srv/chat.db is damaged (file is not a
/// database); run `chatd check --data-dir /srv` or restore a backup`.
pub(super) fn explain(path: &Path, error: anyhow::Error) -> anyhow::Error {
    let Some(rusqlite::Error::SqliteFailure(failure, message)) = error
        .chain()
        .find_map(|e| e.downcast_ref::<rusqlite::Error>())
    else {
        return anyhow::anyhow!("cannot open {}: {error:#}", path.display());
    };
    let what = message.clone().unwrap_or_else(|| failure.to_string());
    let dir = path.parent().unwrap_or(Path::new(".")).display();
    let (problem, next) = match failure.code {
        ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => (
            "is damaged",
            format!("run `chatd check --data-dir {dir}` or restore a backup"),
        ),
        ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly => (
            "cannot be opened",
            format!("check that it is a file chatd may read and write, then run `chatd check --data-dir {dir}`"),
        ),
        ErrorCode::DiskFull => ("cannot be opened", "free some disk space".to_string()),
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => (
            "is locked by another process",
            "stop it (another chatd, an sqlite3 shell) and start again".to_string(),
        ),
        _ => (
            "cannot be opened",
            format!("run `chatd check --data-dir {dir}` or restore a backup"),
        ),
    };
    anyhow::anyhow!("{} {problem} ({what}); {next}", path.display())
}

/// Fails when the database file holds no database but the media folder
/// holds uploads: the database was lost (deleted, truncated, not restored),
/// and starting would take it for a new one, whose sweep then removes
/// every upload as named by no row. Nothing is created or removed.
pub fn refuse_a_lost_database(db: &Path, media: &Path) -> anyhow::Result<()> {
    let Some(state) = no_database(db) else {
        return Ok(());
    };
    let uploads = super::media::uploads(media)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", media.display()))?;
    let state = match state {
        NoDatabase::Missing => "is missing",
        NoDatabase::Empty => "is empty",
    };
    anyhow::ensure!(
        uploads == 0,
        "{} {state}, but {} holds {uploads} uploaded file{}; restore chat.db from a backup, \
         or move {} away to start afresh",
        db.display(),
        media.display(),
        if uploads == 1 { "" } else { "s" },
        media.display()
    );
    Ok(())
}
