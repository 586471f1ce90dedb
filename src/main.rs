//! The `chatd` binary: parse the command line, set up logging, run.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use chatd::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("chatd=info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    if let Some(Command::Doctor { url }) = &cli.command {
        let healthy = chatd::doctor::run(url).await;
        std::process::exit(if healthy { 0 } else { 1 });
    }
    let config = cli.into_serve_args().into_config()?;
    chatd::server::run_until_signal(config).await
}
