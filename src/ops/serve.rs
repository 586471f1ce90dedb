//! `chatd serve` (the default command): what the binary does around the
//! server. Tests start a bare [`Server`] instead; this adds what only a
//! process run by a person or a service manager needs: demo seeding and
//! its periodic reset, telling the caller the URL (for `--ephemeral` and
//! `--print-url-file`), stopping on Ctrl-C or SIGTERM, and removing a
//! throwaway data directory afterwards.

use anyhow::Context;

use crate::config::{Config, Seed};
use crate::http::server::Server;
use crate::ops::demo;
use crate::ops::out::outln;

/// The binary's way to run: binds, seeds demo data if asked, logs where it
/// listens and where its data lives (and, for `--ephemeral`, prints the URL
/// alone on a line and removes the data when done), and serves until Ctrl-C
/// or SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let throwaway = config.remove_data_on_exit.then(|| config.data_dir.clone());
    let result = run_with_extras(config, throwaway.is_some()).await;
    // Also after a failed start: a throwaway directory must not outlive
    // the process that made it.
    if let Some(dir) = throwaway {
        if let Err(error) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(%error, "could not remove {}", dir.display());
        }
    }
    result
}

async fn run_with_extras(config: Config, print_url: bool) -> anyhow::Result<()> {
    let server = Server::bind(config).await?;
    let app = server.app().clone();
    if app.config.seed == Some(Seed::Demo) {
        let seeding = app.clone();
        let seeded = tokio::task::spawn_blocking(move || demo::seed(&seeding)).await??;
        tracing::info!(
            users = seeded.users,
            chats = seeded.chats,
            messages = seeded.messages,
            "demo data seeded"
        );
        outln!("{}", demo::credentials_text());
    }
    let url = format!("http://{}", server.local_addr());
    tracing::info!(
        "chatd listening on {url} (data in {})",
        app.config.data_dir.display()
    );
    if print_url {
        outln!("{url}");
    }
    if let Some(file) = &app.config.url_file {
        write_url_file(file, &url)?;
    }
    let reset = app
        .config
        .reset_every
        .map(|every| tokio::spawn(demo::reset_periodically(app.clone(), every)));
    server.run(shutdown_signal()).await?;
    if let Some(reset) = reset {
        reset.abort();
    }
    tracing::info!("chatd stopped");
    Ok(())
}

/// Writes the URL and a newline, renaming into place so that a script
/// polling for the file never reads half of it.
fn write_url_file(file: &std::path::Path, url: &str) -> anyhow::Result<()> {
    let tmp = file.with_extension("tmp");
    std::fs::write(&tmp, format!("{url}\n"))
        .and_then(|()| std::fs::rename(&tmp, file))
        .with_context(|| format!("cannot write the URL to {}", file.display()))
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
