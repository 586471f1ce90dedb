//! What each command of the binary does: serve (the default), the
//! deployment check, and the operator commands on a data directory.

pub mod data;
pub mod demo;
pub mod doctor;
pub mod png;

use crate::cli::{Cli, Command, UserAction};

/// Runs the command the command line names.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Doctor { url }) => {
            let healthy = doctor::run(url).await;
            std::process::exit(if healthy { 0 } else { 1 });
        }
        Some(Command::Backup {
            file,
            with_media,
            data,
        }) => {
            return data::backup(&data.data_dir, file, with_media.as_deref());
        }
        Some(Command::Check { data }) => {
            if !data::check(&data.data_dir)? {
                std::process::exit(1);
            }
            return Ok(());
        }
        Some(Command::User { action, data }) => {
            let dir = &data.data_dir;
            return match action {
                UserAction::List => data::list_users(dir),
                UserAction::Create {
                    username,
                    email,
                    password,
                } => data::create_user(dir, username, email, password.clone()),
                UserAction::SetPassword { username, password } => {
                    data::set_password(dir, username, password.clone())
                }
                UserAction::Delete { username } => data::delete_user(dir, username),
            };
        }
        Some(Command::Serve(_)) | None => {}
    }
    let config = cli.into_serve_args().into_config()?;
    crate::http::server::run_until_signal(config).await
}
