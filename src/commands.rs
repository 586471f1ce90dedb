//! What each command of the binary does: serve (the default), the
//! deployment check, and the operator commands on a data directory.

use crate::config::{Cli, Command, UserAction};
use crate::ops;

/// Runs the command the command line names.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::Doctor { url }) => {
            let healthy = crate::doctor::run(url).await;
            std::process::exit(if healthy { 0 } else { 1 });
        }
        Some(Command::Backup {
            file,
            with_media,
            data,
        }) => {
            return ops::backup(&data.data_dir, file, with_media.as_deref());
        }
        Some(Command::Check { data }) => {
            if !ops::check(&data.data_dir)? {
                std::process::exit(1);
            }
            return Ok(());
        }
        Some(Command::User { action, data }) => {
            let dir = &data.data_dir;
            return match action {
                UserAction::List => ops::list_users(dir),
                UserAction::Create {
                    username,
                    email,
                    password,
                } => ops::create_user(dir, username, email, password.clone()),
                UserAction::SetPassword { username, password } => {
                    ops::set_password(dir, username, password.clone())
                }
                UserAction::Delete { username } => ops::delete_user(dir, username),
            };
        }
        Some(Command::Serve(_)) | None => {}
    }
    let config = cli.into_serve_args().into_config()?;
    crate::server::run_until_signal(config).await
}
