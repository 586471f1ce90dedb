//! Storage: the SQLite database (schema, migrations, connection pool) and the
//! queries of each table (`users`, `chats`).
//!
//! SQLite calls block, so they never run on the async worker threads:
//! [`Db::run`] hands a closure and a pooled connection to tokio's blocking
//! pool and awaits the result.

pub mod chats;
pub mod community;
mod error;
pub mod media;
pub mod messages;
pub mod store;
pub mod users;

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode};

pub use error::StorageError;

/// The schema of the newest version, applied idempotently at every start.
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// The version [`SCHEMA`] describes, recorded in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 2;

/// Steps that bring a database of version `i + 1` to version `i + 2`.
/// Each is frozen once released; a schema change appends its step here (a
/// file under `migrations/`) and updates schema.sql to the newest shape.
const MIGRATIONS: &[&str] = &[include_str!("migrations/002_community.sql")];

/// A pool of SQLite connections to one database file.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        // WAL lets readers work while one writer commits; it is a property of
        // the file, so set it once here rather than on every connection.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        configure(&conn)?;
        migrate(&mut conn)?;
        drop(conn);

        let manager = SqliteConnectionManager::file(path).with_init(|conn| configure(conn));
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(manager)
            .context("cannot open the database connection pool")?;
        Ok(Db { pool })
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(StorageError::other)?
    }
}

/// A connection of its own (the message writer keeps one), configured like
/// the pooled ones.
pub fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    configure(&conn)?;
    Ok(conn)
}

/// A transaction that takes the write lock when it begins (waiting for it
/// up to the busy timeout), for writes that read first: a deferred one
/// would read from a snapshot, and if another connection committed before
/// its first write, SQLite fails it with `SQLITE_BUSY` at once rather than
/// let it wait.
pub fn write_transaction(conn: &mut Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
}

/// True when `error` is a FOREIGN KEY constraint violation.
pub fn is_foreign_key_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}

/// Settings every connection needs.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         -- FULL: a write acknowledged to a client survives a power cut.
         PRAGMA synchronous = FULL;",
    )
}

/// Creates the schema on a new database and migrates an older one.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    anyhow::ensure!(
        version <= SCHEMA_VERSION,
        "the database is of schema version {version}, newer than this chatd knows \
         ({SCHEMA_VERSION}); run a newer chatd"
    );
    let tx = conn.transaction()?;
    if version > 0 {
        for (index, step) in MIGRATIONS.iter().enumerate().skip(version as usize - 1) {
            tx.execute_batch(step)
                .with_context(|| format!("migration to schema version {}", index + 2))?;
        }
    }
    tx.execute_batch(SCHEMA).context("applying schema.sql")?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// True when `error` is a UNIQUE constraint violation.
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::ConstraintViolation
                && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// `at` as timestamps are stored and shown: UTC, microseconds, `Z` suffix
/// (`2023-08-03T08:51:26.593514Z`): written once, so every row agrees.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The current time as [`timestamp`] writes it.
pub fn now_timestamp() -> String {
    timestamp(chrono::Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn opening_twice_keeps_the_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        Db::open(&path).unwrap();
        Db::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let error = Db::open(&path).err().expect("must refuse");
        assert!(error.to_string().contains("newer"), "{error}");
    }

    #[test]
    fn a_version_1_database_migrates_and_its_messages_become_searchable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(include_str!("../../tests/fixtures/schema_v1.sql"))
                .unwrap();
            conn.execute_batch(
                "PRAGMA user_version = 1;
                 INSERT INTO users (username, username_key, email, email_key, password_hash, created_at)
                 VALUES ('nik', 'nik', 'n@x.io', 'n@x.io', '-', '2023-01-01T00:00:00.000000Z');
                 INSERT INTO chats (room, title, description, creator_id, created_at)
                 VALUES ('books', 'Crème brûlée', 'Desserts', 1, '2023-01-01T00:00:00.000000Z');
                 INSERT INTO messages (chat_id, user_id, text, created_at)
                 VALUES (1, 1, 'Déjà vu', '2023-01-01T00:00:00.000000Z');",
            )
            .unwrap();
        }
        Db::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        assert_eq!(user_version(&conn), SCHEMA_VERSION);
        let found = |index: &str, word: &str| -> i64 {
            let sql = format!("SELECT rowid FROM {index} WHERE {index} MATCH '\"{word}\"*'");
            conn.query_row(&sql, [], |row| row.get(0)).unwrap()
        };
        assert_eq!(found("messages_fts", "deja"), 1);
        assert_eq!(found("chats_fts", "creme"), 1);
        let message = messages::get(&conn, 1).unwrap().unwrap();
        assert_eq!(message.image, None);
        assert!(message.reactions.is_empty() && message.mentions.is_empty());
        conn.execute(
            "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
    }

    #[test]
    fn timestamps_have_microseconds_and_z() {
        let ts = now_timestamp();
        assert_eq!(ts.len(), "2023-08-03T08:51:26.593514Z".len(), "{ts}");
        assert!(ts.ends_with('Z'));
    }
}
