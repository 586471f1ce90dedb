//! Storage: the SQLite database (schema, migrations, its threads) and the
//! queries of each table (`users`, `chats`).
//!
//! SQLite calls block, so they never run on the async worker threads:
//! [`Db::run`] hands a closure to one of a few reader threads (see
//! `lanes`), and [`Db::write`] to the one thread that makes the writes of
//! [`store`], committing the calls that wait together (see
//! `write_lane`), and awaits the result.

pub mod admin;
pub mod audit;
pub mod chats;
pub mod community;
mod error;
pub mod invites;
mod lanes;
pub mod media;
pub mod messages;
mod opening;
pub mod search;
pub mod search_index;
pub mod store;
pub mod users;
pub mod versions;
mod write_lane;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, ErrorCode};

pub use error::StorageError;
pub use opening::{explain_damage, no_database, refuse_a_lost_database, NoDatabase};
pub use write_lane::{write_transaction, WriteTransaction};

/// The schema of the newest version, applied idempotently at every start.
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// The version [`SCHEMA`] describes, recorded in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 4;

/// Steps that bring a database of version `i + 1` to version `i + 2`.
/// Each is frozen once released; a schema change appends its step here (a
/// file under `migrations/` or a short statement) and updates schema.sql to
/// the newest shape. New tables need no step: schema.sql creates them; a
/// step adds what `CREATE TABLE IF NOT EXISTS` cannot.
const MIGRATIONS: &[&str] = &[
    // v1 -> v2: community features
    include_str!("migrations/002_community.sql"),
    // v2 -> v3: moderation (staff, suspensions)
    "ALTER TABLE users ADD COLUMN is_staff INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1));
     ALTER TABLE users ADD COLUMN is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1));
     ALTER TABLE users ADD COLUMN suspension_reason TEXT;",
    // v3 -> v4: the search index follows the writer (storage/search_index.rs);
    // everything there is is indexed already. schema.sql recreates the
    // triggers, now for indexed messages only.
    "CREATE TABLE search_progress (
         id           INTEGER PRIMARY KEY CHECK (id = 1),
         indexed_upto INTEGER NOT NULL
     );
     INSERT INTO search_progress VALUES (1, (SELECT COALESCE(MAX(id), 0) FROM messages));
     DROP TRIGGER messages_fts_insert;
     DROP TRIGGER messages_fts_delete;
     DROP TRIGGER messages_fts_update;",
];

/// How long a write waits for a lock another process holds before it
/// fails with [`StorageError::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The threads that read and write one database file. Cloning is cheap;
/// the threads end when the last clone is dropped.
#[derive(Clone)]
pub struct Db {
    lanes: Arc<Lanes>,
}

struct Lanes {
    reads: lanes::Lane,
    /// One thread: SQLite lets one connection write at a time, so more
    /// would only wait on each other's locks (and hold up reads meanwhile).
    writes: write_lane::WriteLane,
    versions: Arc<versions::Versions>,
}

/// How many reader threads: one per core, at least 2 (a read that waits
/// on the disk must not stop the others), at most 4.
fn reader_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 4)
}

impl Db {
    /// Opens (creating if needed) the database at `path` and brings its schema
    /// up to date. A file that cannot be opened fails with one line that
    /// names it, says what is wrong and what to do (see `explain`).
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        prepare(path).map_err(|error| opening::explain(path, error))?;

        let versions = Arc::new(versions::Versions::default());
        versions::watch(path, Arc::downgrade(&versions))?;
        let lanes = Lanes {
            reads: lanes::Lane::start(path, "chatd-read", reader_threads())?,
            writes: write_lane::WriteLane::start(path, "chatd-write")?,
            versions,
        };
        Ok(Db {
            lanes: Arc::new(lanes),
        })
    }

    /// Runs `f` (reads) on one of the reader threads' connections.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        self.lanes.reads.run(f).await
    }

    /// What cached pages check their freshness against; every write of
    /// this database bumps it (see [`versions`]).
    pub fn versions(&self) -> &Arc<versions::Versions> {
        &self.lanes.versions
    }

    /// Runs `f` (a write) on the writing thread's connection, inside a
    /// savepoint of a transaction other waiting writes may share; answers
    /// once that is committed. A write that fails takes back only its own
    /// changes.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        self.lanes.writes.run(f).await
    }
}

/// Sets WAL mode and brings the schema up to date.
fn prepare(path: &Path) -> anyhow::Result<()> {
    let mut conn = Connection::open(path)?;
    // WAL lets readers work while one writer commits; it is a property of
    // the file, so set it once here rather than on every connection.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    configure(&conn)?;
    migrate(&mut conn)
}

/// A connection of its own (the message writer keeps one), configured like
/// the ones of [`Db`]'s threads.
pub fn connect(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    configure(&conn)?;
    Ok(conn)
}

/// SQLite's `PRAGMA data_version`: changes whenever another connection
/// (another process too, such as `chatd user delete`) commits.
pub fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0))
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
    conn.busy_timeout(BUSY_TIMEOUT)?;
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

    /// A user in a database of schema version 1 (the schema itself is
    /// `tests/fixtures/schema_v1.sql`).
    const USER_V1: &str = "INSERT INTO users (username, username_key, email, email_key, password_hash, created_at)
        VALUES ('old', 'old', 'old@example.com', 'old@example.com', 'h', '2023-01-01T00:00:00.000000Z');
        PRAGMA user_version = 1;";

    #[test]
    fn a_version_1_database_is_migrated_keeping_its_users() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../../tests/fixtures/schema_v1.sql"))
            .unwrap();
        conn.execute_batch(USER_V1).unwrap();
        drop(conn);
        Db::open(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let user = users::find_by_login(&conn, "old").unwrap().unwrap();
        assert!(!user.is_staff);
        assert!(user.is_active);
        assert_eq!(user.suspension_reason, None);
        for table in ["invites", "audit_log", "chats", "messages"] {
            let exists: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1)",
                    [table],
                    |row| row.get(0),
                )
                .unwrap();
            assert!(exists, "{table}");
        }
        // A second start has nothing left to migrate.
        drop(conn);
        Db::open(&path).unwrap();
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
