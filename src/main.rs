//! The `chatd` binary: parse the command line, set up logging, run, and
//! exit with the status the command returned (1 with the error on failure).

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use chatd::cli::Cli;
use chatd::ops::print_error_line;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            print_error_line(format_args!(
                "chatd: cannot start the async runtime: {error}"
            ));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(status) => status,
        Err(error) => {
            print_error_line(format_args!("chatd: {error:#}"));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("chatd=info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    chatd::ops::run(cli).await
}
