//! The command line: `chatd [serve] [flags]`, the operator commands, and
//! the `CHATD_*` environment variable behind each flag (`clap`).
//!
//! Parsing stops at the edge: [`ServeArgs::into_config`] checks and turns
//! the flags into the typed [`Config`] the server runs with, so nothing past
//! this module sees a string that still needs parsing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Registration, Seed, WsLimits};

/// chatd: a self-contained chat server (REST API, image uploads, live rooms).
#[derive(Debug, Parser)]
#[command(name = "chatd", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for the default `serve` command.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default when no command is given).
    Serve(ServeArgs),
    /// Check a deployed instance end to end through its public URL.
    Doctor {
        /// The URL browsers use, e.g. `https://chat.example.org`
        url: String,
    },
    /// Copy the database consistently while the server runs (and the media).
    Backup {
        /// The new database file to write.
        file: PathBuf,
        /// Also copy the media folder into this directory.
        #[arg(long)]
        with_media: Option<PathBuf>,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Check the database's integrity and that every image it names exists.
    Check {
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Manage users without SQL.
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Invite codes for `--registration invite`.
    Invite {
        #[command(subcommand)]
        action: InviteAction,
        #[command(flatten)]
        data: DataDirArg,
    },
    /// Print the audit log of staff and operator actions, newest first.
    Audit {
        /// Entries to print at most.
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[command(flatten)]
        data: DataDirArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum InviteAction {
    /// Make an invite code (printed once; only its hash is kept).
    Create {
        /// How many registrations it allows.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        uses: u32,
        /// How long it stays valid (e.g. 90s, 15m, 24h, 7d; at most 365d).
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        expires: Duration,
    },
}

/// The data directory an operator command works on.
#[derive(Debug, Clone, Args)]
pub struct DataDirArg {
    /// Data directory of the instance.
    #[arg(
        long,
        env = "CHATD_DATA_DIR",
        default_value = "./chatd-data",
        global = true
    )]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// List users.
    List,
    /// Create a user (same rules as registering).
    Create {
        username: String,
        #[arg(long)]
        email: String,
        /// The password (else CHATD_USER_PASSWORD, else a line of standard input).
        #[arg(long, env = "CHATD_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Make the user staff (may moderate and use /api/admin/).
        #[arg(long)]
        staff: bool,
    },
    /// Make a user staff (`on`) or not (`off`).
    SetStaff {
        username: String,
        #[arg(value_parser = parse_on_off, action = clap::ArgAction::Set)]
        staff: bool,
    },
    /// Suspend a user: their tokens and logins are refused, their sockets close.
    Suspend {
        username: String,
        /// Why (shown to staff and in the audit log).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a user's suspension; they sign in again.
    Unsuspend { username: String },
    /// Set a user's password; their existing tokens stop working.
    SetPassword {
        username: String,
        /// The password (else CHATD_USER_PASSWORD, else a line of standard input).
        #[arg(long, env = "CHATD_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Delete a user with their chats and messages.
    Delete { username: String },
}

impl Cli {
    /// The serve settings, whether `serve` was written out or not.
    pub fn into_serve_args(self) -> ServeArgs {
        match self.command {
            Some(Command::Serve(args)) => args,
            _ => self.serve,
        }
    }
}

/// Flags of `chatd serve`; each can also come from its `CHATD_*` variable.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8000; with --ephemeral a free port].
    #[arg(long, env = "CHATD_ADDR")]
    pub addr: Option<SocketAddr>,
    /// Data directory: holds chat.db, media/ and the signing secret [default: ./chatd-data].
    #[arg(long, env = "CHATD_DATA_DIR", conflicts_with = "ephemeral")]
    pub data_dir: Option<PathBuf>,
    /// Throwaway instance: data in a fresh temporary directory removed on exit,
    /// and a free port unless --addr is given. Prints the URL on its own line.
    #[arg(long, env = "CHATD_EPHEMERAL")]
    pub ephemeral: bool,
    /// Also write the URL to this file once the server listens.
    #[arg(long, env = "CHATD_PRINT_URL_FILE")]
    pub print_url_file: Option<PathBuf>,
    /// Fill the database with demo users, chats and messages (idempotent).
    #[arg(long, env = "CHATD_SEED", value_enum)]
    pub seed: Option<Seed>,
    /// For public demos: restore the seeded state this often (e.g. 1h, 30m).
    #[arg(long, env = "CHATD_RESET_EVERY", value_parser = parse_duration, requires = "seed")]
    pub reset_every: Option<Duration>,
    /// Public base URL (`scheme://host[:port]`) for absolute links, when behind a proxy.
    #[arg(long, env = "CHATD_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    /// Largest image upload, in MiB.
    #[arg(long, env = "CHATD_MAX_UPLOAD_MB", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub max_upload_mb: u64,
    /// Access token lifetime (e.g. 3600, 90s, 15m, 24h, 1d).
    #[arg(long, env = "CHATD_ACCESS_TTL", default_value = "1d", value_parser = parse_duration)]
    pub access_ttl: Duration,
    /// Refresh token lifetime (e.g. 10d).
    #[arg(long, env = "CHATD_REFRESH_TTL", default_value = "10d", value_parser = parse_duration)]
    pub refresh_ttl: Duration,
    /// JWT signing secret (default: generated once, kept in `<data-dir>/secret.key`).
    #[arg(long, env = "CHATD_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Open HTTP connections at most (WebSockets count separately).
    #[arg(long, env = "CHATD_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Open WebSockets at most.
    #[arg(long, env = "CHATD_MAX_SOCKETS", default_value_t = 50_000)]
    pub max_sockets: usize,
    /// Open WebSockets at most from one client address.
    #[arg(long, env = "CHATD_MAX_SOCKETS_PER_IP", default_value_t = 100)]
    pub max_sockets_per_ip: usize,
    /// Longest chat message, in characters.
    #[arg(long, env = "CHATD_MAX_MESSAGE_CHARS", default_value_t = 2000)]
    pub max_message_chars: usize,
    /// Writes (messages, edits, deletes, reactions, read markers) per second
    /// one socket may send, sustained; pings and typing notices do not count
    /// (typing has its own limit).
    #[arg(long, env = "CHATD_WS_RATE", default_value_t = 10.0)]
    pub ws_rate: f64,
    /// Writes one socket may send in a burst.
    #[arg(long, env = "CHATD_WS_BURST", default_value_t = 30)]
    pub ws_burst: u32,
    /// Throttle register, login and refresh per client address (off for load tests).
    #[arg(long, env = "CHATD_RATE_LIMIT", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub rate_limit: bool,
    /// Behind a reverse proxy: take the client address from X-Forwarded-For.
    #[arg(long, env = "CHATD_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Another origin browsers may call the API from (repeat, or comma-separate).
    #[arg(
        long = "cors-origin",
        env = "CHATD_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Serve Prometheus metrics at /metrics to `Authorization: Bearer <token>`.
    #[arg(long, env = "CHATD_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Who may register: anyone, nobody, or whoever has an invite code.
    #[arg(long, env = "CHATD_REGISTRATION", value_enum, default_value = "open")]
    pub registration: Registration,
}

/// `on` / `off` (also true/false, yes/no, 1/0).
fn parse_on_off(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{text}`: use on or off")),
    }
}

impl ServeArgs {
    /// The configuration these flags describe; `--ephemeral` creates its
    /// temporary data directory here.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let (data_dir, addr) = if self.ephemeral {
            let dir = fresh_temp_dir()?;
            (
                dir,
                self.addr.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))),
            )
        } else {
            (
                self.data_dir
                    .unwrap_or_else(|| PathBuf::from("./chatd-data")),
                self.addr
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8000))),
            )
        };
        Ok(Config {
            addr,
            public_url: self.public_url,
            max_upload_bytes: self.max_upload_mb * 1024 * 1024,
            access_ttl: self.access_ttl,
            refresh_ttl: self.refresh_ttl,
            secret: self.secret,
            max_connections: self.max_connections.max(1),
            ws: WsLimits {
                max_sockets: self.max_sockets,
                max_sockets_per_ip: self.max_sockets_per_ip.max(1),
                max_text_chars: self.max_message_chars.max(1),
                rate_per_sec: self.ws_rate.max(0.1),
                burst: self.ws_burst.max(1),
                ..WsLimits::default()
            },
            remove_data_on_exit: self.ephemeral,
            url_file: self.print_url_file,
            seed: self.seed,
            reset_every: self.reset_every,
            rate_limit: self.rate_limit,
            trust_proxy: self.trust_proxy,
            cors_origins: self
                .cors_origins
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            metrics_token: self.metrics_token.filter(|t| !t.is_empty()),
            registration: self.registration,
            ..Config::new(data_dir)
        })
    }
}

/// A new, empty directory under the system's temporary folder.
fn fresh_temp_dir() -> anyhow::Result<PathBuf> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let name: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("chatd-{name}"));
    std::fs::create_dir(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

pub use crate::domain::moderation::parse_duration;

/// Accepts `http(s)://host[:port][/prefix]` and drops a trailing slash.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`{text}` must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains(['?', '#']) {
        return Err(format!(
            "`{text}` is not a base URL like https://chat.example.org"
        ));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            parse_public_url("https://chat.example.org/"),
            Ok("https://chat.example.org".to_string())
        );
        assert!(parse_public_url("chat.example.org").is_err());
        assert!(parse_public_url("https://").is_err());
    }

    #[test]
    fn no_arguments_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["chatd"]).expect("parses");
        let config = cli.into_serve_args().into_config().unwrap();
        assert_eq!(config.addr, SocketAddr::from(([127, 0, 0, 1], 8000)));
        assert_eq!(config.data_dir, PathBuf::from("./chatd-data"));
        assert_eq!(config.max_upload_bytes, 5 * 1024 * 1024);
        assert!(!config.remove_data_on_exit);
    }

    #[test]
    fn rate_limit_takes_on_or_off() {
        let config = |args: &[&str]| {
            Cli::try_parse_from(args)
                .expect("parses")
                .into_serve_args()
                .into_config()
                .unwrap()
        };
        assert!(config(&["chatd"]).rate_limit);
        assert_eq!(config(&["chatd"]).registration, Registration::Open);
        assert_eq!(
            config(&["chatd", "--registration", "invite"]).registration,
            Registration::Invite
        );
        assert!(Cli::try_parse_from(["chatd", "--registration", "maybe"]).is_err());
        assert!(!config(&["chatd", "--rate-limit", "off"]).rate_limit);
        assert!(config(&["chatd", "--rate-limit", "on"]).rate_limit);
        assert!(Cli::try_parse_from(["chatd", "--rate-limit", "sometimes"]).is_err());
        let cors = config(&[
            "chatd",
            "--cors-origin",
            "https://a.example/,https://b.example",
        ]);
        assert_eq!(
            cors.cors_origins,
            ["https://a.example", "https://b.example"]
        );
    }

    #[test]
    fn ephemeral_means_a_fresh_dir_and_a_free_port() {
        let cli = Cli::try_parse_from(["chatd", "--ephemeral"]).expect("parses");
        let config = cli.into_serve_args().into_config().unwrap();
        assert_eq!(config.addr.port(), 0);
        assert!(config.remove_data_on_exit);
        assert!(config.data_dir.is_dir());
        assert_eq!(std::fs::read_dir(&config.data_dir).unwrap().count(), 0);
        std::fs::remove_dir(&config.data_dir).unwrap();
        assert!(Cli::try_parse_from(["chatd", "--ephemeral", "--data-dir", "x"]).is_err());
        assert!(
            Cli::try_parse_from(["chatd", "--reset-every", "1h"]).is_err(),
            "needs --seed"
        );
    }
}
