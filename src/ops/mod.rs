//! What each command of the binary does: serve (the default), the
//! deployment check, and the operator commands that work on a data
//! directory whether or not a server runs on it (backup, check, user,
//! invite, audit); they print a short report.
//!
//! Library code never exits the process: [`run`] returns the exit status
//! and `main` exits with it, so every command can be called from tests.
//! Commands print with `out::outln!` and `out::errln!`, which a pipe closed
//! early cannot panic.

pub mod backup;
pub mod check;
pub mod demo;
pub mod doctor;
pub mod moderation;
mod out;
pub mod png;
pub mod serve;
pub mod users;

pub use out::print_error_line;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use crate::cli::{Cli, Command, InviteAction, UserAction};
use crate::storage::{no_database, NoDatabase};

/// Runs the command the command line names. An error means exit status 1
/// with the error printed; `Ok` carries the status of a command that ran
/// to the end (`doctor` and `check` fail with 1 when they find a problem).
/// A reader that closed standard output early is no error (see `out`).
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let status = run_command(cli).await?;
    out::finish()?;
    Ok(status)
}

async fn run_command(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Some(Command::Doctor { url }) => return Ok(status(doctor::run(url).await)),
        Some(Command::Backup {
            file,
            with_media,
            data,
        }) => backup::backup(&data.data_dir, file, with_media.as_deref())?,
        Some(Command::Check { data }) => return Ok(status(check::check(&data.data_dir)?)),
        Some(Command::User { action, data }) => {
            let dir = &data.data_dir;
            match action {
                UserAction::List => users::list_users(dir)?,
                UserAction::Create {
                    username,
                    email,
                    password,
                    staff,
                } => users::create_user(dir, username, email, password.clone(), *staff)?,
                UserAction::SetStaff { username, staff } => {
                    moderation::set_staff(dir, username, *staff)?
                }
                UserAction::Suspend { username, reason } => {
                    moderation::suspend(dir, username, true, reason.as_deref())?
                }
                UserAction::Unsuspend { username } => {
                    moderation::suspend(dir, username, false, None)?
                }
                UserAction::SetPassword { username, password } => {
                    users::set_password(dir, username, password.clone())?
                }
                UserAction::Delete { username } => users::delete_user(dir, username)?,
            }
        }
        Some(Command::Invite { action, data }) => match action {
            InviteAction::Create { uses, expires } => {
                moderation::create_invite(&data.data_dir, *uses, *expires)?
            }
        },
        Some(Command::Audit { limit, data }) => moderation::print_audit(&data.data_dir, *limit)?,
        Some(Command::Serve(_)) | None => {
            let config = cli.into_serve_args().into_config()?;
            serve::run(config).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// 0 when a check found nothing wrong, else 1.
fn status(healthy: bool) -> ExitCode {
    if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The database of `data_dir`. Operator commands never create one: a
/// mistyped `--data-dir` must fail, not start an empty instance; nor work
/// on an empty file (SQLite would take it for a new database: `backup`
/// would copy nothing, `check` would fail on a missing table).
fn database(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let db = data_dir.join("chat.db");
    match no_database(&db) {
        Some(NoDatabase::Missing) => anyhow::bail!("no database at {}", db.display()),
        Some(NoDatabase::Empty) => {
            anyhow::bail!("{} is empty; restore it from a backup", db.display())
        }
        None => Ok(db),
    }
}

/// Opens the database of `data_dir` to change it, configured like the
/// server's own connections (so a running server's locks are respected).
fn open(data_dir: &Path) -> anyhow::Result<Connection> {
    crate::storage::connect(&database(data_dir)?)
}

/// Opens the database of `data_dir` to read it, waiting out a running
/// server's writes rather than failing with `SQLITE_BUSY`.
fn open_read_only(data_dir: &Path) -> anyhow::Result<Connection> {
    let db = database(data_dir)?;
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", db.display()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}
