//! What each command of the binary does: serve (the default), the
//! deployment check, and the operator commands on a data directory.
//!
//! Library code never exits the process: [`run`] returns the exit status
//! and `main` exits with it, so every command can be called from tests.

pub mod data;
pub mod demo;
pub mod doctor;
pub mod png;
pub mod serve;

use std::process::ExitCode;

use crate::cli::{Cli, Command, UserAction};

/// Runs the command the command line names. An error means exit status 1
/// with the error printed; `Ok` carries the status of a command that ran
/// to the end (`doctor` and `check` fail with 1 when they find a problem).
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Some(Command::Doctor { url }) => return Ok(status(doctor::run(url).await)),
        Some(Command::Backup {
            file,
            with_media,
            data,
        }) => data::backup(&data.data_dir, file, with_media.as_deref())?,
        Some(Command::Check { data }) => return Ok(status(data::check(&data.data_dir)?)),
        Some(Command::User { action, data }) => {
            let dir = &data.data_dir;
            match action {
                UserAction::List => data::list_users(dir)?,
                UserAction::Create {
                    username,
                    email,
                    password,
                } => data::create_user(dir, username, email, password.clone())?,
                UserAction::SetPassword { username, password } => {
                    data::set_password(dir, username, password.clone())?
                }
                UserAction::Delete { username } => data::delete_user(dir, username)?,
            }
        }
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
