//! The application state every request handler shares: configuration,
//! database, media folder and token keys, plus the request-level helpers
//! built on them (who is asking, which base URL links use).

use std::sync::Arc;

use warp::http::header::{AUTHORIZATION, HOST};
use warp::http::HeaderMap;

use crate::auth::{self, Credentials, TokenType, Tokens};
use crate::config::Config;
use crate::domain::rooms::Room;
use crate::domain::throttle::{Limiter, PerAddress};
use crate::http::error::ApiError;
use crate::live::Live;
use crate::metrics::Metrics;
use crate::storage::chats::{self, Chat};
use crate::storage::media::Media;
use crate::storage::users::{self, User};
use crate::storage::Db;

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
    /// default image) and signing secret.
    pub fn open(config: Config) -> anyhow::Result<Arc<App>> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                config.data_dir.display()
            )
        })?;
        let db = Db::open(&config.db_path())?;
        let media = Media::open(config.media_dir())?;
        let secret = auth::load_secret(config.secret.as_deref(), &config.data_dir)?;
        let tokens = Tokens::new(secret, config.access_ttl, config.refresh_ttl);
        let metrics = Arc::new(Metrics::default());
        let config_rates = (config.register_rate, config.login_rate);
        let sockets_per_ip = Arc::new(PerAddress::new(config.ws.max_sockets_per_ip));
        let live = Live::start(
            db.clone(),
            &config.db_path(),
            config.ws.clone(),
            metrics.clone(),
        )?;
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

    /// Scheme and host for absolute URLs: `--public-url`, else `http://` and
    /// the request's `Host` header (when it looks like a host), else the
    /// address we listen on.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.config.public_url {
            return url.clone();
        }
        let host = headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .filter(|host| {
                !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
            });
        match host {
            Some(host) => format!("http://{host}"),
            None => format!("http://{}", self.config.addr),
        }
    }

    /// Absolute URL of a media path.
    pub fn media_url(&self, base: &str, media_path: &str) -> String {
        format!("{base}/media/{media_path}")
    }

    /// Chat `id` if it is in `room`, else 404.
    pub async fn chat(&self, room: Room, id: i64) -> Result<Chat, ApiError> {
        self.db
            .run(move |conn| Ok(chats::get(conn, room, id)?))
            .await?
            .ok_or_else(ApiError::not_found)
    }

    /// The user a request's Bearer token names, `None` without credentials.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<User>, ApiError> {
        let header = headers
            .get(AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or("\u{0}"));
        let token = match auth::credentials(header)? {
            Credentials::None => return Ok(None),
            Credentials::Bearer(token) => token,
        };
        self.user_for_token(&token).await.map(Some)
    }

    /// The user an access token names.
    pub async fn user_for_token(&self, token: &str) -> Result<User, ApiError> {
        let claims = self
            .tokens
            .decode(token, TokenType::Access)
            .ok_or_else(ApiError::invalid_token)?;
        let user = self
            .db
            .run(move |conn| Ok(users::get(conn, claims.user_id)?))
            .await?
            .ok_or_else(ApiError::user_not_found)?;
        // A password change since the token was issued revokes it.
        if user.token_version != claims.ver {
            return Err(ApiError::invalid_token());
        }
        Ok(user)
    }

    /// Like [`App::authenticate`], but a request without credentials fails
    /// with 401.
    pub async fn require_user(&self, headers: &HeaderMap) -> Result<User, ApiError> {
        self.authenticate(headers)
            .await?
            .ok_or_else(ApiError::not_authenticated)
    }
}
