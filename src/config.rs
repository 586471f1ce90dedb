//! The typed configuration a server runs with: [`Config`], its WebSocket
//! [`WsLimits`] and the defaults of both.
//!
//! Nothing here parses text: the command line and `CHATD_*` variables are
//! read in [`crate::cli`], which turns them into a `Config`; tests build
//! one directly with [`Config::new`]. Every setting has a default that works
//! on a fresh machine, so `chatd` with no arguments serves on
//! `127.0.0.1:8000` from `./chatd-data`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs to run. Tests build one directly with
/// [`Config::new`]; the binary builds one from [`crate::cli::ServeArgs`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Holds `chat.db`, `media/` and the signing secret.
    pub data_dir: PathBuf,
    /// Scheme and host used for absolute URLs instead of the request's `Host`
    /// (for deployments behind a proxy), without a trailing slash.
    pub public_url: Option<String>,
    /// Largest accepted image upload, in bytes.
    pub max_upload_bytes: u64,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// JWT signing secret; generated and kept in the data directory when unset.
    pub secret: Option<String>,
    /// Open HTTP connections at most; further clients wait to be accepted.
    pub max_connections: usize,
    /// A client must send its request headers within this time.
    pub header_read_timeout: Duration,
    /// Limits of the live WebSocket rooms.
    pub ws: WsLimits,
    /// Remove the data directory when the server stops (`--ephemeral`).
    pub remove_data_on_exit: bool,
    /// Write the server's URL to this file once it listens.
    pub url_file: Option<PathBuf>,
    /// Fill the database with demo data at start (`--seed demo`).
    pub seed: Option<Seed>,
    /// Restore the seeded state this often (`--reset-every`).
    pub reset_every: Option<Duration>,
    /// Throttle register/login/refresh by client address.
    pub rate_limit: bool,
    /// The throttles' rates (see `crate::domain::throttle`).
    pub register_rate: crate::domain::throttle::Rate,
    pub login_rate: crate::domain::throttle::Rate,
    /// Take the client address from `X-Forwarded-For` (behind a proxy).
    pub trust_proxy: bool,
    /// Origins other than our own that browsers may call the API from.
    pub cors_origins: Vec<String>,
    /// Serve `/metrics` to requests bearing this token; off when unset.
    pub metrics_token: Option<String>,
    /// Who may register (`--registration`).
    pub registration: Registration,
}

/// Who may create an account with `POST /api/register/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone.
    #[default]
    Open,
    /// Nobody (accounts come from `chatd user create`).
    Closed,
    /// Whoever has an invite code (`chatd invite create`, `POST /api/admin/invites/`).
    Invite,
}

/// What `--seed` fills an instance with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Seed {
    /// Users, chats with drawn images and conversations in every room.
    Demo,
}

/// Limits of the WebSocket rooms; every one has a safe default.
#[derive(Debug, Clone)]
pub struct WsLimits {
    /// Open sockets at most, over all chats.
    pub max_sockets: usize,
    /// Open sockets at most from one client address.
    pub max_sockets_per_ip: usize,
    /// Longest message text, in characters (after trimming).
    pub max_text_chars: usize,
    /// Largest frame a client may send, in bytes; larger closes with 1009.
    /// Roomy enough for the longest text however it is escaped: JSON may
    /// spend 12 bytes on one character (`\ud83d\ude00`).
    pub max_frame_bytes: usize,
    /// Frames waiting for a client; a client this far behind is closed with 1008.
    pub queue_len: usize,
    /// Sustained frames per second a client may send…
    pub rate_per_sec: f64,
    /// …and the burst it may send at once.
    pub burst: u32,
    /// A socket silent this long is pinged; silent twice as long, it is closed.
    pub ping_interval: Duration,
}

impl Default for WsLimits {
    fn default() -> WsLimits {
        WsLimits {
            max_sockets: 50_000,
            max_sockets_per_ip: 100,
            max_text_chars: 2000,
            max_frame_bytes: 64 * 1024,
            queue_len: 1024,
            rate_per_sec: 10.0,
            burst: 30,
            ping_interval: Duration::from_secs(30),
        }
    }
}

impl Config {
    /// The defaults, with data kept in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            data_dir: data_dir.into(),
            public_url: None,
            max_upload_bytes: 5 * 1024 * 1024,
            access_ttl: Duration::from_secs(24 * 3600),
            refresh_ttl: Duration::from_secs(10 * 24 * 3600),
            secret: None,
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(30),
            ws: WsLimits::default(),
            remove_data_on_exit: false,
            url_file: None,
            seed: None,
            reset_every: None,
            rate_limit: true,
            register_rate: crate::domain::throttle::REGISTER,
            login_rate: crate::domain::throttle::LOGIN,
            trust_proxy: false,
            cors_origins: Vec::new(),
            metrics_token: None,
            registration: Registration::Open,
        }
    }

    /// Path of the SQLite database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("chat.db")
    }

    /// Folder that uploaded and default images live in.
    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }
}
