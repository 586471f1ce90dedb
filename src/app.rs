//! The state a running server shares: configuration, database, media
//! folder, token keys, the password hasher, the live hub and message
//! writer, metrics and throttles; and [`App::open`], which opens the data
//! directory and starts them. Request-level questions (who is asking,
//! which base URL links use) are the edge's: see `http::request`.

use std::sync::Arc;

use crate::auth::{self, Tokens};
use crate::config::Config;
use crate::domain::throttle::{Limiter, PerAddress};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::storage::media::{self, Media};
use crate::storage::{self, Db};

/// Shared state of one running server.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub media: Media,
    pub tokens: Tokens,
    /// The thread that runs argon2 (see [`auth::Hasher`]).
    pub hasher: auth::Hasher,
    /// Live rooms: open sockets, the message writer, events to sockets.
    pub live: Arc<Live>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Per-address throttles of register and of login/refresh.
    pub register_limiter: Limiter,
    pub login_limiter: Limiter,
    /// Open WebSockets per client address.
    pub sockets_per_ip: Arc<PerAddress>,
}

impl App {
    /// Opens the data directory: database (migrated), media folder (with the
    /// default image) and signing secret. A lost database beside uploads
    /// stops it first (see [`storage::refuse_a_lost_database`]).
    pub fn open(config: Config) -> anyhow::Result<Arc<App>> {
        let dir = &config.data_dir;
        anyhow::ensure!(
            !dir.exists() || dir.is_dir(),
            "{} is not a directory; give --data-dir a directory (it is created if missing)",
            dir.display()
        );
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", dir.display()))?;
        storage::refuse_a_lost_database(&config.db_path(), &config.media_dir())?;
        // Before the database: a refused secret leaves no new chat.db behind.
        let secret = auth::load_secret(config.secret.as_deref(), &config.data_dir)?;
        let db = Db::open(&config.db_path())?;
        let media = Media::open(config.media_dir())?;
        let damaged = |error| storage::explain_damage(&config.db_path(), error);
        sweep_media(&config, &media).map_err(damaged)?;
        let tokens = Tokens::new(secret, config.access_ttl, config.refresh_ttl);
        let metrics = Arc::new(Metrics::default());
        let config_rates = (config.register_rate, config.login_rate);
        let sockets_per_ip = Arc::new(PerAddress::new(config.ws.max_sockets_per_ip));
        let live = Live::start(
            db.clone(),
            &config.db_path(),
            config.ws.clone(),
            metrics.clone(),
        )
        .map_err(damaged)?;
        Ok(Arc::new(App {
            config,
            db,
            media,
            tokens,
            hasher: auth::Hasher::start()?,
            live: Arc::new(live),
            metrics,
            register_limiter: Limiter::new(config_rates.0),
            login_limiter: Limiter::new(config_rates.1),
            sockets_per_ip,
        }))
    }
}

/// Removes uploads no row names and half-written files, which a crash
/// between storing a file and committing its row leaves behind.
fn sweep_media(config: &Config, files: &Media) -> anyhow::Result<()> {
    let conn = crate::storage::connect(&config.db_path())?;
    let removed = files.sweep(&media::named_files(&conn)?)?;
    if !removed.is_empty() {
        tracing::info!(
            orphans = removed.orphans.len(),
            partial = removed.partial.len(),
            "removed media files no row names"
        );
    }
    Ok(())
}
